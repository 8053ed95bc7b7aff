import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { PrivatePostgres } from '../support/private-services.js';
import { describeRun } from '../support/sipp.js';

/**
 * PostgreSQL stopped for 30 s with a caller talking to an operator and another waiting: calls go
 * on, /health says degraded all along, and every record arrives, once, when it is back. The
 * switchboard runs on a PostgreSQL of its own that the test can stop.
 */
let postgres: PrivatePostgres;
let bench: CallBench;
let phone: Phone | undefined;
const NUMBER = '8500';
const OUTAGE_MS = 30_000;
// Each operator call lasts this long: with one operator, callers queue behind each other.
// Ten calls of 4 s, one after the other, outlast the 30 s outage: calls are still in progress
// when PostgreSQL comes back.
const TALK_MS = 4_000;

interface HealthBody {
  status: string;
  components: { postgres: { up: boolean } };
}

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
  phone = await operatorPhone(bench, op.username, op.password, 'operator-hangup.xml', { pauseMs: TALK_MS, calls: 100 });
}, 90_000);

afterAll(async () => {
  phone?.run.kill();
  await bench?.close().catch(() => undefined);
  await postgres?.cleanup();
});

describe('PostgreSQL stopped for 30 s while calls happen', () => {
  it('keeps taking calls, says degraded all along, and stores every record once it is back', async () => {
    const health = async (): Promise<{ status: number; body: HealthBody }> => {
      const res = await bench.sb.api('/health', { key: null });
      return { status: res.status, body: res.body as HealthBody };
    };
    const states = async (): Promise<string[]> => ((await bench.sb.api('/v1/calls')).body as { items: { state: string }[] }).items.map((c) => c.state);

    const before = await callers(bench, 'caller.xml', NUMBER, { calls: 2, rate: 5, name: 'before' });
    expect(before.passed, describeRun(before)).toBe(true);
    await until('the first records', async () => ((await count(bench.db, 'SELECT count(*) FROM calls')) === 2 ? true : undefined));
    await bench.db.end().catch(() => undefined);

    // One caller talking, one waiting, when PostgreSQL goes.
    const talking = callers(bench, 'caller.xml', NUMBER, { calls: 1, name: 'talking', keys: { prefix: '3000' } });
    await until('a caller talking', async () => ((await states()).includes('connected') ? true : undefined));
    const waiting = callers(bench, 'caller.xml', NUMBER, { calls: 1, name: 'waiting', keys: { prefix: '3100' } });
    await until('a caller waiting', async () => ((await states()).includes('waiting') ? true : undefined));
    await postgres.stop();
    const stoppedAt = Date.now();

    const degraded = await until('health to say degraded', async () => {
      const h = await health();
      return h.body.status === 'degraded' ? h : undefined;
    }, 12_000);
    expect(degraded.status).toBe(200);
    expect(degraded.body.components.postgres.up).toBe(false);

    // More callers during the outage, queueing behind each other for the one operator.
    const during = callers(bench, 'caller.xml', NUMBER, { calls: 8, rate: 2, name: 'during', timeoutMs: 90_000, keys: { prefix: '3200' } });
    // /health stays degraded (200) until PostgreSQL is back, 30 s after it stopped.
    const seen = new Set<string>();
    while (Date.now() - stoppedAt < OUTAGE_MS) {
      const h = await health();
      seen.add(`${h.status} ${h.body.status}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect([...seen]).toEqual(['200 degraded']);
    expect(await states()).not.toEqual([]);
    await postgres.start();
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(OUTAGE_MS);

    for (const run of [await talking, await waiting, await during]) expect(run.passed, describeRun(run)).toBe(true);

    const client = new pg.Client({ connectionString: bench.sb.config.databaseUrl });
    await client.connect();
    try {
      await until('all 12 calls recorded', async () => ((await count(client, 'SELECT count(*) FROM calls')) >= 12 ? true : undefined), 30_000);
      // Exactly once: no call, leg or event twice, none missing.
      expect(await count(client, 'SELECT count(*) FROM calls')).toBe(12);
      expect(await count(client, `SELECT count(*) FROM calls WHERE disposition = 'answered'`)).toBe(12);
      await until('all legs recorded', async () => ((await count(client, 'SELECT count(*) FROM call_legs')) >= 24 ? true : undefined), 10_000);
      expect(await count(client, 'SELECT count(*) FROM call_legs')).toBe(24);
      await until('all connect events', async () => ((await count(client, `SELECT count(*) FROM queue_events WHERE event = 'connect'`)) >= 12 ? true : undefined), 10_000);
      expect(await count(client, `SELECT count(*) FROM queue_events WHERE event = 'connect'`)).toBe(12);
      expect(await count(client, `SELECT count(*) FROM queue_events WHERE event = 'enter'`)).toBe(12);
      expect(await count(client, 'SELECT count(DISTINCT caller_number) FROM calls')).toBe(12);
    } finally {
      await client.end();
    }
    await until('health ok again', async () => ((await health()).body.status === 'ok' ? true : undefined), 12_000);
  }, 180_000);
});
