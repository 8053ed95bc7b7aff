/**
 * A whole switchboard on real SIP: drachtio-server (the stand-in, or a real one from the
 * environment), FreeSWITCH (likewise), real PostgreSQL and Redis, and SIPp phones for callers
 * and operators. What end-to-end tests of calls stand on.
 */
import path from 'node:path';
import pg from 'pg';
import { ROOT_DIR } from '../../src/paths.js';
import type { FreeswitchStandInOptions } from '../benches/freeswitch/index.js';
import { useDrachtio, type DrachtioTarget } from './drachtio-env.js';
import { eventSocket, useFreeswitch, type FreeswitchTarget } from './freeswitch-env.js';
import { getFreePort } from './ports.js';
import { describeRun, runSipp, startSipp, type SippOptions, type SippResult, type SippRun } from './sipp.js';
import { SIP_DOMAIN, startTestSwitchboard, type TestSwitchboard } from './switchboard.js';

export const SCENARIOS = path.join(ROOT_DIR, 'sipp-scenarios');
export const scenario = (name: string): string => (path.isAbsolute(name) ? name : path.join(SCENARIOS, name));

export interface CallBench {
  drachtio: DrachtioTarget;
  freeswitch: FreeswitchTarget;
  sb: TestSwitchboard;
  db: pg.Client;
  /** Creates through the API and returns the body; throws on anything but 201. */
  create(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  /**
   * Stops the switchboard and starts a new one on the same database, Redis prefix, drachtio and
   * FreeSWITCH (what survives a restart); `sb` is the new one afterwards. `whileStopped` runs
   * between the stop and the start (e.g. to let a booking fall due while nothing runs).
   */
  restart(whileStopped?: () => Promise<void>): Promise<void>;
  /**
   * Another switchboard instance on the same database, Redis prefix, drachtio-server and
   * FreeSWITCH, as in a deployment with several instances; closing it leaves the rest running.
   */
  another(instanceId: string): Promise<TestSwitchboard>;
  close(): Promise<void>;
}

/**
 * The media mode queues are created with (TEST_MEDIA_MODE, default direct), so that the same
 * end-to-end files run in both modes; a test that asks for a mode explicitly keeps it.
 */
export function testMediaMode(): 'direct' | 'anchored' {
  const mode = process.env.TEST_MEDIA_MODE ?? 'direct';
  if (mode !== 'direct' && mode !== 'anchored') throw new Error(`TEST_MEDIA_MODE must be direct or anchored, not ${mode}`);
  return mode;
}

/** The media server's channels: the stand-in's model, or a real FreeSWITCH's `show channels count`. */
export async function mediaChannels(bench: Pick<CallBench, 'freeswitch'>): Promise<number> {
  const standIn = bench.freeswitch.standIn;
  if (standIn) return standIn.model.channels().length;
  const conn = await eventSocket(bench.freeswitch);
  try {
    return await new Promise((resolve) => conn.api('show', 'channels count', (res) => resolve(Number(/(\d+) total/.exec(res.getBody())?.[1] ?? NaN))));
  } finally {
    conn.disconnect();
  }
}

/**
 * Waits until caller and operator talk to each other again after a feature: in an anchored
 * queue their channels are bridged (seen on the stand-in only), in a direct one the media
 * server has let go of the call (no channel left: phone to phone).
 */
export async function talkingAgain(bench: Pick<CallBench, 'freeswitch'>, bridged: (standIn: NonNullable<FreeswitchTarget['standIn']>) => boolean, timeoutMs = 10_000): Promise<void> {
  const standIn = bench.freeswitch.standIn;
  if (testMediaMode() === 'direct') {
    await until('the media server to let go of the call', async () => ((await mediaChannels(bench)) === 0 ? true : undefined), timeoutMs);
    return;
  }
  if (standIn) await until('caller and operator bridged again', async () => (bridged(standIn) ? true : undefined), timeoutMs);
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export { until };

async function connected(sb: TestSwitchboard): Promise<void> {
  await until('drachtio-server and FreeSWITCH to be connected', async () => (sb.health.report().status === 'ok' ? true : undefined), 15_000);
}

/** Extra environment, or a function of the servers that returns it (e.g. to put a TcpProxy in between). */
export type BenchEnv = Record<string, string> | ((servers: { drachtio: DrachtioTarget; freeswitch: FreeswitchTarget }) => Promise<Record<string, string>>);

/** `standIn`: options of the FreeSWITCH stand-in (e.g. how long a file plays); ignored for a real one. */
export async function startCallBench(benchEnv: BenchEnv = {}, standIn: FreeswitchStandInOptions = {}): Promise<CallBench> {
  const drachtio = await useDrachtio();
  const freeswitch = await useFreeswitch(standIn);
  const extraEnv = typeof benchEnv === 'function' ? await benchEnv({ drachtio, freeswitch }) : benchEnv;
  const env = {
    DRACHTIO_HOST: drachtio.host,
    DRACHTIO_PORT: String(drachtio.port),
    DRACHTIO_SECRET: drachtio.secret,
    FREESWITCH_ESL: `${freeswitch.address}:${freeswitch.port}`,
    FREESWITCH_PASSWORD: freeswitch.secret,
    MEDIA_LISTEN_ADDRESS: freeswitch.listenAddress,
    TRUSTED_SOURCES: '127.0.0.1',
    ...extraEnv,
  };
  let sb: TestSwitchboard | undefined;
  try {
    sb = await startTestSwitchboard(env);
    await connected(sb);
  } catch (err) {
    await sb?.close();
    await freeswitch.stop();
    await drachtio.stop();
    throw err;
  }
  let running = sb;
  const db = new pg.Client({ connectionString: running.config.databaseUrl });
  await db.connect();
  return {
    drachtio,
    freeswitch,
    get sb() {
      return running;
    },
    db,
    restart: async (whileStopped) => {
      const previous = running;
      await previous.stop();
      await whileStopped?.();
      running = await startTestSwitchboard({ ...env, REDIS_PREFIX: previous.config.redisPrefix }, { db: previous.db });
      await connected(running);
    },
    another: async (instanceId) => {
      const other = await startTestSwitchboard({ ...env, INSTANCE_ID: instanceId, REDIS_PREFIX: running.config.redisPrefix }, { db: running.db });
      await connected(other);
      return { ...other, close: () => other.stop() };
    },
    create: async (p, body) => {
      const withMode = p === '/v1/queues' && body.mediaMode === undefined ? { ...body, mediaMode: testMediaMode() } : body;
      const res = await running.api(p, { method: 'POST', body: withMode });
      if (res.status !== 201) throw new Error(`POST ${p} answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body as Record<string, unknown>;
    },
    close: async () => {
      await db.end();
      await running.close();
      await freeswitch.stop();
      await drachtio.stop();
    },
  };
}

/** An operator provisioned for a test; the password is always `<username>-secret`. */
export interface TestOperator {
  id: number;
  username: string;
  password: string;
}

/** Provisions an operator through the API and logs them in (available) unless `login` is false. */
export async function addOperator(bench: CallBench, username: string, workNumber: string, opts: { displayName?: string; login?: boolean } = {}): Promise<TestOperator> {
  const password = `${username}-secret`;
  const id = (await bench.create('/v1/operators', { username, password, displayName: opts.displayName ?? username, workNumber })).id as number;
  if (opts.login ?? true) {
    const res = await bench.sb.api(`/v1/operators/${id}/state`, { method: 'PUT', body: { state: 'available' } });
    if (res.status !== 200) throw new Error(`logging ${username} in: HTTP ${res.status}`);
  }
  return { id, username, password };
}

export interface Phone {
  username: string;
  port: number;
  run: SippRun;
}

/**
 * An operator's phone: registers with digest authentication (sipp-scenarios/register.xml), then
 * runs a UAS scenario on the same port for up to `calls` calls.
 */
export async function operatorPhone(
  bench: CallBench,
  username: string,
  password: string,
  scenarioFile: string,
  opts: { pauseMs?: number; calls?: number; timeoutMs?: number; keys?: Record<string, string> } = {},
): Promise<Phone> {
  const port = await getFreePort('both');
  const registered = await runSipp({
    scenario: scenario('register.xml'),
    remote: bench.drachtio.sipAddress,
    transport: 'udp',
    localPort: port,
    service: username,
    keys: { domain: SIP_DOMAIN, expires: 3600 },
    extraArgs: ['-au', username, '-ap', password],
    name: `register-${username}`,
  });
  if (!registered.passed) throw new Error(`registration of ${username} failed: ${describeRun(registered)}`);
  const run = await startSipp({
    scenario: scenario(scenarioFile),
    transport: 'udp',
    localPort: port,
    calls: opts.calls ?? 100,
    timeoutMs: opts.timeoutMs ?? 60_000,
    extraArgs: ['-d', String(opts.pauseMs ?? 0)],
    ...(opts.keys ? { keys: opts.keys } : {}),
    name: `${username}-${path.basename(scenarioFile, '.xml')}`,
  });
  await run.ready;
  return { username, port, run };
}

/** Callers from SIPp (sipp-scenarios/caller*.xml) dialling `number`. */
export function callers(bench: CallBench, scenarioFile: string, number: string, opts: Partial<SippOptions> & { pauseMs?: number } = {}): Promise<SippResult> {
  const { pauseMs, ...rest } = opts;
  return runSipp({
    scenario: scenario(scenarioFile),
    remote: bench.drachtio.sipAddress,
    transport: 'udp',
    service: number,
    keys: { prefix: '2000' },
    timeoutMs: 60_000,
    ...rest,
    extraArgs: [...(pauseMs !== undefined ? ['-d', String(pauseMs)] : []), ...(rest.extraArgs ?? [])],
  });
}

/** Rows of a table, once there are `count` of them (records arrive through the outbox). */
export async function rowsWhenThere<T extends Record<string, unknown>>(bench: CallBench, sql: string, count: number, params: unknown[] = [], timeoutMs = 15_000): Promise<T[]> {
  return until(`${count} rows of ${sql}`, async () => {
    const { rows } = await bench.db.query<T>(sql, params);
    return rows.length >= count ? rows : undefined;
  }, timeoutMs);
}
