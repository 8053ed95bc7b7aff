/**
 * When a callback is tried again, as pure rules. A callback that reaches nobody (the caller does
 * not answer, is busy, or cannot be reached) is tried `retries` more times. Between attempts the
 * entry is out of the queue, so it holds up nobody; after `intervalS` it goes back in at its
 * original place (its score by priority and first arrival), so it is normally next again.
 */

export type AfterAttempt = { kind: 'retry'; at: number } | { kind: 'failed' };

export interface RetrySettings {
  retries: number;
  intervalS: number;
}

/** After `attempts` attempts (counting the one that just failed) that reached nobody. */
export function afterFailedAttempt(attempts: number, settings: RetrySettings, now: number): AfterAttempt {
  if (attempts > settings.retries) return { kind: 'failed' };
  return { kind: 'retry', at: now + settings.intervalS * 1000 };
}
