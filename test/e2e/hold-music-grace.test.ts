import type esl from 'drachtio-modesl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { eventSocket } from '../support/freeswitch-env.js';
import { describeRun } from '../support/sipp.js';

/**
 * Hold music for a caller an operator is free for (issue 9): an anchored caller whose operator
 * answers at once is connected without the music being started and broken off; one whose free
 * operator's phone keeps ringing hears the music after a moment. What each channel is played is
 * read from FreeSWITCH's CHANNEL_EXECUTE events, so the same assertions hold for the stand-in
 * and a real FreeSWITCH.
 */
const MUSIC = 'local_stream://moh';

let bench: CallBench;
let conn: esl.Connection;
const playbacks: { uuid: string; data: string }[] = [];
let alice: Phone | undefined;
let bob: Phone | undefined;

/** A queue of its own, anchored whatever TEST_MEDIA_MODE says, with one operator logged in. */
async function queueWithOperator(number: string, dialled: string, username: string, answerMs: number): Promise<Phone> {
  const queueId = (await bench.create('/v1/queues', { number, name: `Queue ${number}`, mediaMode: 'anchored', holdMusic: MUSIC, ringTimeoutS: 10, wrapupS: 0, announceIntervalS: 0 })).id as number;
  await bench.create('/v1/routes', { number: dialled, targetType: 'queue', queueId });
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
    if (uuid && evt.getHeader('Application') === 'playback') playbacks.push({ uuid, data: evt.getHeader('Application-Data') ?? '' });
  });
  await new Promise<void>((resolve) => conn.events('plain', 'CHANNEL_EXECUTE', () => resolve()));
  alice = await queueWithOperator('100', '8000', 'alice', 0);
  bob = await queueWithOperator('200', '8001', 'bob', 2_500);
});

afterAll(async () => {
  alice?.run.kill();
  bob?.run.kill();
  conn?.disconnect();
  await bench?.close();
});

describe('hold music while an operator is free', () => {
  it('connects a caller whose operator answers at once without starting the music', async () => {
    const since = playbacks.length;
    const caller = await callers(bench, 'caller.xml', '8000', { calls: 1 });
    expect(caller.passed, describeRun(caller)).toBe(true);
    const operator = await alice?.run.done;
    expect(operator?.passed, operator && describeRun(operator)).toBe(true);
    const [cdr] = await rowsWhenThere<{ disposition: string }>(bench, "SELECT disposition FROM calls WHERE dialled_number = '8000'", 1);
    expect(cdr?.disposition).toBe('answered');
    expect(playbacks.slice(since).filter((p) => p.data === MUSIC)).toEqual([]);
  });

  it('plays the music to a caller whose free operator\'s phone keeps ringing', async () => {
    const since = playbacks.length;
    const call = callers(bench, 'caller.xml', '8001', { calls: 1 });
    await until('the caller hearing the hold music', async () => playbacks.slice(since).find((p) => p.data === MUSIC), 10_000);
    const caller = await call;
    expect(caller.passed, describeRun(caller)).toBe(true);
    const operator = await bob?.run.done;
    expect(operator?.passed, operator && describeRun(operator)).toBe(true);
  });
});
