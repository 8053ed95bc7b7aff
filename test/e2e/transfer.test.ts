import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SipRequest } from '../benches/sip/index.js';
import { addOperator, callers, mediaChannels, operatorPhone, rowsWhenThere, startCallBench, testMediaMode, until, type CallBench, type Phone, type TestOperator } from '../support/call-bench.js';
import { describeRun, requestsOf, SCENARIO_DIR, type SippResult } from '../support/sipp.js';

/**
 * Blind transfers and hold, from the operator's phone (REFER, re-INVITE) and from the API, over
 * real SIP through both benches: the NOTIFYs the transferor gets, who ends up talking to whom,
 * what happens when the target does not take the call, and what the records say.
 */
let bench: CallBench;
const phones: Phone[] = [];
let seq = 0;

beforeAll(async () => {
  bench = await startCallBench();
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
  /** The operator who answers first and transfers. */
  a: TestOperator;
  /** The transfer target, reachable by its own number. */
  b: TestOperator;
  bNumber: string;
  /** A second operator of the queue, for callers sent back to it. */
  c: TestOperator;
}

function operator(name: string, login: boolean): Promise<TestOperator> {
  return addOperator(bench, name, String(9000 + seq * 10 + name.length), { login });
}

/** A queue with A (first) and C (second, linear), and B outside it with a number of its own. */
async function setup(opts: { bLoggedIn?: boolean; wrapupS?: number } = {}): Promise<Setup> {
  seq++;
  const queueId = (await bench.create('/v1/queues', { number: String(300 + seq), name: `Transfers ${seq}`, strategy: 'linear', wrapupS: opts.wrapupS ?? 0, announceIntervalS: 0, ringTimeoutS: 5 })).id as number;
  const number = String(8300 + seq);
  await bench.create('/v1/routes', { number, targetType: 'queue', queueId });
  const a = await operator(`ta${seq}`, true);
  const c = await operator(`tcc${seq}`, true);
  const b = await operator(`tbbbb${seq}`, opts.bLoggedIn ?? true);
  await bench.sb.api(`/v1/queues/${queueId}/members/${a.id}`, { method: 'PUT', body: { penalty: 0 } });
  await bench.sb.api(`/v1/queues/${queueId}/members/${c.id}`, { method: 'PUT', body: { penalty: 1 } });
  const bNumber = String(8400 + seq);
  await bench.create('/v1/routes', { number: bNumber, targetType: 'operator', operatorId: b.id });
  await until('the configuration in the call path', async () => ((await bench.sb.api(`/v1/queues/${queueId}/calls`)).status === 200 ? true : undefined));
  return { number, queueId, a, b, bNumber, c };
}

async function phone(op: TestOperator, scenario: string, opts: { pauseMs?: number } = {}): Promise<Phone> {
  const p = await operatorPhone(bench, op.username, op.password, scenario, { pauseMs: opts.pauseMs ?? 0, calls: 1 });
  phones.push(p);
  return p;
}

async function referPhone(op: TestOperator, scenario: string, referTo: string, pauseMs = 500): Promise<Phone> {
  // The REFER scenarios live in test/sipp/; their Refer-To comes from -key refer_to.
  const p = await operatorPhone(bench, op.username, op.password, `${SCENARIO_DIR}/${scenario}`, { pauseMs, calls: 1, keys: { refer_to: referTo } });
  phones.push(p);
  return p;
}

async function finished(p: Phone): Promise<SippResult> {
  const r = await p.run.done;
  expect(r.passed, describeRun(r)).toBe(true);
  return r;
}

function notifies(r: SippResult): SipRequest[] {
  return requestsOf(r, 'received', 'NOTIFY');
}

async function cdr(number: string): Promise<Record<string, unknown>> {
  const [row] = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE dialled_number = $1', 1, [number]);
  return row as Record<string, unknown>;
}

async function queueEvents(callId: string, count: number): Promise<{ event: string; operator_id: number | null; data: Record<string, unknown> }[]> {
  return rowsWhenThere(bench, 'SELECT event, operator_id, data FROM queue_events WHERE call_id = $1 ORDER BY at', count, [callId]);
}

describe('blind transfer by REFER', () => {
  it('connects the caller to the operator named in Refer-To, with 100 and 200 NOTIFYs, and frees the transferor', async () => {
    const s = await setup();
    const a = await referPhone(s.a, 'operator-refer.xml', s.b.username);
    const b = await phone(s.b, 'operator-answer.xml');
    const caller = await callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 3000 });
    expect(caller.passed, describeRun(caller)).toBe(true);

    const ra = await finished(a);
    const [trying, final] = notifies(ra);
    expect(trying?.body).toBe('SIP/2.0 100 Trying\r\n');
    expect(trying?.get('Event')).toBe('refer');
    expect(trying?.get('Content-Type')).toBe('message/sipfrag;version=2.0');
    expect(trying?.get('Subscription-State')).toMatch(/^active/);
    expect(final?.body).toBe('SIP/2.0 200 OK\r\n');
    expect(final?.get('Subscription-State')).toMatch(/^terminated/);
    const rb = await finished(b);
    expect(requestsOf(rb, 'received', 'INVITE')[0]?.get('X-Transferred-By')).toBe(s.a.username);

    const row = await cdr(s.number);
    expect(row).toMatchObject({ disposition: 'answered', operator_username: s.a.username, operators: [s.a.username, s.b.username], hangup_by: 'caller' });
    const legs = await rowsWhenThere<{ role: string; party: string }>(bench, 'SELECT role, party FROM call_legs WHERE call_id = $1 ORDER BY started_at', 3, [row.call_id]);
    expect(legs.map((l) => `${l.role}:${l.party}`)).toEqual(['caller:20001', `operator:${s.a.username}`, `target:${s.b.username}`]);
    const events = await queueEvents(row.call_id as string, 5);
    expect(events.map((e) => e.event)).toEqual(['enter', 'offer', 'connect', 'transfer', 'complete-caller']);
    expect(events[3]).toMatchObject({ operator_id: s.a.id, data: { kind: 'blind', toOperator: s.b.username, result: 'connected' } });
    expect(events[4]?.operator_id).toBe(s.b.id);
  });

  it('resolves a number through the routes, and keeps going when the transferor hangs up right after the 202', async () => {
    const s = await setup();
    const a = await referPhone(s.a, 'operator-refer-leave.xml', s.bNumber);
    const b = await phone(s.b, 'operator-answer.xml');
    const caller = await callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 3000 });
    expect(caller.passed, describeRun(caller)).toBe(true);
    await finished(a);
    await finished(b);
    expect(await cdr(s.number)).toMatchObject({ disposition: 'answered', operators: [s.a.username, s.b.username] });
  });

  it('honours Refer-Sub: false: no NOTIFY, the transfer still happens', async () => {
    const s = await setup();
    const a = await referPhone(s.a, 'operator-refer-nosub.xml', s.bNumber);
    const b = await phone(s.b, 'operator-answer.xml');
    expect((await callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 3000 })).passed).toBe(true);
    const ra = await finished(a);
    expect(notifies(ra)).toEqual([]);
    await finished(b);
  });

  it('answers a Refer-To that leads nowhere with a 404 NOTIFY and keeps the caller with the operator', async () => {
    const s = await setup();
    const a = await referPhone(s.a, 'operator-refer-back.xml', '99999');
    const caller = await callers(bench, 'caller.xml', s.number, { calls: 1 });
    expect(caller.passed, describeRun(caller)).toBe(true);
    const ra = await finished(a);
    expect(notifies(ra).map((n) => n.body)).toEqual(['SIP/2.0 100 Trying\r\n', 'SIP/2.0 404 Not Found\r\n']);
    expect(await cdr(s.number)).toMatchObject({ disposition: 'answered', hangup_by: 'operator', operators: [s.a.username] });
  });

  it('returns the caller to the transferor when the target is busy or declines', async () => {
    const s = await setup({ bLoggedIn: false });
    const a = await referPhone(s.a, 'operator-refer-back.xml', s.bNumber);
    const caller = await callers(bench, 'caller.xml', s.number, { calls: 1 });
    expect(caller.passed, describeRun(caller)).toBe(true);
    expect(notifies(await finished(a)).map((n) => n.body)).toEqual(['SIP/2.0 100 Trying\r\n', 'SIP/2.0 486 Busy Here\r\n']);

    const t = await setup();
    const a2 = await referPhone(t.a, 'operator-refer-back.xml', t.bNumber);
    await phone(t.b, 'operator-reject.xml', { pauseMs: 100 });
    expect((await callers(bench, 'caller.xml', t.number, { calls: 1 })).passed).toBe(true);
    expect(notifies(await finished(a2)).map((n) => n.body)).toEqual(['SIP/2.0 100 Trying\r\n', 'SIP/2.0 486 Busy Here\r\n']);
    const row = await cdr(t.number);
    expect(row).toMatchObject({ disposition: 'answered', hangup_by: 'operator', operators: [t.a.username] });
    const events = await queueEvents(row.call_id as string, 5);
    expect(events.find((e) => e.event === 'transfer')?.data).toMatchObject({ result: 'failed', status: 486 });
    await until('the declining target free again', async () => (((await bench.sb.api(`/v1/operators/${t.b.id}/state`)).body as { state: string }).state === 'available' ? true : undefined));
  });

  it('sends the caller to the front of the queue when the target declines and the transferor is gone', async () => {
    const s = await setup({ wrapupS: 10 });
    await referPhone(s.a, 'operator-refer-leave.xml', s.bNumber);
    await phone(s.b, 'operator-reject.xml', { pauseMs: 100 });
    await phone(s.c, 'operator-hangup.xml', { pauseMs: 500 });
    const caller = await callers(bench, 'caller.xml', s.number, { calls: 1 });
    expect(caller.passed, describeRun(caller)).toBe(true);
    const row = await cdr(s.number);
    expect(row).toMatchObject({ disposition: 'answered', operators: [s.a.username, s.c.username], hangup_by: 'operator' });
    const events = await queueEvents(row.call_id as string, 8);
    expect(events.map((e) => e.event)).toEqual(['enter', 'offer', 'connect', 'transfer', 'enter', 'offer', 'connect', 'complete-operator']);
  });
});

describe('blind transfer through the API', () => {
  it('moves a talking caller to another operator and hangs up the first one', async () => {
    const s = await setup();
    const a = await phone(s.a, 'operator-answer.xml');
    const b = await phone(s.b, 'operator-answer.xml');
    const caller = callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 4000 });
    const live = await until('the call connected', async () => {
      const items = ((await bench.sb.api('/v1/calls')).body as { items: { callId: string; state: string; dialledNumber: string }[] }).items;
      return items.find((c) => c.state === 'connected' && c.dialledNumber === s.number);
    });
    expect((await bench.sb.api(`/v1/calls/${live.callId}/transfer`, { method: 'POST', body: { target: '99999' } })).status).toBe(400);
    expect((await bench.sb.api(`/v1/calls/${live.callId}/transfer`, { method: 'POST', body: { target: s.bNumber } })).status).toBe(202);
    await until('the caller with the target', async () => {
      const call = (await bench.sb.api(`/v1/calls/${live.callId}`)).body as { operatorId: number };
      return call.operatorId === s.b.id ? true : undefined;
    });
    expect((await caller).passed).toBe(true);
    await finished(a);
    await finished(b);
    expect(await cdr(s.number)).toMatchObject({ operators: [s.a.username, s.b.username], hangup_by: 'caller' });
  });
});

describe('transfer into a queue', () => {
  it('puts the talking caller into another queue, where its operator answers; the first operator is free', async () => {
    const s = await setup();
    const other = (await bench.create('/v1/queues', { number: String(390 + seq), name: `Second line ${seq}`, wrapupS: 0, announceIntervalS: 0 })).id as number;
    const otherNumber = String(8390 + seq);
    await bench.create('/v1/routes', { number: otherNumber, targetType: 'queue', queueId: other });
    await bench.sb.api(`/v1/queues/${other}/members/${s.c.id}`, { method: 'PUT', body: {} });
    const a = await referPhone(s.a, 'operator-refer.xml', otherNumber);
    const c = await phone(s.c, 'operator-hangup.xml', { pauseMs: 500 });
    const caller = await callers(bench, 'caller.xml', s.number, { calls: 1 });
    expect(caller.passed, describeRun(caller)).toBe(true);
    expect(notifies(await finished(a)).map((n) => n.body)).toEqual(['SIP/2.0 100 Trying\r\n', 'SIP/2.0 200 OK\r\n']);
    await finished(c);
    const row = await cdr(s.number);
    expect(row).toMatchObject({ disposition: 'answered', operators: [s.a.username, s.c.username], queue_number: String(390 + seq) });
    const events = await queueEvents(row.call_id as string, 8);
    expect(events.map((e) => e.event)).toEqual(['enter', 'offer', 'connect', 'transfer', 'enter', 'offer', 'connect', 'complete-operator']);
  });
});

describe('hold', () => {
  it('plays hold music to the caller while the operator\'s phone holds, and bridges them again after', async () => {
    const standIn = bench.freeswitch.standIn;
    const s = await setup();
    const a = await phone(s.a, `${SCENARIO_DIR}/operator-hold.xml`, { pauseMs: 500 });
    const caller = callers(bench, 'caller.xml', s.number, { calls: 1 });
    const direct = testMediaMode() === 'direct';
    if (standIn) {
      const held = await until('the caller hearing hold music', async () => standIn.model.channels().find((c) => c.playing === 'local_stream://moh'));
      // Anchored: the two channels are bridged again. Direct: back to phone to phone, the
      // media server's channels released.
      if (!direct) await until('bridged again', async () => (standIn.model.bridgedWith(held.uuid) ? true : undefined), 5_000);
    }
    if (direct) await until('the media server released after the hold', async () => ((await mediaChannels(bench)) === 0 ? true : undefined), 10_000);
    const callerRun = await caller;
    expect(callerRun.passed, describeRun(callerRun)).toBe(true);
    const operatorRun = await finished(a);
    // Direct: the caller, answered with the operator's media (rung first), is re-INVITEd onto
    // the media server for the hold and back after it; the operator's phone once, back towards
    // the caller.
    expect(requestsOf(callerRun, 'received', 'INVITE')).toHaveLength(direct ? 2 : 0);
    expect(requestsOf(operatorRun, 'received', 'INVITE').filter((i) => /;\s*tag=/i.test(i.get('To') ?? ''))).toHaveLength(direct ? 1 : 0);
    const row = await cdr(s.number);
    expect(Number(row.hold_s)).toBeGreaterThanOrEqual(1.2);
  });
});
