import { startSwitchboard, type Switchboard } from '../../src/app.js';
import { loadConfig, type Config, type Env } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createTestDatabase, testRedisPrefix, testServices, type TestDatabase } from './services.js';

export const ADMIN_KEY = 'admin-key-0123456789';
export const SUPERVISOR_KEY = 'supervisor-key-0123456789';
export const OPERATOR_KEY = 'operator-key-0123456789';
export const SIP_DOMAIN = 'switchboard.test';

export interface TestSwitchboard extends Switchboard {
  config: Config;
  db: TestDatabase;
  /** fetch() against the API with the admin key unless headers say otherwise. */
  api(path: string, init?: { method?: string; body?: unknown; key?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: unknown; headers: Headers }>;
  close(): Promise<void>;
}

export interface TestSwitchboardOptions {
  /**
   * Start on this database instead of a new one (a restart: pass REDIS_PREFIX in the environment
   * too). close() still drops it; stop() leaves it for the next switchboard.
   */
  db?: TestDatabase;
}

/**
 * A whole switchboard process-in-a-test: real PostgreSQL (a database of its own), real Redis
 * (a key prefix of its own), real HTTP on an ephemeral port. Extra environment overrides the
 * defaults, e.g. the addresses of a drachtio-server and FreeSWITCH (real or stand-in).
 */
export async function startTestSwitchboard(extra: Env = {}, opts: TestSwitchboardOptions = {}): Promise<TestSwitchboard> {
  const services = testServices();
  const db = opts.db ?? (await createTestDatabase());
  const env: Env = {
    DATABASE_URL: db.url,
    REDIS_URL: services.redisUrl,
    REDIS_PREFIX: testRedisPrefix(),
    API_KEYS: `admin:${ADMIN_KEY},supervisor:${SUPERVISOR_KEY},operator/alice:${OPERATOR_KEY}`,
    DRACHTIO_HOST: '127.0.0.1',
    DRACHTIO_PORT: '1',
    DRACHTIO_SECRET: 'cymru',
    FREESWITCH_ESL: '127.0.0.1:1',
    FREESWITCH_PASSWORD: 'ClueCon',
    SIP_DOMAIN,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '1',
    STARTUP_WAIT_SECONDS: '5',
    // The switchboard shares the test's process: its event loop's delay, and how long its matches
    // take, are the tests' load as well.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    MAX_MATCH_DELAY_MS: '0',
    // Tests read records right after their calls: the default gather would only make them wait.
    RECORDS_GATHER_MS: '50',
    ...extra,
  };
  // Port 0 is not a valid HTTP_PORT for users; tests ask the OS for a free port this way instead.
  const config = { ...loadConfig(env), http: { host: '127.0.0.1', port: Number(extra.HTTP_PORT ?? 0) } };
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent', config.instanceId);
  let sb: Switchboard;
  try {
    sb = await startSwitchboard(config, log);
  } catch (err) {
    if (!opts.db) await db.drop();
    throw err;
  }
  return {
    ...sb,
    config,
    db,
    api: async (path, init = {}) => {
      const headers: Record<string, string> = { ...init.headers };
      const key = init.key === undefined ? ADMIN_KEY : init.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let body: string | undefined;
      if (init.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      }
      const res = await fetch(sb.url + path, { method: init.method ?? 'GET', headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        // Not JSON (e.g. the docs page): the text is the body.
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    close: async () => {
      await sb.stop();
      await db.drop();
    },
  };
}
