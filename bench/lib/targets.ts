/**
 * The systems under test, each a process of its own on the same drachtio-server and FreeSWITCH:
 * the switchboard (src/main.ts, provisioned through its API like a customer would), and the two
 * baselines (bench/baselines). What each can tell about its calls beyond what SIPp sees comes from
 * its own records: the switchboard's CDRs and events in PostgreSQL, the baselines' call logs.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ROOT_DIR } from '../../src/paths.js';
import { getFreePort } from '../../test/support/ports.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/services.js';
import type { CallRecord } from '../baselines/common.js';
import type { BenchOptions, Shape, SwitchboardTarget, TargetName } from './options.js';
import { startProcess, type Proc } from './processes.js';
import type { Drachtio, Freeswitch } from './servers.js';
import { dropRedisPrefix, redisUrl, runRedisPrefix } from './services.js';
import { startSipp, writeUsersCsv } from './sipp.js';
import { percentiles, type Percentiles } from './stats.js';

export const SIP_DOMAIN = 'bench.switchboard.test';
export const DIALLED = '8000';
/** The skill of the wait shape's route: no operator has it, so callers wait the queue's skillWaitS. */
const WAIT_SKILL = 'bench-wait';
const ADMIN_KEY = 'bench-admin-key-0123456789';
// Provisioning requests at once: each change reloads the configuration, and requests waiting
// together share a reload, so thousands of operators go much faster side by side.
const API_WIDTH = 32;

export interface Operator {
  id: number;
  username: string;
  password: string;
  /** The local port of the SIPp phone the operator registered from. */
  port: number;
}

export interface Window {
  from: number;
  to: number;
  /** Caller-number prefixes of the step's callers. */
  prefixes: string[];
  placed: number;
}

/** What a target's own records say about a step's calls. */
export interface AppSide {
  /** The caller's INVITE reached the app -> the operator's phone answered, ms. */
  toOperatorMs: Percentiles;
  /** Calls the app recorded, and how they ended. */
  recorded: number;
  outcomes: Record<string, number>;
  /** Switchboard: queue entry -> first offer, ms. */
  queueToOfferMs?: Percentiles;
  /** Switchboard: an operator became free while a caller waited -> that operator's next offer, ms. */
  freeToOfferMs?: Percentiles;
}

export interface EndCheck {
  /** Calls the app still holds at the end (switchboard: GET /v1/calls). */
  callsInProgress: number | null;
  /** Operators not available (or logged out) at the end: state by username. */
  stuckOperators: Record<string, string> | null;
  /** Rows in the calls table (switchboard), against calls placed. */
  cdrRows: number | null;
  cdrDispositions: Record<string, number> | null;
  /** FreeSWITCH sessions left at the end. */
  mediaSessions: number | null;
  /** Warnings and errors in the app's log, with the commonest messages. */
  logWarnings: number;
  logErrors: number;
  topLogMessages: { level: string; msg: string; count: number }[];
}

export interface Target {
  name: TargetName;
  /** The switchboard's queue media mode as run (a build without the setting has one mode). */
  mediaMode?: string;
  proc: Proc;
  logFile: string;
  /** The app-side view of a window of calls. */
  appSide(w: Window): Promise<AppSide>;
  /** Waits (bounded) for the app to settle, then checks what is left. */
  endCheck(placed: number): Promise<EndCheck>;
  /**
   * Switchboard only: leave `count` operators who are available now logged in, log the others
   * out (for the backlog phase), and say which stayed.
   */
  keepLoggedIn?(count: number): Promise<Operator[]>;
  stop(): Promise<void>;
}

export interface TargetContext {
  dir: string;
  drachtio: Drachtio;
  freeswitch: Freeswitch;
  operators: Omit<Operator, 'id'>[];
  opts: Pick<BenchOptions, 'wrapupS' | 'logLevel' | 'dist' | 'keep'> & Partial<Pick<BenchOptions, 'waitS'>>;
  /** The switchboard's target (queue media mode) and the load shape; default direct and free. */
  target?: SwitchboardTarget;
  shape?: Shape;
  /** Extra node flags and environment for the switchboard's process (the soak's memory probe). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

const TSX = ['--import', 'tsx'];

async function waitForOutput(proc: Proc, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(proc.tail())) return;
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}): ${proc.tail().slice(-2000)}`);
    await sleep(100);
  }
  throw new Error(`${proc.name} did not start within ${timeoutMs} ms: ${proc.tail().slice(-2000)}`);
}

// ---- the switchboard ----------------------------------------------------------------------

export interface Api {
  (method: string, p: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

function api(base: string): Api {
  return async (method, p, body) => {
    const res = await fetch(base + p, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed };
  };
}

async function must(call: Promise<{ status: number; body: unknown }>, what: string, ok = [200, 201, 204]): Promise<Record<string, unknown>> {
  const res = await call;
  if (!ok.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body ?? {}) as Record<string, unknown>;
}

export async function startSwitchboardTarget(ctx: TargetContext): Promise<Target & { operators: Operator[]; api: Api; databaseUrl: string }> {
  const { opts, drachtio, freeswitch } = ctx;
  const db: TestDatabase = await createTestDatabase('sb_bench');
  const prefix = runRedisPrefix();
  const httpPort = await getFreePort('tcp');
  const logFile = path.join(ctx.dir, 'switchboard.log');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: prefix,
    API_KEYS: `admin:${ADMIN_KEY}`,
    SIP_DOMAIN,
    DRACHTIO_HOST: drachtio.host,
    DRACHTIO_PORT: String(drachtio.port),
    DRACHTIO_SECRET: drachtio.secret,
    FREESWITCH_ESL: `${freeswitch.host}:${freeswitch.port}`,
    FREESWITCH_PASSWORD: freeswitch.password,
    MEDIA_LISTEN_ADDRESS: freeswitch.listenAddress,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    TRUSTED_SOURCES: '127.0.0.1',
    LOG_LEVEL: opts.logLevel,
    INSTANCE_ID: 'bench',
    STARTUP_WAIT_SECONDS: '10',
    SHUTDOWN_GRACE_SECONDS: '5',
    ...ctx.env,
  };
  // tsx first: extra node flags may --import TypeScript (the soak's memory probe), also with --dist.
  const loader = opts.dist && !ctx.nodeArgs ? [] : TSX;
  const main = path.join(ROOT_DIR, opts.dist ? 'dist/src/main.js' : 'src/main.ts');
  const args = [...loader, ...(ctx.nodeArgs ?? []), main];
  const proc = startProcess('switchboard', process.execPath, args, { env, cwd: ROOT_DIR, logFile });
  const base = `http://127.0.0.1:${httpPort}`;
  const call = api(base);
  const client = new pg.Client({ connectionString: db.url });
  const cleanup = async (): Promise<void> => {
    await proc.stop(15_000);
    await client.end().catch(() => undefined);
    if (!opts.keep) {
      await db.drop().catch(() => undefined);
      await dropRedisPrefix(prefix).catch(() => undefined);
    }
  };

  try {
    // Healthy: PostgreSQL, Redis, drachtio-server and FreeSWITCH all connected.
    const deadline = Date.now() + 40_000;
    for (;;) {
      if (proc.child.exitCode !== null) throw new Error(`the switchboard exited (${proc.child.exitCode}): ${proc.tail().slice(-2000)}`);
      const res = await call('GET', '/health').catch(() => undefined);
      if (res && (res.body as { status?: string } | undefined)?.status === 'ok') break;
      if (Date.now() > deadline) throw new Error(`the switchboard is not healthy after 40 s: ${JSON.stringify(res?.body)}`);
      await sleep(200);
    }
    await client.connect();

    // A queue routed from DIALLED, with every operator a member. The wait shape: the route needs
    // a skill no operator has, so every caller waits the queue's skillWaitS with hold music and
    // is then offered to anyone (the dispatcher widens skills on a one-second tick).
    const wait = ctx.shape === 'wait';
    const settings = { number: '100', name: 'Bench', announceIntervalS: 0, wrapupS: opts.wrapupS, ringTimeoutS: 15, maxNoAnswer: 3, skillWaitS: wait ? (opts.waitS ?? 2) : 0 };
    const { queue, mediaMode } = await createQueue(call, settings, ctx.target === 'switchboard-anchored' ? 'anchored' : 'direct');
    const queueId = queue.id as number;
    await must(call('POST', '/v1/routes', { number: DIALLED, targetType: 'queue', queueId, allowOutside: true, ...(wait ? { skill: WAIT_SKILL } : {}) }), 'creating the route');
    const operators: Operator[] = await inBatches(ctx.operators, API_WIDTH, async (o, i) => {
      const created = await must(
        call('POST', '/v1/operators', { username: o.username, password: o.password, displayName: `Bench ${o.username}`, workNumber: String(50000 + i) }),
        `creating operator ${o.username}`,
      );
      await must(call('PUT', `/v1/queues/${queueId}/members/${created.id as number}`, {}), `adding ${o.username} to the queue`);
      return { ...o, id: created.id as number };
    });
    const until = Date.now() + 10_000;
    while ((await call('GET', `/v1/queues/${queueId}/calls`)).status !== 200) {
      if (Date.now() > until) throw new Error('the queue never reached the call path');
      await sleep(100);
    }

    // Register every operator's phone with digest from its SIPp port (a registration storm per port).
    const byPort = new Map<number, Operator[]>();
    for (const o of operators) byPort.set(o.port, [...(byPort.get(o.port) ?? []), o]);
    for (const [port, list] of byPort) {
      const dir = path.join(ctx.dir, `register-${port}`);
      const csv = path.join(ctx.dir, `operators-${port}.csv`);
      await writeUsersCsv(csv, list);
      const run = await startSipp({
        name: `register-${port}`,
        scenario: 'register-storm.xml',
        remote: drachtio.sipAddress,
        localPort: port,
        dir,
        inf: csv,
        keys: { domain: SIP_DOMAIN, expires: 7200 },
        rate: 200,
        calls: list.length,
        timeoutS: 30 + list.length / 10,
      });
      const result = await run.done;
      if (result.final?.successful !== list.length) {
        throw new Error(`registering ${list.length} operators from port ${port}: ${result.final?.successful ?? 0} succeeded (${JSON.stringify(result.final?.failures)}); ${result.errors.slice(0, 1500)}`);
      }
    }
    await inBatches(operators, API_WIDTH, (o) => must(call('PUT', `/v1/operators/${o.id}/state`, { state: 'available' }), `logging ${o.username} in`));

    return {
      name: ctx.target ?? 'switchboard-direct',
      mediaMode,
      proc,
      logFile,
      operators,
      api: call,
      databaseUrl: db.url,
      appSide: (w) => switchboardSide(client, w),
      endCheck: (placed) => switchboardEnd(call, client, freeswitch, logFile, placed),
      keepLoggedIn: async (count) => {
        const states = (((await call('GET', '/v1/operator-states')).body as { items?: { operatorId: number; state: string }[] } | undefined)?.items ?? []);
        const available = new Set(states.filter((st) => st.state === 'available').map((st) => st.operatorId));
        const keep = operators.filter((o) => available.has(o.id)).slice(0, count);
        const ids = new Set(keep.map((o) => o.id));
        for (const o of operators) if (!ids.has(o.id)) await call('PUT', `/v1/operators/${o.id}/state`, { state: 'logged-out' });
        return keep;
      },
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** fn over items, `width` at a time, results in the items' order. */
async function inBatches<T, R>(items: T[], width: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map((item, j) => fn(item, i + j)))));
  return out;
}

/**
 * Creates the bench queue in a media mode. A build that does not know the setting (the API
 * refuses unknown fields with 400) gets the queue without it: its only mode, reported as such.
 */
async function createQueue(call: Api, settings: Record<string, unknown>, mode: 'direct' | 'anchored'): Promise<{ queue: Record<string, unknown>; mediaMode: string }> {
  const res = await call('POST', '/v1/queues', { ...settings, mediaMode: mode });
  if (res.status === 201) return { queue: res.body as Record<string, unknown>, mediaMode: mode };
  if (res.status !== 400 || !JSON.stringify(res.body).includes('mediaMode')) throw new Error(`creating the queue: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return { queue: await must(call('POST', '/v1/queues', settings), 'creating the queue'), mediaMode: 'build without mediaMode (all anchored)' };
}

/** Waits until the records of a window are in (the outbox drains asynchronously), bounded. */
async function recordsOf(client: pg.Client, w: Window): Promise<number> {
  const patterns = w.prefixes.map((p) => `${p}%`);
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM calls WHERE caller_number LIKE ANY($1)', [patterns]);
    const n = rows[0]?.n ?? 0;
    if (n >= w.placed) return n;
    if (n !== last) {
      last = n;
      stableSince = Date.now();
    }
    if (Date.now() - stableSince > 4_000 || Date.now() > deadline) return n;
    await sleep(250);
  }
}

async function switchboardSide(client: pg.Client, w: Window): Promise<AppSide> {
  const patterns = w.prefixes.map((p) => `${p}%`);
  const recorded = await recordsOf(client, w);
  const outcomes: Record<string, number> = {};
  const d = await client.query<{ disposition: string; n: number }>('SELECT disposition, count(*)::int AS n FROM calls WHERE caller_number LIKE ANY($1) GROUP BY 1', [patterns]);
  for (const r of d.rows) outcomes[r.disposition] = r.n;
  const times = await client.query<{ to_operator: number | null; to_offer: number | null }>(
    `SELECT extract(epoch FROM answered_at - arrived_at) * 1000 AS to_operator,
            extract(epoch FROM offered_at - queued_at) * 1000 AS to_offer
       FROM calls WHERE caller_number LIKE ANY($1)`,
    [patterns],
  );
  // An operator became available (after a call, or logging in) while a caller who is offered to
  // them next was already queued: the gap is the dispatcher's, not the callers' absence.
  const gaps = await client.query<{ gap: number }>(
    `WITH ev AS (
       SELECT operator_id, at, to_state,
              lead(to_state) OVER w AS next_state, lead(at) OVER w AS next_at, lead(call_id) OVER w AS next_call
         FROM operator_events WINDOW w AS (PARTITION BY operator_id ORDER BY at, event_id))
     SELECT extract(epoch FROM ev.next_at - ev.at) * 1000 AS gap
       FROM ev JOIN calls c ON c.call_id = ev.next_call
      WHERE ev.to_state = 'available' AND ev.next_state = 'ringing' AND c.queued_at <= ev.at
        AND c.caller_number LIKE ANY($1)`,
    [patterns],
  );
  const num = (v: unknown): number => Number(v);
  return {
    toOperatorMs: percentiles(times.rows.filter((r) => r.to_operator !== null).map((r) => num(r.to_operator))),
    queueToOfferMs: percentiles(times.rows.filter((r) => r.to_offer !== null).map((r) => num(r.to_offer))),
    freeToOfferMs: percentiles(gaps.rows.map((r) => num(r.gap))),
    recorded,
    outcomes,
  };
}

async function switchboardEnd(call: Api, client: pg.Client, freeswitch: Freeswitch, logFile: string, placed: number): Promise<EndCheck> {
  // Calls end and operators are freed asynchronously: give them a bounded while. A switchboard
  // that has died cannot say (null); its records can still be counted.
  let calls: unknown[] | null = null;
  let stuck: Record<string, string> | null = null;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      calls = (((await call('GET', '/v1/calls')).body as { items?: unknown[] } | undefined)?.items ?? []) as unknown[];
      const states = (((await call('GET', '/v1/operator-states')).body as { items?: { username: string; state: string }[] } | undefined)?.items ?? []);
      stuck = Object.fromEntries(states.filter((st) => st.state !== 'available' && st.state !== 'logged-out').map((st) => [st.username, st.state]));
    } catch {
      break;
    }
    if ((calls.length === 0 && Object.keys(stuck).length === 0) || Date.now() > deadline) break;
    await sleep(500);
  }
  let rows: number;
  const until = Date.now() + 20_000;
  let last = -1;
  let stableSince = Date.now();
  for (;;) {
    rows = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM calls')).rows[0]?.n ?? 0;
    if (rows >= placed || Date.now() > until) break;
    if (rows !== last) [last, stableSince] = [rows, Date.now()];
    if (Date.now() - stableSince > 5_000) break;
    await sleep(250);
  }
  const dispositions: Record<string, number> = {};
  for (const r of (await client.query<{ disposition: string; n: number }>('SELECT disposition, count(*)::int AS n FROM calls GROUP BY 1')).rows) dispositions[r.disposition] = r.n;
  return {
    callsInProgress: calls === null ? null : calls.length,
    stuckOperators: stuck,
    cdrRows: rows,
    cdrDispositions: dispositions,
    mediaSessions: await settledSessions(freeswitch),
    ...(await scanLog(logFile)),
  };
}

/** FreeSWITCH's session count once it stops falling (channels being torn down), bounded. */
export async function settledSessions(freeswitch: Freeswitch): Promise<number | null> {
  let last: number | null = null;
  for (let i = 0; i < 20; i++) {
    const n = await freeswitch.sessions().catch(() => null);
    if (n === 0 || (n !== null && n === last)) return n;
    last = n;
    await sleep(500);
  }
  return last;
}

/** Counts pino's warn (40) and error/fatal (50, 60) lines and their commonest messages. */
export async function scanLog(file: string): Promise<Pick<EndCheck, 'logWarnings' | 'logErrors' | 'topLogMessages'>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  let warnings = 0;
  let errors = 0;
  const counts = new Map<string, { level: string; msg: string; count: number }>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) {
      // Not pino: a stack trace or a baseline's own stderr line.
      if (/error/i.test(line)) {
        errors++;
        const key = `error ${line.slice(0, 160)}`;
        counts.set(key, { level: 'error', msg: line.slice(0, 160), count: (counts.get(key)?.count ?? 0) + 1 });
      }
      continue;
    }
    let entry: { level?: number; msg?: string; err?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if ((entry.level ?? 0) < 40) continue;
    const level = (entry.level ?? 0) >= 50 ? 'error' : 'warn';
    if (level === 'error') errors++;
    else warnings++;
    const detail = typeof entry.err === 'string' ? `: ${entry.err.slice(0, 100)}` : '';
    const msg = `${entry.msg ?? ''}${detail}`;
    const key = `${level} ${msg}`;
    counts.set(key, { level, msg, count: (counts.get(key)?.count ?? 0) + 1 });
  }
  const top = [...counts.values()].sort((a, b) => b.count - a.count).slice(0, 8);
  return { logWarnings: warnings, logErrors: errors, topLogMessages: top };
}

// ---- the baselines ------------------------------------------------------------------------

export async function startBaselineTarget(name: 'b2bua' | 'anchored', ctx: TargetContext): Promise<Target> {
  if (name === 'b2bua' && ctx.shape === 'wait') throw new Error('the b2bua baseline has no media to wait with (n/a in the wait shape)');
  const { drachtio, freeswitch } = ctx;
  const logFile = path.join(ctx.dir, `${name}.log`);
  const callLogFile = path.join(ctx.dir, `${name}-calls.jsonl`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DRACHTIO_HOST: drachtio.host,
    DRACHTIO_PORT: String(drachtio.port),
    DRACHTIO_SECRET: drachtio.secret,
    FREESWITCH_ESL: `${freeswitch.host}:${freeswitch.port}`,
    FREESWITCH_PASSWORD: freeswitch.password,
    FREESWITCH_LISTEN_ADDRESS: freeswitch.listenAddress,
    OPERATOR_CONTACTS: ctx.operators.map((o) => `sip:${o.username}@127.0.0.1:${o.port}`).join(','),
    CALL_LOG: callLogFile,
    WAIT_MS: String(ctx.shape === 'wait' ? (ctx.opts.waitS ?? 2) * 1000 : 0),
  };
  const proc = startProcess(name, process.execPath, [...TSX, path.join(ROOT_DIR, `bench/baselines/${name}.ts`)], { env, cwd: ROOT_DIR, logFile });
  try {
    await waitForOutput(proc, /baseline ready/, 30_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  const records = async (): Promise<CallRecord[]> =>
    (await readFile(callLogFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as CallRecord);
  return {
    name,
    proc,
    logFile,
    appSide: async (w) => {
      // The log line is written when a call ends: wait (bounded) for the window's calls.
      let inWindow: CallRecord[] = [];
      for (let i = 0; i < 20; i++) {
        inWindow = (await records()).filter((r) => r.arrivedAt >= w.from && r.arrivedAt <= w.to);
        if (inWindow.length >= w.placed) break;
        await sleep(250);
      }
      const outcomes: Record<string, number> = {};
      for (const r of inWindow) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      return {
        toOperatorMs: percentiles(inWindow.filter((r) => r.answeredAt > 0).map((r) => r.answeredAt - r.arrivedAt)),
        recorded: inWindow.length,
        outcomes,
      };
    },
    endCheck: async () => ({
      callsInProgress: null,
      stuckOperators: null,
      cdrRows: null,
      cdrDispositions: null,
      mediaSessions: await settledSessions(freeswitch),
      ...(await scanLog(logFile)),
    }),
    stop: () => proc.stop(),
  };
}
