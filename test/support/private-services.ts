/**
 * A PostgreSQL cluster and a redis-server of a test file's own, which it may stop and start at
 * will (outage tests) without disturbing the shared services of scripts/test-services.sh. Both
 * listen on a free 127.0.0.1 port, keep their data in a temporary directory removed by
 * cleanup(), and every wait is bounded.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { getFreePort, isBound, waitForBound } from './ports.js';

const run = promisify(execFile);
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const IS_ROOT = process.getuid?.() === 0;
const COMMAND_TIMEOUT_MS = 60_000;

// Anything still running when the test process exits is stopped, so a failed or killed test
// run leaves no server behind.
const exitHooks = new Set<() => void>();
process.once('exit', () => {
  for (const hook of exitHooks) hook();
});

/** PostgreSQL refuses to run as root: as root, run its tools as the postgres user. */
function asPostgres(bin: string, args: string[]): [string, string[]] {
  const path = join(PG_BIN, bin);
  return IS_ROOT ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
}

function makeDir(prefix: string, owner?: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (owner) {
    const uid = Number(spawnSync('id', ['-u', owner], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', owner], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  return dir;
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`${what} after ${timeoutMs} ms`);
}

export class PrivatePostgres {
  private running = false;
  private readonly dataDir: string;
  private readonly exitHook = (): void => this.stopSync();

  private constructor(
    readonly port: number,
    private readonly root: string,
  ) {
    this.dataDir = join(root, 'data');
  }

  /** initdb into a temporary directory and start; the URL reaches the postgres superuser (trust). */
  static async create(): Promise<PrivatePostgres> {
    const root = makeDir('sb-pg-', IS_ROOT ? 'postgres' : undefined);
    const pg = new PrivatePostgres(await getFreePort('tcp'), root);
    try {
      const [cmd, args] = asPostgres('initdb', ['-D', pg.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
      await run(cmd, args, { timeout: COMMAND_TIMEOUT_MS });
      await pg.start();
    } catch (err) {
      await pg.cleanup();
      throw err;
    }
    return pg;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<void> {
    const options = `-h 127.0.0.1 -p ${this.port} -k ${this.root} -c fsync=off -c max_connections=50`;
    const [cmd, args] = asPostgres('pg_ctl', ['-D', this.dataDir, '-l', join(this.root, 'pg.log'), '-w', '-t', '30', '-o', options, 'start']);
    await run(cmd, args, { timeout: COMMAND_TIMEOUT_MS });
    this.running = true;
    exitHooks.add(this.exitHook);
  }

  /** Fast shutdown: open connections are cut, as in a real outage. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const [cmd, args] = asPostgres('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
    await run(cmd, args, { timeout: COMMAND_TIMEOUT_MS });
    this.running = false;
    exitHooks.delete(this.exitHook);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async cleanup(): Promise<void> {
    await this.stop().catch(() => this.stopSync());
    rmSync(this.root, { recursive: true, force: true });
  }

  private stopSync(): void {
    if (!this.running || !existsSync(this.dataDir)) return;
    const [cmd, args] = asPostgres('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', '-t', '10', 'stop']);
    spawnSync(cmd, args, { timeout: 15_000, stdio: 'ignore' });
    this.running = false;
  }
}

export class PrivateRedis {
  private child: ChildProcess | undefined;
  private readonly exitHook = (): void => void this.child?.kill('SIGKILL');

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async create(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await getFreePort('tcp'), makeDir('sb-redis-'));
    try {
      await redis.start();
    } catch (err) {
      await redis.cleanup();
      throw err;
    }
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server; it loads dump.rdb if stop({ keepData: true }) left one. */
  async start(): Promise<void> {
    if (this.child) return;
    const args = ['--bind', '127.0.0.1', '--port', String(this.port), '--save', '', '--appendonly', 'no', '--dir', this.dir, '--dbfilename', 'dump.rdb'];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    exitHooks.add(this.exitHook);
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    await waitForBound(this.port, 'tcp', 10_000);
  }

  /**
   * Stops the server. By default its data is gone, as after a crash of a Redis without
   * persistence; with keepData it is saved first and loaded again by the next start().
   */
  async stop(opts: { keepData?: boolean } = {}): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (opts.keepData) await run('redis-cli', ['-p', String(this.port), 'save'], { timeout: 10_000 });
    else rmSync(join(this.dir, 'dump.rdb'), { force: true });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(5_000)]);
    this.child = undefined;
    exitHooks.delete(this.exitHook);
    await waitUntil(`redis-server still bound to ${this.port}`, 5_000, async () => !(await isBound(this.port, 'tcp')));
  }

  async restart(opts: { keepData?: boolean } = {}): Promise<void> {
    await this.stop(opts);
    await this.start();
  }

  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
