import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from './redis/client.js';
import { describeRedisUrl } from './redis/client.js';
import type { Pool } from './db/pool.js';
import { describeDatabaseUrl } from './db/pool.js';

/** A start-up failure worth one line to the person starting the switchboard. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

interface CodedError {
  code?: string;
  message: string;
}

// Errors that mean "not there yet": worth waiting for while a container starts beside us.
const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P03']);

/** Retries fn while it fails transiently, up to waitSeconds; anything else fails at once. */
async function retrying<T>(waitSeconds: number, fn: () => Promise<T>, transient: (err: CodedError) => boolean): Promise<T> {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const e = err as CodedError;
      if (!transient(e) || Date.now() >= deadline) throw err;
      await sleep(500);
    }
  }
}

function reason(err: unknown): string {
  const e = err as CodedError;
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ENOTFOUND') return 'host name not found';
  return e.message.split('\n')[0] ?? String(err);
}

export async function waitForPostgres(pool: Pool, databaseUrl: string, waitSeconds: number): Promise<void> {
  try {
    await retrying(waitSeconds, () => pool.query('SELECT 1'), (e) => TRANSIENT.has(e.code ?? '') || /timeout/i.test(e.message));
  } catch (err) {
    throw new StartupError(`cannot use PostgreSQL at ${describeDatabaseUrl(databaseUrl)} (DATABASE_URL): ${reason(err)}`);
  }
}

export async function waitForRedis(redis: Redis, redisUrl: string, waitSeconds: number): Promise<void> {
  const where = `${describeRedisUrl(redisUrl)} (REDIS_URL)`;
  // A failed command only says that retries ran out; the connection error says why.
  let lastError: Error | undefined;
  const remember = (err: Error): void => {
    lastError = err;
  };
  redis.on('error', remember);
  redis.connect().catch(() => undefined);
  try {
    // Auth and protocol errors are final; anything else is Redis not being up yet.
    await retrying(waitSeconds, () => redis.ping(), (e) => !/NOAUTH|WRONGPASS|ERR/.test(e.message));
  } catch (err) {
    redis.disconnect();
    throw new StartupError(`cannot use Redis at ${where}: ${reason(lastError ?? err)}`);
  } finally {
    redis.off('error', remember);
  }
}
