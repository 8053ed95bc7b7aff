import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun } from '../support/sipp.js';

/**
 * SIGTERM: the switchboard stops taking calls at once, lets calls in progress go on for
 * SHUTDOWN_GRACE_SECONDS (a waiting caller is still served in that time), then ends the rest,
 * and every call still leaves its record. (sb.stop() is what the SIGTERM handler of src/main.ts
 * calls; test/e2e/process.test.ts sends a real SIGTERM to the process.)
 */
const GRACE_S = 12;
// Sam talks this long and hangs up; Tom never hangs up.
const SAM_TALK_MS = 5_000;
let bench: CallBench;
const phones: Phone[] = [];
let queueId: number;

async function states(): Promise<string[]> {
  return ((await bench.sb.api('/v1/calls')).body as { items: { state: string }[] }).items.map((c) => c.state);
}

beforeAll(async () => {
  bench = await startCallBench({ SHUTDOWN_GRACE_SECONDS: String(GRACE_S) });
  queueId = (await bench.create('/v1/queues', { number: '600', name: 'Closing', wrapupS: 0, announceIntervalS: 0 })).id as number;
  await bench.create('/v1/routes', { number: '8600', targetType: 'queue', queueId });
  const sam = await addOperator(bench, 'sam', '600', { displayName: 'Sam' });
  await bench.sb.api(`/v1/queues/${queueId}/members/${sam.id}`, { method: 'PUT', body: {} });
  phones.push(await operatorPhone(bench, sam.username, sam.password, 'operator-hangup.xml', { pauseMs: SAM_TALK_MS, calls: 2 }));
}, 60_000);

afterAll(async () => {
  for (const p of phones) p.run.kill();
  await bench?.close();
});

describe('graceful shutdown', () => {
  it('refuses new calls with 503, lets calls in progress and waiting callers finish within the grace period, then ends the rest with records', async () => {
    // Sam takes the first caller; Tom, logged in after, the second; the third waits.
    const samsCaller = callers(bench, 'caller.xml', '8600', { calls: 1, name: 'sams-caller', keys: { prefix: '5001' } });
    await until('the first call connected', async () => ((await states()).includes('connected') ? true : undefined));
    const tom = await addOperator(bench, 'tom', '601', { displayName: 'Tom', login: false });
    await bench.sb.api(`/v1/queues/${queueId}/members/${tom.id}`, { method: 'PUT', body: {} });
    phones.push(await operatorPhone(bench, tom.username, tom.password, 'operator-answer.xml', { calls: 1 }));
    await bench.sb.api(`/v1/operators/${tom.id}/state`, { method: 'PUT', body: { state: 'available' } });
    const tomsCaller = callers(bench, 'caller.xml', '8600', { calls: 1, name: 'toms-caller', keys: { prefix: '5002' }, timeoutMs: 60_000 });
    await until('two calls connected', async () => ((await states()).filter((s) => s === 'connected').length === 2 ? true : undefined));
    const waiting = callers(bench, 'caller.xml', '8600', { calls: 1, name: 'waiting', keys: { prefix: '5003' } });
    await until('a caller waiting', async () => ((await states()).includes('waiting') ? true : undefined));

    const started = Date.now();
    const stopped = bench.sb.stop();

    const refused = await callers(bench, 'caller-refused.xml', '8600', { calls: 1, name: 'refused', keys: { prefix: '5004' } });
    expect(refused.passed, describeRun(refused)).toBe(true);
    expect(refused.messages.map((m) => m.label)).toContain('< 503 INVITE');

    // Sam's call ends by itself; Sam then takes the waiting caller and ends that call too, all
    // within the grace period. Tom's call is ended by the switchboard when it is over.
    for (const run of [await samsCaller, await waiting, await tomsCaller]) expect(run.passed, describeRun(run)).toBe(true);
    await stopped;
    expect(Date.now() - started).toBeGreaterThanOrEqual(GRACE_S * 1000 - 100);

    const rows = await rowsWhenThere<{ caller_number: string; disposition: string; hangup_by: string; sip_status: number | null }>(
      bench, 'SELECT caller_number, disposition, hangup_by, sip_status FROM calls ORDER BY caller_number', 4,
    );
    expect(rows).toEqual([
      { caller_number: '50011', disposition: 'answered', hangup_by: 'operator', sip_status: null },
      { caller_number: '50021', disposition: 'answered', hangup_by: 'system', sip_status: null },
      { caller_number: '50031', disposition: 'answered', hangup_by: 'operator', sip_status: null },
      { caller_number: '50041', disposition: 'failed', hangup_by: 'system', sip_status: 503 },
    ]);
  }, 90_000);
});
