/**
 * A FreeSWITCH event: an ordered list of headers and an optional body, as switch_event_t holds it,
 * with the two serialisations the event socket sends (switch_event_serialize() for `plain`,
 * switch_event_serialize_json() for `json`).
 */
import { switchUrlEncode } from './url.js';

/** EVENT_NAMES[] from src/switch_event.c, in enum order; 'ALL' is last. */
export const EVENT_NAMES = [
  'CUSTOM', 'CLONE', 'CHANNEL_CREATE', 'CHANNEL_DESTROY', 'CHANNEL_STATE', 'CHANNEL_CALLSTATE',
  'CHANNEL_ANSWER', 'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_EXECUTE',
  'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_HOLD', 'CHANNEL_UNHOLD', 'CHANNEL_BRIDGE', 'CHANNEL_UNBRIDGE',
  'CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA', 'CHANNEL_OUTGOING', 'CHANNEL_PARK', 'CHANNEL_UNPARK',
  'CHANNEL_APPLICATION', 'CHANNEL_ORIGINATE', 'CHANNEL_UUID', 'API', 'LOG', 'INBOUND_CHAN',
  'OUTBOUND_CHAN', 'STARTUP', 'SHUTDOWN', 'PUBLISH', 'UNPUBLISH', 'TALK', 'NOTALK', 'SESSION_CRASH',
  'MODULE_LOAD', 'MODULE_UNLOAD', 'DTMF', 'MESSAGE', 'PRESENCE_IN', 'NOTIFY_IN', 'PRESENCE_OUT',
  'PRESENCE_PROBE', 'MESSAGE_WAITING', 'MESSAGE_QUERY', 'ROSTER', 'CODEC', 'BACKGROUND_JOB',
  'DETECTED_SPEECH', 'DETECTED_TONE', 'PRIVATE_COMMAND', 'HEARTBEAT', 'TRAP', 'ADD_SCHEDULE',
  'DEL_SCHEDULE', 'EXE_SCHEDULE', 'RE_SCHEDULE', 'RELOADXML', 'NOTIFY', 'PHONE_FEATURE',
  'PHONE_FEATURE_SUBSCRIBE', 'SEND_MESSAGE', 'RECV_MESSAGE', 'REQUEST_PARAMS', 'CHANNEL_DATA',
  'GENERAL', 'COMMAND', 'SESSION_HEARTBEAT', 'CLIENT_DISCONNECTED', 'SERVER_DISCONNECTED',
  'SEND_INFO', 'RECV_INFO', 'RECV_RTCP_MESSAGE', 'SEND_RTCP_MESSAGE', 'CALL_SECURE', 'NAT',
  'RECORD_START', 'RECORD_STOP', 'PLAYBACK_START', 'PLAYBACK_STOP', 'CALL_UPDATE', 'FAILURE',
  'SOCKET_DATA', 'MEDIA_BUG_START', 'MEDIA_BUG_STOP', 'CONFERENCE_DATA_QUERY', 'CONFERENCE_DATA',
  'CALL_SETUP_REQ', 'CALL_SETUP_RESULT', 'CALL_DETAIL', 'DEVICE_STATE', 'TEXT', 'SHUTDOWN_REQUESTED',
  'CERT_RELOAD', 'ALL',
] as const;

export type EventName = (typeof EVENT_NAMES)[number];

/**
 * switch_name_event(): case-insensitive, and a 13-character prefix such as "SWITCH_EVENT_" is
 * skipped, which is why drachtio-fsmrf's "SWITCH_EVENT_PLAYBACK_START" subscribes to PLAYBACK_START.
 */
export function nameEvent(name: string): EventName | undefined {
  const upper = name.toUpperCase();
  return EVENT_NAMES.find((candidate) => upper === candidate || (upper.length > 13 && upper.slice(13) === candidate));
}

export class FsEvent {
  private readonly headerList: Array<[string, string]> = [];
  body: string | undefined;

  constructor(
    readonly name: EventName,
    readonly subclass?: string,
  ) {}

  /** Appends a header, keeping an earlier one of the same name (FreeSWITCH does the same). */
  add(name: string, value: string | number | undefined): this {
    if (value === undefined) return this;
    this.headerList.push([name, String(value)]);
    return this;
  }

  /** Replaces a header if present, else appends it (events created with EF_UNIQ_HEADERS). */
  set(name: string, value: string | number | undefined): this {
    if (value === undefined) return this;
    const index = this.indexOf(name);
    if (index < 0) return this.add(name, value);
    this.headerList[index] = [name, String(value)];
    return this;
  }

  /** switch_event_get_header() is case-insensitive. */
  get(name: string): string | undefined {
    const index = this.indexOf(name);
    return index < 0 ? undefined : this.headerList[index]?.[1];
  }

  headers(): ReadonlyArray<readonly [string, string]> {
    return this.headerList;
  }

  /** switch_event_serialize(event, &str, SWITCH_TRUE): url-encoded "Name: value\n" lines. */
  toPlain(): string {
    let text = '';
    for (const [name, value] of this.headerList) {
      const encoded = switchUrlEncode(value);
      text += `${name}: ${encoded === '' ? '_undef_' : encoded}\n`;
    }
    if (this.body) return `${text}Content-Length: ${Buffer.byteLength(this.body)}\n\n${this.body}`;
    return `${text}\n`;
  }

  /** switch_event_serialize_json(): one flat object; the body goes in "_body" with its length. */
  toJson(): string {
    const object: Record<string, string> = {};
    for (const [name, value] of this.headerList) {
      if (!(name in object)) object[name] = value;
    }
    if (this.body !== undefined) {
      object['Content-Length'] = String(Buffer.byteLength(this.body));
      object['_body'] = this.body;
    }
    return JSON.stringify(object);
  }

  private indexOf(name: string): number {
    const lower = name.toLowerCase();
    return this.headerList.findIndex(([candidate]) => candidate.toLowerCase() === lower);
  }
}
