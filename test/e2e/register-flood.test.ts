import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/redis/keys.js';
import { DEFAULT_FAILURE_LIMIT, DEFAULT_FAILURE_WINDOW_S } from '../../src/registrar/failure-limiter.js';
import { addOperator, scenario, startCallBench, type CallBench, type TestOperator } from '../support/call-bench.js';
import { testServices } from '../support/services.js';
import { Softphone } from '../support/softphone.js';
import { describeRun, flow, runSipp, type SippResult } from '../support/sipp.js';
import { SIP_DOMAIN } from '../support/switchboard.js';

/**
 * A REGISTER flood with wrong passwords from several source addresses (127.0.0.2 ... on the
 * loopback) against a whole switchboard, with the published scenario
 * sipp-scenarios/register-wrong-password.xml: every attempt is challenged and refused, each
 * source's failures are counted once up to the limit (later ones are refused unchecked), the
 * limiter's state is one expiring Redis key per source, and an operator's phone on another
 * address still registers during and after it.
 */
const SOURCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const ATTEMPTS_PER_SOURCE = 150;

let bench: CallBench;
let alice: TestOperator;
let redis: Redis;
let keys: RedisKeys;

function flood(source: string, username: string): Promise<SippResult> {
  return runSipp({
    scenario: scenario('register-wrong-password.xml'),
    remote: bench.drachtio.sipAddress,
    transport: 'udp',
    service: username,
    keys: { domain: SIP_DOMAIN },
    calls: ATTEMPTS_PER_SOURCE,
    rate: 50,
    timeoutMs: 60_000,
    // The last -i wins: SIPp sends from this loopback address instead of 127.0.0.1.
    extraArgs: ['-i', source, '-au', username, '-ap', 'not-the-password', '-l', '20'],
    name: `flood-${source}`,
  });
}

beforeAll(async () => {
  bench = await startCallBench();
  alice = await addOperator(bench, 'alice', '67354', { login: false });
  redis = new Redis(testServices().redisUrl, { maxRetriesPerRequest: 1 });
  keys = new RedisKeys(bench.sb.config.redisPrefix);
});

afterAll(async () => {
  redis?.disconnect();
  await bench?.close();
});

describe('a REGISTER flood with wrong passwords', () => {
  it('refuses every attempt, counts each source only up to the limit, and keeps a good phone registering', async () => {
    // A known user from two sources, unknown users from the others: the answers are the same.
    const runs = SOURCES.map((source, i) => flood(source, i < 2 ? 'alice' : `guess${i}`));
    const phone = await Softphone.start(alice.username, alice.password, SIP_DOMAIN, bench.drachtio.sipAddress);
    try {
      await phone.register(); // during the flood
      const results = await Promise.all(runs);
      for (const result of results) {
        expect(result.passed, describeRun(result)).toBe(true);
        expect(result.stats?.successful).toBe(ATTEMPTS_PER_SOURCE);
        // Every attempt: challenge, credentials, 403; nothing else.
        const steps = new Set(flow(result));
        expect([...steps].sort()).toEqual(['< 401 REGISTER', '< 403 REGISTER', '> REGISTER']);
      }

      for (const source of SOURCES) {
        const key = keys.authFailures(source);
        const count = Number(await redis.get(key));
        // Concurrent attempts may pass the check together, so a few more than the limit may be
        // counted; the rest were refused without looking at their credentials.
        expect(count, source).toBeGreaterThanOrEqual(DEFAULT_FAILURE_LIMIT);
        expect(count, source).toBeLessThan(ATTEMPTS_PER_SOURCE / 2);
        const ttl = await redis.ttl(key);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(DEFAULT_FAILURE_WINDOW_S);
      }
      // The limiter's whole state: one expiring key per flooding source, none for 127.0.0.1.
      const limiterKeys = await redis.keys(keys.authFailures('*'));
      expect(limiterKeys.sort()).toEqual(SOURCES.map((s) => keys.authFailures(s)).sort());

      await phone.register(); // after the flood, from 127.0.0.1
      const bindings = await redis.hvals(keys.registrations('alice'));
      expect(bindings).toHaveLength(1);
      expect(bindings[0]).toContain('"address":"127.0.0.1"');
    } finally {
      await phone.close();
    }
    const health = await bench.sb.api('/health');
    expect(health.body).toMatchObject({ status: 'ok' });
  });
});
