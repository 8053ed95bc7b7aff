import type Srf from 'drachtio-srf';
import type { Rooms } from '../conference/rooms.js';
import { isConnected } from '../media/answer.js';
import { intercepts, type NumberChange } from '../numbers/number-changes.js';
import type { Operator, Queue, Room, Route } from '../provisioning/types.js';
import { checkOffer } from '../sip/offer.js';
import { isTrusted } from '../sip/trust.js';
import type { AdmissionGate } from './admission-gate.js';
import { newArrival, type Arrival } from './arrival.js';
import type { CallContext } from './context.js';
import { startDirectCall } from './direct-call.js';
import type { Messages } from '../messages/index.js';
import { handleMailboxCall, isMailboxCode } from '../messages/retrieval.js';
import { featureCodeOf, handleFeatureCode, type FeatureCode, type FeatureCodeAuth } from './feature-codes.js';
import { startIntercept } from './intercept.js';
import { greets } from './greeting.js';
import { QueueCall } from './queue-call.js';
import { freeFitting, ringsFirstOnArrival } from './ring-first.js';
import { startRoomCall } from './room-call.js';
import { askSkill } from './skill-menu.js';

/** Where a new call goes, decided before anything is answered. */
export type Admission =
  | { kind: 'queue'; queue: Queue; route: Route }
  | { kind: 'operator'; operator: Operator; route: Route }
  | { kind: 'room'; room: Room; route: Route }
  | { kind: 'feature'; code: FeatureCode }
  | { kind: 'mailbox' }
  | { kind: 'intercept'; change: NumberChange }
  | { kind: 'reject'; status: number; reason: string };

/** Where a call goes by the routes alone. */
type RouteAdmission = Exclude<Admission, { kind: 'feature' | 'mailbox' | 'intercept' }>;

const NOT_FOUND: RouteAdmission = { kind: 'reject', status: 404, reason: 'Not Found' };


/**
 * What the switchboard does with a call to `dialled` from `source`: the routing rules. Feature
 * codes come first and need neither a route nor a trusted source: their digest challenge proves
 * the operator (a route on *21 ... would never be reached). Then a changed or withdrawn number
 * whose intercept runs now: everyone may hear that announcement, and it comes before any route
 * still left on the old number. Then the routes.
 */
export function admit(ctx: CallContext, dialled: string, source: string, now = Date.now()): Admission {
  const code = featureCodeOf(dialled);
  if (code) return { kind: 'feature', code };
  if (isMailboxCode(dialled)) return { kind: 'mailbox' };
  const change = ctx.settings.numberChange(dialled);
  if (change && intercepts(change, now)) return { kind: 'intercept', change };
  return routeOf(ctx, dialled, source);
}

/** The route of `dialled` for a caller from `source`, or the refusal. */
function routeOf(ctx: CallContext, dialled: string, source: string): RouteAdmission {
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
  /** Admission control: refuses new calls past capacity before any media is set up. */
  admission: AdmissionGate;
  /** Extensions' voice messages (the mailbox code). */
  messages: Messages;
}

/**
 * Handles every new INVITE (or refuses it with 503 when `refusal` gives a reason, or admission
 * control finds the switchboard over capacity): routes it (feature code, queue, operator, room or refusal), answers
 * it onto the media server when its target says so, and leaves a record of every call, refused
 * ones included (a 407 challenge is half of a feature code's handshake, not a call: no record).
 */
export function attachInbound(ctx: CallContext, refusal: () => string | undefined, deps: InboundDeps): void {
  ctx.srf.invite((req, res) => {
    void handleInvite(ctx, deps, req, res, refusal()).catch((err: Error) => {
      ctx.log.error({ err: err.message, sipCallId: req.get('Call-ID') }, 'INVITE handling failed');
      if (!res.finalResponseSent) res.send(500);
    });
  });
}

async function handleInvite(ctx: CallContext, deps: InboundDeps, req: Srf.SrfRequest, res: Srf.SrfResponse, refusal: string | undefined): Promise<void> {
  const a = newArrival(ctx, req, res);
  a.log.info({ from: a.caller.number, dialled: a.dialled, source: req.source_address, sipCallId: a.sipCallId }, 'incoming call');

  if (refusal !== undefined) return a.refuse(503, `Service Unavailable: ${refusal}`, 'failed');
  const overload = deps.admission.admit(a.callId);
  if (overload) return a.refuse(overload.status, overload.reason, overload.disposition, overload.headers);
  try {
    await routeInvite(ctx, deps, a);
  } finally {
    deps.admission.settled(a.callId);
  }
}

async function routeInvite(ctx: CallContext, deps: InboundDeps, a: Arrival): Promise<void> {
  const { req } = a;
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
    case 'mailbox':
      return handleMailboxCall(ctx, deps.featureAuth, a, deps.messages.mailbox);
    case 'intercept': {
      const { newNumber } = admission.change;
      // Put through as if the new number had been dialled; its own intercept, if any, is not
      // played again (two changes pointing at each other must not loop).
      const connect = (): Promise<void> => (newNumber === null ? Promise.resolve() : startRoute(ctx, deps, a, routeOf(ctx, newNumber, req.source_address)));
      return startIntercept(ctx, a, admission.change, connect);
    }
    default:
      return startRoute(ctx, deps, a, admission);
  }
}

async function startRoute(ctx: CallContext, deps: InboundDeps, a: Arrival, admission: RouteAdmission): Promise<void> {
  switch (admission.kind) {
    case 'reject':
      a.recorder.routed('reject');
      return a.refuse(admission.status, admission.reason, 'rejected');
    case 'operator':
      a.recorder.routed('operator');
      return startDirectCall(ctx, a, admission.operator);
    case 'room':
      a.recorder.routed('room');
      return startRoomCall(ctx, deps.rooms, a, admission.room);
    case 'queue':
      a.recorder.routed('queue');
      return startQueueCall(ctx, a, admission.queue, admission.route);
  }
}

async function startQueueCall(ctx: CallContext, a: Arrival, queue: Queue, route: Route): Promise<void> {
  const { log, leg } = a;
  if (queue.noOperators === 'reject' && !anyoneLoggedIn(ctx, queue)) {
    return a.refuse(480, 'Temporarily Unavailable: no operator logged in', 'rejected');
  }
  if (await ringsFirst(ctx, a, queue, route.skill)) return startRingFirst(ctx, a, queue, route.skill ?? '');
  const ms = a.pickMedia();
  if (!ms) return a.refuse(503, 'Service Unavailable: no media server', 'failed');

  const answered = await a.answerOnto(ms);
  if (!answered) return;
  leg.answered(Date.now());
  // The route's skill wins; a caller who hangs up in the menu is caught below, as not connected.
  const skill = route.skill ?? (queue.skillMenu ? await askSkill(answered.endpoint, queue, ctx.prompts, log) : '') ?? '';
  const priority = ctx.settings.callerPriority(a.caller.number);
  const call = new QueueCall(
    ctx,
    a.callId,
    queue,
    { ...answered, number: a.caller.number, name: a.caller.name, dialled: a.dialled, leg, arrivedAt: a.arrivedAt, priority, skill },
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
  try {
    await enterQueue(ctx, call, queue);
  } catch (err) {
    // Redis went away between the answer and the queue: end the call cleanly, with its record.
    log.warn({ err: (err as Error).message }, 'cannot queue the caller');
    call.hangup('cannot queue the caller: live state unavailable');
  }
}

/**
 * Ring first (issue 9): in a direct queue where a match is plausible (ring-first.ts), the operator
 * is rung before the caller is answered, and the media server never sees the call. Not when the
 * caller must hear something first (the skill menu, a greeting) or already hears early media from
 * the media server (an intercept).
 */
async function ringsFirst(ctx: CallContext, a: Arrival, queue: Queue, routeSkill: string | null): Promise<boolean> {
  if (ctx.config.ringFirstMaxS === 0 || queue.mediaMode !== 'direct' || greets(queue) || a.hasEarlyMedia()) return false;
  if (routeSkill === null && queue.skillMenu) return false;
  const free = freeFitting(ctx.settings, ctx.statuses, queue.id, routeSkill ?? '');
  if (free === 0) return false;
  return ringsFirstOnArrival(free, await ctx.queues.length(queue.id), queue.maxLength);
}

async function startRingFirst(ctx: CallContext, a: Arrival, queue: Queue, skill: string): Promise<void> {
  const priority = ctx.settings.callerPriority(a.caller.number);
  const caller = { arrival: a, number: a.caller.number, name: a.caller.name, dialled: a.dialled, leg: a.leg, arrivedAt: a.arrivedAt, priority, skill };
  const call = new QueueCall(ctx, a.callId, queue, caller, a.recorder, a.log);
  ctx.calls.add(call);
  a.log.info({ queue: queue.number }, 'operator free: ringing before the caller is answered');
  try {
    await call.enter();
  } catch (err) {
    a.log.warn({ err: (err as Error).message }, 'cannot queue the caller');
    call.hangup('cannot queue the caller: live state unavailable');
  }
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
