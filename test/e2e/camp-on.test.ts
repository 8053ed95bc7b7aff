import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone, type TestOperator } from '../support/call-bench.js';
import { describeRun, offersReceived, requestsOf, SCENARIO_DIR, type SippResult } from '../support/sipp.js';

/**
 * Camp-on over real SIP through both benches: a blind transfer or a call to an operator's own
 * number finds the operator on a call; the caller hears the busy prompt and music and is
 * connected when the operator is free, or goes back after CAMP_ON_TIMEOUT_SECONDS (here 6 s); a
 * caller who hangs up while camped; callers camped on one operator served in order. Operators are
 * made busy by a direct call, and calls end through the API when a test says so, not after set
 * times, so the steps do not depend on how fast the machine is.
 */
const CAMP_ON_TIMEOUT_S = 6;
// Each test spans a busy operator's call, a camp-on and a talk: longer than the default 30 s on a loaded machine.
const TEST_TIMEOUT_MS = 90_000;
let bench: CallBench;
const phones: Phone[] = [];
let seq = 0;

beforeAll(async () => {
  bench = await startCallBench({ CAMP_ON_TIMEOUT_SECONDS: String(CAMP_ON_TIMEOUT_S), ...(process.env.PROMPTS_DIR ? { PROMPTS_DIR: process.env.PROMPTS_DIR } : {}) });
});
afterEach(() => {
  for (const p of phones.splice(0)) p.run.kill();
});
afterAll(async () => {
  await bench?.close();
});

interface Setup {
  number: string;
  queueId: number;
  /** The queue's first operator (linear), who transfers. */
  a: TestOperator;
  /** The busy operator, outside the queue, with a number of their own. */
  b: TestOperator;
  bNumber: string;
  /** The queue's second operator. */
  c: TestOperator;
}

async function setup(): Promise<Setup> {
  seq++;
  const queueId = (await bench.create('/v1/queues', { number: String(500 + seq), name: `Camp ${seq}`, strategy: 'linear', wrapupS: 0, announceIntervalS: 0, ringTimeoutS: 10 })).id as number;
  const number = String(8500 + seq);
  await bench.create('/v1/routes', { number, targetType: 'queue', queueId });
  const a = await addOperator(bench, `ca${seq}`, String(9500 + seq * 10 + 1));
  const c = await addOperator(bench, `cc${seq}`, String(9500 + seq * 10 + 2));
  const b = await addOperator(bench, `cb${seq}`, String(9500 + seq * 10 + 3));
  await bench.sb.api(`/v1/queues/${queueId}/members/${a.id}`, { method: 'PUT', body: { penalty: 0 } });
  await bench.sb.api(`/v1/queues/${queueId}/members/${c.id}`, { method: 'PUT', body: { penalty: 1 } });
  const bNumber = String(8600 + seq);
  await bench.create('/v1/routes', { number: bNumber, targetType: 'operator', operatorId: b.id, allowOutside: true });
  await until('the configuration in the call path', async () => ((await bench.sb.api(`/v1/queues/${queueId}/calls`)).status === 200 ? true : undefined));
  return { number, queueId, a, b, bNumber, c };
}

async function phone(op: TestOperator, scenario: string, opts: { pauseMs?: number; calls?: number; keys?: Record<string, string> } = {}): Promise<Phone> {
  const p = await operatorPhone(bench, op.username, op.password, scenario, { pauseMs: opts.pauseMs ?? 0, calls: opts.calls ?? 1, ...(opts.keys ? { keys: opts.keys } : {}) });
  phones.push(p);
  return p;
}

async function passed(run: Promise<SippResult>): Promise<SippResult> {
  const r = await run;
  expect(r.passed, describeRun(r)).toBe(true);
  return r;
}

async function operatorState(id: number): Promise<string> {
  return ((await bench.sb.api(`/v1/operators/${id}/state`)).body as { state: string }).state;
}

async function becomes(op: TestOperator, state: string): Promise<void> {
  await until(`${op.username} ${state}`, async () => ((await operatorState(op.id)) === state ? true : undefined), 15_000);
}

interface LiveCall {
  callId: string;
  state: string;
  callerNumber: string;
  operatorId: number | null;
}

async function liveCall(callerNumber: string, state: string): Promise<LiveCall> {
  return until(`the call of ${callerNumber} ${state}`, async () => {
    const { items } = (await bench.sb.api('/v1/calls')).body as { items: LiveCall[] };
    return items.find((c) => c.callerNumber === callerNumber && c.state === state);
  }, 15_000);
}

/**
 * Makes B busy: a caller dials B's number and B's phone (already running operator-answer.xml)
 * answers; the call lasts until the test ends it with endCall().
 */
async function busyWithDirectCall(s: Setup, prefix: string): Promise<{ call: Promise<SippResult>; callId: string }> {
  const call = callers(bench, 'caller.xml', s.bNumber, { calls: 1, keys: { prefix } });
  const { callId } = await liveCall(`${prefix}1`, 'connected');
  await becomes(s.b, 'busy');
  return { call, callId };
}

/** Hangs a call up through the API (both sides get a BYE). */
async function endCall(callId: string): Promise<void> {
  expect((await bench.sb.api(`/v1/calls/${callId}/hangup`, { method: 'POST' })).status).toBeLessThan(300);
}

async function campOns(callId: string, count = 1): Promise<Record<string, unknown>[]> {
  return rowsWhenThere(bench, 'SELECT * FROM camp_ons WHERE call_id = $1 ORDER BY camped_at', count, [callId]);
}

async function cdrOf(callerNumber: string, dialled: string): Promise<Record<string, unknown>> {
  const [row] = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE caller_number = $1 AND dialled_number = $2', 1, [callerNumber, dialled]);
  return row as Record<string, unknown>;
}

describe('camp-on', () => {
  it('a blind transfer to a busy operator camps on: busy prompt and music, then connected as soon as they are free', async () => {
    const s = await setup();
    const b = await phone(s.b, 'operator-answer.xml', { calls: 2 });
    const direct = await busyWithDirectCall(s, '3100');
    const a = await operatorPhone(bench, s.a.username, s.a.password, `${SCENARIO_DIR}/operator-refer.xml`, { pauseMs: 300, calls: 1, keys: { refer_to: s.b.username } });
    phones.push(a);
    const caller = callers(bench, 'caller.xml', s.number, { calls: 1, keys: { prefix: '3200' } });

    const camped = await liveCall('32001', 'camped');
    expect(camped.operatorId).toBe(s.b.id);
    // The transfer is taken: 100 and 200 NOTIFYs, and the transferor is hung up and free.
    const ra = await passed(a.run.done);
    expect(requestsOf(ra, 'received', 'NOTIFY').map((n) => n.body)).toEqual(['SIP/2.0 100 Trying\r\n', 'SIP/2.0 200 OK\r\n']);
    await becomes(s.a, 'available');
    const standIn = bench.freeswitch.standIn;
    if (standIn) {
      // The camped caller hears music after the prompt, bridged to nobody.
      await standIn.model.waitFor(() => standIn.model.channels().find((c) => standIn.model.playing(c.uuid) === 'local_stream://moh' && standIn.model.bridgedWith(c.uuid) === undefined), { timeoutMs: 10_000, description: 'music for the camped caller' });
    }

    // B's call ends: B is free and rung for the camped caller at once.
    await endCall(direct.callId);
    await passed(direct.call);
    const connected = await liveCall('32001', 'connected');
    expect(connected).toMatchObject({ callId: camped.callId, operatorId: s.b.id });
    await endCall(camped.callId);
    await passed(caller);
    const rb = await passed(b.run.done);
    const invites = offersReceived(rb);
    expect(invites).toHaveLength(2);
    expect(invites[1]?.get('X-Call-ID')).toBe(camped.callId);
    expect(invites[1]?.get('From')).toMatch(/^"Camp-on: /);

    const row = await cdrOf('32001', s.number);
    expect(row).toMatchObject({ call_id: camped.callId, disposition: 'answered', operators: [s.a.username, s.b.username], hangup_by: 'system' });
    const [camp] = await campOns(camped.callId);
    expect(camp).toMatchObject({ operator_id: s.b.id, origin: 'transfer', from_operator_id: s.a.id, outcome: 'connected' });
    const events = await rowsWhenThere<{ event: string; data: Record<string, unknown> }>(bench, 'SELECT event, data FROM queue_events WHERE call_id = $1 ORDER BY at', 5, [camped.callId]);
    expect(events.map((e) => e.event)).toEqual(['enter', 'offer', 'connect', 'transfer', 'transfer']);
    expect(events[3]?.data).toMatchObject({ result: 'camped-on', toOperator: s.b.username });
    expect(events[4]?.data).toMatchObject({ result: 'connected', toOperator: s.b.username });
    await becomes(s.b, 'available');
  }, TEST_TIMEOUT_MS);

  it('after the camp-on timeout the caller goes back to the transferring operator, who is rung again', async () => {
    const s = await setup();
    const b = await phone(s.b, 'operator-answer.xml', { calls: 1 });
    const direct = await busyWithDirectCall(s, '3300');
    // A answers both calls: the caller, then the caller again after the camp-on timeout.
    const a = await phone(s.a, 'operator-answer.xml', { calls: 2 });
    const caller = callers(bench, 'caller.xml', s.number, { calls: 1, keys: { prefix: '3400' } });
    const talking = await liveCall('34001', 'connected');
    const transfer = await bench.sb.api(`/v1/calls/${talking.callId}/transfer`, { method: 'POST', body: { target: s.bNumber } });
    expect(transfer.status).toBe(202);
    await liveCall('34001', 'camped');
    await becomes(s.a, 'available');

    // B stays busy: after the timeout the caller is back with A.
    const back = await until('the caller back with A', async () => {
      const { items } = (await bench.sb.api('/v1/calls')).body as { items: LiveCall[] };
      return items.find((c) => c.callerNumber === '34001' && c.state === 'connected' && c.operatorId === s.a.id);
    }, (CAMP_ON_TIMEOUT_S + 15) * 1000);
    await endCall(back.callId);
    await passed(caller);
    const ra = await passed(a.run.done);
    const invites = offersReceived(ra);
    expect(invites).toHaveLength(2);
    expect(invites[1]?.get('From')).toMatch(/^"Back: /);
    const [camp] = await campOns(talking.callId);
    expect(camp).toMatchObject({ outcome: 'timeout', origin: 'transfer', from_operator_id: s.a.id });
    expect(Number(camp?.wait_s)).toBeGreaterThanOrEqual(CAMP_ON_TIMEOUT_S - 0.5);
    const row = await cdrOf('34001', s.number);
    expect(row).toMatchObject({ disposition: 'answered', operators: [s.a.username] });
    const legs = await rowsWhenThere<{ role: string; party: string }>(bench, 'SELECT role, party FROM call_legs WHERE call_id = $1 ORDER BY started_at', 4, [talking.callId]);
    expect(legs.map((l) => `${l.role}:${l.party}`)).toEqual(['caller:34001', `operator:${s.a.username}`, `target:${s.b.username}`, `operator:${s.a.username}`]);
    // B, busy the whole time, was never rung for the camped caller.
    await endCall(direct.callId);
    await passed(direct.call);
    expect(offersReceived(await passed(b.run.done))).toHaveLength(1);
  }, TEST_TIMEOUT_MS);

  it('a caller who hangs up while camped leaves the line: the freed operator is not rung, and the record says abandoned', async () => {
    const s = await setup();
    const b = await phone(s.b, 'operator-answer.xml', { calls: 1 });
    const direct = await busyWithDirectCall(s, '3500');
    const a = await operatorPhone(bench, s.a.username, s.a.password, `${SCENARIO_DIR}/operator-refer.xml`, { pauseMs: 300, calls: 1, keys: { refer_to: s.bNumber } });
    phones.push(a);
    const caller = callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 5000, keys: { prefix: '3600' } });
    const camped = await liveCall('36001', 'camped');
    await passed(caller);
    await passed(a.run.done);
    const [camp] = await campOns(camped.callId);
    expect(camp).toMatchObject({ outcome: 'abandoned', origin: 'transfer' });
    expect(await cdrOf('36001', s.number)).toMatchObject({ hangup_by: 'caller', operators: [s.a.username] });

    await endCall(direct.callId);
    await passed(direct.call);
    expect(offersReceived(await passed(b.run.done))).toHaveLength(1);
    await becomes(s.b, 'available');
    const { items } = (await bench.sb.api('/v1/calls')).body as { items: LiveCall[] };
    expect(items.filter((c) => c.callerNumber === '36001')).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('callers of a busy operator\'s own number camp on and are connected one after the other, in order', async () => {
    const s = await setup();
    // Three calls for B: the one that makes B busy, then each camped caller.
    const b = await phone(s.b, 'operator-answer.xml', { calls: 3 });
    const direct = await busyWithDirectCall(s, '3700');
    const first = callers(bench, 'caller.xml', s.bNumber, { calls: 1, keys: { prefix: '3800' } });
    const one = await liveCall('38001', 'camped');
    const second = callers(bench, 'caller.xml', s.bNumber, { calls: 1, keys: { prefix: '3900' } });
    const two = await liveCall('39001', 'camped');

    await endCall(direct.callId);
    await liveCall('38001', 'connected');
    // The second caller waits while the first talks.
    expect((await liveCall('39001', 'camped')).callId).toBe(two.callId);
    await endCall(one.callId);
    await liveCall('39001', 'connected');
    await endCall(two.callId);
    await passed(direct.call);
    const r1 = await passed(first);
    await passed(second);
    // Camped callers are answered at once (they hear the prompt and music), not left ringing.
    expect(r1.messages.some((m) => m.label === '< 200 INVITE')).toBe(true);
    const rb = await passed(b.run.done);
    expect(offersReceived(rb).map((i) => i.get('X-Call-ID')).slice(1)).toEqual([one.callId, two.callId]);

    const [c1] = await campOns(one.callId);
    const [c2] = await campOns(two.callId);
    expect(c1).toMatchObject({ outcome: 'connected', origin: 'direct', from_operator_id: null });
    expect(c2).toMatchObject({ outcome: 'connected', origin: 'direct' });
    expect(await cdrOf('38001', s.bNumber)).toMatchObject({ route_type: 'operator', disposition: 'answered', operators: [s.b.username] });
    expect(await cdrOf('39001', s.bNumber)).toMatchObject({ route_type: 'operator', disposition: 'answered', operators: [s.b.username] });
    await becomes(s.b, 'available');
    if (bench.freeswitch.standIn) {
      const standIn = bench.freeswitch.standIn;
      await standIn.model.waitFor(() => standIn.model.channels().length === 0, { description: 'every channel gone' }).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(standIn.model.channels())}`);
      });
    }
  }, TEST_TIMEOUT_MS);
});
