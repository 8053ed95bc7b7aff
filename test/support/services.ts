import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL and Redis the tests use: by default the ones scripts/test-services.sh starts,
 * or any others named by TEST_DATABASE_URL (a superuser's URL: each test file creates its own
 * database) and TEST_REDIS_URL.
 */
export function testServices(): { databaseUrl: string; redisUrl: string } {
  return {
    databaseUrl: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:55432/postgres',
    redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:56379',
  };
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A new, empty database of its own for one test file (or benchmark run), dropped afterwards. */
export async function createTestDatabase(namePrefix = 'sb_test'): Promise<TestDatabase> {
  const admin = testServices().databaseUrl;
  const name = `${namePrefix}_${randomBytes(6).toString('hex')}`;
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

/** A Redis key prefix of its own, so test files never see each other's keys. */
export function testRedisPrefix(): string {
  return `sbt:${randomBytes(4).toString('hex')}:`;
}
