/**
 * What one queue call costs in Redis commands and in the switchboard's CPU (issue 9): starts the
 * switchboard as a process of its own (bench/lib/targets.ts, as `npm run bench` does) on a
 * redis-server of this run's own, so the server's counters are this switchboard's alone, with the
 * drachtio-server and FreeSWITCH stand-ins (or the real servers of the environment), K operators
 * on SIPp auto-answer phones, and places N plain queue calls with an operator free on arrival.
 *
 * Reported per call, by command: every command Redis ran (INFO commandstats, Lua's included),
 * split into those the app sent and those its Lua scripts ran (MONITOR), and the app's CPU ms;
 * each less an idle window's background (lease renewals, sweeps) scaled to the same length.
 *
 *   npx tsx bench/redis-commands.ts [--calls 200] [--rate 20] [--operators 40] [--talk-ms 500]
 *                                   [--mode direct|anchored] [--idle-s 10] [--out bench/results]
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { getFreePort, getFreePorts } from '../test/support/ports.js';
import { PrivateRedis } from '../test/support/private-services.js';
import { diffCounts, MonitorTally, parseCommandStats, perCallRows, commandTable } from './lib/redis-count.js';
import { sampleProcess } from './lib/processes.js';
import { useDrachtio, useFreeswitch, type Drachtio } from './lib/servers.js';
import { startOperatorPhones, startSipp, type SippRun } from './lib/sipp.js';
import { DIALLED, startSwitchboardTarget } from './lib/targets.js';

const OPERATORS_PER_PHONE = 500;
const PATIENCE_MS = 15_000;

interface Options {
  calls: number;
  rate: number;
  operators: number;
  talkMs: number;
  mode: 'direct' | 'anchored';
  idleS: number;
  out: string;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '200' },
      rate: { type: 'string', default: '20' },
      operators: { type: 'string', default: '40' },
      'talk-ms': { type: 'string', default: '500' },
      mode: { type: 'string', default: 'direct' },
      'idle-s': { type: 'string', default: '10' },
      out: { type: 'string', default: 'bench/results' },
    },
  });
  const num = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, not ${v}`);
    return n;
  };
  if (values.mode !== 'direct' && values.mode !== 'anchored') throw new Error(`--mode must be direct or anchored, not ${values.mode}`);
  return {
    calls: num('calls', values.calls, 1),
    rate: num('rate', values.rate, 1),
    operators: num('operators', values.operators, 1),
    talkMs: num('talk-ms', values['talk-ms'], 0),
    mode: values.mode,
    idleS: num('idle-s', values['idle-s'], 1),
    out: values.out ?? 'bench/results',
  };
}

/** What the counters say at one moment. */
interface Snapshot {
  at: number;
  stats: Map<string, number>;
  sent: Map<string, number>;
  inLua: Map<string, number>;
  cpuMs: number;
}

async function snapshot(redis: Redis, tally: MonitorTally, pid: number): Promise<Snapshot> {
  // MONITOR lines arrive after the commands ran: let the ones already sent come in.
  await sleep(300);
  const [info, proc] = await Promise.all([redis.info('commandstats'), sampleProcess(pid)]);
  if (!proc) throw new Error('the switchboard process is gone');
  return { at: Date.now(), stats: parseCommandStats(info), ...tally.snapshot(), cpuMs: proc.cpuMs };
}

function between(a: Snapshot, b: Snapshot): { stats: Map<string, number>; sent: Map<string, number>; inLua: Map<string, number>; seconds: number; cpuMs: number } {
  return { stats: diffCounts(a.stats, b.stats), sent: diffCounts(a.sent, b.sent), inLua: diffCounts(a.inLua, b.inLua), seconds: (b.at - a.at) / 1000, cpuMs: b.cpuMs - a.cpuMs };
}

/** Places `calls` callers at `rate`/s and waits until all are over and recorded, bounded. */
async function placeCalls(o: { dir: string; drachtio: Drachtio; db: pg.Client; prefix: string; calls: number; rate: number; talkMs: number }): Promise<{ placed: number; failed: number; answered: number }> {
  const port = await getFreePort('udp');
  const run = await startSipp({
    name: `callers-${o.prefix}`,
    scenario: 'caller-load.xml',
    remote: o.drachtio.sipAddress,
    localPort: port,
    dir: path.join(o.dir, `callers-${o.prefix}`),
    service: DIALLED,
    keys: { prefix: o.prefix },
    rate: o.rate,
    calls: o.calls,
    limit: Math.ceil(o.rate * ((o.talkMs + PATIENCE_MS) / 1000)) + 50,
    recvTimeoutMs: PATIENCE_MS,
    timeoutS: o.calls / o.rate + (o.talkMs + PATIENCE_MS) / 1000 + 60,
  });
  const result = await run.done;
  const placed = result.final?.created ?? 0;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await o.db.query<{ n: number; answered: number }>(
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE disposition = 'answered')::int AS answered FROM calls WHERE caller_number LIKE $1",
      [`${o.prefix}%`],
    );
    const row = rows[0] ?? { n: 0, answered: 0 };
    if (row.n >= placed || Date.now() > deadline) return { placed, failed: result.final?.failed ?? placed, answered: row.answered };
    await sleep(250);
  }
}

async function main(): Promise<void> {
  const opts = options();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const dir = path.resolve(opts.out, `${stamp}-redis-commands`);
  await mkdir(dir, { recursive: true });
  const log = (line: string): void => console.log(line);
  log(`redis-commands: results in ${dir}`);

  const redisServer = await PrivateRedis.create();
  // startSwitchboardTarget gives the switchboard the tests' Redis: this run's own instead.
  process.env.TEST_REDIS_URL = redisServer.url;
  const stats = new Redis(redisServer.url);
  const tally = new MonitorTally();
  const ownAddress = /addr=(\S+)/.exec(String(await stats.client('INFO')))?.[1] ?? '';
  // Every command as MONITOR saw it, for reading one call's commands in order.
  const trace = createWriteStream(path.join(dir, 'monitor.log'));
  const monitor = await stats.monitor();
  monitor.on('monitor', (time: string, args: string[], source: string) => {
    tally.add(args, source, new Set([ownAddress]));
    trace.write(`${time} ${source} ${args.map((a) => a.slice(0, 120)).join(' ')}\n`);
  });

  let drachtio: Drachtio | undefined;
  let freeswitch: Awaited<ReturnType<typeof useFreeswitch>> | undefined;
  let target: Awaited<ReturnType<typeof startSwitchboardTarget>> | undefined;
  let db: pg.Client | undefined;
  const phones: SippRun[] = [];
  try {
    drachtio = await useDrachtio(path.join(dir, 'drachtio-stand-in.log'));
    freeswitch = await useFreeswitch(path.join(dir, 'freeswitch-stand-in.log'));
    const ports = await getFreePorts(Math.ceil(opts.operators / OPERATORS_PER_PHONE), 'both');
    const operators = Array.from({ length: opts.operators }, (_, i) => ({ username: `op${i + 1}`, password: `op${i + 1}-secret`, port: ports[i % ports.length] as number }));
    log(`starting the switchboard (${opts.mode}), ${opts.operators} operators`);
    target = await startSwitchboardTarget({
      dir,
      drachtio,
      freeswitch,
      operators,
      opts: { wrapupS: 0, logLevel: 'warn', dist: false, keep: false },
      target: opts.mode === 'anchored' ? 'switchboard-anchored' : 'switchboard-direct',
      shape: 'free',
    });
    await startOperatorPhones(ports, dir, { answerMs: 0, talkMs: opts.talkMs, timeoutS: 3_600 }, phones);
    db = new pg.Client({ connectionString: target.databaseUrl });
    await db.connect();
    const call = { dir, drachtio, db, talkMs: opts.talkMs };

    log('warm-up: 10 calls');
    await placeCalls({ ...call, prefix: '6001', calls: 10, rate: 5 });
    await sleep(2_000);

    log(`idle: ${opts.idleS} s`);
    const idleFrom = await snapshot(stats, tally, target.proc.pid);
    await sleep(opts.idleS * 1000);
    const idleTo = await snapshot(stats, tally, target.proc.pid);

    log(`measured: ${opts.calls} calls at ${opts.rate}/s`);
    const from = await snapshot(stats, tally, target.proc.pid);
    const outcome = await placeCalls({ ...call, prefix: '6002', calls: opts.calls, rate: opts.rate });
    await sleep(1_000);
    const to = await snapshot(stats, tally, target.proc.pid);

    const idle = between(idleFrom, idleTo);
    const window = between(from, to);
    const placed = Math.max(1, outcome.placed);
    const { rows, totals } = perCallRows(window, idle, placed);
    const cpuNet = (window.cpuMs - idle.cpuMs * (window.seconds / idle.seconds)) / placed;
    const summary = [
      `# Redis commands per queue call (${opts.mode}, ${opts.calls} calls at ${opts.rate}/s, ${opts.operators} operators, talk ${opts.talkMs} ms)`,
      '',
      `calls placed ${outcome.placed}, failed (SIPp) ${outcome.failed}, recorded answered ${outcome.answered}; window ${window.seconds.toFixed(1)} s, idle window ${idle.seconds.toFixed(1)} s`,
      `app CPU ms per call: ${cpuNet.toFixed(2)} (raw ${(window.cpuMs / placed).toFixed(2)}, idle ${(idle.cpuMs / idle.seconds).toFixed(1)} ms/s)`,
      `Redis commands per call: ${totals.perCall.toFixed(1)} (sent by the app ${totals.sentPerCall.toFixed(1)}, run in Lua ${totals.luaPerCall.toFixed(1)})`,
      '',
      commandTable(rows, totals),
      '',
    ].join('\n');
    log(summary);
    await writeFile(path.join(dir, 'report.md'), summary);
    await writeFile(path.join(dir, 'report.json'), JSON.stringify({ opts, outcome, cpuMsPerCall: cpuNet, totals, rows, window: { ...window, stats: Object.fromEntries(window.stats), sent: Object.fromEntries(window.sent), inLua: Object.fromEntries(window.inLua) } }, null, 2));
    if (outcome.failed > 0 || outcome.answered < outcome.placed) process.exitCode = 1;
  } finally {
    for (const p of phones) p.softStop();
    await Promise.all(phones.map((p) => Promise.race([p.done, sleep(5_000)])));
    await Promise.all(phones.map((p) => p.proc.stop(2_000)));
    await db?.end().catch(() => undefined);
    await target?.stop().catch(() => undefined);
    await freeswitch?.stop().catch(() => undefined);
    await drachtio?.stop().catch(() => undefined);
    monitor.disconnect();
    stats.disconnect();
    trace.end();
    await redisServer.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
