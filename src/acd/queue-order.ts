/**
 * Callers wait in order of priority, then arrival. Both go into one sorted-set score so that
 * Redis keeps the order: a lower score is served first. Arrival times (ms epoch, ~1.8e12) stay
 * below one priority step, and the whole score stays an exact integer in a double (< 2^53).
 */
export const MAX_PRIORITY = 99;
const PRIORITY_STEP = 1e13;

export function waitingScore(priority: number, arrivedAtMs: number): number {
  const p = Math.max(0, Math.min(MAX_PRIORITY, Math.trunc(priority)));
  return (MAX_PRIORITY - p) * PRIORITY_STEP + arrivedAtMs;
}
