import type esl from 'drachtio-modesl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callers, mediaChannels, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { eventSocket } from '../support/freeswitch-env.js';
import { describeRun } from '../support/sipp.js';

/**
 * What FreeSWITCH is asked to do per call (issue 9: its CPU is the limit on media paths). Hold
 * music for a caller an operator is free for: an anchored caller whose operator answers at once is
 * connected without the music being started and broken off; one whose free operator's phone keeps
 * ringing hears the music after a moment. A direct caller who waited is hung up on FreeSWITCH
 * once moved to the operator's phone, without a transfer to park first. What each channel runs is
 * read from FreeSWITCH's CHANNEL_EXECUTE events, so the same assertions hold for the stand-in and
 * a real FreeSWITCH.
 */
const MUSIC = 'local_stream://moh';

let bench: CallBench;
let conn: esl.Connection;
const executions: { uuid: string; app: string; data: string }[] = [];
const playbacks = (since: number): { uuid: string; data: string }[] => executions.slice(since).filter((e) => e.app === 'playback');
let alice: Phone | undefined;
let bob: Phone | undefined;
let carol: Phone | undefined;

/**
 * A queue of its own in `mediaMode` whatever TEST_MEDIA_MODE says, with one operator logged in.
 * `skill`: the route asks for a skill nobody has, so callers wait a second before any operator.
 */
async function queueWithOperator(number: string, dialled: string, username: string, answerMs: number, mediaMode = 'anchored', skill?: string): Promise<Phone> {
  const queue = { number, name: `Queue ${number}`, mediaMode, holdMusic: MUSIC, ringTimeoutS: 10, wrapupS: 0, announceIntervalS: 0, skillWaitS: skill ? 1 : 0 };
  const queueId = (await bench.create('/v1/queues', queue)).id as number;
  await bench.create('/v1/routes', { number: dialled, targetType: 'queue', queueId, ...(skill ? { skill } : {}) });
  const operatorId = (await bench.create('/v1/operators', { username, password: `${username}-secret`, displayName: username, workNumber: `6${number}` })).id as number;
  await bench.sb.api(`/v1/queues/${queueId}/members/${operatorId}`, { method: 'PUT', body: {} });
  const phone = await operatorPhone(bench, username, `${username}-secret`, 'operator-auto-answer.xml', { calls: 1, keys: { answer_ms: String(answerMs), talk_ms: '1500' } });
  await bench.sb.api(`/v1/operators/${operatorId}/state`, { method: 'PUT', body: { state: 'available' } });
  return phone;
}

beforeAll(async () => {
  bench = await startCallBench();
  conn = await eventSocket(bench.freeswitch);
  conn.on('esl::event::CHANNEL_EXECUTE::*', (evt: esl.Event) => {
    const uuid = evt.getHeader('Unique-ID');
    const app = evt.getHeader('Application') ?? '';
    if (uuid && (app === 'playback' || app === 'park')) executions.push({ uuid, app, data: evt.getHeader('Application-Data') ?? '' });
  });
  await new Promise<void>((resolve) => conn.events('plain', 'CHANNEL_EXECUTE', () => resolve()));
  alice = await queueWithOperator('100', '8000', 'alice', 0);
  bob = await queueWithOperator('200', '8001', 'bob', 2_500);
  carol = await queueWithOperator('300', '8002', 'carol', 0, 'direct', 'nobody-has-it');
});

afterAll(async () => {
  alice?.run.kill();
  bob?.run.kill();
  carol?.run.kill();
  conn?.disconnect();
  await bench?.close();
});

describe('hold music while an operator is free', () => {
  it('connects a caller whose operator answers at once without starting the music', async () => {
    const since = executions.length;
    const caller = await callers(bench, 'caller.xml', '8000', { calls: 1 });
    expect(caller.passed, describeRun(caller)).toBe(true);
    const operator = await alice?.run.done;
    expect(operator?.passed, operator && describeRun(operator)).toBe(true);
    const [cdr] = await rowsWhenThere<{ disposition: string }>(bench, "SELECT disposition FROM calls WHERE dialled_number = '8000'", 1);
    expect(cdr?.disposition).toBe('answered');
    expect(playbacks(since).filter((p) => p.data === MUSIC)).toEqual([]);
  });

  it('plays the music to a caller whose free operator\'s phone keeps ringing', async () => {
    const since = executions.length;
    const call = callers(bench, 'caller.xml', '8001', { calls: 1 });
    await until('the caller hearing the hold music', async () => playbacks(since).find((p) => p.data === MUSIC), 10_000);
    const caller = await call;
    expect(caller.passed, describeRun(caller)).toBe(true);
    const operator = await bob?.run.done;
    expect(operator?.passed, operator && describeRun(operator)).toBe(true);
  });

  it('hangs up a direct caller who waited once they talk to the operator, without parking them first', async () => {
    const since = executions.length;
    const call = callers(bench, 'caller.xml', '8002', { calls: 1 });
    const heard = await until('the caller hearing the hold music', async () => playbacks(since).find((p) => p.data === MUSIC), 10_000);
    await until('the media server to let go of the caller', async () => ((await mediaChannels(bench)) === 0 ? true : undefined), 15_000);
    const caller = await call;
    expect(caller.passed, describeRun(caller)).toBe(true);
    const operator = await carol?.run.done;
    expect(operator?.passed, operator && describeRun(operator)).toBe(true);
    const [cdr] = await rowsWhenThere<{ disposition: string }>(bench, "SELECT disposition FROM calls WHERE dialled_number = '8002'", 1);
    expect(cdr?.disposition).toBe('answered');
    expect(executions.slice(since).filter((e) => e.uuid === heard.uuid && e.app === 'park')).toEqual([]);
  });
});
