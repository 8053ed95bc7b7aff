import { randomUUID } from 'node:crypto';
import type Srf from 'drachtio-srf';
import { CallRecorder } from '../cdr/call-recorder.js';
import { callLogger } from '../log.js';
import { answerOntoMedia, CallerGone, isConnected } from '../media/answer.js';
import type { Queue, Route } from '../provisioning/types.js';
import { callerOf, dialledOf } from '../sip/request-info.js';
import { isTrusted } from '../sip/trust.js';
import type { CallContext } from './context.js';
import { QueueCall } from './queue-call.js';

/** Where a new call goes, decided before anything is answered. */
export type Admission =
  | { kind: 'queue'; queue: Queue; route: Route }
  | { kind: 'reject'; status: number; reason: string };

/** What the switchboard does with a call to `dialled` from `source`: the routing rules. */
export function admit(ctx: CallContext, dialled: string, source: string): Admission {
  const route = ctx.settings.route(dialled);
  if (!route) return { kind: 'reject', status: 404, reason: 'Not Found' };
  if (!route.allowOutside && !isTrusted(source, ctx.config.trustedSources)) return { kind: 'reject', status: 403, reason: 'Forbidden' };
  switch (route.targetType) {
    case 'reject':
      return { kind: 'reject', status: route.rejectStatus ?? 403, reason: 'Rejected by route' };
    case 'queue': {
      const queue = route.queueId === null ? undefined : ctx.settings.queue(route.queueId);
      if (!queue) return { kind: 'reject', status: 404, reason: 'Not Found' };
      return { kind: 'queue', queue, route };
    }
    default:
      return { kind: 'reject', status: 480, reason: 'Temporarily Unavailable' };
  }
}

/** Is anyone of this queue logged in (available, on a call or wrapping up)? */
function anyoneLoggedIn(ctx: CallContext, queue: Queue): boolean {
  return ctx.settings.members(queue.id).some((m) => {
    const state = ctx.statuses.get(m.operatorId)?.state;
    return state !== undefined && state !== 'logged-out';
  });
}

/**
 * Handles every new INVITE: routes it, answers it onto the media server when it goes to a
 * queue, and leaves a record of every call, refused ones included.
 */
export function attachInbound(ctx: CallContext, accepting: () => boolean): void {
  ctx.srf.invite((req, res) => {
    void handleInvite(ctx, req, res, accepting()).catch((err: Error) => {
      ctx.log.error({ err: err.message, sipCallId: req.get('Call-ID') }, 'INVITE handling failed');
      if (!res.finalResponseSent) res.send(500);
    });
  });
}

async function handleInvite(ctx: CallContext, req: Srf.SrfRequest, res: Srf.SrfResponse, accepting: boolean): Promise<void> {
  const arrivedAt = Date.now();
  const callId = randomUUID();
  const log = callLogger(ctx.log, callId);
  const caller = callerOf(req);
  const dialled = dialledOf(req);
  const sipCallId = req.get('Call-ID');
  const recorder = new CallRecorder(
    { callId, instanceId: ctx.instanceId, callerNumber: caller.number, callerName: caller.name, dialledNumber: dialled, arrivedAt },
    (r) => ctx.record(r),
    randomUUID,
  );
  const leg = recorder.leg('caller', 'inbound', sipCallId, caller.number, arrivedAt);
  log.info({ from: caller.number, dialled, source: req.source_address, sipCallId }, 'incoming call');

  const refuse = (status: number, reason: string, disposition: 'rejected' | 'failed'): void => {
    if (!res.finalResponseSent) res.send(status);
    const at = Date.now();
    leg.end(at, 'system', status, reason);
    recorder.end({ at, hangupBy: 'system', sipStatus: status, sipReason: reason, disposition });
    log.info({ status, reason }, 'call refused');
  };

  if (!accepting) return refuse(503, 'Service Unavailable: shutting down', 'failed');
  const admission = admit(ctx, dialled, req.source_address);
  if (admission.kind === 'reject') {
    recorder.routed('reject');
    return refuse(admission.status, admission.reason, 'rejected');
  }
  recorder.routed('queue');
  const queue = admission.queue;
  if (queue.noOperators === 'reject' && !anyoneLoggedIn(ctx, queue)) {
    return refuse(480, 'Temporarily Unavailable: no operator logged in', 'rejected');
  }
  const ms = ctx.media.pick();
  if (!ms) return refuse(503, 'Service Unavailable: no media server', 'failed');

  let answered;
  try {
    answered = await answerOntoMedia(ctx.srf, ms, req, res);
  } catch (err) {
    if (err instanceof CallerGone) {
      const at = Date.now();
      leg.end(at, 'caller', 487, 'Request Terminated');
      recorder.end({ at, hangupBy: 'caller', sipStatus: 487, sipReason: 'cancelled before answer', disposition: 'abandoned' });
      return;
    }
    log.warn({ err: (err as Error).message }, 'cannot answer onto the media server');
    return refuse(503, 'Service Unavailable: media server failed', 'failed');
  }
  leg.answered(Date.now());
  const call = new QueueCall(
    ctx,
    callId,
    queue,
    { ...answered, number: caller.number, name: caller.name, dialled, leg, arrivedAt, priority: 0 },
    recorder,
    log,
  );
  ctx.calls.add(call);
  // drachtio-srf makes the dialog on sending 200 OK: a BYE right behind the ACK can end it
  // before this line (see SIP-NOTES). The call's destroy listener missed it; end it here.
  if (!isConnected(answered.dialog)) {
    call.callerGone();
    return;
  }
  await enterQueue(ctx, call, queue);
}

async function enterQueue(ctx: CallContext, call: QueueCall, queue: Queue): Promise<void> {
  const full = queue.maxLength !== null && (await ctx.queues.length(queue.id)) >= queue.maxLength;
  const empty = queue.noOperators === 'overflow' && !anyoneLoggedIn(ctx, queue);
  if (full || empty) {
    await call.enterOverflowing(full ? 'exit-full' : 'exit-empty');
    return;
  }
  await call.enter();
}
