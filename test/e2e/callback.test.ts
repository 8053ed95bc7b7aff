import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type esl from 'drachtio-modesl';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, scenario, startCallBench, until, type CallBench, type TestOperator } from '../support/call-bench.js';
import { eventSocket } from '../support/freeswitch-env.js';
import { getFreePort } from '../support/ports.js';
import { describeRun, flow, offersReceived, requestsOf, startSipp, type SippResult, type SippRun } from '../support/sipp.js';

/**
 * Callback that keeps the caller's place (issue 11, point 3) over real SIP through both benches.
 * A waiting caller hears the callback offer after their position, presses the queue's key (DTMF
 * sent to their media channel with uuid_recv_dtmf, as for room PINs), confirms the number read
 * back, and is hung up; a caller who comes later waits behind the callback. When the operator is
 * free they are rung for the callback first, then the caller is called: through OUTBOUND_GATEWAY
 * (a SIPp UAS on a port of its own) or at an extension's registered phone, with the queue's
 * greeting. A caller who does not answer is tried again and the callback recorded failed.
 */
const TEST_MS = 240_000;
const SIPP_MS = 180_000;
const WAIT_MS = 60_000;
const promptsDir = mkdtempSync(path.join(tmpdir(), 'sb-callback-'));

let bench: CallBench;
let media: MediaLog;
let queueId: number;
let alice: TestOperator;
let gatewayPort: number;
let runs: SippRun[] = [];

interface Execution {
  uuid: string;
  app: string;
  data: string;
}

interface MediaLog {
  readonly executions: Execution[];
  /** The channel the prompt `name` is played to, the `nth` time since `since`. */
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
  gatewayPort = await getFreePort('both');
  bench = await startCallBench({ PROMPTS_DIR: promptsDir, OUTBOUND_GATEWAY: `127.0.0.1:${gatewayPort}` });
  media = await mediaLog(bench);
  queueId = (await bench.create('/v1/queues', {
    number: '510',
    name: 'Front desk',
    ringTimeoutS: 4,
    wrapupS: 0,
    announceIntervalS: 2,
    greeting: true,
    callbackKey: '5',
    callbackRetries: 1,
    callbackRetryIntervalS: 2,
  })).id as number;
  await bench.create('/v1/routes', { number: '8510', targetType: 'queue', queueId, allowOutside: true });
  alice = await addOperator(bench, 'alice', '67354');
  await bench.sb.api(`/v1/queues/${queueId}/members/${alice.id}`, { method: 'PUT', body: {} });
});

afterEach(() => {
  for (const run of runs) run.kill();
  runs = [];
});

afterAll(async () => {
  media?.close();
  await bench?.close();
  rmSync(promptsDir, { recursive: true, force: true });
});

async function aliceState(state: 'available' | 'on-break'): Promise<void> {
  const res = await bench.sb.api(`/v1/operators/${alice.id}/state`, { method: 'PUT', body: { state } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function aliceIs(state: string): Promise<void> {
  await until(`alice ${state}`, async () => ((await bench.sb.api(`/v1/operators/${alice.id}/state`)).body as { state: string }).state === state || undefined, WAIT_MS);
}

/** A caller who stays until the switchboard hangs up. */
function caller(prefix: string): Promise<SippResult> {
  return callers(bench, 'caller.xml', '8510', { calls: 1, keys: { prefix }, timeoutMs: SIPP_MS });
}

/** The waiting caller presses the callback key after the offer; returns their channel. */
async function pressCallbackKey(since: number): Promise<string> {
  const uuid = await media.prompt('callback-offer', since);
  await media.dtmf(uuid, '5');
  return uuid;
}

/** Answers the `nth` read-back of the menu with `keys`. */
async function answerReadBack(uuid: string, since: number, nth: number, keys: string): Promise<void> {
  expect(await media.prompt('callback-options', since, nth)).toBe(uuid);
  await media.dtmf(uuid, keys);
}

/** The live callback to `number`, once listed. */
async function listed(number: string): Promise<LiveCallback> {
  return until(`the callback to ${number} listed`, async () => (await liveCallbacks()).find((c) => c.callerNumber === number), WAIT_MS);
}

interface LiveCallback {
  id: string;
  callerNumber: string;
  state: string;
  position: number | null;
  confirmedHow: string;
}

async function liveCallbacks(): Promise<LiveCallback[]> {
  const res = await bench.sb.api('/v1/callbacks');
  expect(res.status).toBe(200);
  return (res.body as { live: LiveCallback[] }).live;
}

function passed(run: SippResult): void {
  expect(run.passed, describeRun(run)).toBe(true);
}

async function noChannelsLeft(): Promise<void> {
  const standIn = bench.freeswitch.standIn;
  if (standIn) await until('every media channel gone', async () => (standIn.model.channels().length === 0 ? true : undefined), WAIT_MS);
}

describe('callback', () => {
  it('keeps the caller\'s place: the operator gets the callback before a later caller, then the caller is called through the gateway and greeted', async () => {
    await aliceState('on-break');
    const since = media.executions.length;
    const asking = caller('4101');
    const uuid = await pressCallbackKey(since);
    // The caller ID is read back digit by digit before the question.
    await answerReadBack(uuid, since, 1, '1');
    expect(media.executions.slice(since).filter((e) => e.uuid === uuid && e.app === 'say').map((e) => e.data)).toContain('en NUMBER iterated 41011');
    await media.prompt('callback-accepted', since);
    const asked = await asking;
    passed(asked);
    expect(flow(asked).slice(-2)).toEqual(['< BYE', '> 200 BYE']);

    const live = await listed('41011');
    expect(live).toMatchObject({ callerNumber: '41011', state: 'waiting', position: 1, confirmedHow: 'caller-id' });

    // A caller who arrives after the request waits behind the callback.
    const later = caller('4102');
    await until('the later caller waiting second', async () => {
      const calls = ((await bench.sb.api('/v1/calls')).body as { items: { callerNumber: string; position: number | null }[] }).items;
      return calls.find((c) => c.callerNumber === '41021')?.position === 2 || undefined;
    }, WAIT_MS);
    // The supervisor's view of the queue shows the callback in the first place.
    const view = ((await bench.sb.api(`/v1/queues/${queueId}/calls`)).body as { items: { callId: string; state: string; callerNumber: string; position: number }[] }).items;
    expect(view.map((c) => [c.state, c.callerNumber, c.position])).toEqual([['callback', '41011', 1], ['waiting', '41021', 2]]);
    expect(view[0]?.callId).toBe(live.id);

    // The caller's phone behind the gateway answers and waits for the switchboard's BYE.
    const gateway = await startSipp({ scenario: scenario('operator-answer.xml'), transport: 'udp', localPort: gatewayPort, calls: 1, timeoutMs: SIPP_MS, name: 'callback-gateway' });
    runs.push(gateway);
    await gateway.ready;
    // Alice answers each call and hangs up 6 s later: the callback, then the later caller.
    const phone = await operatorPhone(bench, alice.username, alice.password, 'operator-hangup.xml', { calls: 2, pauseMs: 6000, timeoutMs: SIPP_MS });
    runs.push(phone.run);
    await aliceState('available');

    const aliceRun = await phone.run.done;
    passed(aliceRun);
    // In a direct queue Alice's phone also gets re-INVITEs moving the media: only offers count.
    const invites = offersReceived(aliceRun);
    expect(invites).toHaveLength(2);
    expect(invites[0]?.get('X-Callback')).toBe('41011');
    expect(invites[0]?.get('From')).toContain('"Callback: 41011"');
    expect(invites[0]?.get('X-Call-ID')).toBe(live.id);
    expect(invites[1]?.get('From')).toContain('41021');
    expect(invites[1]?.get('X-Callback')).toBeUndefined();

    const called = await gateway.done;
    passed(called);
    const [toCaller] = requestsOf(called, 'received', 'INVITE');
    expect(toCaller?.uri).toBe(`sip:41011@127.0.0.1:${gatewayPort}`);
    expect(toCaller?.get('X-Call-ID')).toBe(live.id);
    expect(flow(called).slice(-2)).toEqual(['< BYE', '> 200 BYE']);
    passed(await later);

    // The called-back caller heard the queue's greeting and Alice's work number.
    const say = media.executions.slice(since).find((e) => e.app === 'say' && e.data === 'en NUMBER iterated 67354');
    expect(say).toBeDefined();

    const [original] = await rowsWhenThere(bench, "SELECT call_id, disposition, hangup_by FROM calls WHERE caller_number = '41011' AND dialled_number = '8510'", 1, [], WAIT_MS);
    expect(original).toMatchObject({ disposition: 'callback', hangup_by: 'system' });
    const [back] = await rowsWhenThere(bench, 'SELECT call_id, disposition, operator_username, answered_at, route_type FROM calls WHERE call_id = $1', 1, [live.id], WAIT_MS);
    expect(back).toMatchObject({ disposition: 'answered', operator_username: 'alice', route_type: 'queue' });
    const [laterRow] = await rowsWhenThere(bench, "SELECT answered_at FROM calls WHERE caller_number = '41021'", 1, [], WAIT_MS);
    expect((laterRow?.answered_at as Date).getTime()).toBeGreaterThan((back?.answered_at as Date).getTime());
    const [record] = await rowsWhenThere(bench, 'SELECT * FROM callbacks WHERE callback_id = $1', 1, [live.id], WAIT_MS);
    expect(record).toMatchObject({ original_call_id: original?.call_id, call_id: live.id, number: '41011', confirmed_how: 'caller-id', attempts: 1, outcome: 'connected', operator_username: 'alice' });
    expect((record?.arrived_at as Date).getTime()).toBeLessThan((record?.requested_at as Date).getTime());
    const events = await rowsWhenThere<{ event: string }>(bench, "SELECT event FROM queue_events WHERE call_id = ANY($1) AND event LIKE 'callback-%' ORDER BY at", 3, [[original?.call_id, live.id]], WAIT_MS);
    expect(events.map((e) => e.event)).toEqual(['callback-requested', 'callback-attempt', 'callback-connected']);
    const legs = await rowsWhenThere<{ role: string; direction: string }>(bench, 'SELECT role, direction FROM call_legs WHERE call_id = $1 ORDER BY started_at', 2, [live.id], WAIT_MS);
    expect(legs.map((l) => [l.role, l.direction])).toEqual([['operator', 'outbound'], ['caller', 'outbound']]);
    expect((await liveCallbacks()).find((c) => c.id === live.id)).toBeUndefined();
    await aliceIs('available');
    await noChannelsLeft();
  }, TEST_MS);

  it('a keyed-in extension that does not answer is tried again, then the callback is recorded failed', async () => {
    await bench.create('/v1/extensions', { number: '4201', name: 'Room 4201', password: '4201-secret' });
    await aliceState('on-break');
    const since = media.executions.length;
    const asking = caller('4301');
    const uuid = await pressCallbackKey(since);
    // 2: another number; 4201#; then 1 to accept it as read back.
    await answerReadBack(uuid, since, 1, '2');
    expect(await media.prompt('callback-enter', since)).toBe(uuid);
    await media.dtmf(uuid, '4201#');
    await answerReadBack(uuid, since, 2, '1');
    expect(media.executions.slice(since).filter((e) => e.uuid === uuid && e.app === 'say').map((e) => e.data)).toContain('en NUMBER iterated 4201');
    passed(await asking);
    const live = await listed('4201');
    expect(live).toMatchObject({ callerNumber: '4201', confirmedHow: 'keyed' });

    // The room's phone rings and is never answered (the switchboard cancels each ring).
    const room = await operatorPhone(bench, '4201', '4201-secret', 'operator-no-answer.xml', { calls: 2, timeoutMs: SIPP_MS });
    runs.push(room.run);
    // Alice answers both attempts and is hung up by the switchboard each time.
    const phone = await operatorPhone(bench, alice.username, alice.password, 'operator-answer.xml', { calls: 2, timeoutMs: SIPP_MS });
    runs.push(phone.run);
    await aliceState('available');

    const [record] = await rowsWhenThere(bench, 'SELECT * FROM callbacks WHERE callback_id = $1', 1, [live.id], WAIT_MS * 2);
    expect(record).toMatchObject({ number: '4201', confirmed_how: 'keyed', attempts: 2, outcome: 'failed', operator_username: 'alice', call_id: live.id });
    passed(await room.run.done);
    const roomInvites = requestsOf(await room.run.done, 'received', 'INVITE');
    expect(roomInvites.map((i) => i.uri.split('@')[0])).toEqual(['sip:4201', 'sip:4201']);
    const aliceRun = await phone.run.done;
    passed(aliceRun);
    expect(requestsOf(aliceRun, 'received', 'BYE')).toHaveLength(2);
    const events = await rowsWhenThere<{ event: string }>(bench, "SELECT event FROM queue_events WHERE call_id = $1 AND event LIKE 'callback-%' ORDER BY at", 3, [live.id], WAIT_MS);
    expect(events.map((e) => e.event)).toEqual(['callback-attempt', 'callback-attempt', 'callback-failed']);
    const [back] = await rowsWhenThere(bench, 'SELECT disposition, hangup_by FROM calls WHERE call_id = $1', 1, [live.id], WAIT_MS);
    expect(back).toMatchObject({ disposition: 'failed', hangup_by: 'system' });
    const legs = await rowsWhenThere<{ role: string; end_status: number }>(bench, "SELECT role, end_status FROM call_legs WHERE call_id = $1 AND role = 'caller' ORDER BY started_at", 2, [live.id], WAIT_MS);
    expect(legs.map((l) => l.end_status)).toEqual([487, 487]);
    expect((await liveCallbacks()).find((c) => c.id === live.id)).toBeUndefined();
    await aliceIs('available');
    await noChannelsLeft();
  }, TEST_MS);

  it('a waiting callback can be cancelled through the API; the caller then keeps nothing', async () => {
    await aliceState('on-break');
    const since = media.executions.length;
    const asking = caller('4401');
    await answerReadBack(await pressCallbackKey(since), since, 1, '1');
    passed(await asking);
    const live = await listed('44011');
    expect((await bench.sb.api(`/v1/callbacks/${live.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await bench.sb.api(`/v1/callbacks/${live.id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await liveCallbacks()).find((c) => c.id === live.id)).toBeUndefined();
    const [record] = await rowsWhenThere(bench, 'SELECT outcome, attempts, call_id FROM callbacks WHERE callback_id = $1', 1, [live.id], WAIT_MS);
    expect(record).toMatchObject({ outcome: 'cancelled', attempts: 0, call_id: null });
    const recent = ((await bench.sb.api('/v1/callbacks')).body as { recent: { id: string; outcome: string }[] }).recent;
    expect(recent.find((r) => r.id === live.id)).toMatchObject({ outcome: 'cancelled' });
    await noChannelsLeft();
  }, TEST_MS);

  // Last: it stops the bench's own instance.
  it('an instance that stops leaves its callback to another, which places it', async () => {
    await aliceState('on-break');
    const since = media.executions.length;
    const asking = caller('4501');
    await answerReadBack(await pressCallbackKey(since), since, 1, '1');
    passed(await asking);
    const live = await listed('45011');
    const first = bench.sb.config.instanceId;
    expect(live).toMatchObject({ owner: first, state: 'waiting' });

    const second = await bench.another('cb-second');
    try {
      await bench.sb.stop();
      // The stopped instance's lease is gone: the other one claims the callback.
      const taken = await until('the callback taken over', async () => {
        const items = ((await second.api('/v1/callbacks')).body as { live: (LiveCallback & { owner: string })[] }).live;
        return items.find((c) => c.id === live.id && c.owner === 'cb-second');
      }, WAIT_MS);
      expect(taken).toMatchObject({ state: 'waiting', position: 1 });

      const gateway = await startSipp({ scenario: scenario('operator-answer.xml'), transport: 'udp', localPort: gatewayPort, calls: 1, timeoutMs: SIPP_MS, name: 'callback-gateway-2' });
      runs.push(gateway);
      await gateway.ready;
      const phone = await operatorPhone(bench, alice.username, alice.password, 'operator-hangup.xml', { calls: 1, pauseMs: 3000, timeoutMs: SIPP_MS });
      runs.push(phone.run);
      const res = await second.api(`/v1/operators/${alice.id}/state`, { method: 'PUT', body: { state: 'available' } });
      expect(res.status).toBe(200);
      const aliceRun = await phone.run.done;
      passed(aliceRun);
      expect(requestsOf(aliceRun, 'received', 'INVITE')[0]?.get('X-Callback')).toBe('45011');
      passed(await gateway.done);
      const [record] = await rowsWhenThere(bench, 'SELECT outcome, attempts, instance_id FROM callbacks WHERE callback_id = $1', 1, [live.id], WAIT_MS);
      expect(record).toMatchObject({ outcome: 'connected', attempts: 1, instance_id: 'cb-second' });
      await noChannelsLeft();
    } finally {
      await second.close();
    }
  }, TEST_MS);
});
