import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, startCallBench, talkingAgain, until, type CallBench, type Phone, type TestOperator } from '../support/call-bench.js';
import { describeRun, requestsOf, SCENARIO_DIR, type SippResult } from '../support/sipp.js';
import { Softphone } from '../support/softphone.js';
import { SIP_DOMAIN } from '../support/switchboard.js';

/**
 * Attended transfers (from the phone with REFER + Replaces, and through the API's consult,
 * complete and cancel) and three-way calls, over real SIP through both benches.
 */
let bench: CallBench;
const phones: Phone[] = [];
const softphones: Softphone[] = [];
let seq = 0;

beforeAll(async () => {
  bench = await startCallBench();
});
afterEach(async () => {
  for (const p of phones.splice(0)) p.run.kill();
  for (const s of softphones.splice(0)) await s.close();
});
afterAll(async () => {
  await bench?.close();
});

interface Setup {
  number: string;
  a: TestOperator;
  b: TestOperator;
  bNumber: string;
}

function operator(name: string): Promise<TestOperator> {
  return addOperator(bench, name, String(7000 + seq * 10 + name.length));
}

/** A queue served by A; B outside it, reachable by a number of its own. */
async function setup(): Promise<Setup> {
  seq++;
  const queueId = (await bench.create('/v1/queues', { number: String(500 + seq), name: `Attended ${seq}`, wrapupS: 0, announceIntervalS: 0, ringTimeoutS: 5 })).id as number;
  const number = String(8500 + seq);
  await bench.create('/v1/routes', { number, targetType: 'queue', queueId });
  const a = await operator(`aa${seq}`);
  const b = await operator(`bbb${seq}`);
  await bench.sb.api(`/v1/queues/${queueId}/members/${a.id}`, { method: 'PUT', body: {} });
  const bNumber = String(8600 + seq);
  await bench.create('/v1/routes', { number: bNumber, targetType: 'operator', operatorId: b.id });
  await until('the configuration in the call path', async () => ((await bench.sb.api(`/v1/queues/${queueId}/calls`)).status === 200 ? true : undefined));
  return { number, a, b, bNumber };
}

async function phone(op: TestOperator, scenario: string, pauseMs = 0): Promise<Phone> {
  const p = await operatorPhone(bench, op.username, op.password, scenario, { pauseMs, calls: 1 });
  phones.push(p);
  return p;
}

async function softphone(op: TestOperator): Promise<Softphone> {
  const s = await Softphone.start(op.username, op.password, SIP_DOMAIN, bench.drachtio.sipAddress);
  softphones.push(s);
  await s.register();
  return s;
}

async function passed(p: Promise<SippResult> | Phone): Promise<SippResult> {
  const r = 'run' in p ? await p.run.done : await p;
  expect(r.passed, describeRun(r)).toBe(true);
  return r;
}

async function liveCall(dialled: string): Promise<{ callId: string; operatorId: number | null }> {
  return until('the call connected', async () => {
    const items = ((await bench.sb.api('/v1/calls')).body as { items: { callId: string; state: string; dialledNumber: string; operatorId: number | null }[] }).items;
    return items.find((c) => c.state === 'connected' && c.dialledNumber === dialled);
  });
}

async function stateOf(op: TestOperator): Promise<string> {
  return ((await bench.sb.api(`/v1/operators/${op.id}/state`)).body as { state: string }).state;
}

async function cdr(number: string): Promise<Record<string, unknown>> {
  const [row] = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE dialled_number = $1', 1, [number]);
  return row as Record<string, unknown>;
}

describe('attended transfer from the phone', () => {
  it('holds the caller, consults the target in a second call, and joins them with REFER + Replaces', async () => {
    const s = await setup();
    const a = await softphone(s.a);
    // The target hangs up once they have talked to the caller: that ends the call.
    const b = await phone(s.b, 'operator-hangup.xml', 3000);
    const caller = callers(bench, 'caller.xml', s.number, { calls: 1 });

    const toCaller = await a.answer();
    expect(await a.hold(toCaller, true)).toBe(200);
    const standIn = bench.freeswitch.standIn;
    if (standIn) await until('the caller hearing hold music', async () => standIn.model.channels().find((c) => c.playing === 'local_stream://moh'));
    const toTarget = await a.call(s.bNumber);
    const refer = await a.refer(toCaller, a.referTo(s.b.username, toTarget));
    expect(refer.status).toBe(202);
    expect(refer.notifies.map((n) => n.body)).toEqual(['SIP/2.0 100 Trying\r\n', 'SIP/2.0 200 OK\r\n']);
    // The switchboard hangs up both of the transferor's calls; caller and target talk.
    await a.until('both calls hung up', () => (a.hungUp(toCaller) && a.hungUp(toTarget) ? true : undefined));

    await passed(caller);
    await passed(b);
    const row = await cdr(s.number);
    expect(row).toMatchObject({ disposition: 'answered', operators: [s.a.username, s.b.username], hangup_by: 'operator' });
    const events = await rowsWhenThere<{ event: string; data: Record<string, unknown> }>(bench, 'SELECT event, data FROM queue_events WHERE call_id = $1 ORDER BY at', 5, [row.call_id]);
    expect(events.map((e) => e.event)).toEqual(['enter', 'offer', 'connect', 'transfer', 'complete-operator']);
    expect(events.find((e) => e.event === 'transfer')?.data).toMatchObject({ kind: 'attended', toOperator: s.b.username, result: 'connected' });
    await until('both operators free', async () => ((await stateOf(s.a)) === 'available' && (await stateOf(s.b)) === 'available' ? true : undefined));
  });

  it('when the operator hangs up the consultation, they are back with the caller', async () => {
    const s = await setup();
    const a = await softphone(s.a);
    const b = await phone(s.b, 'operator-answer.xml');
    const caller = callers(bench, 'caller.xml', s.number, { calls: 1 });
    const toCaller = await a.answer();
    expect(await a.hold(toCaller, true)).toBe(200);
    const toTarget = await a.call(s.bNumber);
    expect(await a.bye(toTarget)).toBe(200);
    await passed(b);
    expect(await a.hold(toCaller, false)).toBe(200);
    await talkingAgain(bench, (standIn) => standIn.model.channels().some((c) => c.bridgedWith));
    expect(a.hungUp(toCaller)).toBe(false);
    expect(await a.bye(toCaller)).toBe(200);
    await passed(caller);
    expect(await cdr(s.number)).toMatchObject({ operators: [s.a.username], hangup_by: 'operator', hold_s: expect.anything() });
  });

  it('answers a Replaces that names no call with a 481 NOTIFY and drops nothing', async () => {
    const s = await setup();
    const a = await softphone(s.a);
    const caller = callers(bench, 'caller.xml', s.number, { calls: 1 });
    const toCaller = await a.answer();
    await a.hold(toCaller, true);
    const refer = await a.refer(toCaller, `<sip:${s.b.username}@${SIP_DOMAIN}?Replaces=nowhere%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>`);
    expect(refer.status).toBe(202);
    expect(refer.notifies.map((n) => n.body)).toEqual(['SIP/2.0 100 Trying\r\n', 'SIP/2.0 481 Call/Transaction Does Not Exist\r\n']);
    expect(a.hungUp(toCaller)).toBe(false);
    expect(await a.hold(toCaller, false)).toBe(200);
    expect(await a.bye(toCaller)).toBe(200);
    await passed(caller);
    expect(await cdr(s.number)).toMatchObject({ operators: [s.a.username], hangup_by: 'operator' });
  });
});

describe('attended transfer through the API', () => {
  it('consults, then completes: the caller goes to the consulted operator', async () => {
    const s = await setup();
    const a = await phone(s.a, 'operator-answer.xml');
    const b = await phone(s.b, 'operator-answer.xml');
    const caller = callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 5000 });
    const live = await liveCall(s.number);
    expect((await bench.sb.api(`/v1/calls/${live.callId}/consult/complete`, { method: 'POST' })).status).toBe(409);
    expect((await bench.sb.api(`/v1/calls/${live.callId}/consult`, { method: 'POST', body: { target: s.bNumber } })).status).toBe(202);
    await until('the consulted operator on the line', async () => ((await stateOf(s.b)) === 'busy' ? true : undefined));
    const standIn = bench.freeswitch.standIn;
    if (standIn) expect(standIn.model.channels().some((c) => c.playing === 'local_stream://moh')).toBe(true);
    expect((await bench.sb.api(`/v1/calls/${live.callId}/consult/complete`, { method: 'POST' })).status).toBe(202);
    await passed(a);
    await until('the caller with B', async () => (((await bench.sb.api(`/v1/calls/${live.callId}`)).body as { operatorId: number }).operatorId === s.b.id ? true : undefined));
    await passed(caller);
    await passed(b);
    expect(await cdr(s.number)).toMatchObject({ operators: [s.a.username, s.b.username], hangup_by: 'caller' });
  });

  it('consults, then cancels: the operator is back with the caller', async () => {
    const s = await setup();
    const a = await phone(s.a, 'operator-answer.xml');
    const b = await phone(s.b, 'operator-answer.xml');
    const caller = callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 4000 });
    const live = await liveCall(s.number);
    expect((await bench.sb.api(`/v1/calls/${live.callId}/consult`, { method: 'POST', body: { target: s.b.username } })).status).toBe(202);
    await until('the consulted operator on the line', async () => ((await stateOf(s.b)) === 'busy' ? true : undefined));
    expect((await bench.sb.api(`/v1/calls/${live.callId}/consult/cancel`, { method: 'POST' })).status).toBe(202);
    await passed(b);
    await talkingAgain(bench, (standIn) => standIn.model.channels().some((c) => c.bridgedWith));
    await passed(caller);
    await passed(a);
    expect(await cdr(s.number)).toMatchObject({ operators: [s.a.username], hangup_by: 'caller' });
  });

  it('completes before the target answers: the caller hears music, then talks to the target', async () => {
    const s = await setup();
    const a = await phone(s.a, 'operator-answer.xml');
    const b = await phone(s.b, 'operator-answer.xml', 1500);
    const caller = callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 5000 });
    const live = await liveCall(s.number);
    expect((await bench.sb.api(`/v1/calls/${live.callId}/consult`, { method: 'POST', body: { target: s.bNumber } })).status).toBe(202);
    await until('the target ringing', async () => ((await stateOf(s.b)) === 'ringing' ? true : undefined));
    expect((await bench.sb.api(`/v1/calls/${live.callId}/consult/complete`, { method: 'POST' })).status).toBe(202);
    await passed(a);
    await passed(caller);
    await passed(b);
    expect(await cdr(s.number)).toMatchObject({ operators: [s.a.username, s.b.username] });
  });

  it('when the consulted operator hangs up, the operator is back with the caller', async () => {
    const s = await setup();
    const a = await phone(s.a, 'operator-answer.xml');
    const b = await phone(s.b, 'operator-hangup.xml', 800);
    const caller = callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 4000 });
    const live = await liveCall(s.number);
    expect((await bench.sb.api(`/v1/calls/${live.callId}/consult`, { method: 'POST', body: { target: s.bNumber } })).status).toBe(202);
    await passed(b);
    await passed(caller);
    await passed(a);
    expect(await cdr(s.number)).toMatchObject({ operators: [s.a.username], hangup_by: 'caller' });
  });
});

describe('three-way calls', () => {
  it('brings a third party in; when the operator leaves, caller and third party go on together', async () => {
    const s = await setup();
    const a = await phone(s.a, 'operator-hangup.xml', 2500);
    const b = await phone(s.b, 'operator-answer.xml');
    const caller = callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 5000 });
    const live = await liveCall(s.number);
    expect((await bench.sb.api(`/v1/calls/${live.callId}/three-way`, { method: 'POST', body: { target: s.bNumber } })).status).toBe(202);
    const standIn = bench.freeswitch.standIn;
    const name = `3way-${live.callId}`;
    if (standIn) await until('three in the conference', async () => (standIn.model.membersOf(name).length === 3 ? true : undefined));
    await passed(a);
    if (standIn) await until('two left in the conference', async () => (standIn.model.membersOf(name).length === 2 ? true : undefined));
    await passed(caller);
    await passed(b);
    const row = await cdr(s.number);
    expect(row).toMatchObject({ operators: [s.a.username, s.b.username] });
    const legs = await rowsWhenThere<{ role: string }>(bench, 'SELECT role FROM call_legs WHERE call_id = $1 ORDER BY started_at', 3, [row.call_id]);
    expect(legs.map((l) => l.role)).toEqual(['caller', 'operator', 'guest']);
    await until('both operators free', async () => ((await stateOf(s.a)) === 'available' && (await stateOf(s.b)) === 'available' ? true : undefined));
  });

  it('starts from the phone with a REFER to *3 and the number; the operator stays until they leave', async () => {
    const s = await setup();
    const a = await operatorPhone(bench, s.a.username, s.a.password, `${SCENARIO_DIR}/operator-refer-back.xml`, { pauseMs: 300, calls: 1, keys: { refer_to: `*3${s.bNumber}` } });
    phones.push(a);
    const b = await phone(s.b, 'operator-answer.xml');
    const caller = callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 4000 });
    const ra = await passed(a);
    expect(requestsOf(ra, 'received', 'NOTIFY').map((n) => n.body)).toEqual(['SIP/2.0 100 Trying\r\n', 'SIP/2.0 200 OK\r\n']);
    await passed(caller);
    await passed(b);
    expect(await cdr(s.number)).toMatchObject({ operators: [s.a.username, s.b.username] });
  });
});
