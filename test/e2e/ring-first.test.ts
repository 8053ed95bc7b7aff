import type esl from 'drachtio-modesl';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, mediaChannels, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { eventSocket } from '../support/freeswitch-env.js';
import { describeRun, offersReceived, requestsOf, responsesOf, type SippResult } from '../support/sipp.js';

/**
 * Ring first (issue 9): a caller to a direct queue with an operator free is not answered onto
 * the media server; the operator's phone is rung with the caller's offer and the caller hears
 * ringback. The happy path (answered with the operator's media) is in queue-call.test.ts; these
 * are the ways it does not go straight through. Queues here are direct whatever TEST_MEDIA_MODE.
 */
const RING_FIRST_MAX_S = 3;
let bench: CallBench;
const phones: Phone[] = [];
let seq = 0;

beforeAll(async () => {
  bench = await startCallBench({ RING_FIRST_MAX_SECONDS: String(RING_FIRST_MAX_S), MAX_MATCH_DELAY_MS: '1000' });
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
    // Cancels 700 ms after the 180, before RING_FIRST_MAX_SECONDS (3) would answer it onto the media server.
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
    // Answers 4.5 s after the INVITE: the caller hears ringback for RING_FIRST_MAX_SECONDS (3), then music.
    const phone = await operatorPhone(bench, q.username, q.password, 'operator-answer.xml', { pauseMs: 4500, calls: 1 });
    phones.push(phone);
    const caller = callers(bench, 'caller-hangup.xml', q.number, { calls: 1, pauseMs: 4000 });
    await ringing(q.operatorId);
    await until('the caller on the media server while the phone rings', async () => ((await mediaChannels(bench)) === 1 ? true : undefined), 8000);
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

  it('keeps a caller unanswered past the first second while operators stay free for them, and answers them with the phone\'s media once matched', async () => {
    const q = await blockedQueue();
    try {
      // Two operators free, one caller ahead: the second caller is rung first, and not matched.
      const second = callers(bench, 'caller-hangup.xml', q.number, { calls: 1, pauseMs: 1000, keys: { prefix: '3200' } });
      const callId = await keptWaiting(q.queueId, '32001');
      expect(await mediaChannels(bench)).toBe(1);

      // The first caller leaves the menu: both are matched, each with an operator.
      const run = await leaveMenu(q, second);
      // Answered with the phone's own description, never moved: the media server never had the call.
      expect(responsesOf(run, 'received', 200, 'INVITE')[0]?.body).toContain('o=operator');
      expect(requestsOf(run, 'received', 'INVITE')).toHaveLength(0);
      const offers = [];
      for (const phone of phones) {
        const result = await phone.run.done;
        expect(result.passed, describeRun(result)).toBe(true);
        offers.push(...offersReceived(result));
      }
      // One INVITE per phone, each with its caller's own offer.
      expect(offers).toHaveLength(2);
      for (const offer of offers) expect(offer.body).toContain('o=caller');
      const [row] = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE call_id = $1', 1, [callId]);
      expect(row).toMatchObject({ disposition: 'answered' });
      const events = await rowsWhenThere<{ event: string }>(bench, 'SELECT event FROM queue_events WHERE call_id = $1 ORDER BY at', 4, [callId]);
      expect(events.map((e) => e.event)).toEqual(['enter', 'offer', 'connect', 'complete-caller']);
      await until('the media server empty', async () => ((await mediaChannels(bench)) === 0 ? true : undefined));
    } finally {
      q.media.close();
    }
  });

  it('refuses new callers (503) while a caller rung first has waited MAX_MATCH_DELAY_MS for a match, and admits them again once matched', async () => {
    const q = await blockedQueue();
    try {
      const second = callers(bench, 'caller-hangup.xml', q.number, { calls: 1, pauseMs: 1000, keys: { prefix: '3500' } });
      await keptWaiting(q.queueId, '35001');
      const refused = await callers(bench, 'caller-refused.xml', q.number, { calls: 1, name: 'refused', keys: { prefix: '3501' } });
      expect(refused.passed, describeRun(refused)).toBe(true);
      const [response] = responsesOf(refused, 'received', 503, 'INVITE');
      expect(response?.get('Warning'), describeRun(refused)).toMatch(/^399 switchboard "over capacity: a caller has waited \d+ ms for an operator to be matched \(limit 1000 ms\)"$/);
      expect(response?.get('Retry-After')).toBe('5');
      const [row] = await rowsWhenThere(bench, "SELECT disposition, sip_status FROM calls WHERE caller_number = '35011'", 1);
      expect(row).toMatchObject({ disposition: 'rejected', sip_status: 503 });

      // The kept caller is matched once the first leaves the menu; then callers come in again.
      await leaveMenu(q, second);
      const later = await callers(bench, 'caller-hangup.xml', q.number, { calls: 1, pauseMs: 300, keys: { prefix: '3502' } });
      expect(later.passed, describeRun(later)).toBe(true);
      expect(responsesOf(later, 'received', 503, 'INVITE')).toEqual([]);
      await until('the media server empty', async () => ((await mediaChannels(bench)) === 0 ? true : undefined));
    } finally {
      q.media.close();
    }
  });

  it('records a caller kept unanswered who gives up (CANCEL) as an abandon; the media server never had the call', async () => {
    const q = await blockedQueue();
    try {
      // Gives up 2.5 s after the 100 Trying: past the first look, before RING_FIRST_MAX_SECONDS.
      const second = callers(bench, 'caller-cancel-unanswered.xml', q.number, { calls: 1, pauseMs: 2500, keys: { prefix: '3300' } });
      const callId = await keptWaiting(q.queueId, '33001');
      const run = await second;
      expect(run.passed, describeRun(run)).toBe(true);
      const [row] = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE call_id = $1', 1, [callId]);
      expect(row).toMatchObject({ disposition: 'abandoned', hangup_by: 'caller', answered_at: null });
      const events = await rowsWhenThere<{ event: string }>(bench, 'SELECT event FROM queue_events WHERE call_id = $1 ORDER BY at', 2, [callId]);
      expect(events.map((e) => e.event)).toEqual(['enter', 'abandon']);
      // Only the first caller, still in the menu, is on the media server.
      expect(await mediaChannels(bench)).toBe(1);
      await q.media.dtmf(q.firstChannel, '*');
      const firstRun = await q.first;
      expect(firstRun.passed, describeRun(firstRun)).toBe(true);
      await until('the media server empty', async () => ((await mediaChannels(bench)) === 0 ? true : undefined));
    } finally {
      q.media.close();
    }
  });
});

interface BlockedQueue {
  number: string;
  queueId: number;
  media: MediaLog;
  /** The first caller's run and their media server channel. */
  first: Promise<SippResult>;
  firstChannel: string;
}

/**
 * A direct queue with two operators free and one caller ahead who cannot be served: they found
 * nobody logged in, were answered onto the media server to wait and pressed the callback key.
 * While the callback menu runs they are not offered, and as they are ahead and need no skill,
 * nobody behind them is either (the queue's turn): the next caller is rung first (two free, one
 * ahead) and is not matched until the first one leaves the menu (`*`).
 */
async function blockedQueue(): Promise<BlockedQueue> {
  seq++;
  const queueId = (await bench.create('/v1/queues', { number: String(300 + seq), name: `Late match ${seq}`, mediaMode: 'direct', ringTimeoutS: 20, wrapupS: 0, announceIntervalS: 1, callbackKey: '5' })).id as number;
  const number = String(8300 + seq);
  await bench.create('/v1/routes', { number, targetType: 'queue', queueId });
  const ops = [await addOperator(bench, `late${seq}a`, `7${seq}01`, { login: false }), await addOperator(bench, `late${seq}b`, `7${seq}02`, { login: false })];
  for (const op of ops) await bench.sb.api(`/v1/queues/${queueId}/members/${op.id}`, { method: 'PUT', body: {} });
  for (const op of ops) phones.push(await operatorPhone(bench, op.username, op.password, 'operator-answer.xml', { calls: 1 }));
  const media = await mediaLog(bench);
  const first = callers(bench, 'caller-hangup.xml', number, { calls: 1, pauseMs: 8000, keys: { prefix: '3100' } });
  const firstChannel = await media.played('callback-offer');
  await media.dtmf(firstChannel, '5');
  await media.played('callback-confirm');
  for (const op of ops) await bench.sb.api(`/v1/operators/${op.id}/state`, { method: 'PUT', body: { state: 'available' } });
  return { number, queueId, media, first, firstChannel };
}

/**
 * The first caller leaves the callback menu (`*`): they and the caller kept behind them are
 * matched, and both calls go through. The kept caller's run.
 */
async function leaveMenu(q: BlockedQueue, kept: Promise<SippResult>): Promise<SippResult> {
  await q.media.dtmf(q.firstChannel, '*');
  const run = await kept;
  expect(run.passed, describeRun(run)).toBe(true);
  const firstRun = await q.first;
  expect(firstRun.passed, describeRun(firstRun)).toBe(true);
  return run;
}

/**
 * The caller from `callerNumber` in line, still waiting unanswered past the first look for a
 * match (1 s after entering the queue); their call id.
 */
async function keptWaiting(queueId: number, callerNumber: string): Promise<string> {
  type Listed = { callId: string; callerNumber: string; state: string };
  const inLine = async (): Promise<Listed[]> => ((await bench.sb.api(`/v1/queues/${queueId}/calls`)).body as { items: Listed[] }).items;
  const listed = await until(`the caller ${callerNumber} in line`, async () => (await inLine()).find((c) => c.callerNumber === callerNumber));
  await new Promise((r) => setTimeout(r, 1800));
  expect((await inLine()).find((c) => c.callId === listed.callId)?.state).toBe('waiting');
  return listed.callId;
}

interface MediaLog {
  /** The channel the prompt `name` was first played to. */
  played(name: string): Promise<string>;
  dtmf(uuid: string, digits: string): Promise<void>;
  close(): void;
}

/** Prompts played on the media server (CHANNEL_EXECUTE), and DTMF into a channel (uuid_recv_dtmf). */
async function mediaLog(b: CallBench): Promise<MediaLog> {
  const conn = await eventSocket(b.freeswitch);
  const played: { uuid: string; data: string }[] = [];
  conn.on('esl::event::CHANNEL_EXECUTE::*', (evt: esl.Event) => {
    const uuid = evt.getHeader('Unique-ID');
    if (uuid && evt.getHeader('Application') === 'playback') played.push({ uuid, data: evt.getHeader('Application-Data') ?? '' });
  });
  await new Promise<void>((resolve) => conn.events('plain', 'CHANNEL_EXECUTE', () => resolve()));
  return {
    played: (name) => until(`the prompt ${name}`, async () => played.find((p) => p.data.endsWith(`/${name}.wav`))?.uuid),
    dtmf: async (uuid, digits) => {
      const body = await new Promise<string>((resolve) => conn.api('uuid_recv_dtmf', `${uuid} ${digits}`, (res) => resolve(res.getBody())));
      if (!body.startsWith('+OK')) throw new Error(`uuid_recv_dtmf ${uuid} ${digits}: ${body.trim()}`);
    },
    close: () => conn.disconnect(),
  };
}
