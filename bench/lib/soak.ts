/**
 * The soak: a bounded run at a steady rate that mixes four kinds of call through the switchboard,
 * each kind a SIPp caller process at its share of the rate and a group of operators' phones of
 * its own (one SIPp process per group, on one port):
 *
 *   plain     callers into queue 8000, operators answer, talk, hang up
 *   blind     callers into queue 8001, the operator blind-transfers them (REFER) into queue 8003,
 *             whose operators talk and hang up
 *   attended  callers into queue 8002, the operator consults a colleague in a second call to the
 *             colleague's own number, then joins caller and colleague (REFER with Replaces); the
 *             colleague talks and hangs up
 *   room      participants dial room 8100, stay a few seconds, hang up
 *
 * An attended transferor consults one colleague of their own (a pair): SIPp's transfer target is
 * a key of the process, so each transferor is a SIPp process of its own, and a colleague who is
 * still talking to the last caller when consulted again would refuse (486). A consultation goes
 * to an operator's number, not to a queue, as at a front desk: a queue answers at once, so the
 * REFER could come before anyone took the consultation (the switchboard answers such a Replaces
 * with 481). At the end it checks
 * what must hold after any amount of traffic: every operator available, no live call, no media
 * session, one record per call placed (per kind, and one per consultation call), every transfer
 * made, and the switchboard's memory flat (sampled by bench/lib/memory-probe.ts).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ROOT_DIR } from '../../src/paths.js';
import { getFreePorts } from '../../test/support/ports.js';
import { eslApi } from './esl.js';
import { Sampler } from './processes.js';
import { useDrachtio, useFreeswitch, type Drachtio, type Freeswitch } from './servers.js';
import { judge, memoryFigures, type KindCount, type MemoryFigures, type MemorySample, type Verdict } from './soak-verdict.js';
import { startSipp, type SippRun, type SippStats } from './sipp.js';
import { round } from './stats.js';
import { startSwitchboardTarget, type Api, type EndCheck, type Operator } from './targets.js';

export const KINDS = ['plain', 'blind', 'attended', 'room'] as const;
export type Kind = (typeof KINDS)[number];

export interface SoakOptions {
  minutes: number;
  /** Calls per second, all kinds together. */
  rate: number;
  /** Shares of the rate, by kind (normalised). */
  mix: Record<Kind, number>;
  sampleS: number;
  warmupMin: number;
  maxHeapMbPer10Min: number;
  maxRssMbPer10Min: number;
  maxFailedPct: number;
  logLevel: string;
  dist: boolean;
  out: string;
  keep: boolean;
}

export const SOAK_HELP = `Soak of the switchboard: a steady mix of queue calls, blind and attended transfers and room
participants for a bounded time, then the checks (stuck operators, live calls, media sessions,
records = calls placed per kind, memory flat). Exit code 0 when every check passed.

  npm run bench:soak -- [flags]

Servers as for npm run bench: stand-ins unless DRACHTIO_* / FREESWITCH_* name real ones.

  --minutes N            length of the load [30]
  --rate N               calls per second, all kinds together [3]
  --mix LIST             shares by kind [plain=40,blind=20,attended=20,room=20]
  --sample-s N           memory sample period, seconds [30]
  --warmup-min N         minutes left out of the memory trend [min(5, minutes / 5)]
  --max-heap-slope N     flat: heap after GC grows at most N MB per 10 min after warm-up [1]
  --max-rss-slope N      flat: RSS grows at most N MB per 10 min after warm-up [10]
  --max-failed PCT       most failed calls per kind, percent [0.5]
  --log-level L          the switchboard's LOG_LEVEL [info]
  --dist                 run dist/src/main.js
  --out DIR              where results go [bench/results]
  --keep                 keep the run's database and Redis keys
  --help
`;

/** Memory is judged only over at least this long after warm-up (a shorter trend is noise). */
const MIN_JUDGED_MS = 10 * 60_000;

function parseMix(text: string): Record<Kind, number> {
  const mix: Record<Kind, number> = { plain: 0, blind: 0, attended: 0, room: 0 };
  for (const part of text.split(',').filter(Boolean)) {
    const [k, v] = part.split('=').map((s) => s.trim());
    if (!(KINDS as readonly string[]).includes(k ?? '')) throw new Error(`--mix: unknown kind "${k}" (${KINDS.join(', ')})`);
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--mix: share of ${k} must be a number >= 0, got "${v}"`);
    mix[k as Kind] = n;
  }
  const total = KINDS.reduce((a, k) => a + mix[k], 0);
  if (total <= 0) throw new Error('--mix: every share is 0');
  for (const k of KINDS) mix[k] /= total;
  return mix;
}

export function parseSoakOptions(argv: string[]): SoakOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '30' },
      rate: { type: 'string', default: '3' },
      mix: { type: 'string', default: 'plain=40,blind=20,attended=20,room=20' },
      'sample-s': { type: 'string', default: '30' },
      'warmup-min': { type: 'string' },
      'max-heap-slope': { type: 'string', default: '1' },
      'max-rss-slope': { type: 'string', default: '10' },
      'max-failed': { type: 'string', default: '0.5' },
      'log-level': { type: 'string', default: 'info' },
      dist: { type: 'boolean', default: false },
      out: { type: 'string', default: path.join(ROOT_DIR, 'bench/results') },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got "${v}"`);
    return n;
  };
  const minutes = num('minutes', values.minutes, 0.1);
  return {
    minutes,
    rate: num('rate', values.rate, 0.1),
    mix: parseMix(values.mix),
    sampleS: num('sample-s', values['sample-s'], 1),
    warmupMin: values['warmup-min'] === undefined ? Math.min(5, minutes / 5) : num('warmup-min', values['warmup-min'], 0),
    maxHeapMbPer10Min: num('max-heap-slope', values['max-heap-slope'], 0),
    maxRssMbPer10Min: num('max-rss-slope', values['max-rss-slope'], 0),
    maxFailedPct: num('max-failed', values['max-failed'], 0),
    logLevel: values['log-level'],
    dist: values.dist,
    out: path.resolve(values.out),
    keep: values.keep,
  };
}

// ---- what each kind of call is made of -------------------------------------------------------

/** Phones' timings, ms: short calls, so the mix turns over many times in a run. */
const TALK_MS = 3000;
const TRANSFEROR_TALK_MS = 2000;
/** Attended transferors talk longer than their colleague stays on after a transfer (see above). */
const ATTENDED_TALK_MS = 6000;
const CONSULT_MS = 1000;
/** From the colleague's answer: the consultation, then about 2.5 s with the caller. */
const CONSULTED_TALK_MS = 3500;
const TARGET_TALK_MS = 3000;
const ROOM_STAY_MS = 4000;
const PATIENCE_MS = 60_000;

const NUMBERS = { plain: '8000', blind: '8001', attended: '8002', target: '8003', room: '8100' } as const;
/** The consulted colleague of attended transferor k (1-based) has this number. */
const consultedNumber = (k: number): string => String(8600 + k);
/** Callers' numbers start with these (equal length: no prefix is the start of another). */
const PREFIX: Record<Kind, string> = { plain: '7101', blind: '7102', attended: '7103', room: '7104' };

type Group = 'plain' | 'blind' | 'target' | 'attended' | 'consulted';

interface PhoneGroup {
  group: Group;
  scenario: string;
  /** The phone's keys; k is the operator's number in the group (for a process per operator). */
  keys: (k: number) => Record<string, string | number>;
  /** A SIPp process per operator (attended transferors) instead of one for the group. */
  processPerOperator: boolean;
}

const GROUPS: PhoneGroup[] = [
  { group: 'plain', scenario: 'operator-auto-answer.xml', keys: () => ({ answer_ms: 0, talk_ms: TALK_MS }), processPerOperator: false },
  {
    group: 'blind',
    scenario: 'operator-blind-transfer.xml',
    keys: () => ({ answer_ms: 0, talk_ms: TRANSFEROR_TALK_MS, transfer_to: NUMBERS.target }),
    processPerOperator: false,
  },
  { group: 'target', scenario: 'operator-auto-answer.xml', keys: () => ({ answer_ms: 0, talk_ms: TARGET_TALK_MS }), processPerOperator: false },
  {
    group: 'attended',
    scenario: 'operator-attended-transfer.xml',
    keys: (k) => ({ answer_ms: 0, talk_ms: ATTENDED_TALK_MS, consult_ms: CONSULT_MS, transfer_to: consultedNumber(k) }),
    processPerOperator: true,
  },
  { group: 'consulted', scenario: 'operator-auto-answer.xml', keys: () => ({ answer_ms: 0, talk_ms: CONSULTED_TALK_MS }), processPerOperator: false },
];

/** Seconds one call takes an operator of the group, with margin. */
const HOLD_S: Record<Group, number> = { plain: 5, blind: 5, target: 5, attended: 10, consulted: 10 };

/** Operators per group: twice the calls it holds at once on average, and at least 2. */
export function groupSizes(rate: number, mix: Record<Kind, number>): Record<Group, number> {
  const size = (r: number, g: Group): number => (r === 0 ? 0 : Math.max(2, Math.ceil(2 * r * HOLD_S[g] - 1e-9)));
  const attended = size(rate * mix.attended, 'attended');
  return { plain: size(rate * mix.plain, 'plain'), blind: size(rate * mix.blind, 'blind'), target: size(rate * mix.blind, 'target'), attended, consulted: attended };
}

// ---- the run --------------------------------------------------------------------------------

export interface SoakReport {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; loadAverageBefore: number[]; loadAverageAfter: number[] };
  servers: { drachtio: string; freeswitch: string };
  options: SoakOptions;
  operators: Record<Group, number>;
  kinds: (KindCount & { rate: number; dispositions: Record<string, number>; transfers?: number })[];
  /**
   * The attended transferors' second calls: one record each. How many were placed SIPp cannot
   * say; at least one per transferor's call that succeeded, at most one per call it was offered.
   */
  consultations: { records: number; least: number; most: number };
  phones: Record<Group, SippStats | undefined>;
  end: (EndCheck & { appExited: boolean }) | null;
  memory: MemoryFigures;
  memorySamples: { minute: number; heapMb: number; rssMb: number }[];
  cpu: { appPercent: number | null; machineBusyPercent: number | null };
  verdict: Verdict;
  error?: string;
  dir: string;
}

export async function runSoak(opts: SoakOptions, log: (line: string) => void = (l) => console.log(l)): Promise<{ report: SoakReport; text: string }> {
  const started = new Date();
  const dir = path.join(opts.out, `${started.toISOString().replace(/[:.]/g, '-').slice(0, 19)}-soak`);
  await mkdir(dir, { recursive: true });
  const loadBefore = os.loadavg().map((l) => round(l, 2) ?? 0);
  const sizes = groupSizes(opts.rate, opts.mix);
  const memoryFile = path.join(dir, 'memory.jsonl');
  log(`soak: results in ${dir}`);

  let drachtio: Drachtio | undefined;
  let freeswitch: Freeswitch | undefined;
  let target: Awaited<ReturnType<typeof startSwitchboardTarget>> | undefined;
  let client: pg.Client | undefined;
  let sampler: Sampler | undefined;
  const phones: { group: Group; run: SippRun }[] = [];
  const callers = new Map<Kind, SippRun>();
  const report: SoakReport = {
    startedAt: started.toISOString(),
    finishedAt: '',
    machine: { cpus: os.cpus().length, loadAverageBefore: loadBefore, loadAverageAfter: [] },
    servers: { drachtio: '', freeswitch: '' },
    options: opts,
    operators: sizes,
    kinds: [],
    consultations: { records: 0, least: 0, most: 0 },
    phones: { plain: undefined, blind: undefined, target: undefined, attended: undefined, consulted: undefined },
    end: null,
    memory: memoryFigures([], 0, memoryLimits(opts)),
    memorySamples: [],
    cpu: { appPercent: null, machineBusyPercent: null },
    verdict: { passed: false, problems: [] },
    dir,
  };
  let appExited = false;
  let stopping = false;
  try {
    drachtio = await useDrachtio(path.join(dir, 'drachtio-stand-in.log'));
    freeswitch = await useFreeswitch(path.join(dir, 'freeswitch-stand-in.log'));
    report.servers = {
      drachtio: drachtio.external ? `real (SIP ${drachtio.sipAddress})` : `stand-in (SIP ${drachtio.sipAddress})`,
      freeswitch: freeswitch.external ? `real (event socket ${freeswitch.host}:${freeswitch.port})` : 'stand-in',
    };
    if (freeswitch.external && ((await freeswitch.sessions().catch(() => 0)) ?? 0) > 0) {
      // Left by an earlier run (this FreeSWITCH must be the soak's alone).
      await eslApi(freeswitch.host, freeswitch.port, freeswitch.password, 'hupall NORMAL_CLEARING').catch(() => undefined);
    }

    // A port per SIPp phone process: one per group, or one per operator of the group.
    const procs = GROUPS.flatMap((g) => (g.processPerOperator ? Array.from({ length: sizes[g.group] }, (_, i) => ({ g, k: i + 1 })) : sizes[g.group] > 0 ? [{ g, k: 0 }] : []));
    const ports = await getFreePorts(procs.length, 'both');
    const phoneProcs = procs.map((p, i) => ({ ...p, port: ports[i] as number }));
    const portOf = (g: PhoneGroup, k: number): number => (phoneProcs.find((p) => p.g === g && (p.k === 0 || p.k === k)) as { port: number }).port;
    const operators = GROUPS.flatMap((g) =>
      Array.from({ length: sizes[g.group] }, (_, i) => ({ username: `${g.group}${i + 1}`, password: `${g.group}${i + 1}-secret`, port: portOf(g, i + 1) })),
    );
    log(`soak: starting the switchboard (${report.servers.drachtio}; ${report.servers.freeswitch}; operators ${JSON.stringify(sizes)})`);
    target = await startSwitchboardTarget({
      dir,
      drachtio,
      freeswitch,
      operators,
      opts: { wrapupS: 0, logLevel: opts.logLevel, dist: opts.dist, keep: opts.keep },
      nodeArgs: ['--expose-gc', '--import', path.join(ROOT_DIR, 'bench/lib/memory-probe.ts')],
      env: { BENCH_MEMORY_FILE: memoryFile, BENCH_MEMORY_EVERY_MS: String(opts.sampleS * 1000) },
    });
    const app = target;
    void app.proc.exited.then(() => {
      if (stopping) return;
      appExited = true;
      log(`soak: the switchboard EXITED: ${app.proc.tail().slice(-1500)}`);
    });
    client = new pg.Client({ connectionString: target.databaseUrl });
    await client.connect();
    await provision(target.api, target.operators);

    const runS = opts.minutes * 60;
    for (const { g, k, port } of phoneProcs) {
      const name = `phones-${g.group}${k > 0 ? k : ''}`;
      const run = await startSipp({
        name,
        scenario: g.scenario,
        localPort: port,
        dir: path.join(dir, name),
        keys: g.keys(k),
        calls: 10_000_000,
        limit: 100_000,
        timeoutS: runS + 600,
        // The auto-answer phone's timed loop would log every tick; the transfer phones' errors matter.
        traceErrors: g.scenario !== 'operator-auto-answer.xml',
      });
      phones.push({ group: g.group, run });
      await run.ready;
    }

    const pids = new Map<string, number>([['app', target.proc.pid]]);
    if (drachtio.pid) pids.set('drachtio', drachtio.pid);
    if (freeswitch.pid) pids.set('freeswitch', freeswitch.pid);
    sampler = new Sampler(pids, 5000);
    sampler.start();

    const loadFrom = Date.now();
    const callerPorts = await getFreePorts(KINDS.length, 'udp');
    for (const [i, kind] of KINDS.entries()) {
      const rate = opts.rate * opts.mix[kind];
      const calls = Math.round(rate * runS);
      if (calls === 0) continue;
      const room = kind === 'room';
      const run = await startSipp({
        name: `callers-${kind}`,
        scenario: room ? 'conference-participant.xml' : 'caller-queue.xml',
        remote: drachtio.sipAddress,
        localPort: callerPorts[i] as number,
        dir: path.join(dir, `callers-${kind}`),
        service: room ? NUMBERS.room : NUMBERS[kind],
        keys: room ? { prefix: PREFIX[kind], pin: 'none', pin_delay_ms: 0, stay_ms: ROOM_STAY_MS } : { prefix: PREFIX[kind] },
        rate,
        calls,
        limit: Math.ceil(rate * (PATIENCE_MS / 1000)) + 20,
        recvTimeoutMs: PATIENCE_MS,
        timeoutS: runS + PATIENCE_MS / 1000 + 120,
      });
      callers.set(kind, run);
    }
    const progress = setInterval(() => void progressLine(loadFrom, callers, memoryFile).then(log), 60_000);
    try {
      await Promise.all([...callers.values()].map((r) => r.done));
    } finally {
      clearInterval(progress);
    }
    const loadTo = Date.now();
    log('soak: load done; checking what is left ...');

    // The phones finish their last calls a moment after the callers (the transferors' BYEs).
    await sleep(3000);
    for (const { group, run } of phones) report.phones[group] = addStats(report.phones[group], await run.now());
    const kinds: SoakReport['kinds'] = [];
    for (const [kind, run] of callers) {
      const final = (await run.done).final;
      const placed = final?.created ?? 0;
      const successful = final?.successful ?? 0;
      const failed = final?.failed ?? 0;
      kinds.push({ kind, rate: opts.rate * opts.mix[kind], placed, successful, failed, records: 0, expectedRecords: successful + failed, dispositions: {} });
    }
    const consultations = { least: report.phones.attended?.successful ?? 0, most: report.phones.attended?.created ?? 0 };
    const expectedRows = kinds.reduce((a, k) => a + k.expectedRecords, 0) + consultations.least;
    const end = await target.endCheck(expectedRows);
    report.end = { ...end, appExited };
    for (const k of kinds) Object.assign(k, await recordsOfKind(client, k.kind as Kind));
    report.kinds = kinds;
    report.consultations = { records: await consultationRecords(client), ...consultations };
    const cpu = sampler.window('app', loadFrom, loadTo);
    report.cpu = { appPercent: round(cpu?.cpuPercent ?? null, 1), machineBusyPercent: round(sampler.machineBusy(loadFrom, loadTo) ?? null, 1) };
    // The load's samples only: once it stops, memory falls and would bend the trend.
    const samples = (await readMemory(memoryFile)).filter((x) => x.at >= loadFrom && x.at <= loadTo);
    report.memory = memoryFigures(samples, loadFrom, memoryLimits(opts));
    report.memorySamples = samples.map((s) => ({ minute: round((s.at - loadFrom) / 60_000, 2) ?? 0, heapMb: round(s.heapUsed / 2 ** 20, 2) ?? 0, rssMb: round(s.rss / 2 ** 20, 1) ?? 0 }));
    report.verdict = verdictOf(report);
    if (freeswitch.external && (end.mediaSessions ?? 0) > 0) {
      await eslApi(freeswitch.host, freeswitch.port, freeswitch.password, 'hupall NORMAL_CLEARING').catch(() => undefined);
    }
  } catch (err) {
    report.error = (err as Error).stack ?? String(err);
    report.verdict = { passed: false, problems: [`the run failed: ${(err as Error).message}`] };
    log(`soak: FAILED: ${(err as Error).message}`);
  } finally {
    stopping = true;
    sampler?.stop();
    // Callers finish on their own (they are done unless the run failed); phones have nothing
    // left to answer once the checks are done.
    for (const r of callers.values()) r.softStop();
    await Promise.all([...callers.values()].map((r) => Promise.race([r.done, sleep(5000)])));
    await Promise.all([...callers.values(), ...phones.map((p) => p.run)].map((p) => p.proc.stop(2000)));
    await client?.end().catch(() => undefined);
    await target?.stop().catch(() => undefined);
    await freeswitch?.stop().catch(() => undefined);
    await drachtio?.stop().catch(() => undefined);
  }
  report.finishedAt = new Date().toISOString();
  report.machine.loadAverageAfter = os.loadavg().map((l) => round(l, 2) ?? 0);
  const text = soakText(report);
  await writeFile(path.join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(path.join(dir, 'report.txt'), `${text}\n`);
  return { report, text };
}

function memoryLimits(opts: SoakOptions): Parameters<typeof memoryFigures>[2] {
  return { warmupMs: opts.warmupMin * 60_000, maxHeapMbPer10Min: opts.maxHeapMbPer10Min, maxRssMbPer10Min: opts.maxRssMbPer10Min, minJudgedMs: MIN_JUDGED_MS };
}

function verdictOf(r: SoakReport): Verdict {
  const end = r.end;
  const base = judge(
    r.kinds,
    {
      callsInProgress: end?.callsInProgress ?? null,
      stuckOperators: end?.stuckOperators ?? null,
      mediaSessions: end?.mediaSessions ?? null,
      phoneFailures: Object.values(r.phones).reduce((a, s) => a + (s?.failed ?? 0), 0),
      phoneCalls: Object.values(r.phones).reduce((a, s) => a + (s?.created ?? 0), 0),
      appExited: end?.appExited ?? true,
    },
    r.memory,
    r.options.maxFailedPct,
  );
  const problems = [...base.problems];
  const c = r.consultations;
  if (c.records < c.least || c.records > c.most) problems.push(`consultation calls: ${c.records} records, expected ${c.least === c.most ? c.least : `${c.least} to ${c.most}`}`);
  // Transfers must really have happened: at least one per served caller of those kinds (a
  // transferor who hangs up after a failed transfer also ends the caller's call "successfully").
  for (const k of r.kinds) {
    if (k.transfers !== undefined && k.transfers < k.successful) problems.push(`${k.kind}: ${k.transfers} transfers recorded for ${k.successful} served callers`);
  }
  return { passed: problems.length === 0, problems };
}

/** Queues and memberships by group, the target queue, and the room, through the API. */
async function provision(api: Api, operators: Operator[]): Promise<void> {
  const must = async (method: string, p: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await api(method, p, body);
    if (res.status >= 300) throw new Error(`${method} ${p}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body ?? {}) as Record<string, unknown>;
  };
  // startSwitchboardTarget made queue 1 on 8000 with every operator: keep the plain ones there.
  const inGroup = (g: Group): Operator[] => operators.filter((o) => o.username.startsWith(g));
  for (const o of operators) if (!o.username.startsWith('plain')) await must('DELETE', `/v1/queues/1/members/${o.id}`);
  const queues: [Group, string][] = [['blind', NUMBERS.blind], ['attended', NUMBERS.attended], ['target', NUMBERS.target]];
  for (const [i, o] of inGroup('consulted').entries()) {
    await must('POST', '/v1/routes', { number: consultedNumber(i + 1), targetType: 'operator', operatorId: o.id, allowOutside: true });
  }
  const ids: number[] = [1];
  for (const [g, number] of queues) {
    const q = await must('POST', '/v1/queues', { number: `1${number}`, name: `Soak ${g}`, announceIntervalS: 0, wrapupS: 0, ringTimeoutS: 15, maxNoAnswer: 3 });
    const id = q.id as number;
    ids.push(id);
    await must('POST', '/v1/routes', { number, targetType: 'queue', queueId: id, allowOutside: true });
    for (const o of inGroup(g)) await must('PUT', `/v1/queues/${id}/members/${o.id}`, {});
  }
  const room = await must('POST', '/v1/rooms', { number: '300', name: 'Soak room' });
  await must('POST', '/v1/routes', { number: NUMBERS.room, targetType: 'room', roomId: room.id as number, allowOutside: true });
  const until = Date.now() + 10_000;
  for (const id of ids) {
    while ((await api('GET', `/v1/queues/${id}/calls`)).status !== 200) {
      if (Date.now() > until) throw new Error(`queue ${id} never reached the call path`);
      await sleep(100);
    }
  }
}

async function recordsOfKind(client: pg.Client, kind: Kind): Promise<{ records: number; dispositions: Record<string, number>; transfers?: number }> {
  const like = `${PREFIX[kind]}%`;
  const rows = (await client.query<{ disposition: string; n: number }>('SELECT disposition, count(*)::int AS n FROM calls WHERE caller_number LIKE $1 GROUP BY 1', [like])).rows;
  const dispositions = Object.fromEntries(rows.map((r) => [r.disposition, r.n]));
  const records = rows.reduce((a, r) => a + r.n, 0);
  if (kind !== 'blind' && kind !== 'attended') return { records, dispositions };
  // Blind into a queue records the target queue; attended by the phone records the result.
  const transfers = (
    await client.query<{ n: number }>(
      `SELECT count(DISTINCT e.call_id)::int AS n FROM queue_events e JOIN calls c ON c.call_id = e.call_id
        WHERE e.event = 'transfer' AND c.caller_number LIKE $1
          AND (e.data->>'toQueueNumber' IS NOT NULL OR e.data->>'result' = 'connected')`,
      [like],
    )
  ).rows[0]?.n;
  return { records, dispositions, transfers: transfers ?? 0 };
}

/** The attended transferors' second calls: from their phones to their colleagues' numbers. */
async function consultationRecords(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM calls WHERE caller_number LIKE 'attended%'");
  return rows[0]?.n ?? 0;
}

/** SIPp counters of a group's processes, added up. */
function addStats(a: SippStats | undefined, b: SippStats | undefined): SippStats | undefined {
  if (!a || !b) return a ?? b;
  const failures = { ...a.failures };
  for (const [k, v] of Object.entries(b.failures)) failures[k] = (failures[k] ?? 0) + v;
  return {
    startedAt: Math.min(a.startedAt, b.startedAt),
    created: a.created + b.created,
    successful: a.successful + b.successful,
    failed: a.failed + b.failed,
    current: a.current + b.current,
    retransmissions: a.retransmissions + b.retransmissions,
    timeoutsOnRecv: a.timeoutsOnRecv + b.timeoutsOnRecv,
    unexpected: a.unexpected + b.unexpected,
    maxUdpRetrans: a.maxUdpRetrans + b.maxUdpRetrans,
    failures,
  };
}

async function readMemory(file: string): Promise<MemorySample[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as MemorySample);
}

async function progressLine(from: number, callers: Map<Kind, SippRun>, memoryFile: string): Promise<string> {
  const parts: string[] = [];
  for (const [kind, run] of callers) {
    const s = await run.now();
    parts.push(`${kind} ${s?.created ?? 0} placed/${s?.failed ?? 0} failed/${s?.current ?? 0} now`);
  }
  const last = (await readMemory(memoryFile)).at(-1);
  const mem = last ? `; heap ${(last.heapUsed / 2 ** 20).toFixed(1)} MB, RSS ${(last.rss / 2 ** 20).toFixed(0)} MB` : '';
  return `soak: ${((Date.now() - from) / 60_000).toFixed(1)} min: ${parts.join(', ')}${mem}`;
}

// ---- the report ------------------------------------------------------------------------------

export function soakText(r: SoakReport): string {
  const n = (v: number | null | undefined, d = 1): string => (v === null || v === undefined ? '-' : v.toFixed(d));
  const o = r.options;
  const lines: string[] = [];
  lines.push(`Soak ${r.startedAt} -> ${r.finishedAt}: ${r.verdict.passed ? 'PASSED' : 'FAILED'}`);
  lines.push(`Servers: drachtio ${r.servers.drachtio}; FreeSWITCH ${r.servers.freeswitch}. Machine: ${r.machine.cpus} CPUs, load average ${r.machine.loadAverageBefore.join(' ')} before, ${r.machine.loadAverageAfter.join(' ')} after; busy ${n(r.cpu.machineBusyPercent, 0)} % during the load; switchboard CPU ${n(r.cpu.appPercent, 0)} % of a core.`);
  lines.push(`Load: ${o.rate} calls/s for ${o.minutes} min, mix ${KINDS.map((k) => `${k} ${Math.round(o.mix[k] * 100)} %`).join(', ')}; operators ${Object.entries(r.operators).map(([g, c]) => `${g} ${c}`).join(', ')}.`);
  lines.push('');
  lines.push('kind        rate/s  placed  ok      failed  records  expected  transfers  dispositions');
  for (const k of r.kinds) {
    lines.push(
      `${k.kind.padEnd(11)} ${n(k.rate, 2).padStart(6)}  ${String(k.placed).padStart(6)}  ${String(k.successful).padStart(6)}  ${String(k.failed).padStart(6)}  ${String(k.records).padStart(7)}  ${String(k.expectedRecords).padStart(8)}  ${String(k.transfers ?? '-').padStart(9)}  ${JSON.stringify(k.dispositions)}`,
    );
  }
  const c = r.consultations;
  lines.push(`consultation calls (attended transferors' second calls): ${c.records} records, ${c.least === c.most ? c.least : `${c.least} to ${c.most}`} expected`);
  lines.push(`operators' phones, failed calls: ${Object.entries(r.phones).map(([g, s]) => `${g} ${s?.failed ?? '-'} of ${s?.created ?? '-'}`).join(', ')}`);
  const e = r.end;
  lines.push('');
  lines.push(`At the end: live calls ${e?.callsInProgress ?? '-'}; operators not available ${e?.stuckOperators ? Object.keys(e.stuckOperators).length : '-'}${e?.stuckOperators && Object.keys(e.stuckOperators).length ? ` ${JSON.stringify(e.stuckOperators)}` : ''}; media sessions ${e?.mediaSessions ?? '-'}; records ${e?.cdrRows ?? '-'}; switchboard exited during the run: ${e?.appExited ? 'yes' : 'no'}`);
  lines.push(`Log: ${e?.logWarnings ?? '-'} warnings, ${e?.logErrors ?? '-'} errors${e?.topLogMessages.length ? `; commonest: ${e.topLogMessages.map((m) => `${m.level} "${m.msg}" x${m.count}`).join('; ')}` : ''}`);
  const m = r.memory;
  lines.push('');
  lines.push(`Memory (sampled every ${o.sampleS} s, ${m.samples} samples; heap after a forced full GC; warm-up ${o.warmupMin} min left out):`);
  lines.push(`  heap: ${n(m.heap.startMb, 2)} MB after warm-up -> ${n(m.heap.endMb, 2)} MB at the end, growth ${n(m.heap.growthMb, 2)} MB, slope ${n(m.heap.slopeMbPer10Min, 3)} MB/10 min, peak ${n(m.heap.peakMb, 2)} MB`);
  lines.push(`  RSS:  ${n(m.rss.startMb)} MB after warm-up -> ${n(m.rss.endMb)} MB at the end, growth ${n(m.rss.growthMb)} MB, slope ${n(m.rss.slopeMbPer10Min, 2)} MB/10 min, peak ${n(m.rss.peakMb)} MB`);
  lines.push(`  ${m.note}`);
  if (r.memorySamples.length) {
    const perMinute = r.memorySamples.filter((_, i) => i % Math.max(1, Math.round(60 / o.sampleS)) === 0);
    lines.push(`  by minute (min: heap MB / RSS MB): ${perMinute.map((s) => `${n(s.minute, 0)}: ${n(s.heapMb)}/${n(s.rssMb, 0)}`).join(', ')}`);
  }
  lines.push('');
  lines.push(r.verdict.passed ? 'Verdict: PASSED (every check held)' : `Verdict: FAILED\n${r.verdict.problems.map((p) => `  - ${p}`).join('\n')}`);
  if (r.error) lines.push(`\n${r.error}`);
  lines.push(`\nFiles: ${r.dir}`);
  return lines.join('\n');
}
