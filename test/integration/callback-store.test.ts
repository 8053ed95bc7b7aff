import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitingScore } from '../../src/acd/queue-order.js';
import { QueueStore } from '../../src/acd/queue-store.js';
import { CallbackStore, type CallbackEntry } from '../../src/callback/store.js';
import { createRedis, type Redis } from '../../src/redis/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { testRedisPrefix, testServices } from '../support/services.js';

/**
 * Callbacks in real Redis: a confirmed callback takes its caller's place in the queue (same
 * score, among live callers by original arrival and priority), leaves and re-enters it at that
 * place between attempts, is claimed by one instance only, and can be cancelled only while
 * nobody is being rung for it.
 */
let redis: Redis;
let keys: RedisKeys;
let queues: QueueStore;
let callbacks: CallbackStore;

beforeAll(async () => {
  redis = createRedis(testServices().redisUrl, 'callback-store-test');
  await redis.connect();
  keys = new RedisKeys(testRedisPrefix());
  queues = new QueueStore(redis, keys);
  callbacks = new CallbackStore(redis, keys);
});

afterAll(async () => {
  const found = await redis.keys(`${keys.prefix}*`);
  if (found.length) await redis.del(...found);
  redis.disconnect();
});

function entry(id: string, queueId: number, arrivedAt: number, extra: Partial<CallbackEntry> = {}): Omit<CallbackEntry, 'score'> {
  return {
    id,
    originalCallId: `call-${id}`,
    queueId,
    number: '5551234',
    callerName: 'Guest',
    how: 'caller-id',
    priority: 0,
    arrivedAt,
    requestedAt: arrivedAt + 10_000,
    attempts: 0,
    owner: 'i1',
    state: 'waiting',
    retryAt: 0,
    operatorId: null,
    ...extra,
  };
}

describe('a callback in the queue', () => {
  it('takes its caller\'s place: behind earlier callers and higher priorities, ahead of later callers', async () => {
    const q = 1;
    await queues.enqueue(q, 'early', waitingScore(0, 1_000));
    await queues.enqueue(q, 'asker', waitingScore(0, 2_000));
    await queues.enqueue(q, 'late', waitingScore(0, 3_000));
    await queues.enqueue(q, 'vip', waitingScore(3, 4_000));
    const stored = await callbacks.request('asker', entry('cb1', q, 2_000));
    expect(stored).toMatchObject({ id: 'cb1', score: waitingScore(0, 2_000), state: 'waiting', owner: 'i1', operatorId: null, attempts: 0 });
    expect((await queues.waiting(q)).map((w) => w.callId)).toEqual(['vip', 'early', 'cb1', 'late']);
    // A caller arriving after the request still waits behind the callback.
    await queues.enqueue(q, 'newcomer', waitingScore(0, Date.now()));
    expect(await queues.position(q, 'cb1')).toBe(3);
    expect(await queues.position(q, 'newcomer')).toBe(5);
  });

  it('is refused when the caller no longer waits there', async () => {
    expect(await callbacks.request('nobody', entry('cb2', 1, 5_000))).toBeUndefined();
    expect(await callbacks.get('cb2')).toBeUndefined();
  });

  it('leaves the queue while placed and goes back to the same place', async () => {
    const q = 2;
    await queues.enqueue(q, 'a', waitingScore(0, 1_000));
    await queues.enqueue(q, 'asker', waitingScore(0, 2_000));
    await queues.enqueue(q, 'b', waitingScore(0, 3_000));
    const cb = (await callbacks.request('asker', entry('cb3', q, 2_000))) as CallbackEntry;
    await callbacks.dequeue(cb, 'retry-wait', { retryAt: 99, attempts: 1 });
    expect((await queues.waiting(q)).map((w) => w.callId)).toEqual(['a', 'b']);
    expect(await callbacks.get('cb3')).toMatchObject({ state: 'retry-wait', retryAt: 99, attempts: 1 });
    await callbacks.enqueue(cb);
    expect((await queues.waiting(q)).map((w) => w.callId)).toEqual(['a', 'cb3', 'b']);
    expect((await callbacks.all()).map((e) => e.id)).toContain('cb3');
    await callbacks.remove(cb);
    expect((await queues.waiting(q)).map((w) => w.callId)).toEqual(['a', 'b']);
    expect(await callbacks.get('cb3')).toBeUndefined();
    expect((await callbacks.all()).map((e) => e.id)).not.toContain('cb3');
  });

  it('is claimed by one instance only, from the owner it was seen with', async () => {
    await queues.enqueue(3, 'asker', waitingScore(0, 1_000));
    await callbacks.request('asker', entry('cb4', 3, 1_000, { owner: 'dead' }));
    const claims = await Promise.all([callbacks.claim('cb4', 'dead', 'i2'), callbacks.claim('cb4', 'dead', 'i3')]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(['i2', 'i3']).toContain((await callbacks.get('cb4'))?.owner);
  });

  it('is cancelled while waiting, not while being placed', async () => {
    const q = 4;
    await queues.enqueue(q, 'asker', waitingScore(0, 1_000));
    await queues.enqueue(q, 'other', waitingScore(0, 2_000));
    const cb = (await callbacks.request('asker', entry('cb5', q, 1_000))) as CallbackEntry;
    await callbacks.dequeue(cb, 'offering', { operatorId: 7 });
    expect(await callbacks.cancel('cb5')).toBe('busy');
    await callbacks.enqueue(cb);
    expect(await callbacks.cancel('cb5')).toMatchObject({ id: 'cb5', number: '5551234', state: 'waiting' });
    expect((await queues.waiting(q)).map((w) => w.callId)).toEqual(['other']);
    expect(await callbacks.cancel('cb5')).toBeUndefined();
  });
});
