/**
 * Event creation and delivery: switch_event_create() stamps the headers every event carries
 * (switch_event_prep_for_delivery_detailed() in src/switch_event.c), switch_event_fire() hands the
 * event to every event-socket listener, which applies its own subscriptions and filters.
 */
import { hostname } from 'node:os';

import { FsEvent, type EventName } from '../esl/event.js';

/** Where FreeSWITCH would have created the event: Event-Calling-File/-Function/-Line-Number. */
export interface Origin {
  readonly file: string;
  readonly func: string;
  readonly line: number;
}

export interface EventSink {
  deliver(event: FsEvent): void;
}

export interface CoreIdentity {
  readonly coreUuid: string;
  readonly hostname: string;
  readonly ipv4: string;
  readonly ipv6: string;
}

const DEFAULT_ORIGIN: Origin = { file: 'switch_event.c', func: 'switch_event_fire_detailed', line: 0 };

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

/** "%Y-%m-%d %T" in local time, as switch_strftime_nocheck() writes Event-Date-Local. */
function localDate(date: Date): string {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

export class EventBus {
  private sequence = 0;
  private readonly sinks = new Set<EventSink>();

  constructor(readonly identity: CoreIdentity) {}

  create(name: EventName, origin: Origin = DEFAULT_ORIGIN, subclass?: string): FsEvent {
    const event = new FsEvent(name, subclass);
    const now = new Date();
    event
      .add('Event-Name', name)
      .add('Core-UUID', this.identity.coreUuid)
      .add('FreeSWITCH-Hostname', this.identity.hostname)
      .add('FreeSWITCH-Switchname', this.identity.hostname)
      .add('FreeSWITCH-IPv4', this.identity.ipv4)
      .add('FreeSWITCH-IPv6', this.identity.ipv6)
      .add('Event-Date-Local', localDate(now))
      .add('Event-Date-GMT', now.toUTCString())
      .add('Event-Date-Timestamp', now.getTime() * 1000)
      .add('Event-Calling-File', origin.file)
      .add('Event-Calling-Function', origin.func)
      .add('Event-Calling-Line-Number', origin.line)
      .add('Event-Sequence', ++this.sequence);
    if (subclass) event.add('Event-Subclass', subclass);
    return event;
  }

  fire(event: FsEvent): void {
    for (const sink of [...this.sinks]) sink.deliver(event);
  }

  attach(sink: EventSink): void {
    this.sinks.add(sink);
  }

  detach(sink: EventSink): void {
    this.sinks.delete(sink);
  }
}

export function defaultIdentity(coreUuid: string, ipv4: string): CoreIdentity {
  return { coreUuid, hostname: hostname(), ipv4, ipv6: '::1' };
}
