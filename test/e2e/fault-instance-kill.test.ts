import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../src/paths.js';
import { createRedis } from '../../src/redis/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { addOperator, mediaChannels, operatorPhone, rowsWhenThere, scenario, startCallBench, testMediaMode, until, type CallBench, type Phone } from '../support/call-bench.js';
import { getFreePort } from '../support/ports.js';
import { startSipp, type SippRun } from '../support/sipp.js';
import { ADMIN_KEY, SIP_DOMAIN } from '../support/switchboard.js';

/**
 * Two switchboard instances on one drachtio-server, FreeSWITCH, Redis and PostgreSQL; the second
 * is a process of its own, SIGKILLed while its caller talks to the only operator and more callers
 * wait on both instances. The operator it held is freed once its lease is gone, its callers are
 * taken off the queue and closed in the records, and the first instance serves its own callers
 * with that operator. FreeSWITCH keeps the killed instance's channels up (hold music, a bridge);
 * the first instance ends them once the lease is gone, so no media channel is left at the end.
 */
let bench: CallBench;
let victim: ChildProcess | undefined;
let phone: Phone | undefined;
let callerRun: SippRun | undefined;
let queueId: number;
let kim: { id: number };
let channelsBefore: number;
const NUMBER = '8520';
const TALK_MS = 5_000;

interface LiveCall {
  callId: string;
  owner: string;
  position: number;
}

/** Starts `node src/main.ts` as a second instance of the bench's switchboard, as `npm start` would (tsx instead of a build). */
async function startProcess(instanceId: string): Promise<{ child: ChildProcess; url: string }> {
  const config = bench.sb.config;
  const port = await getFreePort('tcp');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: config.databaseUrl,
    REDIS_URL: config.redisUrl,
    REDIS_PREFIX: config.redisPrefix,
    API_KEYS: ADMIN_KEY,
    SIP_DOMAIN,
    DRACHTIO_HOST: bench.drachtio.host,
    DRACHTIO_PORT: String(bench.drachtio.port),
    DRACHTIO_SECRET: bench.drachtio.secret,
    FREESWITCH_ESL: `${bench.freeswitch.address}:${bench.freeswitch.port}`,
    FREESWITCH_PASSWORD: bench.freeswitch.secret,
    MEDIA_LISTEN_ADDRESS: bench.freeswitch.listenAddress,
    TRUSTED_SOURCES: '127.0.0.1',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    INSTANCE_ID: instanceId,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    // As the test harness's instances: on a test machine running many files at once a process
    // compiling src/ with tsx runs far behind its timers, which is the tests' load, not its own.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    MAX_MATCH_DELAY_MS: '0',
    ...(process.env.PROMPTS_DIR ? { PROMPTS_DIR: process.env.PROMPTS_DIR } : {}),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT_DIR, env, stdio: ['ignore', 'inherit', 'inherit'] });
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const url = `http://127.0.0.1:${port}`;
  // Compiling src/ with tsx on a busy 2-core machine takes a while.
  await until('the second instance to be up', async () => {
    if (exited !== undefined) throw new Error(`the second instance exited with ${String(exited)}`);
    const res = await fetch(`${url}/health`).catch(() => undefined);
    const body = res ? ((await res.json()) as { status: string }) : undefined;
    return body?.status === 'ok' ? true : undefined;
  }, 120_000);
  return { child, url };
}

/** Where the media server connects back to an instance (published in Redis; its channels carry it). */
async function outboundOf(instanceId: string): Promise<string[]> {
  const config = bench.sb.config;
  const redis = createRedis(config.redisUrl, 'kill-test');
  try {
    return await redis.smembers(new RedisKeys(config.redisPrefix).instanceOutbound(instanceId));
  } finally {
    redis.disconnect();
  }
}

async function waitingCallers(): Promise<LiveCall[]> {
  const res = await bench.sb.api(`/v1/queues/${queueId}/calls`);
  return res.status === 200 ? (res.body as { items: LiveCall[] }).items : [];
}

async function stateOf(operatorId: number): Promise<{ state: string; callId: string | null }> {
  return (await bench.sb.api(`/v1/operators/${operatorId}/state`)).body as { state: string; callId: string | null };
}

beforeAll(async () => {
  bench = await startCallBench({ INSTANCE_ID: 'sb-a' });
  // A shared real FreeSWITCH may hold channels of other tests: the end is compared with this.
  channelsBefore = await mediaChannels(bench);
  queueId = (await bench.create('/v1/queues', { number: '520', name: 'Instance fault', wrapupS: 0, announceIntervalS: 0, ringTimeoutS: 10 })).id as number;
  await bench.create('/v1/routes', { number: NUMBER, targetType: 'queue', queueId });
  kim = await addOperator(bench, 'kim', '520', { login: false });
  await bench.sb.api(`/v1/queues/${queueId}/members/${kim.id}`, { method: 'PUT', body: {} });
  victim = (await startProcess('sb-b')).child;
  phone = await operatorPhone(bench, 'kim', 'kim-secret', 'operator-hangup.xml', { pauseMs: TALK_MS, calls: 10, timeoutMs: 240_000 });
}, 180_000);

afterAll(async () => {
  phone?.run.kill();
  callerRun?.kill();
  victim?.kill('SIGKILL');
  await bench?.close().catch(() => undefined);
});

const CALLERS = 10;

describe('one of two instances killed', () => {
  it('frees its operator by lease, closes its callers in the records, and the other instance serves on', async () => {
    // Ten callers wait (nobody is logged in yet), spread over both instances by drachtio-server.
    // B's callers never hear from a switchboard again, so this run is ended by the test.
    callerRun = await startSipp({
      scenario: scenario('caller.xml'),
      remote: bench.drachtio.sipAddress,
      transport: 'udp',
      service: NUMBER,
      keys: { prefix: '2000' },
      calls: CALLERS,
      rate: 10,
      extraArgs: ['-l', String(CALLERS)],
      timeoutMs: 120_000,
      name: 'callers',
    });
    const waiting = await until(`${CALLERS} callers waiting`, async () => {
      const w = await waitingCallers();
      return w.length === CALLERS ? w : undefined;
    }, 20_000);
    const owners = new Map(waiting.map((w) => [w.callId, w.owner]));
    const ofB = waiting.filter((w) => w.owner === 'sb-b').map((w) => w.callId);
    const ofA = waiting.filter((w) => w.owner === 'sb-a').map((w) => w.callId);
    expect(ofB.length).toBeGreaterThanOrEqual(2);
    expect(ofA.length).toBeGreaterThanOrEqual(1);

    // B's first caller goes to the front; Kim logs in and B gives her that caller.
    const first = ofB[0] as string;
    expect((await bench.sb.api(`/v1/calls/${first}/move`, { method: 'POST', body: { to: 'front' } })).status).toBe(204);
    await until('B\'s caller at the head', async () => ((await waitingCallers())[0]?.callId === first ? true : undefined));
    await bench.sb.api(`/v1/operators/${kim.id}/state`, { method: 'PUT', body: { state: 'available' } });
    await until('Kim talking to B\'s caller', async () => {
      const s = await stateOf(kim.id);
      return s.state === 'busy' && s.callId === first ? true : undefined;
    });

    const ofVictim = await outboundOf('sb-b');
    expect(ofVictim.length).toBe(1);
    victim?.kill('SIGKILL');
    await once(victim as ChildProcess, 'exit');
    // Its event sockets are closed, yet its channels stay: its callers on hold music, and in an
    // anchored queue the two channels of Kim's call (in a direct one that call has none).
    const model = bench.freeswitch.standIn?.model;
    if (model) {
      await new Promise((r) => setTimeout(r, 1_000));
      const left = testMediaMode() === 'direct' ? ofB.length - 1 : ofB.length + 1;
      expect(model.channels().filter((c) => ofVictim.includes(c.sipHeaders['x-esl-outbound'] ?? '')).length).toBe(left);
    }

    // B's lease runs out (10 s); A frees Kim and gives her its own callers, one after another.
    const next = await until('Kim freed and serving A\'s callers', async () => {
      const s = await stateOf(kim.id);
      return s.callId !== null && s.callId !== first ? s.callId : undefined;
    }, 30_000);
    expect(owners.get(next)).toBe('sb-a');

    // B's callers: off the queue, each closed in the records as lost with its instance.
    const lost = await rowsWhenThere<{ call_id: string; disposition: string; instance_id: string; sip_reason: string; queue_id: number; operator_username: string | null }>(
      bench,
      `SELECT call_id, disposition, instance_id, sip_reason, queue_id, operator_username FROM calls WHERE instance_id = 'sb-b'`,
      ofB.length,
      [],
      30_000,
    );
    expect(lost.map((r) => r.call_id).sort()).toEqual([...ofB].sort());
    for (const r of lost) {
      expect(r).toMatchObject({ instance_id: 'sb-b', sip_reason: 'switchboard instance lost', queue_id: queueId });
      expect(r.disposition).toBe(r.call_id === first ? 'answered' : 'failed');
    }
    expect(lost.find((r) => r.call_id === first)?.operator_username).toBe('kim');
    const freed = await rowsWhenThere<{ from_state: string; to_state: string }>(bench, `SELECT from_state, to_state FROM operator_events WHERE operator_id = $1 AND reason = 'call owner gone'`, 1, [kim.id]);
    expect(freed).toEqual([{ from_state: 'busy', to_state: 'available' }]);

    // A answers every one of its callers with Kim, in order; nothing is left behind.
    const served = await rowsWhenThere<{ call_id: string; disposition: string; operator_username: string }>(
      bench,
      `SELECT call_id, disposition, operator_username FROM calls WHERE instance_id = 'sb-a' ORDER BY offered_at`,
      ofA.length,
      [],
      // Bounded generously: a busy machine slows each call down, and speed is not checked here.
      120_000,
    );
    expect(served.map((r) => r.call_id)).toEqual(ofA);
    expect(served.every((r) => r.disposition === 'answered' && r.operator_username === 'kim')).toBe(true);
    await until('no call left and Kim free', async () => {
      const calls = ((await bench.sb.api('/v1/calls')).body as { items: unknown[] }).items;
      return calls.length === 0 && (await stateOf(kim.id)).state === 'available' ? true : undefined;
    }, 15_000);
    // The killed instance's channels were ended with its address; A's ended with their calls.
    await until('no media channel left', async () => ((await mediaChannels(bench)) <= channelsBefore ? true : undefined), 15_000);
    expect(await outboundOf('sb-b')).toEqual([]);
  }, 300_000);
});
