import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun, flow, requestsOf, responsesOf, type SippMessage, type SippResult } from '../support/sipp.js';

/**
 * Calls to an operator's own number, over real SIP through both benches: the caller hears
 * ringing and is answered only when the operator answers; busy, reject, no-answer and a caller
 * who gives up while it rings; the routing refusals (404, 403). Each test has an operator and a
 * number of its own. The bench trusts no source (TRUSTED_SOURCES is elsewhere), so the routes
 * allow outside callers except where a test says otherwise; the ring timeout is 2 s. Camp-on is
 * off here (a busy operator's caller gets 486); camp-on.test.ts has the calls that camp on.
 */
let bench: CallBench;
const phones: Phone[] = [];
let seq = 0;

beforeAll(async () => {
  bench = await startCallBench({ TRUSTED_SOURCES: '192.0.2.0/24', DIRECT_RING_TIMEOUT_SECONDS: '2', CAMP_ON_TIMEOUT_SECONDS: '0' });
});

afterEach(() => {
  for (const p of phones.splice(0)) p.run.kill();
});

afterAll(async () => {
  await bench?.close();
});

interface Target {
  operatorId: number;
  username: string;
  number: string;
}

/** An operator, logged in, with a route from their own number. */
async function target(opts: { allowOutside?: boolean } = {}): Promise<Target> {
  seq++;
  const username = `direct${seq}`;
  const number = `700${seq}`;
  const { id: operatorId } = await addOperator(bench, username, `6710${seq}`, { displayName: `Direct ${seq}` });
  await bench.create('/v1/routes', { number, targetType: 'operator', operatorId, allowOutside: opts.allowOutside ?? true });
  return { operatorId, username, number };
}

async function phone(t: Target, scenarioFile: string, pauseMs = 0): Promise<Phone> {
  const p = await operatorPhone(bench, t.username, `${t.username}-secret`, scenarioFile, { pauseMs, calls: 1, timeoutMs: 20_000 });
  phones.push(p);
  return p;
}

async function operatorState(id: number): Promise<{ state: string; callsTaken: number; missesInRow: number }> {
  return (await bench.sb.api(`/v1/operators/${id}/state`)).body as { state: string; callsTaken: number; missesInRow: number };
}

async function cdrOf(number: string, count = 1): Promise<Record<string, unknown>> {
  const rows = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE dialled_number = $1 ORDER BY arrived_at DESC', count, [number]);
  return rows[0] as Record<string, unknown>;
}

/** SIPp's trace time ("YYYY-MM-DD HH:MM:SS.micro", local) as ms. */
function timeOf(m: SippMessage | undefined): number {
  return new Date((m?.time ?? '').replace(' ', 'T')).getTime();
}

function message(run: SippResult, label: string): SippMessage | undefined {
  return run.messages.find((m) => m.label === label);
}

describe('a call to an operator\'s number', () => {
  it('rings the operator while the caller hears 180, answers the caller when the operator answers, bridges them and records both legs', async () => {
    const t = await target();
    const op = await phone(t, 'operator-hangup.xml', 1500);
    const call = callers(bench, 'caller.xml', t.number, { calls: 1 });

    const standIn = bench.freeswitch.standIn;
    if (standIn) {
      await standIn.model.waitFor(() => standIn.model.channels().find((c) => standIn.model.bridgedWith(c.uuid) !== undefined), { timeoutMs: 10_000, description: 'caller and operator bridged' });
    }
    await until('the operator to be busy', async () => ((await operatorState(t.operatorId)).state === 'busy' ? true : undefined));
    // Busy on this call: a second caller is refused at once and never answered.
    const second = await callers(bench, 'caller-refused.xml', t.number, { calls: 1, timeoutMs: 10_000 });
    expect(second.passed, describeRun(second)).toBe(true);
    expect(responsesOf(second, 'received', 486)).toHaveLength(1);
    expect(responsesOf(second, 'received', 200)).toHaveLength(0);

    const caller = await call;
    expect(caller.passed, describeRun(caller)).toBe(true);
    expect(flow(caller).filter((l) => !l.includes(' 100 '))).toEqual(['> INVITE', '< 180 INVITE', '< 200 INVITE', '> ACK', '< BYE', '> 200 BYE']);
    // The caller was answered only once the operator had answered.
    const operator = await op.run.done;
    expect(operator.passed, describeRun(operator)).toBe(true);
    expect(timeOf(message(caller, '< 200 INVITE'))).toBeGreaterThanOrEqual(timeOf(message(operator, '> 200 INVITE')));
    const [invite] = requestsOf(operator, 'received', 'INVITE');
    expect(invite?.get('From')).toMatch(/^"Guest 1" <sip:20001@/);
    const callId = invite?.get('X-Call-ID');

    const [cdr] = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE call_id = $1', 1, [callId]);
    expect(cdr).toMatchObject({ route_type: 'operator', dialled_number: t.number, operator_username: t.username, disposition: 'answered', hangup_by: 'operator', queue_id: null });
    // The phone hangs up 1.5 s after its 200; the talk counts from the bridge, which comes a
    // little later on a loaded machine. A talk time that was not measured would be about 0.
    expect(Number(cdr?.talk_s)).toBeGreaterThanOrEqual(1.0);
    const legs = await rowsWhenThere(bench, 'SELECT role, direction, hangup_by FROM call_legs WHERE call_id = $1 ORDER BY started_at', 2, [callId]);
    expect(legs).toEqual([
      { role: 'caller', direction: 'inbound', hangup_by: 'operator' },
      { role: 'operator', direction: 'outbound', hangup_by: 'operator' },
    ]);
    const busy = await cdrOf(t.number, 2);
    expect(busy).toMatchObject({ route_type: 'operator', disposition: 'rejected', sip_status: 486, answered_at: null });

    // No queue, no wrap-up: straight back to available.
    const free = await until('the operator to be available again', async () => {
      const s = await operatorState(t.operatorId);
      return s.state === 'available' ? s : undefined;
    });
    expect(free.callsTaken).toBe(1);
    if (standIn) await standIn.model.waitFor(() => standIn.model.channels().length === 0, { description: 'every channel gone' });
  });

  it('a caller who cancels while it rings: the CANCEL reaches the operator\'s phone at once and the operator is free again', async () => {
    const t = await target();
    const op = await phone(t, 'operator-no-answer.xml');
    const caller = await callers(bench, 'caller-cancel.xml', t.number, { calls: 1, pauseMs: 800, timeoutMs: 10_000 });
    expect(caller.passed, describeRun(caller)).toBe(true);
    const operator = await op.run.done;
    expect(operator.passed, describeRun(operator)).toBe(true);
    const lag = timeOf(message(operator, '< CANCEL')) - timeOf(message(caller, '> CANCEL'));
    expect(lag).toBeLessThan(500);

    expect((await operatorState(t.operatorId)).state).toBe('available');
    expect((await operatorState(t.operatorId)).missesInRow).toBe(0);
    const cdr = await cdrOf(t.number);
    expect(cdr).toMatchObject({ route_type: 'operator', disposition: 'abandoned', hangup_by: 'caller', answered_at: null });
    expect(cdr.offered_at).not.toBeNull();
    const legs = await rowsWhenThere(bench, 'SELECT role, hangup_by, end_status FROM call_legs WHERE call_id = $1 ORDER BY started_at', 2, [cdr.call_id]);
    expect(legs).toEqual([
      { role: 'caller', hangup_by: 'caller', end_status: 487 },
      { role: 'operator', hangup_by: 'caller', end_status: 487 },
    ]);
  });

  it('an operator who rejects: the caller gets their 486, unanswered, and the operator is free', async () => {
    const t = await target();
    const op = await phone(t, 'operator-reject.xml', 200);
    const caller = await callers(bench, 'caller-refused.xml', t.number, { calls: 1, timeoutMs: 10_000 });
    expect(caller.passed, describeRun(caller)).toBe(true);
    expect(flow(caller).filter((l) => !l.includes(' 100 '))).toEqual(['> INVITE', '< 180 INVITE', '< 486 INVITE', '> ACK']);
    expect((await op.run.done).passed).toBe(true);
    expect(await operatorState(t.operatorId)).toMatchObject({ state: 'available', missesInRow: 0 });
    expect(await cdrOf(t.number)).toMatchObject({ disposition: 'rejected', hangup_by: 'operator', sip_status: 486 });
  });

  it('no answer within the ring timeout: the phone is cancelled, the caller gets 480 and the miss is counted', async () => {
    const t = await target();
    const op = await phone(t, 'operator-no-answer.xml');
    const started = Date.now();
    const caller = await callers(bench, 'caller-refused.xml', t.number, { calls: 1, timeoutMs: 10_000 });
    expect(caller.passed, describeRun(caller)).toBe(true);
    expect(responsesOf(caller, 'received', 480)).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect((await op.run.done).passed).toBe(true);
    // The caller hears 480 as the operator is released: wait for the release to land.
    await until('the operator released with the miss counted', async () => {
      const s = await operatorState(t.operatorId);
      return s.state === 'available' && s.missesInRow === 1 ? true : undefined;
    });
    expect(await cdrOf(t.number)).toMatchObject({ disposition: 'timeout', hangup_by: 'system', sip_status: 480 });
    if (bench.freeswitch.standIn) expect(bench.freeswitch.standIn.model.channels()).toEqual([]);
  });

  it('routing: an unknown number gets 404, a route closed to outside callers 403, and neither reaches the operator', async () => {
    const t = await target({ allowOutside: false });
    const closed = await callers(bench, 'caller-refused.xml', t.number, { calls: 1, timeoutMs: 10_000 });
    expect(responsesOf(closed, 'received', 403), describeRun(closed)).toHaveLength(1);
    const unknown = await callers(bench, 'caller-refused.xml', '7999', { calls: 1, timeoutMs: 10_000 });
    expect(responsesOf(unknown, 'received', 404), describeRun(unknown)).toHaveLength(1);
    expect(await operatorState(t.operatorId)).toMatchObject({ state: 'available', callsTaken: 0 });
    expect(await cdrOf(t.number)).toMatchObject({ route_type: 'reject', disposition: 'rejected', sip_status: 403 });
    expect(await cdrOf('7999')).toMatchObject({ route_type: 'reject', disposition: 'rejected', sip_status: 404 });
  });
});
