import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type Srf from 'drachtio-srf';
import { buildApi } from './api/server.js';
import type { Config } from './config.js';
import { loadMigrations, migrate } from './db/migrate.js';
import { createPool, type Pool } from './db/pool.js';
import { Health } from './health.js';
import type { Logger } from './log.js';
import { MediaPool } from './media/pool.js';
import { ROOT_DIR, SQL_DIR } from './paths.js';
import { createRedis, type Redis } from './redis/client.js';
import { connectDrachtio } from './sip/connection.js';
import { StartupError, waitForPostgres, waitForRedis } from './startup.js';

const POSTGRES_PROBE_MS = 5_000;

export interface Switchboard {
  /** Where the HTTP API listens, e.g. http://127.0.0.1:8080 */
  url: string;
  health: Health;
  stop(): Promise<void>;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT_DIR, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function watchRedis(redis: Redis, health: Health, log: Logger): void {
  redis.on('ready', () => {
    if (!health.isUp('redis')) log.info('Redis connected');
    health.set('redis', true, 'connected');
  });
  redis.on('error', (err: Error) => health.set('redis', false, err.message));
  redis.on('close', () => {
    if (health.isUp('redis')) log.warn('lost Redis; reconnecting');
    health.set('redis', false, 'connection closed, reconnecting');
  });
}

function probePostgres(pool: Pool, health: Health, log: Logger): NodeJS.Timeout {
  const probe = async (): Promise<void> => {
    try {
      await pool.query('SELECT 1');
      if (!health.isUp('postgres')) log.info('PostgreSQL reachable');
      health.set('postgres', true, 'connected');
    } catch (err) {
      if (health.isUp('postgres')) log.warn({ err: (err as Error).message }, 'PostgreSQL unreachable; records wait in Redis');
      health.set('postgres', false, (err as Error).message);
    }
  };
  const timer = setInterval(() => void probe(), POSTGRES_PROBE_MS);
  timer.unref();
  return timer;
}

/**
 * Composition root: connects everything in dependency order and returns a handle that stops it
 * in reverse order. PostgreSQL and Redis must be reachable to start (configuration lives in one,
 * live state in the other); drachtio-server and FreeSWITCH are connected in the background and
 * reconnected whenever they go away.
 */
export async function startSwitchboard(config: Config, log: Logger): Promise<Switchboard> {
  const health = new Health();
  const pool = createPool(config.databaseUrl);
  const stops: (() => Promise<void> | void)[] = [() => pool.end()];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch((err: Error) => log.warn({ err: err.message }, 'while stopping'));
  };

  try {
    await waitForPostgres(pool, config.databaseUrl, config.startupWaitSeconds);
    const result = await migrate(pool, await loadMigrations(SQL_DIR));
    log.info({ applied: result.applied }, result.applied.length ? 'database migrated' : 'database schema up to date');
    health.set('postgres', true, 'connected');
    const probe = probePostgres(pool, health, log);
    stops.push(() => clearInterval(probe));

    const redis = createRedis(config.redisUrl, `switchboard:${config.instanceId}`);
    watchRedis(redis, health, log);
    await waitForRedis(redis, config.redisUrl, config.startupWaitSeconds);
    stops.push(async () => void (await redis.quit().catch(() => redis.disconnect())));

    const srf = connectDrachtio(config.drachtio, health, log);
    stops.push(() => disconnectSrf(srf));
    const media = new MediaPool(srf, config.freeswitch, health, log);
    media.start();
    stops.push(() => media.close());

    const api = await buildApi({ log, pool, health, apiKeys: config.apiKeys, sipDomain: config.sipDomain, version: packageVersion() });
    await listen(api, config);
    stops.push(() => api.close());

    const url = `http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${String((api.server.address() as { port: number }).port)}`;
    log.info({ url }, 'switchboard started');
    return { url, health, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function listen(api: FastifyInstance, config: Config): Promise<void> {
  try {
    await api.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    throw new StartupError(`cannot listen on ${config.http.host}:${config.http.port} (HTTP_HOST, HTTP_PORT): ${(err as Error).message}`);
  }
}

function disconnectSrf(srf: Srf): void {
  try {
    srf.disconnect();
  } catch {
    // Never connected: nothing to close.
  }
}
