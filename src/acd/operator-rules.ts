import type { OperatorState } from '../cdr/records.js';

export type { OperatorState };

/**
 * A reservation outlives the ring it covers by this much, so that only a dead instance's
 * reservation ever expires through the sweeper.
 */
export const LEASE_MARGIN_MS = 10_000;

/**
 * Misses in a row before an operator rung outside a queue (their own number, a transfer or
 * three-way target, a room's dial-out) is put on break. A queue has its own setting,
 * maxNoAnswer, with the same default.
 */
export const MAX_MISSES_OUTSIDE_QUEUES = 3;

/** An operator's live state as kept in Redis. Times are ms since the epoch. */
export interface OperatorStatus {
  operatorId: number;
  state: OperatorState;
  /** When the current state began. */
  since: number;
  /** When the operator last became free for calls: the longest-idle strategy's measure. */
  idleSince: number;
  /** The call the operator is ringing for, talking on or wrapping up. */
  callId: string;
  /** The switchboard instance that owns that call. */
  instance: string;
  /** Ringing: the reservation's lease. Wrap-up: its end. 0 otherwise. */
  deadline: number;
  /** Calls answered since the operator logged in. */
  calls: number;
  /** Offers missed in a row (ring-no-answer). */
  misses: number;
  /** A break or logout asked for during a call, applied when the call is over. */
  pending: '' | 'on-break' | 'logged-out';
}

/** What can happen to an operator. */
export type OperatorEvent =
  | { type: 'login' }
  | { type: 'logout' }
  | { type: 'break' }
  | { type: 'back' }
  | { type: 'reserve'; callId: string; instance: string; leaseMs: number }
  | { type: 'answer'; callId: string }
  /** The offer ended without an answer: rejected, withdrawn, or the caller left. */
  | { type: 'release'; callId: string; missed: boolean; maxMisses: number }
  | { type: 'hangup'; callId: string; wrapupMs: number }
  | { type: 'wrapup-done'; callId: string }
  /** The owning instance is gone or the deadline passed: free the operator without blame. */
  | { type: 'expire' }
  /** An attended transfer joins the operator's conversation to another call (a new call id). */
  | { type: 'move-call'; from: string; to: string };

/**
 * A compare-and-set plan: apply `changes` only if the operator is still in one of `from` (and,
 * when callId is set, still on that call). Several instances race on the same operator; the
 * store carries the plan out atomically, so the rules live here once, free of I/O.
 */
export interface TransitionPlan {
  from: OperatorState[];
  callId?: string;
  changes: Partial<Omit<OperatorStatus, 'operatorId'>>;
  /** Why, for the operator's event record. */
  reason: string;
}

export class TransitionRefused extends Error {
  constructor(
    readonly state: OperatorState,
    readonly event: OperatorEvent['type'],
  ) {
    super(`an operator who is ${state} cannot ${event}`);
    this.name = 'TransitionRefused';
  }
}

const ON_CALL: OperatorState[] = ['ringing', 'busy', 'wrap-up'];

/** The state an operator goes to when a call no longer holds them. */
function freed(op: OperatorStatus, now: number): Partial<OperatorStatus> {
  const base = { since: now, callId: '', instance: '', deadline: 0, pending: '' as const };
  if (op.pending !== '') return { ...base, state: op.pending };
  return { ...base, state: 'available', idleSince: now };
}

/**
 * Decides what an event does to an operator who is in `op` now. Throws TransitionRefused when
 * the event makes no sense in that state (e.g. answering a call one is not ringing for).
 */
export function planTransition(op: OperatorStatus, event: OperatorEvent, now: number): TransitionPlan {
  const refuse = (): never => {
    throw new TransitionRefused(op.state, event.type);
  };
  switch (event.type) {
    case 'login':
      if (op.state !== 'logged-out') refuse();
      return { from: ['logged-out'], changes: { state: 'available', since: now, idleSince: now, calls: 0, misses: 0, pending: '' }, reason: 'login' };
    case 'logout':
    case 'break': {
      const target = event.type === 'logout' ? 'logged-out' : 'on-break';
      if (op.state === target) refuse();
      if (ON_CALL.includes(op.state)) {
        return { from: ON_CALL, callId: op.callId, changes: { pending: target }, reason: `${event.type} after the call` };
      }
      if (op.state === 'logged-out') refuse();
      return { from: ['available', 'on-break'], changes: { state: target, since: now, pending: '' }, reason: event.type };
    }
    case 'back':
      if (op.state === 'on-break') {
        return { from: ['on-break'], changes: { state: 'available', since: now, idleSince: now, misses: 0 }, reason: 'back' };
      }
      if (ON_CALL.includes(op.state) && op.pending !== '') {
        return { from: ON_CALL, callId: op.callId, changes: { pending: '' }, reason: 'break cancelled' };
      }
      return refuse();
    case 'reserve':
      if (op.state !== 'available') refuse();
      return {
        from: ['available'],
        changes: { state: 'ringing', since: now, callId: event.callId, instance: event.instance, deadline: now + event.leaseMs },
        reason: 'offer',
      };
    case 'answer':
      if (op.state !== 'ringing' || op.callId !== event.callId) refuse();
      return { from: ['ringing'], callId: event.callId, changes: { state: 'busy', since: now, deadline: 0, misses: 0, calls: op.calls + 1 }, reason: 'answered' };
    case 'release': {
      if (op.state !== 'ringing' || op.callId !== event.callId) refuse();
      const misses = event.missed ? op.misses + 1 : op.misses;
      const tooMany = event.missed && misses >= event.maxMisses;
      // Missing an offer does not make an operator any less idle: idleSince stays as it was.
      const changes: Partial<OperatorStatus> = tooMany
        ? { state: 'on-break', since: now, callId: '', instance: '', deadline: 0, misses, pending: '' }
        : { ...freed(op, now), idleSince: op.idleSince, misses };
      const reason = tooMany ? `${misses} offers missed in a row` : event.missed ? 'no answer' : 'offer withdrawn';
      return { from: ['ringing'], callId: event.callId, changes, reason };
    }
    case 'hangup': {
      // Still 'ringing' for this call: the call ended before its answer was marked. The operator
      // is freed all the same, and the late 'answer' then finds nothing to mark.
      const on: OperatorState[] = ['busy', 'ringing'];
      if (!on.includes(op.state) || op.callId !== event.callId) refuse();
      if (event.wrapupMs <= 0) return { from: on, callId: event.callId, changes: freed(op, now), reason: 'call ended' };
      return { from: on, callId: event.callId, changes: { state: 'wrap-up', since: now, deadline: now + event.wrapupMs }, reason: 'call ended' };
    }
    case 'wrapup-done':
      if (op.state !== 'wrap-up' || op.callId !== event.callId) refuse();
      return { from: ['wrap-up'], callId: event.callId, changes: freed(op, now), reason: 'wrap-up over' };
    case 'move-call': {
      // Still 'ringing': the phone answered the consultation and sent its REFER before the answer
      // was marked (the two race through Redis). The move counts as the answer, and the late
      // 'answer' then finds another call and changes nothing.
      const on: OperatorState[] = ['busy', 'ringing'];
      if (!on.includes(op.state) || op.callId !== event.from) refuse();
      const answered = op.state === 'ringing' ? { state: 'busy' as const, since: now, deadline: 0, misses: 0, calls: op.calls + 1 } : {};
      return { from: on, callId: event.from, changes: { ...answered, callId: event.to }, reason: 'attended transfer' };
    }
    case 'expire': {
      if (!ON_CALL.includes(op.state)) refuse();
      // A reservation that never became a call leaves the operator as idle as before.
      const changes = op.state === 'ringing' ? { ...freed(op, now), idleSince: op.idleSince } : freed(op, now);
      return { from: [op.state], callId: op.callId, changes, reason: op.state === 'wrap-up' ? 'wrap-up over' : 'call owner gone' };
    }
  }
}

/** An operator record for someone never seen before: logged out. */
export function newOperatorStatus(operatorId: number, now: number): OperatorStatus {
  return { operatorId, state: 'logged-out', since: now, idleSince: now, callId: '', instance: '', deadline: 0, calls: 0, misses: 0, pending: '' };
}
