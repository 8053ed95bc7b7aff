import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type esl from 'drachtio-modesl';
import { eventSocket } from '../support/freeswitch-env.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench } from '../support/call-bench.js';
import { describeRun, flow, responsesOf } from '../support/sipp.js';

/**
 * Number changes and withdrawals over real SIP through both benches: a caller of an old number
 * hears the intercept announcement as early media (183), then gets 410 Gone or is put through to
 * the new number; after the intercept period (or before it starts) the old number is routed as
 * any other. What the media server played is read from its event socket (CHANNEL_EXECUTE), the
 * same against the stand-in and a real FreeSWITCH.
 */
let bench: CallBench;
let media: MediaLog;
let madePrompts: string | undefined;

/**
 * Prompt files for the test: a real FreeSWITCH on this machine plays them (3 s of silence each,
 * long enough to hang up during one); the stand-in plays any file for a set time. PROMPTS_DIR
 * from the environment (real prompts) wins.
 */
function promptsDir(): string {
  if (process.env.PROMPTS_DIR) return process.env.PROMPTS_DIR;
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-prompts-'));
  madePrompts = dir;
  const samples = 8000 * 3;
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(8000, 24);
  wav.writeUInt32LE(16000, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36);
  wav.writeUInt32LE(samples * 2, 40);
  for (const name of ['number-withdrawn', 'number-changed', 'number-connecting']) writeFileSync(path.join(dir, `${name}.wav`), wav);
  return dir;
}

interface Execution {
  uuid: string;
  app: string;
  data: string;
}

interface MediaLog {
  /** Every playback and say the media server started, in order. */
  executions: Execution[];
  /** The applications run on the channel that played `file` (by its name, e.g. number-changed). */
  channelOf(file: string): Promise<Execution[]>;
  /** How many channels the media server has (`show channels count`). */
  channelCount(): Promise<number>;
  close(): void;
}

async function mediaLog(): Promise<MediaLog> {
  const conn = await eventSocket(bench.freeswitch);
  const executions: Execution[] = [];
  conn.on('esl::event::CHANNEL_EXECUTE::*', (evt: esl.Event) => {
    const app = evt.getHeader('Application') ?? '';
    if (app !== 'playback' && app !== 'say') return;
    executions.push({ uuid: evt.getHeader('Unique-ID') ?? '', app, data: evt.getHeader('Application-Data') ?? '' });
  });
  await new Promise<void>((resolve) => conn.events('plain', 'CHANNEL_EXECUTE', () => resolve()));
  return {
    executions,
    channelOf: async (file) => {
      const first = await until(`a channel to be played ${file}`, async () => executions.find((e) => e.app === 'playback' && e.data.endsWith(`/${file}.wav`)));
      return executions.filter((e) => e.uuid === first.uuid);
    },
    channelCount: () =>
      new Promise((resolve) => conn.api('show', 'channels count', (res) => resolve(Number(/(\d+) total/.exec(res.getBody())?.[1] ?? NaN)))),
    close: () => conn.disconnect(),
  };
}

beforeAll(async () => {
  bench = await startCallBench({ PROMPTS_DIR: promptsDir() });
  media = await mediaLog();
});

// Each test looks only at what was played during it.
beforeEach(() => {
  media.executions.length = 0;
});

afterAll(async () => {
  media?.close();
  await bench?.close();
  if (madePrompts) rmSync(madePrompts, { recursive: true, force: true });
});

async function change(body: Record<string, unknown>): Promise<number> {
  return (await bench.create('/v1/number-changes', body)).id as number;
}

async function cdrOf(callerNumber: string): Promise<Record<string, unknown>> {
  const [row] = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE caller_number = $1', 1, [callerNumber]);
  return row as Record<string, unknown>;
}

/** No media server channel is left over once the calls are done (the stand-in's model, or a real FreeSWITCH's count). */
async function noChannelsLeft(): Promise<void> {
  const standIn = bench.freeswitch.standIn;
  const count = standIn ? async (): Promise<number> => standIn.model.channels().length : () => media.channelCount();
  await until('no media server channels left', async () => ((await count()) === 0 ? true : undefined));
}

describe('an intercepted number', () => {
  it('withdrawn: "no longer in service" as early media, then 410 Gone; the record says so', async () => {
    await change({ oldNumber: '4100', newNumber: null, note: 'old fax' });
    const run = await callers(bench, 'caller-intercepted.xml', '4100', { calls: 1, keys: { prefix: '2410' } });
    expect(run.passed, describeRun(run)).toBe(true);
    const [early] = responsesOf(run, 'received', 183);
    expect(early?.get('Content-Type')).toBe('application/sdp');
    expect(early?.body).toMatch(/^v=0/);
    const heard = await media.channelOf('number-withdrawn');
    expect(heard.map((e) => e.app)).toEqual(['playback']);
    expect(await cdrOf('24101')).toMatchObject({
      dialled_number: '4100', intercept: 'withdrawn', intercept_new_number: null, disposition: 'rejected', sip_status: 410, answered_at: null,
    });
    await noChannelsLeft();
  });

  it('changed: the new number said digit by digit, then 410 Gone', async () => {
    await change({ oldNumber: '4101', newNumber: '+44204201' });
    const run = await callers(bench, 'caller-intercepted.xml', '4101', { calls: 1, keys: { prefix: '2411' } });
    expect(run.passed, describeRun(run)).toBe(true);
    const heard = await media.channelOf('number-changed');
    expect(heard.map((e) => e.app)).toEqual(['playback', 'say']);
    expect(heard[1]?.data).toBe('en NUMBER iterated 44204201');
    expect(await cdrOf('24111')).toMatchObject({ intercept: 'changed', intercept_new_number: '+44204201', disposition: 'rejected', sip_status: 410 });
    await noChannelsLeft();
  });

  it('connect to the new number: after the announcement the caller reaches the new number\'s queue and its operator', async () => {
    const queueId = (await bench.create('/v1/queues', { number: '4202', name: 'Sales', ringTimeoutS: 5, wrapupS: 1, announceIntervalS: 0 })).id as number;
    await bench.create('/v1/routes', { number: '4202', targetType: 'queue', queueId });
    const op = (await bench.create('/v1/operators', { username: 'nina', password: 'nina-secret', displayName: 'Nina', workNumber: '4299' })).id as number;
    await bench.sb.api(`/v1/queues/${queueId}/members/${op}`, { method: 'PUT', body: {} });
    const phone = await operatorPhone(bench, 'nina', 'nina-secret', 'operator-hangup.xml', { pauseMs: 500, calls: 1 });
    await bench.sb.api(`/v1/operators/${op}/state`, { method: 'PUT', body: { state: 'available' } });
    await change({ oldNumber: '4102', newNumber: '4202', connectToNew: true });

    const run = await callers(bench, 'caller.xml', '4102', { calls: 1, keys: { prefix: '2412' } });
    expect(run.passed, describeRun(run)).toBe(true);
    expect(flow(run).filter((l) => l.startsWith('<'))).toEqual(expect.arrayContaining(['< 183 INVITE', '< 200 INVITE', '< BYE']));
    // The caller keeps the media server endpoint they heard: the answer is the 183's.
    const [early] = responsesOf(run, 'received', 183);
    const [answer] = responsesOf(run, 'received', 200, 'INVITE');
    expect(answer?.body).toBe(early?.body);
    expect((await phone.run.done).passed).toBe(true);
    const heard = await media.channelOf('number-changed');
    // Then the same channel goes on into the queue (its hold music may follow).
    expect(heard.slice(0, 3).map((e) => (e.app === 'say' ? e.data : path.basename(e.data)))).toEqual(['number-changed.wav', 'en NUMBER iterated 4202', 'number-connecting.wav']);
    expect(await cdrOf('24121')).toMatchObject({
      dialled_number: '4102', intercept: 'connected', intercept_new_number: '4202', route_type: 'queue', queue_number: '4202', operator_username: 'nina', disposition: 'answered',
    });
    await noChannelsLeft();
  });

  it('connect to an operator\'s own number: the operator\'s phone rings after the announcement and the caller keeps the endpoint', async () => {
    const op = (await bench.create('/v1/operators', { username: 'omar', password: 'omar-secret', displayName: 'Omar', workNumber: '4207' })).id as number;
    await bench.create('/v1/routes', { number: '4207', targetType: 'operator', operatorId: op });
    const phone = await operatorPhone(bench, 'omar', 'omar-secret', 'operator-hangup.xml', { pauseMs: 500, calls: 1 });
    await bench.sb.api(`/v1/operators/${op}/state`, { method: 'PUT', body: { state: 'available' } });
    await change({ oldNumber: '4107', newNumber: '4207', connectToNew: true });

    const run = await callers(bench, 'caller.xml', '4107', { calls: 1, keys: { prefix: '2418' } });
    expect(run.passed, describeRun(run)).toBe(true);
    expect(flow(run)).toEqual(expect.arrayContaining(['< 183 INVITE', '< 180 INVITE', '< 200 INVITE']));
    expect(responsesOf(run, 'received', 200, 'INVITE')[0]?.body).toBe(responsesOf(run, 'received', 183)[0]?.body);
    expect((await phone.run.done).passed).toBe(true);
    expect(await cdrOf('24181')).toMatchObject({ intercept: 'connected', route_type: 'operator', operator_username: 'omar', disposition: 'answered' });
    await noChannelsLeft();
  });

  it('connect to a new number that leads nowhere: the announcement, then that number\'s 404, and the endpoint is released', async () => {
    await change({ oldNumber: '4108', newNumber: '4299', connectToNew: true });
    const run = await callers(bench, 'caller-refused.xml', '4108', { calls: 1, keys: { prefix: '2419' } });
    expect(run.passed, describeRun(run)).toBe(true);
    expect(flow(run)).toEqual(expect.arrayContaining(['< 183 INVITE', '< 404 INVITE']));
    expect(await cdrOf('24191')).toMatchObject({ intercept: 'connected', intercept_new_number: '4299', disposition: 'rejected', sip_status: 404 });
    await noChannelsLeft();
  });

  it('a caller who hangs up during the announcement is an abandoned call and leaves no channel behind', async () => {
    await change({ oldNumber: '4103', newNumber: '4203' });
    const run = await callers(bench, 'caller-cancel-early-media.xml', '4103', { calls: 1, keys: { prefix: '2413' }, pauseMs: 50 });
    expect(run.passed, describeRun(run)).toBe(true);
    expect(await cdrOf('24131')).toMatchObject({ intercept: 'changed', disposition: 'abandoned', hangup_by: 'caller', sip_status: 487 });
    await noChannelsLeft();
  });
});

describe('outside the intercept period', () => {
  it('once the period is over, or before it starts, the old number is unknown again: 404 and no intercept', async () => {
    const until = new Date(Date.now() + 1_500).toISOString();
    await change({ oldNumber: '4104', newNumber: '4204', effectiveFrom: new Date(Date.now() - 60_000).toISOString(), interceptUntil: until });
    await change({ oldNumber: '4105', effectiveFrom: new Date(Date.now() + 3_600_000).toISOString() });
    await new Promise((r) => setTimeout(r, Date.parse(until) - Date.now() + 100));
    for (const [number, prefix] of [['4104', '2414'], ['4105', '2415']] as const) {
      const run = await callers(bench, 'caller-refused.xml', number, { calls: 1, keys: { prefix } });
      expect(run.passed, describeRun(run)).toBe(true);
      expect(flow(run)).not.toContain('< 183 INVITE');
      expect(responsesOf(run, 'received', 404)).toHaveLength(1);
      expect(await cdrOf(`${prefix}1`)).toMatchObject({ intercept: null, disposition: 'rejected', sip_status: 404 });
    }
  });

  it('a route left on the old number takes over again when the period is over', async () => {
    const roomId = (await bench.create('/v1/rooms', { number: '4106', name: 'Old room' })).id as number;
    await bench.create('/v1/routes', { number: '4106', targetType: 'room', roomId, allowOutside: true });
    const id = await change({ oldNumber: '4106' });
    const during = await callers(bench, 'caller-intercepted.xml', '4106', { calls: 1, keys: { prefix: '2416' } });
    expect(during.passed, describeRun(during)).toBe(true);
    // Ending the period through the API: the old number's route is back at once.
    const past = new Date(Date.now() - 1_000).toISOString();
    const res = await bench.sb.api(`/v1/number-changes/${id}`, { method: 'PATCH', body: { effectiveFrom: new Date(Date.now() - 60_000).toISOString(), interceptUntil: past } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const after = callers(bench, 'caller.xml', '4106', { calls: 1, keys: { prefix: '2417' } });
    await until('the caller in the old room', async () => {
      const members = await bench.sb.api(`/v1/rooms/${roomId}/members`);
      return (members.body as { items: unknown[] }).items.length === 1 ? true : undefined;
    });
    expect((await bench.sb.api(`/v1/rooms/${roomId}/end`, { method: 'POST' })).status).toBe(204);
    expect((await after).passed).toBe(true);
    expect(await cdrOf('24171')).toMatchObject({ intercept: null, route_type: 'room' });
  });
});
