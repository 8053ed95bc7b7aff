/**
 * SIPp as the bench's load generator: callers, operators' phones and registration storms from
 * sipp-scenarios/, one process per role and rate slice, each in a directory of its own where
 * SIPp writes its statistics (-trace_stat, one line a second), response times (-trace_rtt, every
 * call) and unexpected messages (-trace_err, size-bounded). No message traces: at load they cost
 * more than the system under test.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT_DIR } from '../../src/paths.js';
import { waitForBound } from '../../test/support/ports.js';
import { startProcess, type Proc } from './processes.js';

export const SIPP_BIN = process.env.SIPP_BIN ?? 'sipp';
export const SCENARIOS = path.join(ROOT_DIR, 'sipp-scenarios');
// Per SIPp socket; the kernel caps it at net.core.rmem_max / wmem_max (no system setting changed).
const SOCKET_BUFFER = 1 << 20;
const ERROR_LOG_MAX = 5 << 20;

export interface SippSpec {
  name: string;
  scenario: string;
  /** host:port to send to (clients); absent for servers. */
  remote?: string;
  localPort: number;
  dir: string;
  service?: string;
  keys?: Record<string, string | number>;
  rate?: number;
  calls: number;
  /** -l: most calls at once. */
  limit?: number;
  /** Global bound, seconds. */
  timeoutS: number;
  recvTimeoutMs?: number;
  /** -inf CSV file. */
  inf?: string;
  /** -trace_err (default true); off for scenarios whose timed loops would log every tick. */
  traceErrors?: boolean;
  /** -trace_logs into this file: the scenario's <log> lines (the dispatch time stamps). */
  logFile?: string;
  extraArgs?: string[];
}

export interface SippStats {
  /** Epoch ms of SIPp's start (its clock's zero for -trace_rtt). */
  startedAt: number;
  created: number;
  successful: number;
  failed: number;
  current: number;
  retransmissions: number;
  timeoutsOnRecv: number;
  unexpected: number;
  maxUdpRetrans: number;
  /** The failure counters that are not zero, by SIPp's name. */
  failures: Record<string, number>;
}

export interface SippLine extends SippStats {
  at: number;
}

export interface RttEntry {
  /** Epoch ms when the time was taken. */
  at: number;
  ms: number;
  name: string;
}

export interface SippResult {
  name: string;
  exit: number | string;
  final: SippStats | undefined;
  lines: SippLine[];
  rtt: RttEntry[];
  errors: string;
  dir: string;
}

export interface SippRun {
  spec: SippSpec;
  proc: Proc;
  /** Bound its port (servers: before anyone calls them). */
  ready: Promise<void>;
  done: Promise<SippResult>;
  /** Statistics so far (the last line SIPp wrote). */
  now(): Promise<SippStats | undefined>;
  /** SIGUSR1: stop placing calls, finish the ones in progress, exit. */
  softStop(): void;
}

function args(spec: SippSpec): string[] {
  const a: string[] = [];
  if (spec.remote) a.push(spec.remote);
  a.push('-sf', path.isAbsolute(spec.scenario) ? spec.scenario : path.join(SCENARIOS, spec.scenario));
  a.push('-i', '127.0.0.1', '-p', String(spec.localPort), '-t', 'u1', '-nostdin');
  a.push('-m', String(spec.calls));
  if (spec.rate !== undefined) a.push('-r', String(spec.rate));
  if (spec.limit !== undefined) a.push('-l', String(spec.limit));
  if (spec.service) a.push('-s', spec.service);
  if (spec.recvTimeoutMs !== undefined) a.push('-recv_timeout', String(spec.recvTimeoutMs));
  if (spec.inf) a.push('-inf', spec.inf);
  a.push('-timeout', `${Math.ceil(spec.timeoutS)}s`, '-timeout_error');
  a.push('-buff_size', String(SOCKET_BUFFER));
  a.push('-trace_stat', '-stf', path.join(spec.dir, 'stat.csv'), '-fd', '1');
  a.push('-trace_rtt', '-rtt_freq', '1');
  if (spec.traceErrors !== false) a.push('-trace_err', '-error_file', path.join(spec.dir, 'errors.log'), '-max_log_size', String(ERROR_LOG_MAX));
  if (spec.logFile) a.push('-trace_logs', '-log_file', spec.logFile);
  // BENCH_SIPP_TRACE=1: every message in messages.log (for debugging a scenario, not for load).
  if (process.env.BENCH_SIPP_TRACE) a.push('-trace_msg', '-message_file', path.join(spec.dir, 'messages.log'));
  for (const [k, v] of Object.entries(spec.keys ?? {})) a.push('-key', k, String(v));
  a.push(...(spec.extraArgs ?? []));
  return a;
}

export async function startSipp(spec: SippSpec): Promise<SippRun> {
  await mkdir(spec.dir, { recursive: true });
  await writeFile(path.join(spec.dir, 'command.txt'), `${SIPP_BIN} ${args(spec).join(' ')}\n`);
  const proc = startProcess(spec.name, SIPP_BIN, args(spec), { cwd: spec.dir, logFile: path.join(spec.dir, 'output.log') });
  const ready = Promise.race([
    waitForBound(spec.localPort, 'udp', 10_000),
    proc.exited.then((code) => {
      throw new Error(`sipp ${spec.name} exited (${code}) before binding port ${spec.localPort}: ${proc.tail().slice(-1500)}`);
    }),
  ]);
  ready.catch(() => undefined);
  // SIPp's own -timeout ends it; this is the backstop if SIPp itself hangs.
  const backstop = setTimeout(() => void proc.stop(2_000), (spec.timeoutS + 15) * 1000);
  const done = proc.exited.then(async (exit) => {
    clearTimeout(backstop);
    return collect(spec, exit, proc);
  });
  return {
    spec,
    proc,
    ready,
    done,
    now: async () => parseStats(await readFile(path.join(spec.dir, 'stat.csv'), 'utf8').catch(() => '')).at(-1),
    softStop: () => {
      try {
        proc.child.kill('SIGUSR1');
      } catch {
        // already gone
      }
    },
  };
}

async function collect(spec: SippSpec, exit: number | string, proc: Proc): Promise<SippResult> {
  const read = (f: string): Promise<string> => readFile(path.join(spec.dir, f), 'utf8').catch(() => '');
  const lines = parseStats(await read('stat.csv'));
  const startedAt = lines[0]?.startedAt ?? 0;
  const rttFiles = (await readdir(spec.dir).catch(() => [] as string[])).filter((f) => f.endsWith('_rtt.csv'));
  const rtt: RttEntry[] = [];
  for (const f of rttFiles) rtt.push(...parseRtt(await read(f), startedAt));
  const errors = (await read('errors.log')).slice(0, 20_000) || (exit === 0 ? '' : proc.tail().slice(-2000));
  return { name: spec.name, exit, final: lines.at(-1), lines, rtt, errors, dir: spec.dir };
}

/**
 * The operators' phones: one SIPp auto-answer process per port (the operators registered on it),
 * each ready before the next. Pushed into `phones` as they start, for the caller to stop.
 */
export async function startOperatorPhones(
  ports: number[],
  dir: string,
  o: { answerMs: number; talkMs: number; timeoutS: number; offersLog?: string },
  phones: SippRun[],
): Promise<void> {
  for (const port of ports) {
    const phoneDir = path.join(dir, `operators-${port}`);
    const run = await startSipp({
      name: `operators-${port}`,
      scenario: 'operator-auto-answer.xml',
      localPort: port,
      dir: phoneDir,
      keys: { answer_ms: o.answerMs, talk_ms: o.talkMs },
      ...(o.offersLog ? { logFile: path.join(phoneDir, o.offersLog) } : {}),
      calls: 10_000_000,
      limit: 100_000,
      timeoutS: o.timeoutS,
      traceErrors: false,
    });
    phones.push(run);
    await run.ready;
  }
}

/** SIPp's -trace_stat file: a header line, then one line per period with cumulative counters. */
export function parseStats(csv: string): SippLine[] {
  const rows = csv.split('\n').filter((l) => l.trim() !== '');
  const header = rows[0]?.split(';') ?? [];
  const out: SippLine[] = [];
  for (const row of rows.slice(1)) {
    const cols = row.split(';');
    const get = (name: string): string => cols[header.indexOf(name)] ?? '';
    const n = (name: string): number => Number(get(name)) || 0;
    // Times look like "2026-11-27\t13:56:29.694897\t1795787789.694897": the epoch is last.
    const epoch = (name: string): number => Number(get(name).split('\t').at(-1)) * 1000;
    const failures: Record<string, number> = {};
    header.forEach((h, i) => {
      if (h.startsWith('Failed') && h.endsWith('(C)') && Number(cols[i]) > 0) failures[h.slice(0, -3)] = Number(cols[i]);
    });
    out.push({
      at: epoch('CurrentTime'),
      startedAt: epoch('StartTime'),
      created: n('TotalCallCreated'),
      successful: n('SuccessfulCall(C)'),
      failed: n('FailedCall(C)'),
      current: n('CurrentCall'),
      retransmissions: n('Retransmissions(C)'),
      timeoutsOnRecv: n('FailedTimeoutOnRecv(C)'),
      unexpected: n('FailedUnexpectedMessage(C)'),
      maxUdpRetrans: n('FailedMaxUDPRetrans(C)'),
      failures,
    });
  }
  return out;
}

/** SIPp's -trace_rtt file: "Date_ms;response_time_ms;rtd_no", times since SIPp's start. */
export function parseRtt(csv: string, startedAt: number): RttEntry[] {
  const out: RttEntry[] = [];
  for (const line of csv.split('\n').slice(1)) {
    const [at, ms, name] = line.trim().split(';');
    if (!name) continue;
    out.push({ at: startedAt + Number(at), ms: Number(ms), name });
  }
  return out;
}

/** The CSV of users and passwords a registration storm reads (-inf). */
export async function writeUsersCsv(file: string, users: { username: string; password: string }[]): Promise<void> {
  await writeFile(file, ['SEQUENTIAL', ...users.map((u) => `${u.username};${u.password}`), ''].join('\n'));
}
