import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/redis/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { StartupError, waitForRedis } from '../../src/startup.js';
import { testRedisPrefix, testServices } from '../support/services.js';

describe('Redis connection', () => {
  const url = testServices().redisUrl;
  const redis = createRedis(url, 'switchboard-test');
  const keys = new RedisKeys(testRedisPrefix());

  afterAll(async () => {
    const found = await redis.keys(`${keys.prefix}*`);
    if (found.length) await redis.del(...found);
    await redis.quit();
  });

  it('connects to a real Redis and stores under the prefix', async () => {
    await waitForRedis(redis, url, 5);
    await redis.hset(keys.operator(1), 'state', 'available');
    expect(await redis.hget(keys.operator(1), 'state')).toBe('available');
    expect(await redis.keys(`${keys.prefix}*`)).toEqual([keys.operator(1)]);
  });

  it('gives up on an unreachable Redis with one line naming REDIS_URL', async () => {
    const bad = 'redis://127.0.0.1:1';
    const client = createRedis(bad, 'unreachable');
    const err = await waitForRedis(client, bad, 0).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toBe('cannot use Redis at 127.0.0.1:1 (REDIS_URL): connection refused');
  });
});
