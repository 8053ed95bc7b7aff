import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callers, operatorPhone, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun } from '../support/sipp.js';
import { OPERATOR_KEY, SUPERVISOR_KEY } from '../support/switchboard.js';

/**
 * GET /metrics in Prometheus' text format, moving with real calls: calls in progress, callers
 * waiting and the longest wait, operators per state, the record backlog, connection states.
 */
let bench: CallBench;
let operatorId: number;
let phone: Phone | undefined;

beforeAll(async () => {
  bench = await startCallBench();
  const queueId = (await bench.create('/v1/queues', { number: '400', name: 'Metrics "desk"', wrapupS: 0, announceIntervalS: 0, ringTimeoutS: 10 })).id as number;
  await bench.create('/v1/routes', { number: '8400', targetType: 'queue', queueId });
  operatorId = (await bench.create('/v1/operators', { username: 'mo', password: 'mo-secret-1', displayName: 'Mo', workNumber: '400' })).id as number;
  await bench.sb.api(`/v1/queues/${queueId}/members/${operatorId}`, { method: 'PUT', body: {} });
  await bench.sb.api(`/v1/operators/${operatorId}/state`, { method: 'PUT', body: { state: 'available' } });
  phone = await operatorPhone(bench, 'mo', 'mo-secret-1', 'operator-answer.xml', { calls: 1 });
});

afterAll(async () => {
  phone?.run.kill();
  await bench?.close();
});

type Samples = Map<string, number>;

/** `name{labels} value` lines, keyed by `name{labels}` as written. */
async function scrape(key = SUPERVISOR_KEY): Promise<{ status: number; type: string | null; text: string; samples: Samples }> {
  const res = await fetch(`${bench.sb.url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+(?:\{.*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1] as string, Number(m[2]));
  }
  return { status: res.status, type: res.headers.get('content-type'), text, samples };
}

const QUEUE = 'queue="400",name="Metrics \\"desk\\""';

describe('metrics', () => {
  it('are text for Prometheus, behind a supervisor or admin key', async () => {
    const m = await scrape();
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(m.text).toContain('# TYPE switchboard_calls_in_progress gauge');
    expect((await scrape(OPERATOR_KEY)).status).toBe(403);
    expect((await fetch(`${bench.sb.url}/metrics`)).status).toBe(401);
    for (const c of ['postgres', 'redis', 'drachtio', 'freeswitch']) expect(m.samples.get(`switchboard_up{component="${c}"}`), c).toBe(1);
    expect(m.samples.get('switchboard_record_backlog')).toBeGreaterThanOrEqual(0);
    expect(m.samples.get('switchboard_records_buffered')).toBe(0);
  });

  it('move with calls: in progress, waiting, longest wait, operators per state', async () => {
    const idle = await scrape();
    expect(idle.samples.get('switchboard_calls_in_progress')).toBe(0);
    expect(idle.samples.get(`switchboard_queue_waiting{${QUEUE}}`)).toBe(0);
    expect(idle.samples.get(`switchboard_queue_longest_wait_seconds{${QUEUE}}`)).toBe(0);
    expect(idle.samples.get('switchboard_operators{state="available"}')).toBe(1);
    expect(idle.samples.get('switchboard_operators{state="busy"}')).toBe(0);

    // The first caller talks to mo; the second waits for him, then gives up.
    const talking = callers(bench, 'caller-hangup.xml', '8400', { calls: 1, pauseMs: 5_000, name: 'talking' });
    await until('the first caller connected', async () => {
      const items = ((await bench.sb.api('/v1/calls')).body as { items: { state: string }[] }).items;
      return items.some((c) => c.state === 'connected') ? true : undefined;
    });
    const waiting = callers(bench, 'caller-hangup.xml', '8400', { calls: 1, pauseMs: 2_500, name: 'waiting' });
    const busy = await until('a caller waiting for a second', async () => {
      const m = await scrape();
      return (m.samples.get(`switchboard_queue_longest_wait_seconds{${QUEUE}}`) ?? 0) >= 1 ? m : undefined;
    });
    expect(busy.samples.get('switchboard_calls_in_progress')).toBe(2);
    expect(busy.samples.get(`switchboard_queue_waiting{${QUEUE}}`)).toBe(1);
    expect(busy.samples.get(`switchboard_queue_longest_wait_seconds{${QUEUE}}`)).toBeLessThan(3);
    expect(busy.samples.get('switchboard_operators{state="busy"}')).toBe(1);
    expect(busy.samples.get('switchboard_operators{state="available"}')).toBe(0);

    for (const run of [await waiting, await talking]) expect(run.passed, describeRun(run)).toBe(true);
    const after = await until('everything quiet again', async () => {
      const m = await scrape();
      return m.samples.get('switchboard_calls_in_progress') === 0 && m.samples.get('switchboard_operators{state="available"}') === 1 ? m : undefined;
    });
    expect(after.samples.get(`switchboard_queue_waiting{${QUEUE}}`)).toBe(0);
    expect(after.samples.get(`switchboard_queue_longest_wait_seconds{${QUEUE}}`)).toBe(0);
    expect(after.samples.get('switchboard_operators{state="busy"}')).toBe(0);
  });
});
