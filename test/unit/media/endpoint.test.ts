import { describe, expect, it } from 'vitest';
import { glareDelayMs } from '../../../src/media/endpoint.js';

describe('glareDelayMs (RFC 3261 §14.1)', () => {
  it('waits 2.1 to 4 s for the owner of the Call-ID, 0 to 2 s for the other side', () => {
    expect(glareDelayMs(true, () => 0)).toBe(2_100);
    expect(glareDelayMs(true, () => 0.9999)).toBeLessThanOrEqual(4_000);
    expect(glareDelayMs(false, () => 0)).toBe(0);
    expect(glareDelayMs(false, () => 0.9999)).toBeLessThan(2_000);
  });
});
