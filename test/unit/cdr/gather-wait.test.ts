import { describe, expect, it } from 'vitest';
import { gatherWait } from '../../../src/cdr/writer.js';

describe('gatherWait', () => {
  it('waits the whole gather time when records come slowly', () => {
    // One call's records (8) over the last 600 ms: far from 200 in 500 ms.
    expect(gatherWait(8, 600, 500)).toBe(500);
    expect(gatherWait(150, 500, 500)).toBe(500);
  });

  it('waits only long enough for about 200 more records when they come fast', () => {
    // 800 records in 530 ms (about 200 calls/s): 200 more take about 133 ms.
    expect(gatherWait(800, 530, 500)).toBe(133);
    // The pace it settles at: about 125 ms between batches of about 200 records.
    expect(gatherWait(260, 162, 500)).toBe(125);
  });

  it('never waits with gathering off, and waits the full time after an empty batch', () => {
    expect(gatherWait(800, 530, 0)).toBe(0);
    expect(gatherWait(0, 530, 500)).toBe(500);
  });
});
