import type Srf from 'drachtio-srf';
import type { Rooms } from '../conference/rooms.js';
import { isConnected } from '../media/answer.js';
import type { Operator, Queue, Room, Route } from '../provisioning/types.js';
import { checkOffer } from '../sip/offer.js';
import { isTrusted } from '../sip/trust.js';
import { newArrival, type Arrival } from './arrival.js';
import type { CallContext } from './context.js';
import { startDirectCall } from './direct-call.js';
import { featureCodeOf, handleFeatureCode, type FeatureCode, type FeatureCodeAuth } from './feature-codes.js';
import { QueueCall } from './queue-call.js';
import { startRoomCall } from './room-call.js';

/** Where a new call goes, decided before anything is answered. */
export type Admission =
  | { kind: 'queue'; queue: Queue; route: Route }
  | { kind: 'operator'; operator: Operator; route: Route }
  | { kind: 'room'; room: Room; route: Route }
  | { kind: 'feature'; code: FeatureCode }
  | { kind: 'reject'; status: number; reason: string };

const NOT_FOUND: Admission = { kind: 'reject', status: 404, reason: 'Not Found' };

/**
 * What the switchboard does with a call to `dialled` from `source`: the routing rules. Feature
 * codes come first and need neither a route nor a trusted source: their digest challenge proves
 * the operator (a route on *21 ... would never be reached).
 */
export function admit(ctx: CallContext, dialled: string, source: string): Admission {
  const code = featureCodeOf(dialled);
  if (code) return { kind: 'feature', code };
  const route = ctx.settings.route(dialled);
  if (!route) return NOT_FOUND;
  if (!route.allowOutside && !isTrusted(source, ctx.config.trustedSources)) return { kind: 'reject', status: 403, reason: 'Forbidden' };
  // A target deleted since the configuration was loaded is as good as no route.
  switch (route.targetType) {
    case 'reject':
      return { kind: 'reject', status: route.rejectStatus ?? 403, reason: 'Rejected by route' };
    case 'queue': {
      const queue = route.queueId === null ? undefined : ctx.settings.queue(route.queueId);
      return queue ? { kind: 'queue', queue, route } : NOT_FOUND;
    }
    case 'operator': {
      const operator = route.operatorId === null ? undefined : ctx.settings.operator(route.operatorId);
      return operator ? { kind: 'operator', operator, route } : NOT_FOUND;
    }
    case 'room': {
      const room = route.roomId === null ? undefined : ctx.settings.room(route.roomId);
      return room ? { kind: 'room', room, route } : NOT_FOUND;
    }
  }
}

/** Is anyone of this queue logged in (available, on a call or wrapping up)? */
function anyoneLoggedIn(ctx: CallContext, queue: Queue): boolean {
  return ctx.settings.members(queue.id).some((m) => {
    const state = ctx.statuses.get(m.operatorId)?.state;
    return state !== undefined && state !== 'logged-out';
  });
}

/** What the INVITE handlers need beyond the call context. */
export interface InboundDeps {
  /** Digest authentication of feature codes (407). */
  featureAuth: FeatureCodeAuth;
  /** Rooms: who sits in which, shared by every instance, and this instance's members. */
  rooms: Rooms;
}

/**
 * Handles every new INVITE: routes it (feature code, queue, operator, room or refusal), answers
 * it onto the media server when its target says so, and leaves a record of every call, refused
 * ones included (a 407 challenge is half of a feature code's handshake, not a call: no record).
 */
export function attachInbound(ctx: CallContext, accepting: () => boolean, deps: InboundDeps): void {
  ctx.srf.invite((req, res) => {
    void handleInvite(ctx, deps, req, res, accepting()).catch((err: Error) => {
      ctx.log.error({ err: err.message, sipCallId: req.get('Call-ID') }, 'INVITE handling failed');
      if (!res.finalResponseSent) res.send(500);
    });
  });
}

async function handleInvite(ctx: CallContext, deps: InboundDeps, req: Srf.SrfRequest, res: Srf.SrfResponse, accepting: boolean): Promise<void> {
  const a = newArrival(ctx, req, res);
  a.log.info({ from: a.caller.number, dialled: a.dialled, source: req.source_address, sipCallId: a.sipCallId }, 'incoming call');

  if (!accepting) return a.refuse(503, 'Service Unavailable: shutting down', 'failed');
  const admission = admit(ctx, a.dialled, req.source_address);
  if (admission.kind === 'reject') {
    a.recorder.routed('reject');
    return a.refuse(admission.status, admission.reason, 'rejected');
  }
  // Every call that is not refused is answered onto the media server with the caller's offer.
  const offer = checkOffer(req.get('Content-Type'), req.body);
  if (!offer.ok) return a.refuse(offer.status, offer.reason, 'rejected', offer.headers);
  switch (admission.kind) {
    case 'feature':
      return handleFeatureCode(ctx, deps.featureAuth, a, admission.code);
    case 'operator':
      a.recorder.routed('operator');
      return startDirectCall(ctx, a, admission.operator);
    case 'room':
      a.recorder.routed('room');
      return startRoomCall(ctx, deps.rooms, a, admission.room);
    case 'queue':
      a.recorder.routed('queue');
      return startQueueCall(ctx, a, admission.queue);
  }
}

async function startQueueCall(ctx: CallContext, a: Arrival, queue: Queue): Promise<void> {
  const { log, leg } = a;
  if (queue.noOperators === 'reject' && !anyoneLoggedIn(ctx, queue)) {
    return a.refuse(480, 'Temporarily Unavailable: no operator logged in', 'rejected');
  }
  const ms = ctx.media.pick();
  if (!ms) return a.refuse(503, 'Service Unavailable: no media server', 'failed');

  const answered = await a.answerOnto(ms);
  if (!answered) return;
  leg.answered(Date.now());
  const call = new QueueCall(
    ctx,
    a.callId,
    queue,
    { ...answered, number: a.caller.number, name: a.caller.name, dialled: a.dialled, leg, arrivedAt: a.arrivedAt, priority: 0 },
    a.recorder,
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
