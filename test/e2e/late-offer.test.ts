import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callers, mediaChannels, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun, requestsOf, SCENARIO_DIR } from '../support/sipp.js';

/**
 * An anchored queue rings its operators' phones without SDP: the phone that answers makes the
 * offer in its 200 OK and the media server's answer goes in the ACK (operator-ring.ts). When
 * that answer cannot be made, the phone is still ACKed, then hung up, the ring counts as
 * failed, the operator is free again and nothing is left on the media server. The queues here
 * are anchored whatever TEST_MEDIA_MODE says.
 */
let bench: CallBench;
const phones: Phone[] = [];

interface Operator {
  id: number;
  phone: Phone;
}

async function anchoredQueue(number: string, dialled: string, username: string, scenario: string): Promise<Operator> {
  const queue = { number, name: `Queue ${number}`, mediaMode: 'anchored', ringTimeoutS: 10, wrapupS: 0, announceIntervalS: 0 };
  const queueId = (await bench.create('/v1/queues', queue)).id as number;
  await bench.create('/v1/routes', { number: dialled, targetType: 'queue', queueId });
  const id = (await bench.create('/v1/operators', { username, password: `${username}-secret`, displayName: username, workNumber: `6${number}` })).id as number;
  await bench.sb.api(`/v1/queues/${queueId}/members/${id}`, { method: 'PUT', body: {} });
  const phone = await operatorPhone(bench, username, `${username}-secret`, `${SCENARIO_DIR}/${scenario}`, { calls: 1 });
  phones.push(phone);
  await bench.sb.api(`/v1/operators/${id}/state`, { method: 'PUT', body: { state: 'available' } });
  return { id, phone };
}

async function operatorState(id: number): Promise<string> {
  return ((await bench.sb.api(`/v1/operators/${id}/state`)).body as { state: string }).state;
}

/** The first ring of the operator, once the call is over and its records are stored. */
async function firstRing(username: string): Promise<{ answered_at: Date | null; end_status: number; end_reason: string }> {
  const [leg] = await rowsWhenThere<{ answered_at: Date | null; end_status: number; end_reason: string }>(
    bench,
    "SELECT answered_at, end_status, end_reason FROM call_legs WHERE role = 'operator' AND party = $1 ORDER BY started_at",
    1,
    [username],
  );
  if (!leg) throw new Error(`no ring of ${username} recorded`);
  return leg;
}

/** A caller who waits 3 s and hangs up; checks the operator's phone and the media server after. */
async function callAndCheck(dialled: string, op: Operator): Promise<void> {
  const caller = await callers(bench, 'caller-hangup.xml', dialled, { calls: 1, pauseMs: 3_000 });
  expect(caller.passed, describeRun(caller)).toBe(true);
  const phone = await op.phone.run.done;
  expect(phone.passed, describeRun(phone)).toBe(true);
  const [invite] = requestsOf(phone, 'received', 'INVITE');
  expect(invite?.body ?? '').toBe('');
  expect(requestsOf(phone, 'received', 'ACK')).toHaveLength(1);
  expect(requestsOf(phone, 'received', 'BYE')).toHaveLength(1);
  await until('nothing left on the media server', async () => ((await mediaChannels(bench)) === 0 ? true : undefined), 10_000);
  await until('the operator free again', async () => ((await operatorState(op.id)) === 'available' ? true : undefined), 10_000);
}

beforeAll(async () => {
  bench = await startCallBench();
});

afterAll(async () => {
  for (const p of phones) p.run.kill();
  await bench?.close();
});

describe('an anchored ring whose answer cannot be connected', () => {
  it('ACKs and hangs up a phone whose offer the media server refuses, and counts the ring as failed', async () => {
    const op = await anchoredQueue('100', '8000', 'picky', 'operator-offer-refused.xml');
    await callAndCheck('8000', op);
    const ring = await firstRing('picky');
    expect(ring.answered_at).toBeNull();
    expect(ring.end_status).toBe(503);
    expect(ring.end_reason).toMatch(/^media server: /);
  });

  it('ACKs and hangs up a phone that answers without SDP, and counts the ring as failed', async () => {
    const op = await anchoredQueue('200', '8001', 'mute', 'operator-answer-no-sdp.xml');
    await callAndCheck('8001', op);
    const ring = await firstRing('mute');
    expect(ring.answered_at).toBeNull();
    expect(ring.end_status).toBe(488);
    expect(ring.end_reason).toBe('the phone answered without SDP');
  });
});
