import { describe, expect, it } from 'vitest';
import { offerWidth, rankCandidates, type Candidate } from '../../../src/acd/strategy.js';
import { waitingScore } from '../../../src/acd/queue-order.js';

const ops: Candidate[] = [
  { operatorId: 3, penalty: 0, idleSince: 300, calls: 9 },
  { operatorId: 1, penalty: 2, idleSince: 100, calls: 5 },
  { operatorId: 2, penalty: 1, idleSince: 200, calls: 1 },
  { operatorId: 4, penalty: 1, idleSince: 100, calls: 1 },
];
const ids = (c: Candidate[]): number[] => c.map((x) => x.operatorId);

describe('rankCandidates', () => {
  it('longest-idle: earliest idle first, penalty then id break ties', () => {
    expect(ids(rankCandidates('longest-idle', ops))).toEqual([4, 1, 2, 3]);
  });

  it('fewest-calls: fewest answered first, then longest idle', () => {
    expect(ids(rankCandidates('fewest-calls', ops))).toEqual([4, 2, 1, 3]);
  });

  it('linear: lowest penalty first, then a fixed order', () => {
    expect(ids(rankCandidates('linear', ops))).toEqual([3, 2, 4, 1]);
  });

  it('round-robin: starts after the operator offered last and wraps round', () => {
    expect(ids(rankCandidates('round-robin', ops))).toEqual([1, 2, 3, 4]);
    expect(ids(rankCandidates('round-robin', ops, 2))).toEqual([3, 4, 1, 2]);
    expect(ids(rankCandidates('round-robin', ops, 4))).toEqual([1, 2, 3, 4]);
    expect(ids(rankCandidates('round-robin', ops, 9))).toEqual([1, 2, 3, 4]);
  });

  it('ring-all: everyone, longest idle listed first', () => {
    expect(ids(rankCandidates('ring-all', ops))).toEqual([4, 1, 2, 3]);
    expect(offerWidth('ring-all', 4)).toBe(4);
    expect(offerWidth('longest-idle', 4)).toBe(1);
    expect(offerWidth('linear', 0)).toBe(0);
  });

  it('does not reorder its input', () => {
    const copy = [...ops];
    rankCandidates('linear', ops);
    expect(ops).toEqual(copy);
  });
});

describe('waitingScore', () => {
  it('orders by priority first, then arrival', () => {
    const early = waitingScore(0, 1_800_000_000_000);
    const late = waitingScore(0, 1_800_000_000_500);
    const vipLate = waitingScore(5, 1_900_000_000_000);
    expect(early).toBeLessThan(late);
    expect(vipLate).toBeLessThan(early);
  });

  it('stays an exact integer at the extremes', () => {
    expect(Number.isSafeInteger(waitingScore(0, 4_102_444_800_000))).toBe(true);
    expect(waitingScore(-5, 1)).toBe(waitingScore(0, 1));
    expect(waitingScore(500, 1)).toBe(waitingScore(99, 1));
  });
});
