import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { PrivateRedis } from '../support/private-services.js';
import { describeRun, responsesOf } from '../support/sipp.js';

/**
 * Redis restarted without its data while a caller talks to the only operator and two more
 * wait: the switchboard reconnects and rebuilds what it owns (the callers' places in the queue,
 * the operator busy on the call, the phone's registration), a call arriving while Redis is
 * down gets a clean 503, and afterwards the waiting callers are served in their order and nobody
 * is left busy. The switchboard runs on a redis-server of the test's own.
 */
let redis: PrivateRedis;
let bench: CallBench;
let phone: Phone | undefined;
let queueId: number;
let olga: { id: number };
const NUMBER = '8510';
// Olga talks this long on each call, so two callers are still waiting when Redis goes.
const TALK_MS = 6_000;

interface Waiting {
  callId: string;
  callerNumber: string;
  position: number;
}

async function waitingCallers(): Promise<Waiting[]> {
  const res = await bench.sb.api(`/v1/queues/${queueId}/calls`);
  return res.status === 200 ? (res.body as { items: Waiting[] }).items : [];
}

async function stateOf(operatorId: number): Promise<{ state: string; callId: string | null }> {
  return (await bench.sb.api(`/v1/operators/${operatorId}/state`)).body as { state: string; callId: string | null };
}

async function healthStatus(): Promise<string> {
  return ((await bench.sb.api('/health', { key: null })).body as { status: string }).status;
}

beforeAll(async () => {
  redis = await PrivateRedis.create();
  bench = await startCallBench({ REDIS_URL: redis.url });
  queueId = (await bench.create('/v1/queues', { number: '510', name: 'Redis fault', wrapupS: 0, announceIntervalS: 0, ringTimeoutS: 10 })).id as number;
  await bench.create('/v1/routes', { number: NUMBER, targetType: 'queue', queueId });
  const op = await addOperator(bench, 'olga', '510');
  olga = op;
  await bench.sb.api(`/v1/queues/${queueId}/members/${op.id}`, { method: 'PUT', body: {} });
  phone = await operatorPhone(bench, op.username, op.password, 'operator-hangup.xml', { pauseMs: TALK_MS, calls: 3, timeoutMs: 90_000 });
}, 90_000);

afterAll(async () => {
  phone?.run.kill();
  await bench?.close().catch(() => undefined);
  await redis?.cleanup();
});

describe('Redis restarted and its data lost', () => {
  it('rebuilds the queue and the operator, refuses calls while Redis is away, and serves everyone in order', async () => {
    // Three callers a second apart: the first talks to Olga, the other two wait.
    const run = callers(bench, 'caller.xml', NUMBER, { calls: 3, rate: 1, extraArgs: ['-l', '3'], timeoutMs: 90_000, name: 'waiting' });
    const before = await until('one caller talking and two waiting', async () => {
      const waiting = await waitingCallers();
      return waiting.length === 2 && (await stateOf(olga.id)).state === 'busy' ? waiting : undefined;
    }, 15_000);
    const talking = (await stateOf(olga.id)).callId;
    expect(talking).not.toBeNull();

    await redis.stop();
    await until('health to say down', async () => ((await healthStatus()) === 'down' ? true : undefined), 10_000);
    const refused = await callers(bench, 'caller-refused.xml', NUMBER, { calls: 1, name: 'during-outage', keys: { prefix: '3000' } });
    expect(refused.passed, describeRun(refused)).toBe(true);
    expect(responsesOf(refused, 'received', 503, 'INVITE')).toHaveLength(1);
    await redis.start();

    // Rebuilt from what the switchboard owns: same callers, same order, Olga still on her call.
    const after = await until('the queue rebuilt', async () => {
      const waiting = await waitingCallers();
      return waiting.length === 2 ? waiting : undefined;
    }, 15_000);
    expect(after.map((w) => [w.callId, w.position])).toEqual(before.map((w) => [w.callId, w.position]));
    expect(await stateOf(olga.id)).toMatchObject({ state: 'busy', callId: talking });
    expect(await healthStatus()).toBe('ok');

    // Olga's phone does not register again: its restored binding is what rings it.
    const result = await run;
    expect(result.passed, describeRun(result)).toBe(true);
    expect(result.stats?.successful).toBe(3);

    const rows = await rowsWhenThere<{ call_id: string; disposition: string; offered_at: Date }>(
      bench,
      `SELECT call_id, disposition, offered_at FROM calls WHERE dialled_number = $1 AND caller_number LIKE '2000%' ORDER BY arrived_at`,
      3,
      [NUMBER],
      20_000,
    );
    expect(rows.map((r) => r.disposition)).toEqual(['answered', 'answered', 'answered']);
    // Served in order of arrival after the rebuild as before it.
    expect(rows.slice(1).map((r) => r.call_id)).toEqual(before.map((w) => w.callId));
    expect(rows[2]?.offered_at.getTime()).toBeGreaterThan(rows[1]?.offered_at.getTime() as number);
    const refusedRow = await rowsWhenThere<{ disposition: string; sip_status: number }>(bench, `SELECT disposition, sip_status FROM calls WHERE caller_number LIKE '3000%'`, 1);
    expect(refusedRow[0]).toMatchObject({ disposition: 'failed', sip_status: 503 });

    // Nobody left ringing or busy without a call.
    const states = await until('every operator free', async () => {
      const items = ((await bench.sb.api('/v1/operator-states')).body as { items: { state: string }[] }).items;
      return items.every((s) => s.state === 'available') ? items : undefined;
    }, 30_000);
    expect(states).toHaveLength(1);
    expect(((await bench.sb.api('/v1/calls')).body as { items: unknown[] }).items).toEqual([]);
  });
});
