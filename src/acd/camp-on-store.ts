import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';

/**
 * The callers camped on each busy operator, in Redis so that every instance sees the same line:
 * a sorted set per operator scored by each camp-on's expiry (the same timeout everywhere, so the
 * order in which they camped). The first of them takes the operator when free
 * (OperatorStore.reserveForCampOn), and queues leave an operator with campers alone. An entry
 * whose instance died stops counting when it expires, so it can only hold the line that long, and
 * is removed by the next join or reservation; a line that empties is gone from Redis.
 */
export class CampOnStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** Puts a call at the end of the operator's line; returns its place (1 = next). */
  async join(operatorId: number, callId: string, expiresAt: number, now: number): Promise<number> {
    const key = this.keys.campOn(operatorId);
    const results = await this.redis
      .multi()
      .zremrangebyscore(key, '-inf', `(${now}`)
      .zadd(key, expiresAt, callId)
      .zrank(key, callId)
      .exec();
    return Number(results?.[2]?.[1] ?? 0) + 1;
  }

  async leave(operatorId: number, callId: string): Promise<void> {
    await this.redis.zrem(this.keys.campOn(operatorId), callId);
  }

  /** How many callers are camped on the operator now. */
  async count(operatorId: number, now: number): Promise<number> {
    return this.redis.zcount(this.keys.campOn(operatorId), now, '+inf');
  }

  /** Drops the entries of camp-ons that expired without leaving (their instance is gone). */
  async prune(operatorId: number, now: number): Promise<void> {
    await this.redis.zremrangebyscore(this.keys.campOn(operatorId), '-inf', `(${now}`);
  }
}
