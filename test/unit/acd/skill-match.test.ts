import { describe, expect, it } from 'vitest';
import { canTake, nextOffer, planOffers, waitsForSkill, type MatchInput, type Need, type OwnCall, type SkilledCandidate } from '../../../src/acd/skill-match.js';

const NOW = 1_000_000;

function op(operatorId: number, skills: string[] = [], grade = 1, idleSince = operatorId): SkilledCandidate {
  return { operatorId, penalty: 0, idleSince, calls: 0, skills, grade };
}

const plain = (callId: string): Need => ({ callId, skill: '', widenAt: 0 });
const needs = (callId: string, skill: string, widenAt = NOW + 30_000): Need => ({ callId, skill, widenAt });

function input(waiting: Need[], free: SkilledCandidate[], own: Record<string, OwnCall> | 'all' = 'all', extra: Partial<MatchInput> = {}): MatchInput {
  const fresh: OwnCall = { tried: new Set(), retryAt: 0 };
  return {
    waiting,
    free,
    own: (id) => (own === 'all' ? fresh : own[id]),
    strategy: 'longest-idle',
    now: NOW,
    ...extra,
  };
}

const offered = (i: MatchInput): [string, number[], number] | undefined => {
  const o = nextOffer(i);
  return o && [o.callId, o.operators.map((x) => x.operatorId), o.width];
};

describe('skill rules', () => {
  it('a call waits for its skill until its wait is over; a call without a skill never does', () => {
    expect(waitsForSkill(needs('a', 'fr'), NOW)).toBe(true);
    expect(waitsForSkill(needs('a', 'fr', NOW), NOW)).toBe(false);
    expect(waitsForSkill(plain('a'), NOW)).toBe(false);
    expect(canTake(needs('a', 'fr'), ['de'], NOW)).toBe(false);
    expect(canTake(needs('a', 'fr'), ['de', 'fr'], NOW)).toBe(true);
    expect(canTake(needs('a', 'fr', NOW - 1), [], NOW)).toBe(true);
  });
});

describe('nextOffer', () => {
  it('serves the first call in line with the strategy\'s operator order', () => {
    expect(offered(input([plain('a'), plain('b')], [op(2, [], 1, 50), op(1, [], 1, 70)]))).toEqual(['a', [2, 1], 1]);
  });

  it('a skilled call goes to an operator with the skill although another has been free longer', () => {
    expect(offered(input([needs('a', 'fr')], [op(1, [], 1, 10), op(2, ['fr'], 1, 90)]))).toEqual(['a', [2], 1]);
  });

  it('among operators with the skill, the higher grade first, then the strategy', () => {
    const free = [op(1, ['fr'], 2, 10), op(2, ['fr'], 4, 90), op(3, ['fr'], 4, 50)];
    expect(offered(input([needs('a', 'fr')], free))).toEqual(['a', [3, 2, 1], 1]);
  });

  it('nobody free with the skill: the skilled call does not block the call behind it', () => {
    const i = input([needs('a', 'fr'), plain('b')], [op(1, ['de'])]);
    expect(offered(i)).toEqual(['b', [1], 1]);
  });

  it('after the wait the skilled call takes anyone, skilled operators first, and keeps its turn', () => {
    const widened = needs('a', 'fr', NOW - 1);
    expect(offered(input([widened, plain('b')], [op(1, [], 1, 10), op(2, ['fr'], 1, 90)]))).toEqual(['a', [2, 1], 1]);
    expect(offered(input([widened, plain('b')], [op(1, ['de'])]))).toEqual(['a', [1], 1]);
  });

  it('a call waiting for a skill keeps operators with it from the calls behind', () => {
    // b may not take 2 (a wants French and 2 speaks it), but may take 1.
    expect(offered(input([needs('a', 'fr'), plain('b')], [op(2, ['fr'])], { b: { tried: new Set(), retryAt: 0 } }))).toBeUndefined();
    expect(offered(input([needs('a', 'fr'), plain('b')], [op(2, ['fr']), op(1)], { b: { tried: new Set(), retryAt: 0 } }))).toEqual(['b', [1], 1]);
  });

  it('a call ahead that could take anyone has the turn even when it is another instance\'s', () => {
    expect(offered(input([plain('theirs'), plain('mine')], [op(1), op(2)], { mine: { tried: new Set(), retryAt: 0 } }))).toBeUndefined();
  });

  it('a call without a skill is offered first to operators no skilled call behind it waits for', () => {
    const free = [op(1, ['fr'], 1, 10), op(2, [], 1, 90)];
    expect(offered(input([plain('a'), needs('b', 'fr')], free))).toEqual(['a', [2, 1], 1]);
    // Once b's wait is over it wants nobody in particular: a gets the longest idle again.
    expect(offered(input([plain('a'), needs('b', 'fr', NOW)], free))).toEqual(['a', [1, 2], 1]);
  });

  it('priority is the order given: a VIP first in line is served first', () => {
    expect(offered(input([plain('vip'), plain('early')], [op(1)]))?.[0]).toBe('vip');
  });

  it('skips operators who missed the caller until the retry time, then starts another round', () => {
    const own = { a: { tried: new Set([1]), retryAt: NOW + 1000 } };
    expect(offered(input([plain('a')], [op(1), op(2, [], 1, 99)], own))).toEqual(['a', [2], 1]);
    expect(offered(input([plain('a')], [op(1)], own))).toBeUndefined();
    const again = nextOffer(input([plain('a')], [op(1)], { a: { tried: new Set([1]), retryAt: NOW } }));
    expect(again?.newRound).toBe(true);
    expect(again?.operators.map((o) => o.operatorId)).toEqual([1]);
  });

  it('ring-all rings the first tier: every free operator with the skill', () => {
    const free = [op(1, ['fr'], 1), op(2, ['fr'], 3), op(3, [])];
    expect(offered(input([needs('a', 'fr', NOW - 1)], free, 'all', { strategy: 'ring-all' }))).toEqual(['a', [2, 1, 3], 2]);
    expect(offered(input([plain('a')], free, 'all', { strategy: 'ring-all' }))).toEqual(['a', [1, 2, 3], 3]);
  });

  it('round-robin goes on from the operator offered last within a tier', () => {
    const free = [op(1, ['fr']), op(2, ['fr']), op(3, ['fr'])];
    expect(offered(input([needs('a', 'fr')], free, 'all', { strategy: 'round-robin', after: 1 }))).toEqual(['a', [2, 3, 1], 1]);
  });

  it('nothing to do with nobody free or nobody waiting', () => {
    expect(nextOffer(input([plain('a')], []))).toBeUndefined();
    expect(nextOffer(input([], [op(1)]))).toBeUndefined();
  });
});

describe('planOffers', () => {
  const plan = (i: MatchInput, max = 50): [string, number[]][] => planOffers(i, max).map((o) => [o.callId, o.operators.slice(0, o.width).map((x) => x.operatorId)]);

  it('gives the callers in line the operators in the strategy\'s order, one each, until one side runs out', () => {
    expect(plan(input([plain('a'), plain('b'), plain('c')], [op(3), op(1), op(2), op(4)]))).toEqual([['a', [1]], ['b', [2]], ['c', [3]]]);
    expect(plan(input([plain('a'), plain('b'), plain('c')], [op(2), op(1)]))).toEqual([['a', [1]], ['b', [2]]]);
  });

  it('stops at `max` offers', () => {
    expect(plan(input([plain('a'), plain('b'), plain('c')], [op(1), op(2), op(3)]), 2)).toEqual([['a', [1]], ['b', [2]]]);
  });

  it('keeps the turn rule: another instance\'s caller who could take anyone stops the plan behind them', () => {
    const own = { tried: new Set<number>(), retryAt: 0 };
    expect(plan(input([plain('a'), plain('theirs'), plain('b')], [op(1), op(2), op(3)], { a: own, b: own }))).toEqual([['a', [1]]]);
  });

  it('a skilled caller planned first takes the skilled operator; the caller behind gets another', () => {
    const free = [op(1), op(2, ['fr'])];
    expect(plan(input([needs('a', 'fr'), plain('b')], free))).toEqual([['a', [2]], ['b', [1]]]);
  });

  it('round-robin goes on from the operator planned last', () => {
    const free = [op(1), op(2), op(3)];
    expect(plan(input([plain('a'), plain('b'), plain('c')], free, 'all', { strategy: 'round-robin', after: 1 }))).toEqual([['a', [2]], ['b', [3]], ['c', [1]]]);
  });

  it('ring-all: the first caller rings everyone free; nobody is left for the next', () => {
    expect(plan(input([plain('a'), plain('b')], [op(1), op(2)], 'all', { strategy: 'ring-all' }))).toEqual([['a', [1, 2]]]);
  });
});
