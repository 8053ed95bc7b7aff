/**
 * PostgreSQL going away while a pooled client is lent out (inside a transaction), against a
 * PostgreSQL of this file's own that the test stops and starts. pg-pool takes its own error
 * listener off a client while it is lent out; without one of ours the lost connection would be
 * an uncaught 'error' event, which ends the process (Vitest reports it as an unhandled error).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, inTransaction, type Pool } from '../../src/db/pool.js';
import { PrivatePostgres } from '../support/private-services.js';

let pg: PrivatePostgres;
let pool: Pool;

beforeAll(async () => {
  pg = await PrivatePostgres.create();
  pool = createPool(pg.url);
}, 90_000);

afterAll(async () => {
  await pool?.end();
  await pg?.cleanup();
}, 60_000);

describe('PostgreSQL stopping under a transaction', () => {
  it('fails the transaction, keeps the process, and serves the next query once it is back', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS outage_rows (n integer)');
    let reached = false;
    const tx = inTransaction(pool, async (client) => {
      await client.query('INSERT INTO outage_rows VALUES (1)');
      // No query in flight: the server's goodbye and the closed socket reach the client alone.
      await pg.stop();
      await sleep(300);
      reached = true;
      await client.query('INSERT INTO outage_rows VALUES (2)');
    });
    await expect(tx).rejects.toThrow(/terminat|not queryable/i);
    expect(reached).toBe(true);

    await pg.start();
    // The lost client was thrown away, not handed out again.
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outage_rows');
    expect(rows[0]?.n).toBe(0);
  }, 60_000);

  it('fails a transaction whose query is in flight when the server stops', async () => {
    const tx = inTransaction(pool, async (client) => {
      const slow = client.query('SELECT pg_sleep(5)');
      // Awaited below, after the stop: until then its failure must not count as unhandled.
      slow.catch(() => undefined);
      await sleep(200);
      await pg.stop();
      await slow;
    });
    await expect(tx).rejects.toThrow(/terminat/i);
    await pg.start();
    const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0]?.one).toBe(1);
  }, 60_000);
});
