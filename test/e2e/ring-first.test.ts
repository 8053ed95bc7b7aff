import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callers, mediaChannels, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun, offersReceived, requestsOf, responsesOf } from '../support/sipp.js';

/**
 * Ring first (issue 9): a caller to a direct queue with an operator free is not answered onto
 * the media server; the operator's phone is rung with the caller's offer and the caller hears
 * ringback. The happy path (answered with the operator's media) is in queue-call.test.ts; these
 * are the ways it does not go straight through. Queues here are direct whatever TEST_MEDIA_MODE.
 */
let bench: CallBench;
const phones: Phone[] = [];
let seq = 0;

beforeAll(async () => {
  bench = await startCallBench({ RING_FIRST_MAX_SECONDS: '1' });
});

afterEach(() => {
  for (const p of phones.splice(0)) p.run.kill();
});

afterAll(async () => {
  await bench?.close();
});

async function directQueue(): Promise<{ number: string; queueId: number; operatorId: number; username: string; password: string }> {
  seq++;
  const number = String(8300 + seq);
  const queueId = (await bench.create('/v1/queues', { number: String(300 + seq), name: `Ring first ${seq}`, mediaMode: 'direct', ringTimeoutS: 20, wrapupS: 0, announceIntervalS: 0 })).id as number;
  await bench.create('/v1/routes', { number, targetType: 'queue', queueId });
  const username = `rf${seq}`;
  const password = `${username}-secret`;
  const operatorId = (await bench.create('/v1/operators', { username, password, displayName: username, workNumber: `7${seq}00` })).id as number;
  await bench.sb.api(`/v1/queues/${queueId}/members/${operatorId}`, { method: 'PUT', body: {} });
  await bench.sb.api(`/v1/operators/${operatorId}/state`, { method: 'PUT', body: { state: 'available' } });
  return { number, queueId, operatorId, username, password };
}

async function ringing(operatorId: number): Promise<{ state: string; callId: string }> {
  return until('the operator\'s phone to ring', async () => {
    const s = (await bench.sb.api(`/v1/operators/${operatorId}/state`)).body as { state: string; callId: string };
    return s.state === 'ringing' ? s : undefined;
  });
}

describe('ring first', () => {
  it('cancels the phone and frees the operator when the caller gives up during the ringback; the media server never had the call', async () => {
    const q = await directQueue();
    const phone = await operatorPhone(bench, q.username, q.password, 'operator-no-answer.xml');
    phones.push(phone);
    // Cancels 700 ms after the 180, before RING_FIRST_MAX_SECONDS would answer it onto the media server.
    const caller = callers(bench, 'caller-cancel.xml', q.number, { calls: 1, pauseMs: 700 });
    const rung = await ringing(q.operatorId);
    expect(rung.callId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await mediaChannels(bench)).toBe(0);

    const run = await caller;
    expect(run.passed, describeRun(run)).toBe(true);
    expect(responsesOf(run, 'received', 200, 'INVITE')).toHaveLength(0);
    const [row] = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE dialled_number = $1', 1, [q.number]);
    expect(row).toMatchObject({ disposition: 'abandoned', hangup_by: 'caller', answered_at: null });
    const events = await rowsWhenThere<{ event: string }>(bench, 'SELECT event FROM queue_events WHERE call_id = $1 ORDER BY at', 3, [row?.call_id]);
    expect(events.map((e) => e.event)).toEqual(['enter', 'offer', 'abandon']);
    const state = await until('the operator freed', async () => {
      const s = (await bench.sb.api(`/v1/operators/${q.operatorId}/state`)).body as { state: string; missesInRow: number };
      return s.state === 'available' ? s : undefined;
    });
    expect(state.missesInRow).toBe(0);
    phone.run.kill();
    const operator = await phone.run.done;
    expect(requestsOf(operator, 'received', 'CANCEL')).toHaveLength(1);
    expect(await mediaChannels(bench)).toBe(0);
  });

  it('answers the caller onto the media server after RING_FIRST_MAX_SECONDS while the phone rings on, then moves them to the phone', async () => {
    const q = await directQueue();
    // Answers 2.5 s after the INVITE: the caller hears ringback for 1 s, then music.
    const phone = await operatorPhone(bench, q.username, q.password, 'operator-answer.xml', { pauseMs: 2500, calls: 1 });
    phones.push(phone);
    const caller = callers(bench, 'caller-hangup.xml', q.number, { calls: 1, pauseMs: 4000 });
    await ringing(q.operatorId);
    await until('the caller on the media server while the phone rings', async () => ((await mediaChannels(bench)) === 1 ? true : undefined), 5000);
    await until('the media server to let go once the phone answered', async () => ((await mediaChannels(bench)) === 0 ? true : undefined), 10_000);

    const run = await caller;
    expect(run.passed, describeRun(run)).toBe(true);
    const operator = await phone.run.done;
    expect(operator.passed, describeRun(operator)).toBe(true);
    // One INVITE to the phone, with the caller's own offer; the caller answered by the media
    // server and then re-INVITEd once, towards the phone.
    const offers = offersReceived(operator);
    expect(offers).toHaveLength(1);
    expect(offers[0]?.body).toContain('o=caller');
    expect(responsesOf(run, 'received', 180, 'INVITE').length).toBeGreaterThanOrEqual(1);
    expect(responsesOf(run, 'received', 200, 'INVITE')[0]?.body).not.toContain('o=operator');
    expect(requestsOf(run, 'received', 'INVITE')).toHaveLength(1);
    const [row] = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE dialled_number = $1', 1, [q.number]);
    expect(row).toMatchObject({ disposition: 'answered', hangup_by: 'caller', operator_username: q.username });
    const events = await rowsWhenThere<{ event: string }>(bench, 'SELECT event FROM queue_events WHERE call_id = $1 ORDER BY at', 4, [row?.call_id]);
    expect(events.map((e) => e.event)).toEqual(['enter', 'offer', 'connect', 'complete-caller']);
  });
});
