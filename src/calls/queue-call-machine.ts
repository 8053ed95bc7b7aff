/**
 * The life of a caller in a queue, as a pure state machine: (state, event) -> (state, effects).
 * The adapter (queue-call.ts) feeds it SIP, media and timer events and carries out the effects.
 * The hard cases live here where they can be tested without a network: the caller hangs up while
 * phones ring, an operator answers after the caller left, two operators answer a ring-all at once.
 * Once an operator answers, the call is handed over to a Conversation and this machine is done.
 */

export type Phase = 'waiting' | 'offering' | 'ended';

export type LeaveReason = 'exit-timeout' | 'exit-full' | 'exit-empty';

export interface Ring {
  operatorId: number;
  startedAt: number;
  /** We CANCELled it because the ring timeout passed: its failure is a miss. */
  timedOut: boolean;
}

export interface QueueCallState {
  phase: Phase;
  rings: Ring[];
  /** The operator who answered, once one has. */
  operatorId: number | null;
  /** Max wait passed while phones rang: leave the queue once they stop. */
  leaveAfterRings: LeaveReason | null;
}

export type QueueCallEvent =
  | { type: 'offer'; operatorIds: number[]; at: number }
  | { type: 'ring-timeout'; operatorId: number; at: number }
  /** greet: the queue greets (greeting.ts), so the Conversation connects them after it. */
  | { type: 'operator-answered'; operatorId: number; at: number; greet?: boolean }
  | { type: 'operator-failed'; operatorId: number; status: number; at: number }
  | { type: 'caller-hangup'; at: number }
  | { type: 'max-wait'; at: number }
  /** The caller pressed the queue's message key: they leave the line to record a message. */
  | { type: 'message-key'; at: number }
  | { type: 'hangup'; at: number; reason: string };

export type Effect =
  /** Ring an operator's phone(s), with the ring timeout running. */
  | { type: 'ring'; operatorId: number }
  /** Stop ringing: CANCEL, with "completed elsewhere" when another operator answered. */
  | { type: 'cancel-ring'; operatorId: number; answeredElsewhere: boolean }
  /** Hang up an operator leg that answered when it was no longer wanted. */
  | { type: 'drop-answered'; operatorId: number }
  /** Give a reserved operator back: the offer ended without a call. */
  | { type: 'release-operator'; operatorId: number; missed: boolean }
  /** The ringing operator took the call. */
  | { type: 'operator-busy'; operatorId: number }
  | { type: 'bridge'; operatorId: number }
  /** A Conversation takes the call from here (and connects them after any greeting). */
  | { type: 'hand-over'; operatorId: number }
  | { type: 'stop-hold-music' }
  /** Back in line at the same place, not to be offered these operators again right away. */
  | { type: 'requeue'; tried: number[] }
  | { type: 'dequeue' }
  | { type: 'hangup-caller'; reason: string }
  /** Tell the caller the queue cannot take them (busy announcement or overflow target). */
  | { type: 'leave-queue'; reason: LeaveReason }
  /** Out of the line to leave a voice message (the adapter records it, then ends the call). */
  | { type: 'take-message' }
  | { type: 'record-offer'; operatorId: number }
  | { type: 'record-no-answer'; operatorId: number; ringMs: number; reason: string }
  | { type: 'record-connect'; operatorId: number; ringMs: number }
  | { type: 'record-abandon' }
  | { type: 'finish'; hangupBy: 'caller' | 'operator' | 'system'; reason: string };

export interface Transition {
  state: QueueCallState;
  effects: Effect[];
}

export const initialQueueCallState: QueueCallState = { phase: 'waiting', rings: [], operatorId: null, leaveAfterRings: null };

function failureReason(status: number, timedOut: boolean): string {
  if (timedOut) return 'no answer';
  if (status === 486 || status === 600) return 'busy';
  if (status === 603) return 'declined';
  if (status === 408 || status === 480) return 'not reachable';
  return `failed with ${status}`;
}

function cancelAll(rings: Ring[], answeredElsewhere: boolean, except?: number): Effect[] {
  return rings.filter((r) => r.operatorId !== except).flatMap((r): Effect[] => [
    { type: 'cancel-ring', operatorId: r.operatorId, answeredElsewhere },
    { type: 'release-operator', operatorId: r.operatorId, missed: false },
  ]);
}

export function queueCallStep(s: QueueCallState, e: QueueCallEvent): Transition {
  const same = (effects: Effect[] = []): Transition => ({ state: s, effects });
  if (s.phase === 'ended') {
    // Late news about a call that is over: an operator who answers now must be hung up, and
    // operators reserved for it in the meantime go straight back.
    if (e.type === 'operator-answered') return same([{ type: 'drop-answered', operatorId: e.operatorId }]);
    if (e.type === 'offer') return same(e.operatorIds.map((operatorId) => ({ type: 'release-operator', operatorId, missed: false })));
    return same();
  }
  switch (e.type) {
    case 'offer': {
      if (s.phase !== 'waiting') {
        // Reserved for a caller who is no longer waiting: give them back untouched.
        return same(e.operatorIds.map((operatorId) => ({ type: 'release-operator', operatorId, missed: false })));
      }
      const rings = e.operatorIds.map((operatorId) => ({ operatorId, startedAt: e.at, timedOut: false }));
      return {
        state: { ...s, phase: 'offering', rings },
        effects: e.operatorIds.flatMap((operatorId): Effect[] => [{ type: 'record-offer', operatorId }, { type: 'ring', operatorId }]),
      };
    }
    case 'ring-timeout': {
      const ring = s.rings.find((r) => r.operatorId === e.operatorId);
      if (s.phase !== 'offering' || !ring || ring.timedOut) return same();
      return {
        state: { ...s, rings: s.rings.map((r) => (r === ring ? { ...r, timedOut: true } : r)) },
        effects: [{ type: 'cancel-ring', operatorId: e.operatorId, answeredElsewhere: false }],
      };
    }
    case 'operator-answered': {
      const ring = s.rings.find((r) => r.operatorId === e.operatorId);
      if (s.phase !== 'offering' || !ring) return same([{ type: 'drop-answered', operatorId: e.operatorId }]);
      return {
        state: { ...s, phase: 'ended', rings: [], operatorId: e.operatorId },
        effects: [
          ...cancelAll(s.rings, true, e.operatorId),
          { type: 'operator-busy', operatorId: e.operatorId },
          { type: 'stop-hold-music' },
          ...(e.greet ? [] : [{ type: 'bridge', operatorId: e.operatorId } as Effect]),
          { type: 'record-connect', operatorId: e.operatorId, ringMs: e.at - ring.startedAt },
          { type: 'hand-over', operatorId: e.operatorId },
        ],
      };
    }
    case 'operator-failed': {
      const ring = s.rings.find((r) => r.operatorId === e.operatorId);
      if (!ring) return same();
      const rings = s.rings.filter((r) => r !== ring);
      const missed = ring.timedOut || e.status === 408 || e.status === 480;
      const effects: Effect[] = [
        { type: 'release-operator', operatorId: e.operatorId, missed },
        { type: 'record-no-answer', operatorId: e.operatorId, ringMs: e.at - ring.startedAt, reason: failureReason(e.status, ring.timedOut) },
      ];
      if (rings.length > 0 || s.phase !== 'offering') return { state: { ...s, rings }, effects };
      if (s.leaveAfterRings) {
        return { state: { ...s, phase: 'ended', rings }, effects: [...effects, { type: 'leave-queue', reason: s.leaveAfterRings }] };
      }
      // Everyone rung has failed: back in line at the same place.
      const tried = [...s.rings.map((r) => r.operatorId)];
      return { state: { ...s, phase: 'waiting', rings }, effects: [...effects, { type: 'requeue', tried }] };
    }
    case 'caller-hangup': {
      const effects: Effect[] = [...(s.phase === 'waiting' ? [{ type: 'dequeue' } as Effect] : []), ...cancelAll(s.rings, false), { type: 'record-abandon' }];
      return { state: { ...s, phase: 'ended', rings: [] }, effects: [...effects, { type: 'finish', hangupBy: 'caller', reason: 'caller hung up' }] };
    }
    case 'max-wait': {
      if (s.phase === 'waiting') {
        return { state: { ...s, phase: 'ended' }, effects: [{ type: 'dequeue' }, { type: 'leave-queue', reason: 'exit-timeout' }] };
      }
      return { state: { ...s, leaveAfterRings: 'exit-timeout' }, effects: [] };
    }
    case 'message-key':
      // Only while waiting: once phones ring for the caller, the operator is on the way.
      if (s.phase !== 'waiting') return same();
      return { state: { ...s, phase: 'ended' }, effects: [{ type: 'dequeue' }, { type: 'stop-hold-music' }, { type: 'take-message' }] };
    case 'hangup': {
      const effects: Effect[] = [];
      if (s.phase === 'waiting') effects.push({ type: 'dequeue' });
      effects.push(...cancelAll(s.rings, false));
      effects.push({ type: 'hangup-caller', reason: e.reason }, { type: 'finish', hangupBy: 'system', reason: e.reason });
      return { state: { ...s, phase: 'ended', rings: [] }, effects };
    }
  }
}
