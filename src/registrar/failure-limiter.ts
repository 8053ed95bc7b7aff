/**
 * Counts failed authentications per source address in Redis (shared by every instance, since
 * drachtio-server spreads one attacker's requests over all of them) with a fixed window: the
 * first failure starts the window, the counter disappears with it. Ports are ignored because an
 * attacker picks a new one per request for free; addresses are not.
 */
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';

export const DEFAULT_FAILURE_LIMIT = 10;
export const DEFAULT_FAILURE_WINDOW_S = 60;

export class FailureLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    readonly limit = DEFAULT_FAILURE_LIMIT,
    readonly windowS = DEFAULT_FAILURE_WINDOW_S,
  ) {}

  /** True once the source has used up its failures for the current window. */
  async blocked(address: string): Promise<boolean> {
    const count = await this.redis.get(this.keys.authFailures(address));
    return count !== null && Number(count) >= this.limit;
  }

  /**
   * Records one failure; returns true exactly once per window, for the failure that reaches the
   * limit, so the caller logs one warning per source per window however long the flood lasts.
   */
  async fail(address: string): Promise<boolean> {
    const key = this.keys.authFailures(address);
    const result = await this.redis.multi().set(key, 0, 'EX', this.windowS, 'NX').incr(key).exec();
    const count = Number(result?.[1]?.[1] ?? 0);
    return count === this.limit;
  }
}
