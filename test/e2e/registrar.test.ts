/**
 * Operators' softphones registering over real SIP: SIPp → drachtio-server (the stand-in, or a
 * real one from DRACHTIO_* variables) → drachtio-srf → the registrar, with a migrated PostgreSQL
 * and Redis. Assertions look at what crossed the wire, at Redis and at registrar.contacts().
 */
import { Writable } from 'node:stream';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type Srf from 'drachtio-srf';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { ROOT_DIR, SQL_DIR } from '../../src/paths.js';
import { attachRegistrar, type Registrar } from '../../src/registrar/index.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { digestHa1 } from '../../src/sip/digest.js';
import { barrier, connectSrf, disconnectSrf, useDrachtio, type DrachtioTarget } from '../support/drachtio-env.js';
import { createTestDatabase, testRedisPrefix, testServices, type TestDatabase } from '../support/services.js';
import { describeRun, flow, requestsOf, responsesOf, runSipp, type SippResult } from '../support/sipp.js';

const REALM = 'sb.test';
const ALICE_PW = 'alice-Pa55word!';
const BOB_PW = 'bob-Pa55word!';
const ROOM_PW = 'room-101-Pa55';
const FAILURE_LIMIT = 3;
const MIN_EXPIRES = 2;

let db: TestDatabase;
let pool: Pool;
let redis: Redis;
let keys: RedisKeys;
let drachtio: DrachtioTarget;
let srf: Srf;
let registrar: Registrar;
const logLines: string[] = [];

interface Register {
  scenario: string;
  user: string;
  password: string;
  /** Digest username when it differs from the user registered. */
  authUser?: string;
  contact?: string;
  expires?: number;
  transport?: 'udp' | 'tcp';
  calls?: number;
}

async function register(r: Register): Promise<SippResult> {
  const keysArg: Record<string, string | number> = { domain: REALM };
  if (r.contact !== undefined) keysArg.contact = r.contact;
  if (r.expires !== undefined) keysArg.expires = r.expires;
  return runSipp({
    scenario: r.scenario,
    remote: drachtio.sipAddress,
    transport: r.transport ?? 'udp',
    service: r.user,
    keys: keysArg,
    calls: r.calls ?? 1,
    rate: 20,
    timeoutMs: 8_000,
    extraArgs: ['-au', r.authUser ?? r.user, '-ap', r.password],
  });
}

function expectPassed(result: SippResult): void {
  expect(result.passed, describeRun(result)).toBe(true);
}

/** The Contact header of the last response with this status that SIPp received. */
function lastResponse(result: SippResult, status: number) {
  const responses = responsesOf(result, 'received', status, 'REGISTER');
  const res = responses[responses.length - 1];
  if (!res) throw new Error(`no ${status} received\n${describeRun(result)}`);
  return res;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url);
  await migrate(pool, await loadMigrations(SQL_DIR));
  await pool.query(
    `INSERT INTO operators (username, ha1, display_name, work_number) VALUES ($1, $2, 'Alice', '1001'), ($3, $4, 'Bob', '1002')`,
    ['alice', digestHa1('alice', REALM, ALICE_PW), 'bob', digestHa1('bob', REALM, BOB_PW)],
  );
  await pool.query(`INSERT INTO extensions (number, name, ha1) VALUES ('101', 'Room 101', $1)`, [digestHa1('101', REALM, ROOM_PW)]);
  redis = new Redis(testServices().redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  keys = new RedisKeys(testRedisPrefix());

  drachtio = await useDrachtio();
  srf = await connectSrf(drachtio);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  registrar = attachRegistrar(srf, {
    pool,
    redis,
    keys,
    realm: REALM,
    log: pino({ level: 'debug' }, sink),
    minExpires: MIN_EXPIRES,
    maxExpires: 3600,
    defaultExpires: 60,
    failureLimit: FAILURE_LIMIT,
    failureWindowS: 60,
  });
  await barrier(srf, drachtio); // the REGISTER route is known to the server before SIPp sends
});

afterAll(async () => {
  registrar?.close();
  if (srf) disconnectSrf(srf);
  await drachtio?.stop();
  if (redis) {
    const left = await redis.keys(`${keys.prefix}*`);
    if (left.length > 0) await redis.del(...left);
    redis.disconnect();
  }
  await pool?.end();
  await db?.drop();
});

beforeEach(async () => {
  // Every test starts with no bindings and a clean failure count for 127.0.0.1.
  await redis.del(keys.registrations('alice'), keys.registrations('bob'), keys.registrations('101'), keys.authFailures('127.0.0.1'));
  logLines.length = 0;
});

describe('REGISTER from extensions', () => {
  it('registers a guest room phone by its number, and refuses it the wrong password', async () => {
    const contact = '<sip:101@127.0.0.1:5998>';
    expectPassed(await register({ scenario: 'register-ok.xml', user: '101', password: ROOM_PW, contact, expires: 60 }));
    expect((await registrar.contacts('101')).map((b) => b.contact)).toEqual(['sip:101@127.0.0.1:5998']);
    const wrong = await register({ scenario: 'register-forbidden.xml', user: '101', password: 'not-the-password', contact, expires: 60 });
    expectPassed(wrong);
    expect(flow(wrong).at(-1)).toBe('< 403 REGISTER');
  });
});

describe('REGISTER from operators softphones', () => {
  it('challenges, then stores the binding with its expiry and source, and forgets it once expired (UDP)', async () => {
    const contact = '<sip:alice-desk@127.0.0.1:5999>';
    const result = await register({ scenario: 'register-ok.xml', user: 'alice', password: ALICE_PW, contact, expires: 2 });
    expectPassed(result);
    expect(flow(result)).toEqual(['> REGISTER', '< 401 REGISTER', '> REGISTER', '< 200 REGISTER']);

    const challenge = lastResponse(result, 401).get('WWW-Authenticate') ?? '';
    expect(challenge).toMatch(/^Digest realm="sb\.test", nonce="[^"]+", qop="auth", algorithm=MD5$/);
    expect(lastResponse(result, 200).get('Contact')).toBe('<sip:alice-desk@127.0.0.1:5999>;expires=2');

    const [binding, ...others] = await registrar.contacts('alice');
    expect(others).toEqual([]);
    const sentCallId = requestsOf(result, 'sent', 'REGISTER')[1]?.callId;
    expect(binding).toMatchObject({
      contact: 'sip:alice-desk@127.0.0.1:5999',
      callId: sentCallId,
      cseq: 2,
      source: { address: '127.0.0.1', port: result.port, protocol: 'udp' },
    });
    expect(binding?.expiresAt).toBeGreaterThan(Date.now());
    expect(binding?.expiresAt).toBeLessThanOrEqual(Date.now() + 2_000);
    expect(await redis.hlen(keys.registrations('alice'))).toBe(1);

    await until('binding expired', 4_000, async () => ((await registrar.contacts('alice')).length === 0 ? true : undefined));
    expect(await redis.exists(keys.registrations('alice'))).toBe(0);
  });

  it('registers over TCP with the published scenario (sipp-scenarios/register.xml)', async () => {
    const result = await register({
      scenario: path.join(ROOT_DIR, 'sipp-scenarios/register.xml'),
      user: 'bob',
      password: BOB_PW,
      expires: 300,
      transport: 'tcp',
    });
    expectPassed(result);
    expect(flow(result)).toEqual(['> REGISTER', '< 401 REGISTER', '> REGISTER', '< 200 REGISTER']);
    const bindings = await registrar.contacts('bob');
    expect(bindings).toHaveLength(1);
    expect(bindings[0]?.contact).toBe(`sip:bob@127.0.0.1:${result.port};transport=TCP`);
    expect(bindings[0]?.source.protocol).toBe('tcp');
    expect(lastResponse(result, 200).get('Contact')).toMatch(/;expires=(300|299)$/);
  });

  it('keeps several contacts per operator, removes one with expires=0, answers queries, and removes all with *', async () => {
    const desk = '<sip:alice-desk@127.0.0.1:5999>';
    const soft = '<sip:alice-soft@127.0.0.1:5998;transport=tcp>';
    expectPassed(await register({ scenario: 'register-ok.xml', user: 'alice', password: ALICE_PW, contact: desk, expires: 60 }));
    const second = await register({ scenario: 'register-ok.xml', user: 'alice', password: ALICE_PW, contact: soft, expires: 120, transport: 'tcp' });
    expectPassed(second);
    // One Contact header with both, or one header each (a real drachtio-server splits them).
    expect(lastResponse(second, 200).getAll('Contact').join(', ')).toMatch(
      /^<sip:alice-desk@127\.0\.0\.1:5999>;expires=(60|59), <sip:alice-soft@127\.0\.0\.1:5998;transport=tcp>;expires=(120|119)$/,
    );
    expect((await registrar.contacts('alice')).map((b) => b.contact)).toEqual(['sip:alice-desk@127.0.0.1:5999', 'sip:alice-soft@127.0.0.1:5998;transport=tcp']);

    const unregister = await register({ scenario: 'register-ok.xml', user: 'alice', password: ALICE_PW, contact: desk, expires: 0 });
    expectPassed(unregister);
    expect(lastResponse(unregister, 200).get('Contact')).toMatch(/^<sip:alice-soft@127\.0\.0\.1:5998;transport=tcp>;expires=\d+$/);
    expect((await registrar.contacts('alice')).map((b) => b.contact)).toEqual(['sip:alice-soft@127.0.0.1:5998;transport=tcp']);

    const query = await register({ scenario: 'register-query.xml', user: 'alice', password: ALICE_PW });
    expectPassed(query);
    expect(requestsOf(query, 'sent', 'REGISTER')[1]?.get('Contact')).toBeUndefined();
    expect(lastResponse(query, 200).get('Contact')).toMatch(/^<sip:alice-soft@127\.0\.0\.1:5998;transport=tcp>;expires=(1[01]\d|120)$/);

    const star = await register({ scenario: 'register-ok.xml', user: 'alice', password: ALICE_PW, contact: '*', expires: 0 });
    expectPassed(star);
    expect(lastResponse(star, 200).get('Contact')).toBeUndefined();
    expect(await registrar.contacts('alice')).toEqual([]);
    expect(await redis.exists(keys.registrations('alice'))).toBe(0);
  });

  it('answers 423 with Min-Expires below the minimum and stores nothing', async () => {
    const result = await register({ scenario: 'register-too-brief.xml', user: 'alice', password: ALICE_PW, contact: '<sip:alice-desk@127.0.0.1:5999>', expires: 1 });
    expectPassed(result);
    expect(lastResponse(result, 423).get('Min-Expires')).toBe(String(MIN_EXPIRES));
    expect(await registrar.contacts('alice')).toEqual([]);
  });

  it('refuses a wrong password with 403 after the challenge and logs it without any secret', async () => {
    const result = await register({ scenario: 'register-forbidden.xml', user: 'alice', password: 'guess', contact: '<sip:x@127.0.0.1:5999>', expires: 60 });
    expectPassed(result);
    expect(flow(result)).toEqual(['> REGISTER', '< 401 REGISTER', '> REGISTER', '< 403 REGISTER']);
    expect(await registrar.contacts('alice')).toEqual([]);

    const failure = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'REGISTER authentication failed');
    expect(failure).toMatchObject({ username: 'alice', reason: 'wrong-response', source: `127.0.0.1:${result.port}/udp` });
    const authorization = requestsOf(result, 'sent', 'REGISTER')[1]?.get('Authorization') ?? '';
    const digest = /response="([0-9a-f]{32})"/.exec(authorization)?.[1];
    expect(digest).toBeDefined();
    const everything = logLines.join('\n');
    for (const secret of ['guess', ALICE_PW, digestHa1('alice', REALM, ALICE_PW), digestHa1('alice', REALM, 'guess'), digest as string]) {
      expect(everything).not.toContain(secret);
    }
    expect(everything).not.toMatch(/Authorization|Digest /);
  });

  it('answers an unknown user exactly like a wrong password (no user enumeration)', async () => {
    const known = await register({ scenario: 'register-forbidden.xml', user: 'alice', password: 'guess', contact: '<sip:x@127.0.0.1:5999>', expires: 60 });
    const unknown = await register({ scenario: 'register-forbidden.xml', user: 'mallory', password: 'guess', contact: '<sip:x@127.0.0.1:5999>', expires: 60 });
    expectPassed(known);
    expectPassed(unknown);
    expect(flow(unknown)).toEqual(flow(known));
    // Same statuses, reasons and header set; only tags, nonces and Call-IDs differ.
    const shape = (r: SippResult) =>
      responsesOf(r, 'received').map((res) => ({ status: res.status, reason: res.reason, headers: res.headers.map((h) => h.name).sort() }));
    expect(shape(unknown)).toEqual(shape(known));
  });

  it('refuses an authenticated user registering someone else', async () => {
    // Digest credentials are alice's, but From/To name bob.
    const result = await register({ scenario: 'register-forbidden.xml', user: 'bob', authUser: 'alice', password: ALICE_PW, contact: '<sip:x@127.0.0.1:5999>', expires: 60 });
    expectPassed(result);
    expect(await registrar.contacts('bob')).toEqual([]);
    expect(await registrar.contacts('alice')).toEqual([]);
    const refused = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'REGISTER for another user refused');
    expect(refused).toMatchObject({ username: 'alice', to: 'bob', from: 'bob' });
    // Not a password guess: it does not count towards the source's failure limit.
    expect(await redis.get(keys.authFailures('127.0.0.1'))).toBeNull();
  });

  it(`refuses a source after ${FAILURE_LIMIT} failures, even with the right password, warning once`, async () => {
    const flood = await register({ scenario: 'register-forbidden.xml', user: 'alice', password: 'guess', contact: '<sip:x@127.0.0.1:5999>', expires: 60, calls: FAILURE_LIMIT + 2 });
    expectPassed(flood);
    const blocked = await register({ scenario: 'register-forbidden.xml', user: 'alice', password: ALICE_PW, contact: '<sip:alice-desk@127.0.0.1:5999>', expires: 60 });
    expectPassed(blocked);
    expect(await registrar.contacts('alice')).toEqual([]);

    const parsed = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.filter((l) => l.msg === 'REGISTER authentication failed')).toHaveLength(FAILURE_LIMIT);
    const warnings = parsed.filter((l) => String(l.msg).startsWith('too many failed REGISTER authentications'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ source: '127.0.0.1', failures: FAILURE_LIMIT, level: 40 });
    expect(logLines.join('\n')).not.toContain(ALICE_PW);

    // The limiter, not the password, refused it: once the window is over the phone registers.
    await redis.del(keys.authFailures('127.0.0.1'));
    expectPassed(await register({ scenario: 'register-ok.xml', user: 'alice', password: ALICE_PW, contact: '<sip:alice-desk@127.0.0.1:5999>', expires: 60 }));
    expect(await registrar.contacts('alice')).toHaveLength(1);
  });
});
