import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type esl from 'drachtio-modesl';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone, type TestOperator } from '../support/call-bench.js';
import { eventSocket } from '../support/freeswitch-env.js';
import { describeRun, requestsOf } from '../support/sipp.js';
import { SseClient } from '../support/sse.js';
import { SUPERVISOR_KEY, type TestSwitchboard } from '../support/switchboard.js';

/**
 * Wake-up calls (issue 11, point 1) over real SIP through both benches: a guest's phone (an
 * extension registered with SIPp) answers and hears the wake-up prompt, on time; a phone that
 * does not answer is tried again and then an operator gets a priority call with the note; a
 * booking that falls due while the switchboard is stopped is placed at once on start (and one
 * due longer ago than the grace period is recorded as missed); two instances never place the
 * same booking twice. What is played is read from FreeSWITCH's CHANNEL_EXECUTE events, so the
 * same assertions hold on the stand-in and on a real FreeSWITCH (which lacks the prompt files and
 * plays them in no time). Bookings are made through the API for tomorrow and then moved to fall
 * due in a moment in the database (the API books whole minutes); one test waits for a real minute.
 */
const CALL_TEST_MS = 240_000;
const SIPP_MS = 180_000;
const WAIT_MS = 90_000;
const promptsDir = mkdtempSync(path.join(tmpdir(), 'sb-wakeup-'));

interface Execution {
  uuid: string;
  app: string;
  data: string;
}

let bench: CallBench;
let conn: esl.Connection;
const executions: Execution[] = [];
let alice: TestOperator;
let phones: Phone[] = [];
let streams: SseClient[] = [];

type AttemptRow = { booking_id: number; attempt: number; result: string; sip_status: number | null; call_id: string | null; instance_id: string; lag_ms: number };

beforeAll(async () => {
  bench = await startCallBench({ PROMPTS_DIR: promptsDir, WAKEUP_GRACE_SECONDS: '600' });
  conn = await eventSocket(bench.freeswitch);
  conn.on('esl::event::CHANNEL_EXECUTE::*', (evt: esl.Event) => {
    const app = evt.getHeader('Application') ?? '';
    const uuid = evt.getHeader('Unique-ID');
    if (uuid && (app === 'playback' || app === 'say')) executions.push({ uuid, app, data: evt.getHeader('Application-Data') ?? '' });
  });
  await new Promise<void>((resolve) => conn.events('plain', 'CHANNEL_EXECUTE', () => resolve()));
  const queueId = (await bench.create('/v1/queues', { number: '100', name: 'Front desk', ringTimeoutS: 30, wrapupS: 0, announceIntervalS: 0 })).id as number;
  alice = await addOperator(bench, 'alice', '67354');
  await bench.sb.api(`/v1/queues/${String(queueId)}/members/${String(alice.id)}`, { method: 'PUT', body: {} });
  for (const number of ['101', '102', '103', '104']) await bench.create('/v1/extensions', { number, name: `Room ${number}`, password: `room-${number}-secret` });
});

afterEach(() => {
  for (const p of phones) p.run.kill();
  phones = [];
  for (const s of streams) s.close();
  streams = [];
});

afterAll(async () => {
  conn?.disconnect();
  await bench?.close();
  rmSync(promptsDir, { recursive: true, force: true });
});

async function guestPhone(extension: string, scenarioFile: string, calls: number): Promise<Phone> {
  const phone = await operatorPhone(bench, extension, `room-${extension}-secret`, scenarioFile, { calls, timeoutMs: SIPP_MS });
  phones.push(phone);
  return phone;
}

/** Books through the API (for tomorrow), then moves the booking to fall due `inMs` from now. */
async function bookDueIn(inMs: number, body: Record<string, unknown>, sb: TestSwitchboard = bench.sb): Promise<number> {
  const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
  const res = await sb.api('/v1/wakeup-calls', { method: 'POST', body: { time: '07:00', timeZone: 'UTC', date: tomorrow, ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const id = (res.body as { id: number }).id;
  await dueIn(id, inMs);
  return id;
}

async function dueIn(id: number, inMs: number): Promise<void> {
  await bench.db.query(`UPDATE wakeup_calls SET occurrence_at = now() + $2 * interval '1 millisecond', next_due_at = now() + $2 * interval '1 millisecond' WHERE id = $1`, [id, inMs]);
}

/** The booking's attempts once `count` of them have ended, in order. */
function attempts(id: number, count: number): Promise<AttemptRow[]> {
  return rowsWhenThere<AttemptRow>(
    bench,
    `SELECT booking_id, attempt, result, sip_status, call_id::text, instance_id,
       (extract(epoch FROM started_at - occurrence_at) * 1000)::int AS lag_ms
     FROM wakeup_attempts WHERE booking_id = $1 AND ended_at IS NOT NULL ORDER BY attempt`,
    count,
    [id],
    WAIT_MS,
  );
}

async function booking(id: number): Promise<Record<string, unknown>> {
  const res = await bench.sb.api(`/v1/wakeup-calls/${String(id)}`);
  return res.body as Record<string, unknown>;
}

async function callRow(callId: string): Promise<Record<string, unknown>> {
  const [row] = await rowsWhenThere(bench, 'SELECT caller_number, caller_name, dialled_number, disposition, priority, queue_number, operator_username FROM calls WHERE call_id = $1', 1, [callId], WAIT_MS);
  return row as Record<string, unknown>;
}

function playbacks(name: string, since: number): Execution[] {
  return executions.slice(since).filter((e) => e.app === 'playback' && e.data.endsWith(`/${name}.wav`));
}

describe('wake-up calls', () => {
  it('rings the extension on time and plays the wake-up prompt to the guest who answers', async () => {
    const phone = await guestPhone('101', 'operator-answer.xml', 1);
    // The next whole minute at least 5 s ahead, in the guest's zone (UTC here).
    const at = new Date(Math.ceil((Date.now() + 5_000) / 60_000) * 60_000);
    const time = at.toISOString().slice(11, 16);
    const since = executions.length;
    const res = await bench.sb.api('/v1/wakeup-calls', { method: 'POST', body: { extension: '101', time, timeZone: 'UTC' } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = (res.body as { id: number; nextDueAt: string }).id;
    expect((res.body as { nextDueAt: string }).nextDueAt).toBe(at.toISOString());

    const [attempt] = await attempts(id, 1);
    expect(attempt).toMatchObject({ attempt: 1, result: 'answered', sip_status: 200 });
    // Placed within 2 s of the booked time.
    expect(attempt?.lag_ms).toBeGreaterThanOrEqual(0);
    expect(attempt?.lag_ms).toBeLessThan(2_000);
    expect(await booking(id)).toMatchObject({ status: 'answered', lastOutcome: 'answered', nextDueAt: null });

    const done = await phone.run.done;
    expect(done.passed, describeRun(done)).toBe(true);
    const [invite] = requestsOf(done, 'received', 'INVITE');
    expect(invite?.get('X-Call-ID')).toBe(attempt?.call_id);
    expect(invite?.get('From')).toContain('"Wake-up call"');
    // The prompt went to the guest's channel.
    await until('the wake-up prompt', async () => (playbacks('wakeup', since).length > 0 ? true : undefined), WAIT_MS);
    expect(await callRow(attempt?.call_id as string)).toMatchObject({ dialled_number: '101', caller_number: 'wakeup', disposition: 'answered' });
  }, CALL_TEST_MS);

  it('tries again when nobody answers, then gives an operator a priority call with the note', async () => {
    const room = await guestPhone('102', 'operator-no-answer.xml', 2);
    const operator = await operatorPhone(bench, alice.username, alice.password, 'operator-hangup.xml', { calls: 1, pauseMs: 4_000, timeoutMs: SIPP_MS });
    phones.push(operator);
    const since = executions.length;
    const events = await SseClient.open(`${bench.sb.url}/v1/events`, { authorization: `Bearer ${SUPERVISOR_KEY}` });
    streams.push(events);
    const id = await bookDueIn(1_000, { extension: '102', retries: 1, retryIntervalS: 10, ringTimeoutS: 5, escalationQueue: '100', note: 'Mr Smith' });

    const tries = await attempts(id, 2);
    expect(tries.map((t) => [t.attempt, t.result, t.sip_status])).toEqual([
      [1, 'no-answer', 487],
      [2, 'no-answer', 487],
    ]);
    const escalated = await until('the escalation', async () => {
      const b = await booking(id);
      return b.escalationCallId ? b : undefined;
    }, WAIT_MS);
    expect(escalated).toMatchObject({ status: 'escalated', lastOutcome: 'escalated', attempt: 2 });
    const callId = escalated.escalationCallId as string;

    // The live calls show the escalation with its note while the operator has it.
    const live = await until('the escalation among the live calls', async () => {
      const res = await bench.sb.api(`/v1/calls/${callId}`);
      return res.status === 200 ? (res.body as Record<string, unknown>) : undefined;
    }, WAIT_MS);
    expect(live).toMatchObject({ callerNumber: '102', callerName: 'Wake-up failed: 102 (Mr Smith)' });
    // And the live event stream: the call arrives with the note, then waits in the queue.
    const arrived = await events.next((e) => e.json.callId === callId && e.json.event === 'arrived', WAIT_MS, 'the escalation\'s arrival');
    expect(arrived.json).toMatchObject({ callerNumber: '102', callerName: 'Wake-up failed: 102 (Mr Smith)', dialledNumber: '100' });
    await events.next((e) => e.json.callId === callId && e.json.event === 'queued', WAIT_MS, 'the escalation queued');

    const took = await operator.run.done;
    expect(took.passed, describeRun(took)).toBe(true);
    const [invite] = requestsOf(took, 'received', 'INVITE');
    expect(invite?.get('From')).toContain('"Front desk: Wake-up failed: 102 (Mr Smith)"');
    expect(invite?.get('X-Call-ID')).toBe(callId);
    // The operator heard the note: the prompt, then the extension's digits.
    await until('the note to the operator', async () => (playbacks('wakeup-failed', since).length > 0 ? true : undefined), WAIT_MS);
    const noteChannel = playbacks('wakeup-failed', since)[0]?.uuid;
    expect(executions.slice(since).some((e) => e.uuid === noteChannel && e.app === 'say' && e.data.includes('102'))).toBe(true);
    expect(await callRow(callId)).toMatchObject({ caller_number: '102', dialled_number: '100', queue_number: '100', priority: 99, disposition: 'answered', operator_username: 'alice' });

    const rang = await room.run.done;
    expect(requestsOf(rang, 'received', 'INVITE')).toHaveLength(2);
  }, CALL_TEST_MS);

  it('places a booking that fell due while the switchboard was stopped at once, and records one beyond the grace period as missed', async () => {
    const phone = await guestPhone('103', 'operator-answer.xml', 1);
    const onTime = await bookDueIn(3_600_000, { extension: '103' });
    const tooLate = await bookDueIn(3_600_000, { extension: '104' });
    await bench.restart(async () => {
      await dueIn(onTime, 1_000);
      // As if the switchboard had been down for 11 minutes (WAKEUP_GRACE_SECONDS is 10 minutes).
      await dueIn(tooLate, -11 * 60_000);
      await new Promise((r) => setTimeout(r, 2_000));
    });
    const [placed] = await attempts(onTime, 1);
    expect(placed).toMatchObject({ attempt: 1, result: 'answered' });
    expect(placed?.lag_ms).toBeGreaterThan(1_000); // due before the start, placed after it
    const done = await phone.run.done;
    expect(done.passed, describeRun(done)).toBe(true);

    const [missed] = await attempts(tooLate, 1);
    expect(missed).toMatchObject({ attempt: 1, result: 'missed', call_id: null });
    expect(await booking(tooLate)).toMatchObject({ status: 'missed', lastOutcome: 'missed' });
  }, CALL_TEST_MS);

  it('two instances racing for the same bookings place each exactly once', async () => {
    const second = await bench.another('sb-b');
    try {
      const phone = await guestPhone('101', 'operator-answer.xml', 4);
      const ids: number[] = [];
      for (let i = 0; i < 4; i++) ids.push(await bookDueIn(3_600_000, { extension: '101' }));
      await bench.db.query(`UPDATE wakeup_calls SET occurrence_at = now() + interval '2 seconds', next_due_at = now() + interval '2 seconds' WHERE id = ANY($1)`, [ids]);
      for (const id of ids) {
        const all = await attempts(id, 1);
        expect(all).toHaveLength(1);
        expect(all[0]).toMatchObject({ result: 'answered' });
      }
      const done = await phone.run.done;
      expect(done.passed, describeRun(done)).toBe(true);
      expect(new Set(requestsOf(done, 'received', 'INVITE').map((r) => r.get('Call-ID'))).size).toBe(4);
      const { rows } = await bench.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM wakeup_attempts WHERE booking_id = ANY($1)`, [ids]);
      expect(rows[0]?.n).toBe(4);
    } finally {
      await second.close();
    }
  }, CALL_TEST_MS);
});
