/**
 * A wake-up call nobody answered becomes a priority call in a queue for an operator. The call
 * has no outside caller: its "caller" is an alert leg, a media server endpoint the switchboard
 * itself opened (a real SIP dialog between the switchboard and FreeSWITCH) whose far end is a
 * second, silent endpoint on the same server (see openAlertLeg), so the call is an ordinary
 * QueueCall: it waits in the queue ahead of every caller (priority 99), is offered,
 * rung, recorded and listed in GET /v1/calls like any other. The note reaches the operator three
 * ways: as the display name of the INVITE ("<queue name>: Wake-up failed: 101"), as the
 * caller's name in the live calls, the call's 'arrived' event and the record, and spoken to the
 * operator on answer (the prompt wakeup-failed, then the extension's digits). After the note the
 * operator is connected to the silent alert leg and hangs up when done.
 */
import { randomUUID } from 'node:crypto';
import type Mrf from 'drachtio-fsmrf';
import type { ActiveCall, CallContext, CallRegistry } from '../calls/context.js';
import { QueueCall } from '../calls/queue-call.js';
import { CallRecorder } from '../cdr/call-recorder.js';
import { publishCallEvent } from '../events/call-events.js';
import { callLogger } from '../log.js';
import { modifyEndpoint, releaseEndpoint } from '../media/endpoint.js';

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
  const alert = await openAlertLeg(ms).catch((err: Error) => err);
  if (alert instanceof Error) return { error: `media server: ${alert.message}` };
  const { endpoint, farEnd } = alert;

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
  publishCallEvent(ctx.bus, { event: 'arrived', callId, instanceId: ctx.instanceId, callerNumber: r.extension, callerName: name, dialledNumber: queue.number, at: arrivedAt });
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
      mediaServerLeg: true,
      operatorNote: [
        { kind: 'play', prompt: 'wakeup-failed' },
        { kind: 'say-digits', digits: r.extension },
      ],
    },
    recorder,
    log,
  );
  ctx.calls.add(call);
  void afterCall(ctx.calls, callId).then(() => releaseEndpoint(farEnd));
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

/**
 * Where the alert leg's endpoint sends RTP until its far end exists: the discard port, plain
 * RTP (a FreeSWITCH offer of its own would ask for DTLS-SRTP, which only connectCaller can
 * negotiate).
 */
const PLACEHOLDER_SDP = [
  'v=0',
  'o=switchboard 1 1 IN IP4 127.0.0.1',
  's=wake-up alert',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 9 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=sendrecv',
  '',
].join('\r\n');

/**
 * The alert leg's endpoint and its far end, a second endpoint on the same media server: the
 * first is opened with a placeholder offer, the second with the first's answer, and the first is
 * then given the second's answer, so the two send each other RTP. The call's endpoint thus has
 * negotiated media like a phone's (a real FreeSWITCH re-INVITEs, and hangs up, an endpoint opened
 * without SDP once it is bridged), no media timeout can end it, and nothing outside the media
 * server is involved.
 */
async function openAlertLeg(ms: Mrf.MediaServer): Promise<{ endpoint: Mrf.Endpoint; farEnd: Mrf.Endpoint }> {
  const endpoint = await ms.createEndpoint({ remoteSdp: PLACEHOLDER_SDP });
  try {
    const farEnd = await ms.createEndpoint({ remoteSdp: endpoint.local.sdp });
    await modifyEndpoint(endpoint, farEnd.local.sdp).catch(async (err: Error) => {
      await releaseEndpoint(farEnd);
      throw err;
    });
    return { endpoint, farEnd };
  } catch (err) {
    await releaseEndpoint(endpoint);
    throw err;
  }
}

/** Settles when the call is over: its last stage (a queue call hands over to a conversation) is done. */
async function afterCall(calls: CallRegistry, callId: string): Promise<void> {
  let seen: ActiveCall | undefined;
  for (let stage = calls.get(callId); stage && stage !== seen; stage = calls.get(callId)) {
    seen = stage;
    await stage.done;
  }
}
