/**
 * Redis for the switchboard under test: the one scripts/test-services.sh starts (or
 * TEST_REDIS_URL), with a key prefix of the run's own, so what is counted afterwards is this
 * run's and nothing else's. Its database comes from test/support/services.ts like a test file's.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { testServices } from '../../test/support/services.js';

export function redisUrl(): string {
  return testServices().redisUrl;
}

export function runRedisPrefix(): string {
  return `sbbench:${randomBytes(4).toString('hex')}:`;
}

/** Deletes every key under a prefix (SCAN, bounded batches). */
export async function dropRedisPrefix(prefix: string): Promise<number> {
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  let removed = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) removed += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return removed;
}
