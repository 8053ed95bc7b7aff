/**
 * PostgreSQL and Redis for the switchboard under test: the ones scripts/test-services.sh starts
 * (or TEST_DATABASE_URL, a superuser's URL, and TEST_REDIS_URL), with a database and a Redis key
 * prefix of the run's own, so the records counted afterwards are this run's and nothing else's.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { testServices } from '../../test/support/services.js';

export interface RunDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createRunDatabase(label: string): Promise<RunDatabase> {
  const admin = testServices().databaseUrl;
  const name = `sb_bench_${label.replace(/[^a-z0-9]/g, '')}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

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
