/**
 * Live call events for the event stream (GET /v1/events), published on the Redis event channel
 * so that a client of any instance sees the calls of every instance.
 *
 * Most of them are read off the call's history records as the call code emits them (a queue's
 * enter, offer, connect, abandon... and the call's row when it ends): those records are already
 * the truth of what happened and when, so the call code needs no second description of each step.
 * The call code publishes directly only what leaves no record of its own (arrival; a direct or
 * room call being connected), with one call of publishCallEvent.
 */
import type { HistoryRecord, QueueEventRecord } from '../cdr/records.js';
import type { BusEvent } from '../redis/events.js';

export type CallEventName =
  | 'arrived'
  | 'queued'
  | 'offered'
  | 'ring-no-answer'
  | 'connected'
  | 'abandoned'
  | 'left-queue'
  | 'transferred'
  | 'completed'
  | 'ended'
  /** Camp-on: the caller waits for a busy operator ('camped-on'), and how that ended ('camp-on-ended', reason = outcome). */
  | 'camped-on'
  | 'camp-on-ended'
  /** Callback (README: Callback): asked for, an attempt to reach the caller, connected, failed, cancelled. */
  | 'callback-requested'
  | 'callback-attempt'
  | 'callback-connected'
  | 'callback-failed'
  | 'callback-cancelled';

/** What a call event carries; fields a step does not know are left out. */
export interface CallEvent extends BusEvent {
  type: 'call';
  event: CallEventName;
  callId: string;
  /** ISO 8601. */
  at: string;
  /** The switchboard instance that holds the call ('arrived', 'ended'). */
  instanceId?: string;
  queueId?: number | null;
  queueNumber?: string | null;
  operatorId?: number | null;
  /** Usernames of every operator the caller talked to ('ended'). */
  operators?: string[];
  callerNumber?: string;
  callerName?: string;
  dialledNumber?: string;
  position?: number | null;
  waitS?: number | null;
  talkS?: number | null;
  holdS?: number | null;
  reason?: string;
  disposition?: string;
  hangupBy?: string | null;
}

/** Something events can be published on: the EventBus. */
export interface EventPublisher {
  publish(event: BusEvent): void;
}

const QUEUE_EVENT_NAMES: Record<QueueEventRecord['event'], CallEventName> = {
  enter: 'queued',
  offer: 'offered',
  'ring-no-answer': 'ring-no-answer',
  connect: 'connected',
  abandon: 'abandoned',
  'exit-timeout': 'left-queue',
  'exit-full': 'left-queue',
  'exit-overflow': 'left-queue',
  'exit-empty': 'left-queue',
  transfer: 'transferred',
  'complete-caller': 'completed',
  'complete-operator': 'completed',
  'callback-requested': 'callback-requested',
  'callback-attempt': 'callback-attempt',
  'callback-connected': 'callback-connected',
  'callback-failed': 'callback-failed',
  'callback-cancelled': 'callback-cancelled',
};

function fromQueueEvent(q: QueueEventRecord): CallEvent | undefined {
  if (q.callId === null) return undefined;
  const e: CallEvent = { type: 'call', event: QUEUE_EVENT_NAMES[q.event], callId: q.callId, at: q.at, queueId: q.queueId, queueNumber: q.queueNumber };
  if (q.operatorId !== null) e.operatorId = q.operatorId;
  if (q.position !== null) e.position = q.position;
  if (q.waitS !== null) e.waitS = q.waitS;
  if (q.talkS !== null) e.talkS = q.talkS;
  if (q.holdS !== null) e.holdS = q.holdS;
  if (typeof q.data.callerNumber === 'string') e.callerNumber = q.data.callerNumber;
  if (e.event === 'left-queue') e.reason = q.event;
  if (e.event === 'ring-no-answer' && typeof q.data.reason === 'string') e.reason = q.data.reason;
  if (e.event === 'completed') e.hangupBy = q.event === 'complete-caller' ? 'caller' : 'operator';
  return e;
}

/** The live event a history record stands for, if any (legs and operator records have none here). */
export function callEventOf(record: HistoryRecord): CallEvent | undefined {
  if (record.kind === 'queue-event') return fromQueueEvent(record.row);
  if (record.kind === 'camp-on') {
    const c = record.row;
    return { type: 'call', event: 'camp-on-ended', callId: c.callId, at: c.endedAt, operatorId: c.operatorId, waitS: c.waitS, reason: c.outcome };
  }
  if (record.kind !== 'call') return undefined;
  const c = record.row;
  return {
    type: 'call',
    event: 'ended',
    callId: c.callId,
    at: c.endedAt,
    instanceId: c.instanceId,
    queueId: c.queueId,
    queueNumber: c.queueNumber,
    operatorId: c.operatorId,
    operators: c.operators,
    callerNumber: c.callerNumber,
    callerName: c.callerName,
    dialledNumber: c.dialledNumber,
    waitS: c.waitS,
    talkS: c.talkS,
    holdS: c.holdS,
    disposition: c.disposition,
    hangupBy: c.hangupBy,
  };
}

/** Publishes the live event of a history record; wraps the record sink of the call core. */
export function publishRecordEvent(bus: EventPublisher, record: HistoryRecord): void {
  const event = callEventOf(record);
  if (event) bus.publish(event);
}

/** For the call code: one call per step that leaves no record. `at` defaults to now. */
export function publishCallEvent(
  bus: EventPublisher,
  event: Omit<CallEvent, 'type' | 'at' | 'event'> & { event: CallEventName; at?: number },
): void {
  const { at, ...rest } = event;
  bus.publish({ ...rest, type: 'call', at: new Date(at ?? Date.now()).toISOString() });
}
