import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperatorService } from '../../src/acd/operator-service.js';
import { OperatorStore, type AppliedTransition } from '../../src/acd/operator-store.js';
import type { OperatorStatus } from '../../src/acd/operator-rules.js';
import { waitingScore } from '../../src/acd/queue-order.js';
import { QueueStore } from '../../src/acd/queue-store.js';
import { StatusCache } from '../../src/acd/status-cache.js';
import { Sweeper } from '../../src/acd/sweeper.js';
import { ConfigCache } from '../../src/provisioning/cache.js';
import type { HistoryRecord } from '../../src/cdr/records.js';
import { createLogger } from '../../src/log.js';
import { createRedis, type Redis } from '../../src/redis/client.js';
import { EventBus } from '../../src/redis/events.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { testRedisPrefix, testServices } from '../support/services.js';

const log = createLogger('silent', 'test');
// No Redis outage in these tests: nothing to rebuild, never settling.
/** The sweeper's media side, not under test here. */
const noChannels = { publish: async (): Promise<void> => undefined, sweep: async (): Promise<number> => 0 };
const noRecovery = { check: async (): Promise<void> => undefined, settling: (): boolean => false };
let keys: RedisKeys;
const clients: Redis[] = [];

async function client(): Promise<Redis> {
  const r = createRedis(testServices().redisUrl, 'acd-test');
  await r.connect();
  clients.push(r);
  return r;
}

function freshKeys(): RedisKeys {
  const k = new RedisKeys(testRedisPrefix());
  prefixes.push(k.prefix);
  return k;
}

beforeAll(() => {
  keys = freshKeys();
});

const prefixes: string[] = [];

afterAll(async () => {
  const r = clients[0];
  for (const prefix of prefixes) {
    const found = r ? await r.keys(`${prefix}*`) : [];
    if (r && found.length) await r.del(...found);
  }
  for (const c of clients) c.disconnect();
});

async function loggedIn(store: OperatorStore, ...ids: number[]): Promise<void> {
  for (const id of ids) await store.apply(id, { type: 'login' });
}

/** Operators as the reservation takes them, without skills. */
const plainOps = (...ids: number[]): { operatorId: number; skills: string[] }[] => ids.map((operatorId) => ({ operatorId, skills: [] }));
const idsOf = (r: { operatorId: number }[] | 'out-of-turn'): number[] | 'out-of-turn' => (r === 'out-of-turn' ? r : r.map((t) => t.operatorId));

describe('OperatorStore', () => {
  it('applies transitions by compare-and-set and publishes each one', async () => {
    const redis = await client();
    const sub = await client();
    const store = new OperatorStore(redis, keys);
    const seen: unknown[] = [];
    await sub.subscribe(keys.eventsChannel());
    sub.on('message', (_c: string, m: string) => seen.push(JSON.parse(m)));

    const login = await store.apply(101, { type: 'login' });
    expect(login).toMatchObject({ from: 'logged-out', to: 'available', operatorId: 101 });
    expect(await store.get(101)).toMatchObject({ state: 'available', operatorId: 101 });
    await expect(store.apply(101, { type: 'login' })).rejects.toThrow(/available cannot login/);

    const stale = await store.cas(101, { from: ['on-break'], changes: { state: 'available' }, reason: 'x' });
    expect(stale).toBeUndefined();
    await expect.poll(() => seen.length).toBe(1);
    expect(seen[0]).toMatchObject({ type: 'operator', status: { operatorId: '101', state: 'available' } });
    expect((await store.all()).map((s) => s.operatorId)).toContain(101);
  });

  it('applies an event to a known status without reading it, and reads it when that status is out of date', async () => {
    const redis = await client();
    const store = new OperatorStore(redis, keys);
    const queues = new QueueStore(redis, keys);
    await store.apply(111, { type: 'login' });
    await queues.enqueue(11, 'c1', waitingScore(0, 1));
    await queues.enqueue(11, 'c2', waitingScore(0, 2));
    const reads: string[] = [];
    const hgetall = redis.hgetall.bind(redis);
    redis.hgetall = ((key: string) => {
      reads.push(key);
      return hgetall(key);
    }) as typeof redis.hgetall;

    // Known and current: one compare-and-set, no read.
    const known = await store.get(111);
    reads.length = 0;
    const onBreak = await store.apply(111, { type: 'break' }, known);
    expect(onBreak).toMatchObject({ from: 'available', to: 'on-break' });
    expect(reads).toEqual([]);

    // Known but out of date in a field the plan does not check (calls): read, planned again.
    const back = await store.apply(111, { type: 'back' });
    expect(back.to).toBe('available');
    const [taken] = (await store.reserveInTurn(11, 'c1', plainOps(111), 1, { instance: 'i1', leaseMs: 20_000, now: Date.now() })) as AppliedTransition[];
    const ringing = taken?.status as OperatorStatus;
    await store.apply(111, { type: 'answer', callId: 'c1' }, ringing);
    await store.apply(111, { type: 'hangup', callId: 'c1', wrapupMs: 0 });
    expect(idsOf(await store.reserveInTurn(11, 'c2', plainOps(111), 1, { instance: 'i1', leaseMs: 20_000, now: Date.now() }))).toEqual([111]);
    reads.length = 0;
    const stale = { ...ringing, callId: 'c2' };
    const answered = await store.apply(111, { type: 'answer', callId: 'c2' }, stale);
    expect(reads).toEqual([keys.operator(111)]);
    expect(answered.status.calls).toBe(2);

    // Known in a state that refuses the event, while Redis holds one that takes it: read, applied.
    reads.length = 0;
    const hungUp = await store.apply(111, { type: 'hangup', callId: 'c2', wrapupMs: 0 }, known);
    expect(hungUp).toMatchObject({ from: 'busy', to: 'available' });
    expect(reads).toEqual([keys.operator(111)]);
  });

  it('reserves only for the caller whose turn it is (the head, without skills), and takes them off it', async () => {
    const redis = await client();
    const store = new OperatorStore(redis, keys);
    const queues = new QueueStore(redis, keys);
    await loggedIn(store, 201, 202);
    await queues.enqueue(2, 'first', waitingScore(0, 1000));
    await queues.enqueue(2, 'second', waitingScore(0, 2000));

    expect(await store.reserveInTurn(2, 'second', plainOps(201), 1, { instance: 'i1', leaseMs: 20_000, now: Date.now() })).toBe('out-of-turn');
    const taken = await store.reserveInTurn(2, 'first', plainOps(201, 202), 1, { instance: 'i1', leaseMs: 20_000, now: Date.now() });
    expect(taken).not.toBe('out-of-turn');
    expect((taken as { operatorId: number }[]).map((t) => t.operatorId)).toEqual([201]);
    expect(await store.get(201)).toMatchObject({ state: 'ringing', callId: 'first', instance: 'i1' });
    expect(await queues.waiting(2)).toEqual([expect.objectContaining({ callId: 'second', position: 1 })]);

    // 201 is taken: the next caller gets 202 even though 201 is listed first.
    const next = await store.reserveInTurn(2, 'second', plainOps(201, 202), 1, { instance: 'i1', leaseMs: 20_000, now: Date.now() });
    expect((next as { operatorId: number }[]).map((t) => t.operatorId)).toEqual([202]);
    expect(await queues.length(2)).toBe(0);
  });

  it('leaves the caller in the queue when nobody listed is free', async () => {
    const redis = await client();
    const store = new OperatorStore(redis, keys);
    const queues = new QueueStore(redis, keys);
    await queues.enqueue(3, 'lonely', waitingScore(0, 1));
    expect(await store.reserveInTurn(3, 'lonely', plainOps(999), 1, { instance: 'i1', leaseMs: 1, now: Date.now() })).toEqual([]);
    expect((await queues.waiting(3)).map((w) => w.callId)).toEqual(['lonely']);
  });

  it('reserves several at once for ring-all', async () => {
    const redis = await client();
    const store = new OperatorStore(redis, keys);
    const queues = new QueueStore(redis, keys);
    await loggedIn(store, 301, 302, 303, 304, 305, 306);
    await store.apply(302, { type: 'break' });
    await queues.enqueue(4, 'c', waitingScore(0, 1));
    await queues.enqueue(4, 'd', waitingScore(0, 2));
    const taken = await store.reserveInTurn(4, 'c', plainOps(301, 302, 303, 304), 4, { instance: 'i1', leaseMs: 1000, now: Date.now() });
    expect((taken as { operatorId: number }[]).map((t) => t.operatorId)).toEqual([301, 303, 304]);
    // The width bounds how many are taken, however many are free.
    const two = await store.reserveInTurn(4, 'd', plainOps(305, 306), 1, { instance: 'i1', leaseMs: 1000, now: Date.now() });
    expect((two as { operatorId: number }[]).map((t) => t.operatorId)).toEqual([305]);
    expect((await store.get(306)).state).toBe('available');
  });

  it('never offers one operator two calls, however many instances race for them', async () => {
    const instances = await Promise.all([client(), client(), client()]);
    const stores = instances.map((r) => new OperatorStore(r, keys));
    const queues = new QueueStore(instances[0] as Redis, keys);
    const operators = [401, 402, 403];
    await loggedIn(stores[0] as OperatorStore, ...operators);
    const callers = Array.from({ length: 30 }, (_v, i) => `race-${i}`);
    for (const [i, c] of callers.entries()) await queues.enqueue(5, c, waitingScore(0, 1000 + i));

    // Every instance tries to match every caller at once, as dispatchers would after a burst.
    const attempts = stores.flatMap((store, n) =>
      callers.map((c) => store.reserveInTurn(5, c, plainOps(...operators), 1, { instance: `i${n}`, leaseMs: 20_000, now: Date.now() })),
    );
    const results = await Promise.all(attempts);
    const grants = results.flatMap((r) => (r === 'out-of-turn' ? [] : r));
    expect(grants.map((g) => g.operatorId).sort()).toEqual(operators);
    const byCall = new Set(grants.map((g) => g.status.callId));
    expect(byCall.size).toBe(3);
    // Callers were served strictly from the head of the queue.
    expect([...byCall].sort()).toEqual(['race-0', 'race-1', 'race-2']);
    expect(await queues.length(5)).toBe(27);
  });
});

describe('reserving in turn with skills', () => {
  it('a caller waiting for a skill holds back only the operators with it, until the wait is over', async () => {
    const redis = await client();
    const store = new OperatorStore(redis, keys);
    const queues = new QueueStore(redis, keys);
    await loggedIn(store, 501, 502);
    const now = Date.now();
    await queues.enqueue(11, 'french', waitingScore(0, 1000), { skill: 'fr', widenAt: now + 30_000 });
    await queues.enqueue(11, 'plain', waitingScore(0, 2000));
    expect(await queues.waitingNeeds(11, 10)).toEqual([
      { callId: 'french', skill: 'fr', widenAt: now + 30_000 },
      { callId: 'plain', skill: '', widenAt: 0 },
    ]);
    const fr = { operatorId: 501, skills: ['fr', 'de'] };
    const en = { operatorId: 502, skills: ['en'] };
    const reserve = { instance: 'i1', leaseMs: 20_000, now };
    // The French speaker is kept for the caller ahead; the other operator serves the one behind.
    expect(idsOf(await store.reserveInTurn(11, 'plain', [fr], 1, reserve))).toEqual([]);
    expect(idsOf(await store.reserveInTurn(11, 'plain', [fr, en], 1, reserve))).toEqual([502]);
    expect(await queues.waitingNeeds(11, 10)).toEqual([{ callId: 'french', skill: 'fr', widenAt: now + 30_000 }]);
    expect(idsOf(await store.reserveInTurn(11, 'french', [fr], 1, reserve))).toEqual([501]);
    // Taken off the queue: its need goes with it.
    expect(await redis.hlen(keys.queueNeeds(11))).toBe(0);
  });

  it('once its wait is over, a skilled caller ahead has the turn for everyone', async () => {
    const redis = await client();
    const store = new OperatorStore(redis, keys);
    const queues = new QueueStore(redis, keys);
    await loggedIn(store, 511);
    await queues.enqueue(12, 'french', waitingScore(0, 1000), { skill: 'fr', widenAt: 5_000 });
    await queues.enqueue(12, 'plain', waitingScore(0, 2000));
    const en = [{ operatorId: 511, skills: [] }];
    expect(await store.reserveInTurn(12, 'plain', en, 1, { instance: 'i1', leaseMs: 1000, now: 4_999 })).not.toBe('out-of-turn');
    await store.apply(511, { type: 'release', callId: 'plain', missed: false, maxMisses: 3 });
    await queues.enqueue(12, 'plain', waitingScore(0, 2000));
    expect(await store.reserveInTurn(12, 'plain', en, 1, { instance: 'i1', leaseMs: 1000, now: 5_000 })).toBe('out-of-turn');
    expect(idsOf(await store.reserveInTurn(12, 'french', en, 1, { instance: 'i1', leaseMs: 1000, now: 5_000 }))).toEqual([511]);
  });

  it('a caller without a skill ahead blocks everyone behind; leaving the queue drops the need', async () => {
    const redis = await client();
    const store = new OperatorStore(redis, keys);
    const queues = new QueueStore(redis, keys);
    await loggedIn(store, 521);
    await queues.enqueue(13, 'plain', waitingScore(0, 1000));
    await queues.enqueue(13, 'french', waitingScore(0, 2000), { skill: 'fr', widenAt: Date.now() + 60_000 });
    const fr = [{ operatorId: 521, skills: ['fr'] }];
    expect(await store.reserveInTurn(13, 'french', fr, 1, { instance: 'i1', leaseMs: 1000, now: Date.now() })).toBe('out-of-turn');
    await queues.enqueue(14, 'other', waitingScore(0, 500));
    expect(await queues.moveToQueue(13, 14, 'french')).toBe(true);
    expect((await queues.waitingNeeds(14, 10)).map((n) => n.skill)).toEqual(['', 'fr']);
    expect(await queues.dequeue(14, 'french')).toBe(true);
    expect(await redis.hlen(keys.queueNeeds(14))).toBe(0);
  });
});

describe('QueueStore', () => {
  it('orders by priority then arrival, and moves callers to the front or to another queue', async () => {
    const redis = await client();
    const queues = new QueueStore(redis, keys);
    // Alone in the line, a caller is told the whole line; with others, only their place.
    expect(await queues.enqueue(6, 'a', waitingScore(0, 100))).toEqual({ position: 1, line: [{ callId: 'a', skill: '', widenAt: 0 }] });
    expect(await queues.enqueue(6, 'b', waitingScore(0, 200))).toEqual({ position: 2 });
    expect(await queues.enqueue(6, 'vip', waitingScore(5, 300))).toEqual({ position: 1 });
    expect((await queues.waiting(6)).map((w) => w.callId)).toEqual(['vip', 'a', 'b']);

    expect(await queues.moveToFront(6, 'b')).toBe(true);
    expect((await queues.waiting(6)).map((w) => w.callId)).toEqual(['b', 'vip', 'a']);
    expect(await queues.moveToFront(6, 'nobody')).toBe(false);

    await queues.enqueue(7, 'z', waitingScore(0, 150));
    expect(await queues.moveToQueue(6, 7, 'a')).toBe(true);
    expect((await queues.waiting(7)).map((w) => w.callId)).toEqual(['a', 'z']);
    expect(await queues.position(6, 'a')).toBeUndefined();
  });

  it('keeps live calls visible to every instance', async () => {
    const redis = await client();
    const queues = new QueueStore(redis, keys);
    await queues.saveCall({
      callId: 'live-1', owner: 'i1', callerNumber: '555', callerName: 'Guest', dialledNumber: '8000', arrivedAt: 1,
      state: 'waiting', queueId: 8, queuedAt: 2, priority: 0, score: 3, operatorId: null, answeredAt: null,
    });
    expect(await queues.getCall('live-1')).toMatchObject({ owner: 'i1', queueId: 8, operatorId: null, state: 'waiting' });
    await queues.updateCall('live-1', { state: 'connected', operatorId: 9 });
    expect((await queues.liveCalls()).find((c) => c.callId === 'live-1')).toMatchObject({ state: 'connected', operatorId: 9 });
    await queues.removeCall('live-1', 8);
    expect(await queues.getCall('live-1')).toBeUndefined();
  });

  it('saves a call and queues it in one step, as saveCall then enqueue would', async () => {
    const redis = await client();
    const queues = new QueueStore(redis, keys);
    const call = {
      callId: 'joined', owner: 'i1', callerNumber: '556', callerName: 'Guest', dialledNumber: '8000', arrivedAt: 1,
      state: 'routing' as const, queueId: 21, queuedAt: 2, priority: 0, score: waitingScore(0, 500), operatorId: null, answeredAt: null, skill: 'fr',
    };
    await queues.enqueue(21, 'ahead', waitingScore(0, 100));
    expect(await queues.saveAndEnqueue(call, { skill: 'fr', widenAt: 7_000 })).toEqual({ position: 2 });
    expect(await queues.getCall('joined')).toEqual({ ...call, state: 'waiting' });
    expect((await queues.liveCalls()).map((c) => c.callId)).toContain('joined');
    expect(await queues.waitingNeeds(21, 10)).toEqual([
      { callId: 'ahead', skill: '', widenAt: 0 },
      { callId: 'joined', skill: 'fr', widenAt: 7_000 },
    ]);
    // What the instance would write back after Redis lost its data.
    expect(queues.savedCalls().find((c) => c.callId === 'joined')).toEqual({ ...call, state: 'waiting' });
    await queues.removeCall('joined', 21);
    expect(await queues.waitingNeeds(21, 10)).toEqual([{ callId: 'ahead', skill: '', widenAt: 0 }]);

    // Alone in a line, the caller is told it as the dispatcher would read it, need included.
    const alone = await queues.saveAndEnqueue({ ...call, callId: 'alone', queueId: 22 }, { skill: 'fr', widenAt: 8_000 });
    expect(alone).toEqual({ position: 1, line: await queues.waitingNeeds(22, 10) });
    expect(alone.line).toEqual([{ callId: 'alone', skill: 'fr', widenAt: 8_000 }]);
    await queues.removeCall('alone', 22);
  });
});

describe('Sweeper', () => {
  it('frees operators held by a dead instance or a long-passed deadline, and records it', async () => {
    // A keyspace of its own: the operators of the other tests are held by made-up instances.
    keys = freshKeys();
    const redis = await client();
    const store = new OperatorStore(redis, keys);
    const records: HistoryRecord[] = [];
    const operators = new OperatorService(store, (r) => records.push(r), log);
    const bus = new EventBus(await client(), redis, keys, 'alive', log);
    const statuses = new StatusCache(store, bus);
    await loggedIn(store, 501, 502, 503);
    await redis.set(keys.instanceLease('alive'), '1', 'EX', 30);
    // 501 rings for a crashed instance, 502 rings for a live one, 503 rings past its deadline.
    await store.cas(501, { from: ['available'], changes: { state: 'ringing', callId: 'x1', instance: 'crashed', deadline: Date.now() + 60_000 }, reason: 't' });
    await store.cas(502, { from: ['available'], changes: { state: 'ringing', callId: 'x2', instance: 'alive', deadline: Date.now() + 60_000 }, reason: 't' });
    await store.cas(503, { from: ['available'], changes: { state: 'ringing', callId: 'x3', instance: 'alive', deadline: Date.now() - 60_000 }, reason: 't' });
    await statuses.load();

    const sweeper = new Sweeper({ redis, keys, instanceId: 'sweeping', statuses, operators, queues: new QueueStore(redis, keys), settings: new ConfigCache(undefined as never, log), record: (r) => records.push(r), log, recovery: noRecovery, channels: noChannels });
    expect(await sweeper.sweep(Date.now())).toBe(2);
    expect((await store.get(501)).state).toBe('available');
    expect((await store.get(502)).state).toBe('ringing');
    expect((await store.get(503)).state).toBe('available');
    expect(records.filter((r) => r.kind === 'operator-event').map((r) => (r.row as { operatorId: number }).operatorId).sort()).toEqual([501, 503]);

    // Busy for long on a call that is in progress nowhere: a lost hang-up; freed. A young or a
    // live call keeps its operator.
    const queues = new QueueStore(redis, keys);
    await loggedIn(store, 504, 505, 506);
    for (const [id, callId] of [[504, 'lost'], [505, 'live'], [506, 'young']] as const) {
      await store.cas(id, { from: ['available'], changes: { state: 'busy', callId, instance: 'alive', since: id === 506 ? Date.now() : Date.now() - 60_000 }, reason: 't' });
    }
    await queues.saveCall({ callId: 'live', owner: 'alive', callerNumber: '1', callerName: '', dialledNumber: '2', arrivedAt: 1, state: 'connected', queueId: null, queuedAt: null, priority: 0, score: null, operatorId: 505, answeredAt: 2 });
    await statuses.load();
    expect(await sweeper.sweep(Date.now())).toBe(1);
    expect((await store.get(504)).state).toBe('available');
    expect((await store.get(505)).state).toBe('busy');
    expect((await store.get(506)).state).toBe('busy');
  });
});

describe('Sweeper and calls', () => {
  it('takes a vanished instance\'s calls off the queues once, with a record', async () => {
    keys = freshKeys();
    const redis = await client();
    const store = new OperatorStore(redis, keys);
    const queues = new QueueStore(redis, keys);
    const records: HistoryRecord[] = [];
    const operators = new OperatorService(store, (r) => records.push(r), log);
    const bus = new EventBus(await client(), redis, keys, 'alive', log);
    const statuses = new StatusCache(store, bus);
    await redis.set(keys.instanceLease('alive'), '1', 'EX', 30);
    const base = { callerNumber: '555', callerName: 'Guest', dialledNumber: '8000', arrivedAt: 1000, queueId: 9, queuedAt: 1000, priority: 0, operatorId: null, answeredAt: null } as const;
    await queues.saveCall({ ...base, callId: 'dead-1', owner: 'crashed', state: 'waiting', score: 1 });
    await queues.enqueue(9, 'dead-1', 1);
    await queues.saveCall({ ...base, callId: 'live-1', owner: 'alive', state: 'waiting', score: 2 });
    await queues.enqueue(9, 'live-1', 2);

    const settings = new ConfigCache(undefined as never, log);
    const make = (): Sweeper => new Sweeper({ redis, keys, instanceId: 'sweeping', statuses, operators, queues, settings, record: (r) => records.push(r), log, recovery: noRecovery, channels: noChannels });
    // Two instances sweep at once: the call is removed and recorded once.
    const [a, b] = await Promise.all([make().sweepCalls(5000), make().sweepCalls(5000)]);
    expect(a + b).toBe(1);
    expect((await queues.waiting(9)).map((w) => w.callId)).toEqual(['live-1']);
    expect(await queues.getCall('dead-1')).toBeUndefined();
    const calls = records.filter((r) => r.kind === 'call').map((r) => r.row as { callId: string; disposition: string; hangupBy: string });
    expect(calls).toEqual([expect.objectContaining({ callId: 'dead-1', disposition: 'failed', hangupBy: 'system' })]);
  });
});
