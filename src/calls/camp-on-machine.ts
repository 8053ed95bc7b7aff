/**
 * Camp-on as a pure state machine: (state, event) -> (state, effects). A caller whose blind
 * transfer or direct call found the operator busy hears "the line is busy, please hold" and
 * music, and waits in the operator's camp-on line (shared by every instance through Redis). When
 * the operator is free, the first caller in their line reserves them and their phones ring; on
 * the answer the two are connected. After the camp-on timeout, or if the operator does not answer
 * when rung, the caller goes back: to the operator who transferred them (rung, if available), else
 * into a queue (the transferor's queue at its front, or the called operator's own queue), else
 * the busy announcement and a hang-up. The adapter (camp-on.ts) feeds it events and carries out
 * the effects.
 */
import type { Disposition, OperatorState } from '../cdr/records.js';

export type CampOnPhase = 'waiting' | 'reserving' | 'ringing' | 'reserving-origin' | 'ringing-origin' | 'ended';

/** Who is rung: the operator camped on, or the one the caller goes back to. */
export type Party = 'target' | 'origin';

/** How a camp-on ended, as the camp_ons table records it. */
export type CampOnOutcome = 'connected' | 'timeout' | 'no-answer' | 'abandoned' | 'ended';

export interface CampOnState {
  phase: CampOnPhase;
  /** The timeout passed while a reservation was on its way. */
  timedOut: boolean;
  /** Where the caller can go back to. */
  back: { operator: boolean; queue: boolean };
  /** The caller talked to someone before camping (a transfer): the call counts as answered. */
  answeredBefore: boolean;
}

export type CampOnEvent =
  /** The operator camped on became available (seen on any instance's status update). */
  | { type: 'target-free' }
  | { type: 'reserved'; who: Party; ok: boolean }
  | { type: 'answered'; who: Party }
  | { type: 'ring-failed'; who: Party; missed: boolean }
  | { type: 'timeout' }
  | { type: 'caller-hangup' }
  /** The switchboard ends the call (API, shutdown). */
  | { type: 'hangup'; reason: string };

export type CampOnEffect =
  | { type: 'reserve'; who: Party }
  | { type: 'ring'; who: Party }
  | { type: 'cancel-ring' }
  /** The reservation ends without a call; a missed ring counts towards a break. */
  | { type: 'release'; who: Party; missed: boolean }
  /** A phone that answered after the call no longer wanted it: hang it up. */
  | { type: 'drop-answered'; who: Party }
  /** Off the operator's camp-on line. */
  | { type: 'leave-line' }
  /** Caller and the party who answered talk: a Conversation takes the call over. */
  | { type: 'connect'; who: Party }
  /** Into the queue the caller goes back to. */
  | { type: 'to-queue' }
  /** The busy announcement, then BYE to the caller and the end of the call (as finish). */
  | { type: 'busy-and-hangup'; reason: string; disposition?: Disposition }
  | { type: 'record'; outcome: CampOnOutcome }
  | { type: 'finish'; hangupBy: 'caller' | 'system'; reason: string; disposition?: Disposition };

export interface CampOnTransition {
  state: CampOnState;
  effects: CampOnEffect[];
}

/** The operator states in which a caller camps on rather than being refused: on a call. */
const BUSY: readonly OperatorState[] = ['ringing', 'busy', 'wrap-up'];

/**
 * Whether a caller for an operator camps on: camp-on is on (a timeout above 0) and either others
 * are already camped on them (the newcomer lines up behind, even if the operator is free for a
 * moment) or the operator is on a call. An operator logged out or on a break is not coming back
 * soon: that caller is refused as before.
 */
export function shouldCampOn(timeoutS: number, state: OperatorState | undefined, othersCamped: number): boolean {
  if (timeoutS <= 0) return false;
  if (othersCamped > 0) return true;
  return state !== undefined && BUSY.includes(state);
}

/** The queue a caller camped on an operator's own number goes to: the operator's first by penalty. */
export function fallbackQueue(memberships: readonly { queueId: number; penalty: number }[]): number | undefined {
  const sorted = [...memberships].sort((a, b) => a.penalty - b.penalty || a.queueId - b.queueId);
  return sorted[0]?.queueId;
}

export function initialCampOnState(back: CampOnState['back'], answeredBefore: boolean): CampOnState {
  return { phase: 'waiting', timedOut: false, back, answeredBefore };
}

/** Leaving the camp-on without the target: to the origin operator, else a queue, else hang up. */
function goBack(s: CampOnState, skipOperator = false): CampOnTransition {
  if (s.back.operator && !skipOperator) return { state: { ...s, phase: 'reserving-origin' }, effects: [{ type: 'reserve', who: 'origin' }] };
  const ended: CampOnState = { ...s, phase: 'ended' };
  if (s.back.queue) return { state: ended, effects: [{ type: 'to-queue' }] };
  const reason = 'camp-on over, nobody to go back to';
  return { state: ended, effects: [{ type: 'busy-and-hangup', reason, ...(s.answeredBefore ? {} : { disposition: 'timeout' as const }) }] };
}

function withEffects(t: CampOnTransition, before: CampOnEffect[]): CampOnTransition {
  return { state: t.state, effects: [...before, ...t.effects] };
}

/** Caller gone or the call ended by the switchboard, in any phase but 'ended'. */
function ending(s: CampOnState, e: Extract<CampOnEvent, { type: 'caller-hangup' | 'hangup' }>): CampOnTransition {
  const byCaller = e.type === 'caller-hangup';
  const effects: CampOnEffect[] = [];
  if (s.phase === 'ringing' || s.phase === 'ringing-origin') {
    effects.push({ type: 'cancel-ring' }, { type: 'release', who: s.phase === 'ringing' ? 'target' : 'origin', missed: false });
  }
  // Still camped (or about to ring the target): the camp-on ends here and is recorded so.
  if (s.phase === 'waiting' || s.phase === 'reserving' || s.phase === 'ringing') {
    effects.push({ type: 'leave-line' }, { type: 'record', outcome: byCaller ? 'abandoned' : 'ended' });
  }
  effects.push(byCaller ? { type: 'finish', hangupBy: 'caller', reason: 'caller hung up while camped on' } : { type: 'finish', hangupBy: 'system', reason: e.reason });
  return { state: { ...s, phase: 'ended' }, effects };
}

function waiting(s: CampOnState, e: CampOnEvent): CampOnTransition {
  switch (e.type) {
    case 'target-free':
      return { state: { ...s, phase: 'reserving' }, effects: [{ type: 'reserve', who: 'target' }] };
    case 'timeout':
      return withEffects(goBack(s), [{ type: 'leave-line' }, { type: 'record', outcome: 'timeout' }]);
    default:
      return { state: s, effects: [] };
  }
}

function reserving(s: CampOnState, e: CampOnEvent): CampOnTransition {
  if (e.type === 'timeout') return { state: { ...s, timedOut: true }, effects: [] };
  if (e.type !== 'reserved' || e.who !== 'target') return { state: s, effects: [] };
  // Reserved: ring them even if the timeout just passed, they are what the caller waited for.
  if (e.ok) return { state: { ...s, phase: 'ringing' }, effects: [{ type: 'ring', who: 'target' }] };
  if (s.timedOut) return withEffects(goBack(s), [{ type: 'leave-line' }, { type: 'record', outcome: 'timeout' }]);
  // Someone camped earlier, or another change got there first: wait for the next chance.
  return { state: { ...s, phase: 'waiting' }, effects: [] };
}

function ringing(s: CampOnState, e: CampOnEvent): CampOnTransition {
  if (e.type === 'answered' && e.who === 'target') {
    return { state: { ...s, phase: 'ended' }, effects: [{ type: 'record', outcome: 'connected' }, { type: 'connect', who: 'target' }] };
  }
  if (e.type === 'ring-failed' && e.who === 'target') {
    return withEffects(goBack(s), [{ type: 'release', who: 'target', missed: e.missed }, { type: 'record', outcome: 'no-answer' }]);
  }
  // The timeout waits for the ring, which has a timeout of its own.
  return { state: s, effects: [] };
}

function returning(s: CampOnState, e: CampOnEvent): CampOnTransition {
  if (s.phase === 'reserving-origin' && e.type === 'reserved' && e.who === 'origin') {
    return e.ok ? { state: { ...s, phase: 'ringing-origin' }, effects: [{ type: 'ring', who: 'origin' }] } : goBack(s, true);
  }
  if (s.phase === 'ringing-origin' && e.type === 'answered' && e.who === 'origin') {
    return { state: { ...s, phase: 'ended' }, effects: [{ type: 'connect', who: 'origin' }] };
  }
  if (s.phase === 'ringing-origin' && e.type === 'ring-failed' && e.who === 'origin') {
    return withEffects(goBack(s, true), [{ type: 'release', who: 'origin', missed: e.missed }]);
  }
  return { state: s, effects: [] };
}

/** Late news for a camp-on that is over: a reservation or an answer nobody wants any more. */
function ended(s: CampOnState, e: CampOnEvent): CampOnTransition {
  if (e.type === 'reserved' && e.ok) return { state: s, effects: [{ type: 'release', who: e.who, missed: false }] };
  if (e.type === 'answered') return { state: s, effects: [{ type: 'drop-answered', who: e.who }] };
  return { state: s, effects: [] };
}

export function campOnStep(s: CampOnState, e: CampOnEvent): CampOnTransition {
  if (s.phase === 'ended') return ended(s, e);
  if (e.type === 'caller-hangup' || e.type === 'hangup') return ending(s, e);
  switch (s.phase) {
    case 'waiting':
      return waiting(s, e);
    case 'reserving':
      return reserving(s, e);
    case 'ringing':
      return ringing(s, e);
    case 'reserving-origin':
    case 'ringing-origin':
      return returning(s, e);
  }
}
