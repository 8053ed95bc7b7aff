/**
 * Run SIPp scenarios as child processes and read back what crossed the wire.
 *
 * Every run is bounded: SIPp gets -m (call limit) and -timeout/-timeout_error, and we kill it
 * ourselves a little after that. Each run writes its message trace (-trace_msg), statistics
 * (-trace_stat) and errors (-trace_err) to its own directory; the result parses them so tests
 * can assert on the messages, not only on the exit code.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMessage, SipRequest, SipResponse } from '../benches/sip/index.js';
import { getFreePort, waitForBound } from './ports.js';

export const SIPP_BIN = process.env.SIPP_BIN ?? 'sipp';
export const SCENARIO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../sipp');

export interface SippOptions {
  /** Scenario file: absolute, or relative to test/sipp/. */
  scenario: string;
  /** "host:port" to send to (UAC scenarios). UAS scenarios leave it out and wait. */
  remote?: string;
  transport: 'udp' | 'tcp';
  /** Local SIP port; a free one is picked when omitted. */
  localPort?: number;
  /** -m: stop after this many calls (default 1). */
  calls?: number;
  /** -r: calls per second (default SIPp's 10). */
  rate?: number;
  /** Overall bound in ms (default 15 s): -timeout for SIPp, then a kill from us. */
  timeoutMs?: number;
  /** -key name value pairs, usable as [name] in the scenario. */
  keys?: Record<string, string | number>;
  /** -s: user part of the Request-URI ([service]). */
  service?: string;
  extraArgs?: string[];
  /** Label for log directories and error messages. */
  name?: string;
}

export interface SippMessage {
  direction: 'sent' | 'received';
  transport: string;
  /** Timestamp SIPp wrote, "YYYY-MM-DD HH:MM:SS.micro". */
  time: string;
  text: string;
  /** Size on the wire as SIPp reports it. */
  bytes: number;
  sip?: SipRequest | SipResponse;
  /** "> INVITE", "< 200 INVITE": direction from SIPp's point of view. */
  label: string;
}

export interface SippStats {
  successful: number;
  failed: number;
  retransmissions: number;
  unexpectedMessages: number;
  timeoutsOnRecv: number;
  raw: Record<string, string>;
}

export interface SippResult {
  name: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** SIPp's own verdict: exit code 0 means every call passed. */
  passed: boolean;
  messages: SippMessage[];
  stats?: SippStats;
  errors: string;
  stdout: string;
  stderr: string;
  logDir: string;
  port: number;
}

export interface SippRun {
  /** The local port SIPp listens on. */
  port: number;
  /** Resolves once SIPp has bound its port (for UAS scenarios, before anyone calls it). */
  ready: Promise<void>;
  done: Promise<SippResult>;
  kill(): void;
}

/** Start SIPp and return at once; await `ready` before sending it traffic. */
export async function startSipp(opts: SippOptions): Promise<SippRun> {
  const port = opts.localPort ?? (await getFreePort('both'));
  const name = opts.name ?? path.basename(opts.scenario, '.xml');
  const logDir = await mkdtemp(path.join(os.tmpdir(), `sipp-${name}-`));
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const args = buildArgs(opts, port, logDir, timeoutMs);

  const child = spawn(SIPP_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: logDir });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));

  // SIPp's own -timeout should end it; this is the backstop if SIPp itself hangs.
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 3000);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (err) => {
      stderr += String(err);
      resolve({ code: -1, signal: null });
    });
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });

  const done = exited.then(async ({ code, signal }) => {
    clearTimeout(killer);
    const result = await collect(name, logDir, port, code, signal, stdout, stderr);
    if (result.passed && !process.env.SIPP_KEEP_LOGS) await rm(logDir, { recursive: true, force: true });
    return result;
  });

  const ready = Promise.race([
    waitForBound(port, opts.transport, 5000),
    exited.then(({ code }) => {
      throw new Error(`sipp ${name} exited (${code}) before binding port ${port}: ${stderr || stdout}`);
    }),
  ]);
  ready.catch(() => undefined); // callers that never await ready must not see an unhandled rejection

  return { port, ready, done, kill: () => child.kill('SIGKILL') };
}

/** Run SIPp to completion. */
export async function runSipp(opts: SippOptions): Promise<SippResult> {
  const run = await startSipp(opts);
  return run.done;
}

function buildArgs(opts: SippOptions, port: number, logDir: string, timeoutMs: number): string[] {
  const scenario = path.isAbsolute(opts.scenario) ? opts.scenario : path.join(SCENARIO_DIR, opts.scenario);
  const args: string[] = [];
  if (opts.remote) args.push(opts.remote);
  args.push('-sf', scenario);
  args.push('-i', '127.0.0.1', '-p', String(port));
  args.push('-t', opts.transport === 'tcp' ? 't1' : 'u1');
  args.push('-m', String(opts.calls ?? 1));
  if (opts.rate !== undefined) args.push('-r', String(opts.rate));
  if (opts.service) args.push('-s', opts.service);
  args.push('-nostdin');
  args.push('-timeout', `${Math.ceil(timeoutMs / 1000)}s`, '-timeout_error');
  args.push('-trace_msg', '-message_file', path.join(logDir, 'messages.log'));
  args.push('-trace_stat', '-stf', path.join(logDir, 'stat.csv'));
  args.push('-trace_err', '-error_file', path.join(logDir, 'errors.log'));
  for (const [k, v] of Object.entries(opts.keys ?? {})) args.push('-key', k, String(v));
  args.push(...(opts.extraArgs ?? []));
  return args;
}

async function collect(
  name: string,
  logDir: string,
  port: number,
  code: number | null,
  signal: NodeJS.Signals | null,
  stdout: string,
  stderr: string,
): Promise<SippResult> {
  const read = (f: string): Promise<string> => readFile(path.join(logDir, f), 'utf8').catch(() => '');
  const [messagesLog, statCsv, errors] = await Promise.all([read('messages.log'), read('stat.csv'), read('errors.log')]);
  return {
    name,
    exitCode: code,
    signal,
    passed: code === 0,
    messages: parseMessageLog(messagesLog),
    stats: parseStats(statCsv),
    errors,
    stdout,
    stderr,
    logDir,
    port,
  };
}

const SEPARATOR = /^-{20,} (\d{4}-\d\d-\d\d [\d:.]+)\s*$/m;

/** Parse SIPp's -trace_msg log into messages. */
export function parseMessageLog(log: string): SippMessage[] {
  const parts = log.split(SEPARATOR);
  const out: SippMessage[] = [];
  // split with a capture group yields [before, time1, chunk1, time2, chunk2, ...]
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const msg = parseChunk(parts[i] ?? '', parts[i + 1] ?? '');
    if (msg) out.push(msg);
  }
  return out;
}

function parseChunk(time: string, chunk: string): SippMessage | undefined {
  const m = /^\s*(\w+) message (sent|received)\D*(\d+)[^\n]*\n/.exec(chunk);
  if (!m) return undefined;
  const direction = m[2] === 'sent' ? 'sent' : 'received';
  const text = chunk.slice(m[0].length).replace(/^\s*\n/, '').replace(/^\r?\n/, '');
  let sip: SipRequest | SipResponse | undefined;
  try {
    sip = parseMessage(text.replace(/\r?\n/g, '\r\n'));
  } catch {
    sip = undefined;
  }
  const arrow = direction === 'sent' ? '>' : '<';
  let label = `${arrow} ?`;
  if (sip instanceof SipRequest) label = `${arrow} ${sip.method}`;
  else if (sip instanceof SipResponse) label = `${arrow} ${sip.status} ${sip.cseq.method}`;
  return { direction, transport: m[1] ?? '', time, text, bytes: Number(m[3]), sip, label };
}

function parseStats(csv: string): SippStats | undefined {
  const lines = csv.trim().split('\n').filter(Boolean);
  const header = lines[0]?.split(';');
  const last = lines[lines.length - 1]?.split(';');
  if (!header || !last || lines.length < 2) return undefined;
  const raw: Record<string, string> = {};
  header.forEach((h, i) => (raw[h] = last[i] ?? ''));
  const n = (k: string): number => Number(raw[k] ?? 0);
  return {
    successful: n('SuccessfulCall(C)'),
    failed: n('FailedCall(C)'),
    retransmissions: n('Retransmissions(C)'),
    unexpectedMessages: n('FailedUnexpectedMessage(C)'),
    timeoutsOnRecv: n('FailedTimeoutOnRecv(C)'),
    raw,
  };
}

// ---- helpers for assertions ---------------------------------------------------------------

/** The message labels in order, e.g. ["> INVITE", "< 100 INVITE", "< 200 INVITE", "> ACK"]. */
export function flow(result: SippResult): string[] {
  return result.messages.map((m) => m.label);
}

export function requestsOf(result: SippResult, direction: 'sent' | 'received', method: string): SipRequest[] {
  return result.messages
    .filter((m) => m.direction === direction && m.sip instanceof SipRequest && m.sip.method === method)
    .map((m) => m.sip as SipRequest);
}

/** The INVITEs that offered new calls (no To tag), leaving out re-INVITEs within a call. */
export function offersReceived(result: SippResult): SipRequest[] {
  return requestsOf(result, 'received', 'INVITE').filter((i) => !/;\s*tag=/i.test(i.get('To') ?? ''));
}

export function responsesOf(
  result: SippResult,
  direction: 'sent' | 'received',
  status?: number,
  method?: string,
): SipResponse[] {
  return result.messages
    .filter((m): m is SippMessage & { sip: SipResponse } => m.direction === direction && m.sip instanceof SipResponse)
    .map((m) => m.sip)
    .filter((r) => (status === undefined || r.status === status) && (method === undefined || r.cseq.method === method));
}

/** A compact description of a failed run, for assertion messages. */
export function describeRun(result: SippResult): string {
  return [
    `sipp ${result.name}: exit ${result.exitCode}${result.signal ? ` (${result.signal})` : ''}, logs in ${result.logDir}`,
    `flow: ${flow(result).join(', ')}`,
    result.errors ? `errors: ${result.errors.slice(0, 2000)}` : '',
    result.stderr ? `stderr: ${result.stderr.slice(0, 1000)}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}
