import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callers, operatorPhone, rowsWhenThere, startCallBench, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun, type SippResult } from '../support/sipp.js';
import type { TestSwitchboard } from '../support/switchboard.js';

/**
 * Two switchboard instances on one drachtio-server (which spreads new calls over both), one
 * Redis and one PostgreSQL: callers are served by both, and no operator is ever offered two
 * calls at once.
 */
let bench: CallBench;
let second: TestSwitchboard;
const phones: Phone[] = [];

beforeAll(async () => {
  bench = await startCallBench({ INSTANCE_ID: 'sb-a' });
  second = await bench.another('sb-b');
  const queueId = (await bench.create('/v1/queues', { number: '700', name: 'Shared', wrapupS: 0, announceIntervalS: 0, ringTimeoutS: 10 })).id as number;
  await bench.create('/v1/routes', { number: '8700', targetType: 'queue', queueId });
  for (let i = 0; i < 3; i++) {
    const username = `twin${i}`;
    const op = await bench.create('/v1/operators', { username, password: `${username}-secret`, displayName: username, workNumber: `70${i}` });
    await bench.sb.api(`/v1/queues/${queueId}/members/${String(op.id)}`, { method: 'PUT', body: {} });
    await second.api(`/v1/operators/${String(op.id)}/state`, { method: 'PUT', body: { state: 'available' } });
    phones.push(await operatorPhone(bench, username, `${username}-secret`, 'operator-hangup.xml', { pauseMs: 400, calls: 100 }));
  }
});

afterAll(async () => {
  for (const p of phones) p.run.kill();
  await second?.close();
  await bench?.close();
});

/** [start, end] of each call on an operator's phone, from its SIPp message log. */
function callIntervals(result: SippResult): [number, number][] {
  const at = (time: string): number => Date.parse(`${time.replace(' ', 'T')}Z`);
  const open = new Map<string, number>();
  const intervals: [number, number][] = [];
  for (const m of result.messages) {
    const callId = m.sip?.callId ?? '';
    if (m.label === '< INVITE') open.set(callId, at(m.time));
    if (m.label === '< 200 BYE' && open.has(callId)) intervals.push([open.get(callId) as number, at(m.time)]);
  }
  return intervals.sort((a, b) => a[0] - b[0]);
}

describe('two instances', () => {
  it('share the callers and never offer one operator two calls', async () => {
    const result = await callers(bench, 'caller.xml', '8700', { calls: 12, rate: 10, extraArgs: ['-l', '12'] });
    expect(result.passed, describeRun(result)).toBe(true);
    expect(result.stats?.successful).toBe(12);

    const rows = await rowsWhenThere<{ instance_id: string; disposition: string }>(bench, `SELECT instance_id, disposition FROM calls WHERE dialled_number = '8700'`, 12);
    expect(rows.every((r) => r.disposition === 'answered')).toBe(true);
    expect(new Set(rows.map((r) => r.instance_id))).toEqual(new Set(['sb-a', 'sb-b']));

    let taken = 0;
    for (const phone of phones) {
      phone.run.kill();
      const intervals = callIntervals(await phone.run.done);
      taken += intervals.length;
      for (let i = 1; i < intervals.length; i++) {
        expect(intervals[i]?.[0], `${phone.username} got a call while on another`).toBeGreaterThanOrEqual(intervals[i - 1]?.[1] as number);
      }
    }
    expect(taken).toBe(12);
  });
});
