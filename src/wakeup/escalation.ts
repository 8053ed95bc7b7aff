/**
 * A wake-up call nobody answered becomes a priority call in a queue for an operator. The call
 * has no outside caller: its "caller" is an alert leg, a media server endpoint the switchboard
 * itself opened (a real SIP dialog between the switchboard and FreeSWITCH), so the call is an
 * ordinary QueueCall: it waits in the queue ahead of every caller (priority 99), is offered,
 * rung, recorded and listed in GET /v1/calls like any other. The note reaches the operator three
 * ways: as the display name of the INVITE ("<queue name>: Wake-up failed: 101"), as the
 * caller's name in the live calls, the queue's events and the record, and spoken to the
 * operator on answer (the prompt wakeup-failed, then the extension's digits). After the note the
 * operator is connected to the silent alert leg and hangs up when done.
 */
import { randomUUID } from 'node:crypto';
import type { CallContext } from '../calls/context.js';
import { QueueCall } from '../calls/queue-call.js';
import { CallRecorder } from '../cdr/call-recorder.js';
import { callLogger } from '../log.js';

/** The highest caller-list priority: served before every caller waiting. */
export const ESCALATION_PRIORITY = 99;

export interface EscalationRequest {
  bookingId: number;
  extension: string;
  queueNumber: string | null;
  /** The booking's note (e.g. a guest's name), added to what the operator sees. */
  note: string;
}

/** What the operator's phone shows and the live calls list as the caller's name. */
export function escalationNote(extension: string, note: string): string {
  return note === '' ? `Wake-up failed: ${extension}` : `Wake-up failed: ${extension} (${note})`;
}

/** Queues the priority call; its call id, or why it could not be placed. */
export async function escalate(ctx: CallContext, r: EscalationRequest): Promise<{ callId: string } | { error: string }> {
  const queue = r.queueNumber === null ? undefined : ctx.settings.queueByNumber(r.queueNumber);
  if (!queue) return { error: r.queueNumber === null ? 'no escalation queue (WAKEUP_ESCALATION_QUEUE)' : `no queue numbered ${r.queueNumber}` };
  const ms = ctx.media.pick();
  if (!ms) return { error: 'no media server' };
  const endpoint = await ms.createEndpoint().catch((err: Error) => err);
  if (endpoint instanceof Error) return { error: `media server: ${endpoint.message}` };

  const callId = randomUUID();
  const arrivedAt = Date.now();
  const name = escalationNote(r.extension, r.note);
  const log = callLogger(ctx.log, callId).child({ wakeup: r.bookingId, extension: r.extension });
  const recorder = new CallRecorder(
    { callId, instanceId: ctx.instanceId, callerNumber: r.extension, callerName: name, dialledNumber: queue.number, arrivedAt },
    (rec) => ctx.record(rec),
    randomUUID,
  );
  recorder.routed('queue');
  const leg = recorder.leg('caller', 'outbound', '', r.extension, arrivedAt);
  leg.answered(arrivedAt);
  const call = new QueueCall(
    ctx,
    callId,
    queue,
    {
      dialog: endpoint.dialog,
      endpoint,
      number: r.extension,
      name,
      dialled: queue.number,
      leg,
      arrivedAt,
      priority: ESCALATION_PRIORITY,
      skill: '',
      operatorNote: [
        { kind: 'play', prompt: 'wakeup-failed' },
        { kind: 'say-digits', digits: r.extension },
      ],
    },
    recorder,
    log,
  );
  ctx.calls.add(call);
  try {
    await call.enter();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'cannot queue the wake-up escalation');
    call.hangup('cannot queue the wake-up escalation: live state unavailable');
    return { error: 'live state unavailable' };
  }
  log.info({ queue: queue.number }, 'wake-up not answered: an operator is called');
  return { callId };
}
