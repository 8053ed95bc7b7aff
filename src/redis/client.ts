import { Redis } from 'ioredis';

export type { Redis };

/**
 * A client that retries forever with a capped back-off: a Redis restart must cost a pause, not
 * the process. Commands issued while disconnected wait in ioredis' offline queue.
 */
export function createRedis(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableReadyCheck: true,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}

/** Describes where a Redis URL points, without its password. */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port === '' ? '6379' : u.port}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}
