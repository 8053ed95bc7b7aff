import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { PrivatePostgres } from '../support/private-services.js';
import { describeRun } from '../support/sipp.js';

/**
 * Calls go on while PostgreSQL is down, and every record of them arrives, once, when it is back.
 * The switchboard runs on a PostgreSQL of its own that the test can stop.
 */
let postgres: PrivatePostgres;
let bench: CallBench;
let phone: Phone | undefined;
const NUMBER = '8500';

/** The single number a `SELECT count(...)` returns. */
async function count(client: pg.Client, sql: string): Promise<number> {
  const { rows } = await client.query<Record<string, unknown>>(sql);
  return Number(Object.values(rows[0] ?? {})[0] ?? 0);
}

beforeAll(async () => {
  postgres = await PrivatePostgres.create();
  bench = await startCallBench({ DATABASE_URL: postgres.url });
  const queueId = (await bench.create('/v1/queues', { number: '500', name: 'Outage', wrapupS: 0, announceIntervalS: 0 })).id as number;
  await bench.create('/v1/routes', { number: NUMBER, targetType: 'queue', queueId });
  const op = await addOperator(bench, 'olga', '500', { displayName: 'Olga' });
  await bench.sb.api(`/v1/queues/${queueId}/members/${op.id}`, { method: 'PUT', body: {} });
  phone = await operatorPhone(bench, op.username, op.password, 'operator-hangup.xml', { pauseMs: 200, calls: 100 });
}, 90_000);

afterAll(async () => {
  phone?.run.kill();
  await bench?.close().catch(() => undefined);
  await postgres?.cleanup();
});

describe('PostgreSQL stopped while calls happen', () => {
  it('keeps taking calls, says degraded, and stores every record once it is back', async () => {
    const before = await callers(bench, 'caller.xml', NUMBER, { calls: 2, rate: 5, name: 'before' });
    expect(before.passed, describeRun(before)).toBe(true);
    await until('the first records', async () => ((await count(bench.db, 'SELECT count(*) FROM calls')) === 2 ? true : undefined));
    await bench.db.end().catch(() => undefined);

    await postgres.stop();
    const degraded = await until('health to say degraded', async () => {
      const res = await bench.sb.api('/health', { key: null });
      const body = res.body as { status: string; components: { postgres: { up: boolean } } };
      return body.status === 'degraded' ? { res, body } : undefined;
    }, 12_000);
    expect(degraded.res.status).toBe(200);
    expect(degraded.body.components.postgres.up).toBe(false);

    const during = await callers(bench, 'caller.xml', NUMBER, { calls: 10, rate: 5, name: 'during' });
    expect(during.passed, describeRun(during)).toBe(true);
    expect(during.stats?.successful).toBe(10);

    await postgres.start();
    const client = new pg.Client({ connectionString: bench.sb.config.databaseUrl });
    await client.connect();
    try {
      await until('all 12 calls recorded', async () => ((await count(client, 'SELECT count(*) FROM calls')) >= 12 ? true : undefined), 30_000);
      // Exactly once: no call, leg or event twice, none missing.
      expect(await count(client, 'SELECT count(*) FROM calls')).toBe(12);
      expect(await count(client, `SELECT count(*) FROM calls WHERE disposition = 'answered'`)).toBe(12);
      await until('all legs recorded', async () => ((await count(client, 'SELECT count(*) FROM call_legs')) >= 24 ? true : undefined), 10_000);
      expect(await count(client, 'SELECT count(*) FROM call_legs')).toBe(24);
      expect(await count(client, `SELECT count(*) FROM queue_events WHERE event = 'connect'`)).toBe(12);
      expect(await count(client, 'SELECT count(DISTINCT caller_number) FROM calls')).toBe(10);
    } finally {
      await client.end();
    }
    await until('health ok again', async () => (((await bench.sb.api('/health', { key: null })).body as { status: string }).status === 'ok' ? true : undefined), 12_000);
  });
});
