/**
 * The binding rules live in a Lua script (one atomic step across instances), so they are tested
 * against the Redis that scripts/test-services.sh runs, under a prefix of their own.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BindingStore, type BindingChange } from '../../../src/registrar/store.js';
import { FailureLimiter } from '../../../src/registrar/failure-limiter.js';
import { planRegister, type PlannedContact } from '../../../src/registrar/rules.js';
import { RedisKeys } from '../../../src/redis/keys.js';
import { RedisReplayGuard, SharedNonceSecret } from '../../../src/sip/digest-auth.js';
import { testRedisPrefix, testServices } from '../../support/services.js';

const limits = { min: 1, max: 3600, default: 3600 };
let redis: Redis;
let keys: RedisKeys;
let user = 0;

function contacts(header: string, expires?: string): PlannedContact[] {
  const plan = planRegister(header, expires, limits);
  if (plan.kind !== 'update') throw new Error(`not an update: ${plan.kind}`);
  return plan.contacts;
}

const change = (callId: string, cseq: number, now: number): BindingChange => ({
  callId,
  cseq,
  now,
  source: { address: '192.0.2.7', port: 5062, protocol: 'udp' },
  userAgent: 'test-phone',
});

/** A fresh username per test: the store keys by username. */
function nextUser(): string {
  user += 1;
  return `op${user}`;
}

beforeAll(async () => {
  redis = new Redis(testServices().redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  keys = new RedisKeys(testRedisPrefix());
});

afterAll(async () => {
  const found = await redis.keys(`${keys.prefix}*`);
  if (found.length > 0) await redis.del(...found);
  redis.disconnect();
});

describe('BindingStore', () => {
  const now = 1_700_000_000_000;

  it('stores several contacts per operator with absolute expiry, source and Call-ID', async () => {
    const store = new BindingStore(redis, keys);
    const u = nextUser();
    const result = await store.apply(u, contacts('<sip:a@192.0.2.7:5062>;expires=60, <sip:b@192.0.2.8>;q=0.5', '120'), change('call-1', 1, now));
    expect(result.status).toBe('ok');
    const list = await store.list(u, now);
    expect(list).toHaveLength(2);
    expect(list.find((b) => b.contact === 'sip:a@192.0.2.7:5062')).toMatchObject({
      expiresAt: now + 60_000,
      callId: 'call-1',
      cseq: 1,
      source: { address: '192.0.2.7', port: 5062, protocol: 'udp' },
      userAgent: 'test-phone',
    });
    expect(list.find((b) => b.contact === 'sip:b@192.0.2.8')).toMatchObject({ expiresAt: now + 120_000, params: { q: '0.5' } });
  });

  it('hides and deletes expired bindings, and lets the key expire with the last one', async () => {
    const store = new BindingStore(redis, keys);
    const u = nextUser();
    await store.apply(u, contacts('<sip:a@h>;expires=10, <sip:b@h>;expires=20'), change('c', 1, Date.now()));
    const ttl = await redis.pttl(keys.registrations(u));
    expect(ttl).toBeGreaterThan(15_000);
    expect(ttl).toBeLessThanOrEqual(20_000);
    const later = Date.now() + 15_000;
    expect((await store.list(u, later)).map((b) => b.contact)).toEqual(['sip:b@h']);
    expect(await redis.hlen(keys.registrations(u))).toBe(1);
  });

  it('refreshes a binding from the same Call-ID with a higher CSeq', async () => {
    const store = new BindingStore(redis, keys);
    const u = nextUser();
    await store.apply(u, contacts('<sip:a@h>', '60'), change('c', 1, now));
    const result = await store.apply(u, contacts('<SIP:a@H>', '300'), change('c', 2, now + 1000));
    expect(result).toMatchObject({ status: 'ok', bindings: [{ contact: 'SIP:a@H', cseq: 2, expiresAt: now + 1000 + 300_000 }] });
  });

  it('aborts the whole request on a CSeq that is not higher for the same Call-ID (§10.3 step 7)', async () => {
    const store = new BindingStore(redis, keys);
    const u = nextUser();
    await store.apply(u, contacts('<sip:a@h>', '60'), change('c', 5, now));
    expect(await store.apply(u, contacts('<sip:b@h>, <sip:a@h>', '0'), change('c', 5, now))).toEqual({ status: 'out-of-order' });
    expect(await store.apply(u, contacts('<sip:a@h>', '0'), change('c', 4, now))).toEqual({ status: 'out-of-order' });
    // Nothing of the refused requests landed.
    expect((await store.list(u, now)).map((b) => b.contact)).toEqual(['sip:a@h']);
  });

  it('lets another Call-ID replace or remove a binding whatever its CSeq', async () => {
    const store = new BindingStore(redis, keys);
    const u = nextUser();
    await store.apply(u, contacts('<sip:a@h>', '60'), change('c1', 50, now));
    expect(await store.apply(u, contacts('<sip:a@h>', '90'), change('c2', 1, now))).toMatchObject({ status: 'ok', bindings: [{ callId: 'c2' }] });
    expect(await store.apply(u, contacts('<sip:a@h>', '0'), change('c3', 1, now))).toEqual({ status: 'ok', bindings: [] });
    expect(await redis.exists(keys.registrations(u))).toBe(0);
  });

  it('removes one contact with expires=0 and keeps the others', async () => {
    const store = new BindingStore(redis, keys);
    const u = nextUser();
    await store.apply(u, contacts('<sip:a@h>, <sip:b@h>', '60'), change('c', 1, now));
    const result = await store.apply(u, contacts('<sip:a@h>;expires=0'), change('c', 2, now));
    expect(result).toMatchObject({ status: 'ok', bindings: [{ contact: 'sip:b@h' }] });
  });

  it('removes all with *, unless a binding of the same Call-ID is newer', async () => {
    const store = new BindingStore(redis, keys);
    const u = nextUser();
    await store.apply(u, contacts('<sip:a@h>', '60'), change('c1', 1, now));
    await store.apply(u, contacts('<sip:b@h>', '60'), change('c2', 9, now));
    expect(await store.removeAll(u, { callId: 'c2', cseq: 9, now })).toEqual({ status: 'out-of-order' });
    expect(await store.list(u, now)).toHaveLength(2);
    expect(await store.removeAll(u, { callId: 'c2', cseq: 10, now })).toEqual({ status: 'ok', bindings: [] });
    expect(await store.list(u, now)).toEqual([]);
  });

  it('refuses more contacts than allowed, atomically', async () => {
    const store = new BindingStore(redis, keys, 2);
    const u = nextUser();
    await store.apply(u, contacts('<sip:a@h>', '60'), change('c', 1, now));
    expect(await store.apply(u, contacts('<sip:b@h>, <sip:c@h>', '60'), change('c', 2, now))).toEqual({ status: 'too-many' });
    expect((await store.list(u, now)).map((b) => b.contact)).toEqual(['sip:a@h']);
  });

  it('treats a binding that expired as absent for the CSeq rule', async () => {
    const store = new BindingStore(redis, keys);
    const u = nextUser();
    await store.apply(u, contacts('<sip:a@h>', '10'), change('c', 7, now));
    expect((await store.apply(u, contacts('<sip:a@h>', '10'), change('c', 1, now + 11_000))).status).toBe('ok');
  });
});

describe('FailureLimiter', () => {
  it('blocks after the limit, says so once, and forgets when the window ends', async () => {
    const limiter = new FailureLimiter(redis, keys, 3, 1);
    const source = `198.51.100.${Math.floor(Math.random() * 200)}`;
    const reached = [await limiter.fail(source), await limiter.fail(source), await limiter.fail(source), await limiter.fail(source)];
    expect(reached).toEqual([false, false, true, false]);
    expect(await limiter.blocked(source)).toBe(true);
    expect(await limiter.blocked('198.51.100.250')).toBe(false);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await limiter.blocked(source)).toBe(false);
  });
});

describe('shared digest state', () => {
  it('gives every instance the same nonce secret, created once', async () => {
    const a = await SharedNonceSecret.load(redis, keys);
    const b = await SharedNonceSecret.load(redis, keys);
    try {
      expect(a.current().equals(b.current())).toBe(true);
      expect(a.current()).toHaveLength(32);
    } finally {
      a.stop();
      b.stop();
    }
  });

  it('follows a secret that was recreated, still verifying with the previous one', async () => {
    const a = await SharedNonceSecret.load(redis, keys);
    try {
      const before = a.current();
      await redis.del(keys.digestNonceSecret());
      await a.refresh();
      expect(a.current().equals(before)).toBe(false);
      expect(a.all()).toHaveLength(2);
      expect(a.all()[1]?.equals(before)).toBe(true);
    } finally {
      a.stop();
    }
  });

  it('sees each nonce-count once', async () => {
    const guard = new RedisReplayGuard(redis, keys);
    expect(await guard.firstUse('n1', '00000001', 5_000)).toBe(true);
    expect(await guard.firstUse('n1', '00000001', 5_000)).toBe(false);
    expect(await guard.firstUse('n1', '00000002', 5_000)).toBe(true);
    expect(await redis.pttl(keys.digestNonceCounts('n1'))).toBeGreaterThan(0);
  });
});
