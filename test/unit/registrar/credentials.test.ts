import { describe, expect, it } from 'vitest';
import type { Pool } from '../../../src/db/pool.js';
import { CredentialsCache } from '../../../src/registrar/credentials.js';

/** A pool that answers from a table in memory and counts the queries it got. */
function fakePool(rows: Record<string, string>): { pool: Pool; queries: () => number } {
  let count = 0;
  const pool = {
    query: async (_sql: string, params: string[]) => {
      count += 1;
      await new Promise((r) => setTimeout(r, 5));
      const ha1 = rows[params[0] as string];
      return { rows: ha1 ? [{ id: 1, username: params[0], ha1 }] : [] };
    },
  } as unknown as Pool;
  return { pool, queries: () => count };
}

describe('CredentialsCache', () => {
  it('asks PostgreSQL once per user within the cache time, even for concurrent requests', async () => {
    const { pool, queries } = fakePool({ alice: 'a'.repeat(32) });
    const cache = new CredentialsCache(pool, 5_000);
    const results = await Promise.all([cache.get('alice'), cache.get('alice'), cache.get('alice')]);
    expect(results.every((r) => r?.ha1 === 'a'.repeat(32))).toBe(true);
    await cache.get('alice');
    expect(queries()).toBe(1);
  });

  it('caches unknown users too, and never queries for names no operator can have', async () => {
    const { pool, queries } = fakePool({});
    const cache = new CredentialsCache(pool, 5_000);
    expect(await cache.get('mallory')).toBeUndefined();
    expect(await cache.get('mallory')).toBeUndefined();
    expect(await cache.get("x' OR 1=1 --")).toBeUndefined();
    expect(queries()).toBe(1);
  });

  it('picks up a changed password once the cache time has passed', async () => {
    const table: Record<string, string> = { alice: 'a'.repeat(32) };
    const { pool } = fakePool(table);
    let now = 0;
    const cache = new CredentialsCache(pool, 5_000, () => now);
    expect((await cache.get('alice'))?.ha1).toBe('a'.repeat(32));
    table.alice = 'b'.repeat(32);
    now = 4_999;
    expect((await cache.get('alice'))?.ha1).toBe('a'.repeat(32));
    now = 5_001;
    expect((await cache.get('alice'))?.ha1).toBe('b'.repeat(32));
  });
});
