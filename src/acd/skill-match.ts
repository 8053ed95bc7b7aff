/**
 * Which waiting caller of this instance to offer next, and to whom, when calls may need skills:
 * the pure half of dispatch (the other half is the reservation's Lua script in operator-store.ts,
 * which checks the same turn rule atomically).
 *
 * The turn rule: callers are served by priority, then arrival, except that a caller waiting for a
 * skill holds back only the operators with that skill. An operator may be given to a caller only
 * if no caller ahead of them could take that operator now. A caller ahead who needs no skill (or
 * whose skill wait is over) could take anyone, so nobody behind them is served first; a caller
 * ahead who still waits for skill S only keeps the operators with S from those behind. So a call
 * waiting for a skill nobody free has never blocks the queue, and once its wait is over it is in
 * line for everyone like any other call.
 */
import type { Strategy } from '../provisioning/types.js';
import { offerWidth, rankCandidates, type Candidate } from './strategy.js';

/** What a waiting call needs: a skill ('' for none) and when its wait for that skill ends. */
export interface Need {
  callId: string;
  skill: string;
  /** ms epoch: from then on any member of the queue may take the call. */
  widenAt: number;
}

/** A free member of the queue, with what the strategies rank by and what they can do. */
export interface SkilledCandidate extends Candidate {
  skills: readonly string[];
  /** 1 (trainee) to 4 (senior): higher grades are offered skilled calls first. */
  grade: number;
}

/** What this instance knows of its own waiting calls (others' calls are only their needs). */
export interface OwnCall {
  /** Operators who have had this caller and did not take them. */
  tried: ReadonlySet<number>;
  /** Not before this time are they offered the caller again. */
  retryAt: number;
}

export interface Offer {
  callId: string;
  /** Operators in the order to take them, best first; the reservation takes the first `width` still free. */
  operators: SkilledCandidate[];
  width: number;
  /** The tried operators are offered again (everyone free had a go and the retry time passed). */
  newRound: boolean;
}

export interface MatchInput {
  /** Waiting calls in serving order (the queue's first ones). */
  waiting: readonly Need[];
  /** The free members of the queue. */
  free: readonly SkilledCandidate[];
  own: (callId: string) => OwnCall | undefined;
  strategy: Strategy;
  /** The operator a round-robin queue offered its last call to. */
  after?: number;
  now: number;
}

/** Still waiting for an operator with its skill: only they may take the call. */
export function waitsForSkill(need: Need, now: number): boolean {
  return need.skill !== '' && now < need.widenAt;
}

/** Whether the operator may take the call now, by skill alone. */
export function canTake(need: Need, skills: readonly string[], now: number): boolean {
  return !waitsForSkill(need, now) || skills.includes(need.skill);
}

/**
 * The first call of ours, in serving order, that may be offered now, with its operators ranked;
 * undefined when none may (nobody suitable free, or a call ahead of them has the turn).
 */
export function nextOffer(input: MatchInput): Offer | undefined {
  const { waiting, now } = input;
  // Skills held back by calls ahead that wait for them.
  const held = new Set<string>();
  for (const [i, need] of waiting.entries()) {
    const own = input.own(need.callId);
    const allowed = input.free.filter((op) => !op.skills.some((s) => held.has(s)) && canTake(need, op.skills, now));
    if (own && allowed.length > 0) {
      const fresh = allowed.filter((op) => !own.tried.has(op.operatorId));
      const newRound = fresh.length === 0 && now >= own.retryAt;
      const chosen = newRound ? allowed : fresh;
      if (chosen.length > 0) return { callId: need.callId, ...rankForCall(need, chosen, waiting.slice(i + 1), input), newRound };
    }
    if (!waitsForSkill(need, now)) return undefined;
    held.add(need.skill);
  }
  return undefined;
}

/**
 * The operators for one call, best first, in tiers: a call that needs a skill goes to those with
 * it first, higher grade first; a call that needs none goes first to those whose skills no call
 * behind it waits for (keeping them for those calls). Within a tier, the queue's strategy.
 * Ring-all rings the first tier.
 */
function rankForCall(need: Need, ops: SkilledCandidate[], behind: readonly Need[], input: MatchInput): { operators: SkilledCandidate[]; width: number } {
  const wanted = new Set(behind.filter((n) => waitsForSkill(n, input.now)).map((n) => n.skill));
  const tier = (op: SkilledCandidate): number => {
    if (need.skill !== '') return op.skills.includes(need.skill) ? 0 : 1;
    return op.skills.some((s) => wanted.has(s)) ? 1 : 0;
  };
  const grade = (op: SkilledCandidate): number => (need.skill !== '' && op.skills.includes(need.skill) ? op.grade : 0);
  const ranked = rankCandidates(input.strategy, ops, input.after)
    .map((op, order) => ({ op, order, tier: tier(op), grade: grade(op) }))
    .sort((a, b) => a.tier - b.tier || b.grade - a.grade || a.order - b.order);
  const firstTier = ranked.filter((r) => r.tier === ranked[0]?.tier).length;
  return { operators: ranked.map((r) => r.op), width: offerWidth(input.strategy, firstTier) };
}

/**
 * Up to `max` offers in serving order, each planned as if the ones before it were taken: their
 * callers have left the line and the operators they would reserve (the first `width` listed) are
 * busy. The reservations are then sent together and Redis checks each in turn, so a plan the
 * world has overtaken costs a refused reservation, never a caller served out of turn.
 */
export function planOffers(input: MatchInput, max: number): Offer[] {
  const offers: Offer[] = [];
  let { waiting, free, after } = input;
  while (offers.length < max) {
    const offer = nextOffer({ ...input, waiting, free, ...(after === undefined ? {} : { after }) });
    if (!offer) break;
    offers.push(offer);
    const taken = new Set(offer.operators.slice(0, offer.width).map((op) => op.operatorId));
    waiting = waiting.filter((w) => w.callId !== offer.callId);
    free = free.filter((op) => !taken.has(op.operatorId));
    after = offer.operators[0]?.operatorId ?? after;
  }
  return offers;
}
