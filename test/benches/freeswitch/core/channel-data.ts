/**
 * The channel headers FreeSWITCH puts on events:
 * - switch_channel_event_set_basic_data() (src/switch_channel.c): states, names, Unique-ID,
 *   Answer-State, codecs and the "Caller-" profile;
 * - switch_channel_event_set_extended_data(): every channel variable as "variable_<name>", only
 *   for the event types listed there (others, such as DTMF, CHANNEL_CALLSTATE or a conference
 *   member's event, carry the basic data alone);
 * - switch_caller_profile_event_set_data() (src/switch_caller.c) for a profile under a prefix.
 */
import type { FsEvent } from '../esl/event.js';
import { CHANNEL_STATES, type Session } from './session.js';

/** Event types for which switch_channel_event_set_extended_data() adds the variables. */
const EXTENDED_EVENTS = new Set<string>([
  'CHANNEL_CREATE', 'CHANNEL_ORIGINATE', 'CHANNEL_UUID', 'CHANNEL_ANSWER', 'CHANNEL_PARK',
  'CHANNEL_UNPARK', 'CHANNEL_BRIDGE', 'CHANNEL_UNBRIDGE', 'CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA',
  'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'REQUEST_PARAMS', 'CHANNEL_DATA', 'CHANNEL_EXECUTE',
  'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_DESTROY', 'SESSION_HEARTBEAT', 'API', 'RECORD_START',
  'RECORD_STOP', 'PLAYBACK_START', 'PLAYBACK_STOP', 'CALL_UPDATE', 'MEDIA_BUG_START',
  'MEDIA_BUG_STOP', 'CHANNEL_HOLD', 'CHANNEL_UNHOLD', 'TEXT', 'CUSTOM',
]);

/** The codec the stand-in reports for every channel (G.711 u-law, as negotiated by default). */
const CODEC = { name: 'PCMU', rate: '8000', bitRate: '64000' };

export function addCallerProfile(event: FsEvent, session: Session, prefix: string): void {
  const profile = session.profile;
  event
    .set(`${prefix}-Direction`, 'inbound')
    .set(`${prefix}-Logical-Direction`, 'inbound')
    .set(`${prefix}-Username`, profile.username || undefined)
    .set(`${prefix}-Dialplan`, profile.dialplan)
    .set(`${prefix}-Caller-ID-Name`, profile.callerIdName || undefined)
    .set(`${prefix}-Caller-ID-Number`, profile.callerIdNumber || undefined)
    .set(`${prefix}-Orig-Caller-ID-Name`, profile.callerIdName || undefined)
    .set(`${prefix}-Orig-Caller-ID-Number`, profile.callerIdNumber || undefined)
    .set(`${prefix}-Network-Addr`, profile.networkAddr || undefined)
    .set(`${prefix}-ANI`, profile.ani || undefined)
    .set(`${prefix}-Destination-Number`, profile.destinationNumber || undefined)
    .set(`${prefix}-Unique-ID`, session.uuid)
    .set(`${prefix}-Source`, profile.source)
    .set(`${prefix}-Context`, profile.context)
    .set(`${prefix}-Channel-Name`, session.name)
    .set(`${prefix}-Profile-Index`, profile.profileIndex);
  const times = profile.times;
  event
    .set(`${prefix}-Profile-Created-Time`, times.profileCreated)
    .set(`${prefix}-Channel-Created-Time`, times.created)
    .set(`${prefix}-Channel-Answered-Time`, times.answered)
    .set(`${prefix}-Channel-Progress-Time`, times.progress)
    .set(`${prefix}-Channel-Progress-Media-Time`, times.progressMedia)
    .set(`${prefix}-Channel-Hangup-Time`, times.hungup)
    .set(`${prefix}-Channel-Transfer-Time`, times.transferred)
    .set(`${prefix}-Channel-Resurrect-Time`, 0)
    .set(`${prefix}-Channel-Bridged-Time`, times.bridged)
    .set(`${prefix}-Channel-Last-Hold`, 0)
    .set(`${prefix}-Channel-Hold-Accum`, 0)
    .set(`${prefix}-Screen-Bit`, 'true')
    .set(`${prefix}-Privacy-Hide-Name`, 'false')
    .set(`${prefix}-Privacy-Hide-Number`, 'false');
}

export function addBasicChannelData(event: FsEvent, session: Session): void {
  event
    .set('Channel-State', session.state)
    .set('Channel-Call-State', session.callState)
    .set('Channel-State-Number', CHANNEL_STATES.indexOf(session.state))
    .set('Channel-Name', session.name)
    .set('Unique-ID', session.uuid)
    .set('Call-Direction', 'inbound')
    .set('Presence-Call-Direction', 'inbound')
    .set('Channel-HIT-Dialplan', 'true')
    .set('Channel-Call-UUID', session.getVariable('call_uuid') ?? session.uuid)
    .set('Answer-State', session.answerState())
    .set('Hangup-Cause', session.hangupCause)
    .set('Channel-Read-Codec-Name', CODEC.name)
    .set('Channel-Read-Codec-Rate', CODEC.rate)
    .set('Channel-Read-Codec-Bit-Rate', CODEC.bitRate)
    .set('Channel-Write-Codec-Name', CODEC.name)
    .set('Channel-Write-Codec-Rate', CODEC.rate)
    .set('Channel-Write-Codec-Bit-Rate', CODEC.bitRate);
  addCallerProfile(event, session, 'Caller');
}

/** switch_channel_event_set_data(): basic data, plus the variables for the listed event types. */
export function addChannelData(event: FsEvent, session: Session): void {
  addBasicChannelData(event, session);
  if (!EXTENDED_EVENTS.has(event.name)) return;
  for (const [name, value] of session.variables()) event.add(`variable_${name}`, value);
}
