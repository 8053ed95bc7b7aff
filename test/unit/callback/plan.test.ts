import { describe, expect, it } from 'vitest';
import { afterFailedAttempt } from '../../../src/callback/plan.js';
import { waitingScore } from '../../../src/acd/queue-order.js';

describe('the retry plan of a callback', () => {
  const settings = { retries: 2, intervalS: 60 };

  it('retries `retries` times, intervalS apart, then fails', () => {
    const now = 1_800_000_000_000;
    expect(afterFailedAttempt(1, settings, now)).toEqual({ kind: 'retry', at: now + 60_000 });
    expect(afterFailedAttempt(2, settings, now)).toEqual({ kind: 'retry', at: now + 60_000 });
    expect(afterFailedAttempt(3, settings, now)).toEqual({ kind: 'failed' });
  });

  it('with no retries the first failed attempt is the last', () => {
    expect(afterFailedAttempt(1, { retries: 0, intervalS: 5 }, 0)).toEqual({ kind: 'failed' });
  });
});

describe('the place a callback keeps', () => {
  // A callback waits under the score of its caller's first arrival (queue-order.ts).
  it('is behind earlier and ahead of later callers of the same priority, and behind higher priorities', () => {
    const callback = waitingScore(0, 1_000);
    const earlier = waitingScore(0, 999);
    const later = waitingScore(0, 1_001);
    const vip = waitingScore(5, 5_000);
    const order = [later, callback, vip, earlier].sort((a, b) => a - b);
    expect(order).toEqual([vip, earlier, callback, later]);
  });
});
