import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../src/paths.js';
import { createTestDatabase, testRedisPrefix, testServices, type TestDatabase } from '../support/services.js';
import { ADMIN_KEY } from '../support/switchboard.js';
import { getFreePort } from '../support/ports.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs src/<script> as `npm start` / `npm run migrate` would, with tsx instead of a build. */
function run(script: string, env: Record<string, string>, onStdout?: (text: string, kill: () => void) => void): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', `src/${script}`], {
    cwd: ROOT_DIR,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    onStdout?.(stdout, () => child.kill('SIGTERM'));
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return once(child, 'exit').then(([code]) => {
    clearTimeout(killer);
    return { code: code as number | null, stdout, stderr };
  });
}

describe('the switchboard process', () => {
  let db: TestDatabase;
  const base = (): Record<string, string> => ({
    DATABASE_URL: db.url,
    REDIS_URL: testServices().redisUrl,
    REDIS_PREFIX: testRedisPrefix(),
    API_KEYS: ADMIN_KEY,
    DRACHTIO_SECRET: 'cymru',
    DRACHTIO_PORT: '1',
    FREESWITCH_ESL: '127.0.0.1:1',
    FREESWITCH_PASSWORD: 'ClueCon',
    SIP_DOMAIN: 'switchboard.test',
    HTTP_HOST: '127.0.0.1',
  });

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('with a malformed DATABASE_URL prints one clear line and exits non-zero', async () => {
    const r = await run('main.ts', { ...base(), DATABASE_URL: 'postgres//localhost' });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([
      'switchboard: configuration: DATABASE_URL is not a valid URL (expected postgres://host:port/...)',
    ]);
  });

  it('with an unreachable database prints one line naming DATABASE_URL and exits non-zero', async () => {
    const r = await run('main.ts', { ...base(), DATABASE_URL: 'postgres://sb:secret@127.0.0.1:1/sb', STARTUP_WAIT_SECONDS: '0' });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual(['switchboard: cannot use PostgreSQL at 127.0.0.1:1/sb (DATABASE_URL): connection refused']);
    expect(r.stderr).not.toContain('secret');
  });

  it('with a database that does not exist fails at once, without waiting', async () => {
    const url = new URL(db.url);
    url.pathname = '/no_such_database';
    const started = Date.now();
    const r = await run('main.ts', { ...base(), DATABASE_URL: url.toString(), STARTUP_WAIT_SECONDS: '30' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^switchboard: cannot use PostgreSQL at .*no_such_database \(DATABASE_URL\): database "no_such_database" does not exist\n$/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('lists every bad variable at once', async () => {
    const r = await run('main.ts', { DATABASE_URL: 'postgres://db/x', HTTP_PORT: 'eighty' });
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain('switchboard: configuration: HTTP_PORT must be a whole number, got "eighty"');
    expect(lines).toContain('switchboard: configuration: SIP_DOMAIN is required but not set');
    expect(lines.every((l) => l.startsWith('switchboard: configuration: '))).toBe(true);
  });

  it('migrates with `npm run migrate`, and a second run applies nothing', async () => {
    const fresh = await createTestDatabase();
    try {
      const first = await run('migrate.ts', { DATABASE_URL: fresh.url });
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/^migrate: applied 1(, \d+)* \(0 already applied\)\n$/);
      const second = await run('migrate.ts', { DATABASE_URL: fresh.url });
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/^migrate: nothing to apply \(\d+ already applied\)\n$/);
    } finally {
      await fresh.drop();
    }
  });

  it('starts, serves /health, and on SIGTERM stops cleanly with exit code 0', async () => {
    const port = await getFreePort('tcp');
    let health: number | undefined;
    const r = await run('main.ts', { ...base(), HTTP_PORT: String(port) }, (out, kill) => {
      if (health !== undefined || !out.includes('"switchboard started"')) return;
      health = 0;
      void fetch(`http://127.0.0.1:${port}/health`).then((res) => {
        health = res.status;
        kill();
      });
    });
    expect(health).toBe(503);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: number });
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['database migrated', 'switchboard started', 'stopping', 'stopped']));
    expect(r.stdout).not.toContain(ADMIN_KEY);
  });
});
