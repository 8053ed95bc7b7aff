import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type esl from 'drachtio-modesl';
import { eventSocket } from '../support/freeswitch-env.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, startCallBench, talkingAgain, until, type CallBench, type TestOperator } from '../support/call-bench.js';
import { describeRun, flow, requestsOf, type SippResult, type SippRun } from '../support/sipp.js';

/**
 * The work-number greeting and the satisfaction rating (issue #10, points 1 and 2) over real SIP
 * through both benches. What each channel is played (playback and say) is read from FreeSWITCH's
 * CHANNEL_EXECUTE events and DTMF is sent with uuid_recv_dtmf, so the same assertions hold for
 * the stand-in and a real FreeSWITCH (which lacks the prompt files and plays them in no time).
 * One file is real: a 20-second silent greeting, for hanging up during the greeting.
 */
const LONG_GREETING_MS = 20_000;
// Each test is one call; the machine the tests run on may be busy (shared by other work), so
// waits are long: they bound a failure, they do not measure speed.
const CALL_TEST_MS = 300_000;
const SIPP_MS = 240_000;
const WAIT_MS = 60_000;
const promptsDir = mkdtempSync(path.join(tmpdir(), 'sb-greeting-'));
const longGreeting = path.join(promptsDir, 'long-greeting.wav');

let bench: CallBench;
let media: MediaLog;
let queueId: number;
let alice: TestOperator;
/** The operator phones of the running test, stopped after it whatever happened. */
let phones: SippRun[] = [];

/** A silent 8 kHz 16-bit mono WAV file of `ms` milliseconds. */
function silentWav(ms: number): Buffer {
  const data = Buffer.alloc(Math.round(ms * 8) * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

interface Execution {
  uuid: string;
  app: string;
  data: string;
}

interface MediaLog {
  /** Every playback and say started, in order. */
  readonly executions: Execution[];
  /** The channel the prompt `name` (file name without .wav) is played to, the `nth` time (from 1) since `since`. */
  prompt(name: string, since: number, nth?: number): Promise<string>;
  dtmf(uuid: string, digits: string): Promise<void>;
  close(): void;
}

async function mediaLog(b: CallBench): Promise<MediaLog> {
  const conn = await eventSocket(b.freeswitch);
  const executions: Execution[] = [];
  conn.on('esl::event::CHANNEL_EXECUTE::*', (evt: esl.Event) => {
    const app = evt.getHeader('Application') ?? '';
    const uuid = evt.getHeader('Unique-ID');
    if (uuid && (app === 'playback' || app === 'say')) executions.push({ uuid, app, data: evt.getHeader('Application-Data') ?? '' });
  });
  await new Promise<void>((resolve) => conn.events('plain', 'CHANNEL_EXECUTE', () => resolve()));
  return {
    executions,
    prompt: (name, since, nth = 1) =>
      until(`the prompt ${name} (${nth})`, async () => executions.slice(since).filter((e) => e.app === 'playback' && e.data.endsWith(`/${name}.wav`))[nth - 1]?.uuid, WAIT_MS),
    dtmf: async (uuid, digits) => {
      const body = await new Promise<string>((resolve) => conn.api('uuid_recv_dtmf', `${uuid} ${digits}`, (res) => resolve(res.getBody())));
      if (!body.startsWith('+OK')) throw new Error(`uuid_recv_dtmf ${uuid} ${digits}: ${body.trim()}`);
    },
    close: () => conn.disconnect(),
  };
}

beforeAll(async () => {
  writeFileSync(longGreeting, silentWav(LONG_GREETING_MS));
  // On the stand-in "welcome" lasts 3 s, long enough to see that nobody is connected meanwhile.
  const files = { [longGreeting]: LONG_GREETING_MS, [path.join(promptsDir, 'welcome.wav')]: 3_000 };
  bench = await startCallBench({ PROMPTS_DIR: promptsDir }, { media: { files } });
  media = await mediaLog(bench);
  queueId = (await bench.create('/v1/queues', { number: '500', name: 'Reception', ringTimeoutS: 30, wrapupS: 0, announceIntervalS: 0 })).id as number;
  await bench.create('/v1/routes', { number: '8500', targetType: 'queue', queueId, allowOutside: true });
  alice = await addOperator(bench, 'alice', '67354');
  await bench.sb.api(`/v1/queues/${queueId}/members/${alice.id}`, { method: 'PUT', body: {} });
});

afterEach(() => {
  for (const run of phones) run.kill();
  phones = [];
});

afterAll(async () => {
  media?.close();
  await bench?.close();
  rmSync(promptsDir, { recursive: true, force: true });
});

async function settings(body: Record<string, unknown>): Promise<void> {
  const res = await bench.sb.api(`/v1/queues/${queueId}`, { method: 'PATCH', body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body).toMatchObject(body);
  // The switchboard reloads its configuration on the change's event, well before the next call
  // (the operator's phone registers first).
}

/** Alice's phone for one call: hangs up after `talkMs`, or (talkMs undefined) waits for the BYE. */
async function alicePhone(talkMs?: number): Promise<{ done: Promise<SippResult> }> {
  await until('alice available', async () => {
    const res = await bench.sb.api(`/v1/operators/${alice.id}/state`);
    return (res.body as { state: string }).state === 'available' ? true : undefined;
  }, WAIT_MS);
  const phone = await operatorPhone(bench, alice.username, alice.password, talkMs === undefined ? 'operator-answer.xml' : 'operator-hangup.xml', { calls: 1, pauseMs: talkMs ?? 0, timeoutMs: SIPP_MS });
  phones.push(phone.run);
  // Wrapped: an async function returning the promise itself would wait for the phone to finish.
  return { done: phone.run.done };
}

/** A caller who stays until hung up (pauseMs undefined) or hangs up `pauseMs` after the answer. */
function caller(prefix: string, pauseMs?: number): Promise<SippResult> {
  if (pauseMs === undefined) return callers(bench, 'caller.xml', '8500', { calls: 1, keys: { prefix }, timeoutMs: SIPP_MS });
  return callers(bench, 'caller-hangup.xml', '8500', { calls: 1, keys: { prefix }, pauseMs, timeoutMs: SIPP_MS });
}

type CallRow = Record<string, unknown> & { call_id: string };

async function cdrOf(callerNumber: string): Promise<CallRow> {
  const [row] = await rowsWhenThere<CallRow>(
    bench,
    `SELECT call_id, disposition, hangup_by, rating, rating_result, rating_operator_id, talk_s::float8 AS talk_s,
            EXTRACT(EPOCH FROM ended_at - answered_at)::float8 AS answered_s
     FROM calls WHERE caller_number = $1`,
    1,
    [callerNumber],
    WAIT_MS,
  );
  return row as CallRow;
}

async function legsOf(callId: string): Promise<{ role: string; hangup_by: string }[]> {
  return rowsWhenThere(bench, 'SELECT role, hangup_by FROM call_legs WHERE call_id = $1 ORDER BY started_at', 2, [callId], WAIT_MS);
}

async function noChannelsLeft(): Promise<void> {
  const standIn = bench.freeswitch.standIn;
  if (standIn) await until('every media channel gone', async () => (standIn.model.channels().length === 0 ? true : undefined), WAIT_MS);
}

function passed(run: SippResult): void {
  expect(run.passed, describeRun(run)).toBe(true);
}

describe('work-number greeting', () => {
  it('the caller hears the greeting and the work number digit by digit, the operator the queue\'s name, then they talk', async () => {
    await settings({ greeting: true, greetingPrompt: 'welcome', whisper: true, rating: false });
    const since = media.executions.length;
    // Talks 6 s after answering: longer than the greeting.
    const phone = await alicePhone(6000);
    const run = caller('3101');
    const callerUuid = await media.prompt('welcome', since);
    const standIn = bench.freeswitch.standIn;
    // Not connected while the greeting plays.
    if (standIn) expect(standIn.model.bridgedWith(callerUuid)).toBeUndefined();
    const operatorUuid = await media.prompt('queue-500', since);
    expect(operatorUuid).not.toBe(callerUuid);
    const say = await until('the work number said', async () => media.executions.slice(since).find((e) => e.app === 'say'), WAIT_MS);
    expect(say).toEqual({ uuid: callerUuid, app: 'say', data: 'en NUMBER iterated 67354' });
    // The caller hears the greeting, then the number; the operator hears nothing else before.
    const toCaller = media.executions.slice(since).filter((e) => e.uuid === callerUuid && !e.data.startsWith('local_stream'));
    expect(toCaller.map((e) => e.app)).toEqual(['playback', 'say']);
    expect(media.executions.slice(since).filter((e) => e.uuid === operatorUuid).map((e) => e.data)).toEqual([`${promptsDir}/queue-500.wav`]);
    await talkingAgain(bench, (model) => model.model.bridgedWith(callerUuid) === operatorUuid, WAIT_MS);

    passed(await run);
    passed(await phone.done);
    const [invite] = requestsOf(await phone.done, 'received', 'INVITE');
    const cdr = await cdrOf('31011');
    expect(cdr.call_id).toBe(invite?.get('X-Call-ID'));
    expect(cdr).toMatchObject({ disposition: 'answered', hangup_by: 'operator', rating: null, rating_result: null, rating_operator_id: null });
    await noChannelsLeft();
  }, CALL_TEST_MS);

  it('the caller hanging up during the greeting ends the call: the operator gets a BYE, nothing is left', async () => {
    await settings({ greeting: true, greetingPrompt: 'long-greeting', whisper: false, rating: true });
    const since = media.executions.length;
    const phone = await alicePhone();
    // Hangs up 6 s after the switchboard answered: in the 20-second greeting.
    const run = caller('3102', 6000);
    const callerUuid = await media.prompt('long-greeting', since);
    passed(await run);
    const operator = await phone.done;
    passed(operator);
    expect(flow(operator).slice(-2)).toEqual(['< BYE', '> 200 BYE']);
    const cdr = await cdrOf('31021');
    expect(cdr).toMatchObject({ disposition: 'answered', hangup_by: 'caller', rating_result: null });
    expect(await legsOf(cdr.call_id)).toEqual([{ role: 'caller', hangup_by: 'caller' }, { role: 'operator', hangup_by: 'caller' }]);
    // Never connected, no work number, no rating.
    expect(media.executions.slice(since).filter((e) => e.uuid === callerUuid && e.app === 'say')).toEqual([]);
    expect(media.executions.slice(since).some((e) => e.data.endsWith('/rating.wav'))).toBe(false);
    await noChannelsLeft();
  }, CALL_TEST_MS);

  it('the operator hanging up during the greeting hangs the caller up, without asking for a rating', async () => {
    await settings({ greeting: true, greetingPrompt: 'long-greeting', whisper: false, rating: true });
    const since = media.executions.length;
    const phone = await alicePhone(1000);
    const run = caller('3103');
    await media.prompt('long-greeting', since);
    const result = await run;
    passed(result);
    expect(flow(result).slice(-2)).toEqual(['< BYE', '> 200 BYE']);
    passed(await phone.done);
    const cdr = await cdrOf('31031');
    expect(cdr).toMatchObject({ disposition: 'answered', hangup_by: 'operator', rating: null, rating_result: null });
    expect(media.executions.slice(since).some((e) => e.data.endsWith('/rating.wav'))).toBe(false);
    await noChannelsLeft();
  }, CALL_TEST_MS);
});

describe('satisfaction rating', () => {
  /** A call in which the operator hangs up after 1 s; `answer` acts on the caller's channel once asked. */
  async function ratedCall(prefix: string, answer: (callerUuid: string, since: number) => Promise<void>): Promise<{ run: SippResult; cdr: CallRow }> {
    const since = media.executions.length;
    const phone = await alicePhone(1000);
    const run = caller(prefix);
    const callerUuid = await media.prompt('rating', since);
    await answer(callerUuid, since);
    const result = await run;
    passed(result);
    expect(flow(result).slice(-2)).toEqual(['< BYE', '> 200 BYE']);
    passed(await phone.done);
    return { run: result, cdr: await cdrOf(`${prefix}1`) };
  }

  it('the operator hangs up first: the caller presses 4, hears thanks, and the rating is on the record', async () => {
    await settings({ greeting: false, whisper: false, rating: true, ratingTimeoutS: 10 });
    const { cdr } = await ratedCall('3201', async (uuid, since) => {
      await media.dtmf(uuid, '4');
      expect(await media.prompt('rating-thanks', since)).toBe(uuid);
    });
    expect(cdr).toMatchObject({ disposition: 'answered', hangup_by: 'operator', rating: 4, rating_result: 'rated', rating_operator_id: alice.id });
    // Talk time ends when the operator hung up, not after the rating.
    expect(cdr.talk_s as number).toBeLessThan(cdr.answered_s as number);
    expect(await legsOf(cdr.call_id)).toEqual([{ role: 'caller', hangup_by: 'system' }, { role: 'operator', hangup_by: 'operator' }]);
    const events = await rowsWhenThere<{ event: string }>(bench, 'SELECT event FROM queue_events WHERE call_id = $1 ORDER BY at', 4, [cdr.call_id]);
    expect(events.map((e) => e.event)).toEqual(['enter', 'offer', 'connect', 'complete-operator']);
    await noChannelsLeft();
  }, CALL_TEST_MS);

  it('an invalid key is told so and asked once more; a valid one then counts', async () => {
    const { cdr } = await ratedCall('3202', async (uuid, since) => {
      await media.dtmf(uuid, '9');
      expect(await media.prompt('rating-invalid', since)).toBe(uuid);
      expect(await media.prompt('rating', since, 2)).toBe(uuid);
      await media.dtmf(uuid, '2');
      await media.prompt('rating-thanks', since);
    });
    expect(cdr).toMatchObject({ rating: 2, rating_result: 'rated', hangup_by: 'operator' });
    await noChannelsLeft();
  }, CALL_TEST_MS);

  it('a second invalid key is "not rated": goodbye and hang-up', async () => {
    const since3203 = media.executions.length;
    const { cdr } = await ratedCall('3203', async (uuid, since) => {
      await media.dtmf(uuid, '0');
      await media.prompt('rating', since, 2);
      await media.dtmf(uuid, '#');
      expect(await media.prompt('goodbye', since)).toBe(uuid);
    });
    expect(cdr).toMatchObject({ rating: null, rating_result: 'not-rated', rating_operator_id: alice.id, hangup_by: 'operator' });
    expect(media.executions.slice(since3203).some((e) => e.data.endsWith('/rating-thanks.wav'))).toBe(false);
    await noChannelsLeft();
  }, CALL_TEST_MS);

  it('no key within the timeout is "not rated"', async () => {
    await settings({ ratingTimeoutS: 3 });
    const { cdr } = await ratedCall('3204', async (uuid, since) => {
      expect(await media.prompt('goodbye', since)).toBe(uuid);
    });
    expect(cdr).toMatchObject({ rating: null, rating_result: 'not-rated', hangup_by: 'operator' });
    await noChannelsLeft();
  }, CALL_TEST_MS);

  it('the caller hanging up during the rating is "not rated"; the call is still the operator\'s to have ended', async () => {
    await settings({ ratingTimeoutS: 30 });
    const since = media.executions.length;
    const phone = await alicePhone(1000);
    // The operator hangs up 1 s after answering; the caller 8 s after arriving: during the rating.
    const run = caller('3205', 8000);
    await media.prompt('rating', since);
    passed(await run);
    passed(await phone.done);
    const cdr = await cdrOf('32051');
    expect(cdr).toMatchObject({ rating: null, rating_result: 'not-rated', hangup_by: 'operator' });
    expect(await legsOf(cdr.call_id)).toEqual([{ role: 'caller', hangup_by: 'caller' }, { role: 'operator', hangup_by: 'operator' }]);
    expect(media.executions.slice(since).some((e) => e.data.endsWith('/goodbye.wav'))).toBe(false);
    await noChannelsLeft();
  }, CALL_TEST_MS);

  it('the caller hanging up first is not asked', async () => {
    const since = media.executions.length;
    const phone = await alicePhone();
    passed(await caller('3206', 5000));
    passed(await phone.done);
    const cdr = await cdrOf('32061');
    expect(cdr).toMatchObject({ disposition: 'answered', hangup_by: 'caller', rating: null, rating_result: null, rating_operator_id: null });
    expect(media.executions.slice(since).some((e) => e.data.endsWith('/rating.wav'))).toBe(false);
    await noChannelsLeft();
  }, CALL_TEST_MS);

  it('the statistics count rated and not-rated calls and average the ratings, per queue and per operator', async () => {
    const range = `from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`;
    const queues = await bench.sb.api(`/v1/stats/queues?${range}&queueId=${queueId}`);
    expect(queues.status).toBe(200);
    const [q] = (queues.body as { items: { intervals: Record<string, unknown>[] }[] }).items;
    // Rated 4 and 2; not rated: two invalid keys, no key, hung up.
    expect(q?.intervals[0]).toMatchObject({ rated: 2, notRated: 3, avgRating: 3 });
    const operators = await bench.sb.api(`/v1/stats/operators?${range}&operatorId=${alice.id}`);
    const [o] = (operators.body as { items: { intervals: Record<string, unknown>[] }[] }).items;
    expect(o?.intervals[0]).toMatchObject({ rated: 2, notRated: 3, avgRating: 3 });
  }, CALL_TEST_MS);
});
