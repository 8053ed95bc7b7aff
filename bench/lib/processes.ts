/**
 * Child processes of a bench run (the system under test, the stand-ins, SIPp) and what they cost:
 * CPU time and resident memory read from /proc/<pid>/stat and /proc/<pid>/status, so each
 * process is measured alone.
 *
 * Every process started here is stopped by the bench (SIGTERM, then SIGKILL after a grace
 * period), and the ones still alive when the bench exits are killed by their pid: a failed run
 * leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Kernel clock ticks per second (USER_HZ): 100 on every Linux that matters here. */
const CLOCK_TICKS = 100;

const alive = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of alive) if (child.pid) try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
});

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  /** The tail of its output, for error messages. */
  tail(): string;
  /** SIGTERM, then SIGKILL after graceMs; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr go here (appended). */
  logFile?: string;
}

export function startProcess(name: string, command: string, args: string[], opts: StartOptions = {}): Proc {
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  alive.add(child);
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  let tail = '';
  const keep = (d: Buffer): void => {
    // Output can still arrive after 'exit' (pipes drain later), when the log is already ended.
    if (log && !log.writableEnded) log.write(d);
    tail = (tail + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (err) => {
      tail += `\n${err.message}`;
      alive.delete(child);
      resolve(-1);
    });
    child.once('exit', (code, signal) => {
      alive.delete(child);
      log?.end();
      resolve(code ?? signal ?? -1);
    });
  });
  return {
    name,
    pid: child.pid ?? -1,
    child,
    exited,
    tail: () => tail,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null || !alive.has(child)) return;
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

export interface ProcSample {
  /** ms since the epoch */
  at: number;
  /** user + system CPU time, ms */
  cpuMs: number;
  /** resident set size, bytes */
  rss: number;
}

/** One reading of a process's CPU time and memory; undefined once it is gone. */
export async function sampleProcess(pid: number): Promise<ProcSample | undefined> {
  try {
    const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return { at: Date.now(), cpuMs: ((utime + stime) * 1000) / CLOCK_TICKS, rss: rssKb * 1024 };
  } catch {
    return undefined;
  }
}

/** Whole-machine CPU from /proc/stat: busy and total jiffies, for the machine's load during a step. */
export function sampleMachine(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Samples a set of processes every intervalMs until stopped; windows of the series are summarised. */
export class Sampler {
  readonly series = new Map<string, ProcSample[]>();
  private readonly machine: { at: number; busy: number; total: number }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pids: Map<string, number>,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    const tick = async (): Promise<void> => {
      for (const [name, pid] of this.pids) {
        const s = await sampleProcess(pid);
        if (!s) continue;
        const list = this.series.get(name) ?? [];
        list.push(s);
        this.series.set(name, list);
      }
      this.machine.push({ at: Date.now(), ...sampleMachine() });
    };
    void tick();
    this.timer = setInterval(() => void tick(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Samples one more process from the next tick on (a SIPp started for a step). */
  add(name: string, pid: number): void {
    this.pids.set(name, pid);
  }

  /** CPU (% of one core) and memory of a process between two times. */
  window(name: string, from: number, to: number): WindowUse | undefined {
    const list = (this.series.get(name) ?? []).filter((s) => s.at >= from && s.at <= to);
    const first = list[0];
    const last = list[list.length - 1];
    if (!first || !last || last.at === first.at) return undefined;
    const rss = list.map((s) => s.rss);
    return {
      cpuPercent: ((last.cpuMs - first.cpuMs) / (last.at - first.at)) * 100,
      cpuMs: last.cpuMs - first.cpuMs,
      seconds: (last.at - first.at) / 1000,
      rssMeanMb: rss.reduce((a, b) => a + b, 0) / rss.length / 2 ** 20,
      rssMaxMb: Math.max(...rss) / 2 ** 20,
      rssLastMb: last.rss / 2 ** 20,
    };
  }

  /** The whole machine's busy share (% of all cores) between two times. */
  machineBusy(from: number, to: number): number | undefined {
    const list = this.machine.filter((s) => s.at >= from && s.at <= to);
    const first = list[0];
    const last = list[list.length - 1];
    if (!first || !last || last.total === first.total) return undefined;
    return ((last.busy - first.busy) / (last.total - first.total)) * 100;
  }

  /** The latest sample of a process. */
  last(name: string): ProcSample | undefined {
    const list = this.series.get(name);
    return list?.[list.length - 1];
  }
}

export interface WindowUse {
  cpuPercent: number;
  cpuMs: number;
  seconds: number;
  rssMeanMb: number;
  rssMaxMb: number;
  rssLastMb: number;
}

/**
 * The pid of the process listening on a TCP port of 127.0.0.1 or 0.0.0.0, found through
 * /proc/net/tcp and the processes' open sockets (to measure a real server the bench did not
 * start). Undefined when it cannot be found (another user's process, or no such listener).
 */
export async function pidListeningOn(port: number): Promise<number | undefined> {
  const table = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inode = table
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((c) => c[1]?.endsWith(`:${hex}`) && c[3] === '0A')?.[9];
  if (!inode) return undefined;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fds = await readdir(`/proc/${entry}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '');
      if (target === `socket:[${inode}]`) return Number(entry);
    }
  }
  return undefined;
}
