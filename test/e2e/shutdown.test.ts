import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun } from '../support/sipp.js';

/**
 * SIGTERM: the switchboard stops taking calls at once, lets calls in progress go on for
 * SHUTDOWN_GRACE_SECONDS, then ends them, and every call still leaves its record.
 * (sb.stop() is what the SIGTERM handler of src/main.ts calls.)
 */
let bench: CallBench;
let phone: Phone | undefined;

beforeAll(async () => {
  bench = await startCallBench({ SHUTDOWN_GRACE_SECONDS: '2' });
  const queueId = (await bench.create('/v1/queues', { number: '600', name: 'Closing', wrapupS: 0, announceIntervalS: 0 })).id as number;
  await bench.create('/v1/routes', { number: '8600', targetType: 'queue', queueId });
  const op = await addOperator(bench, 'sam', '600', { displayName: 'Sam' });
  await bench.sb.api(`/v1/queues/${queueId}/members/${op.id}`, { method: 'PUT', body: {} });
  phone = await operatorPhone(bench, op.username, op.password, 'operator-answer.xml', { calls: 1 });
});

afterAll(async () => {
  phone?.run.kill();
  await bench?.close();
});

describe('graceful shutdown', () => {
  it('refuses new calls with 503, gives calls in progress the grace period, then ends them with records', async () => {
    const talking = callers(bench, 'caller.xml', '8600', { calls: 1, name: 'talking' });
    await until('the call connected', async () => {
      const items = ((await bench.sb.api('/v1/calls')).body as { items: { state: string }[] }).items;
      return items.some((c) => c.state === 'connected') ? true : undefined;
    });
    const started = Date.now();
    const stopped = bench.sb.stop();

    const refused = await callers(bench, 'caller.xml', '8600', { calls: 1, name: 'refused' });
    expect(refused.passed).toBe(false);
    expect(refused.messages.map((m) => m.label)).toContain('< 503 INVITE');

    const caller = await talking;
    expect(caller.passed, describeRun(caller)).toBe(true);
    await stopped;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);

    const rows = await rowsWhenThere<{ disposition: string; hangup_by: string; sip_status: number | null }>(
      bench, 'SELECT disposition, hangup_by, sip_status FROM calls ORDER BY arrived_at', 2,
    );
    expect(rows).toEqual([
      { disposition: 'answered', hangup_by: 'system', sip_status: null },
      { disposition: 'failed', hangup_by: 'system', sip_status: 503 },
    ]);
  });
});
