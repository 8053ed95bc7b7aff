/**
 * The dispatcher against the Redis of scripts/test-services.sh, with a status cache that is
 * behind: the operators it believes free have just been taken.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Dispatcher, type WaitingCall } from '../../src/acd/dispatcher.js';
import { OperatorStore, type AppliedTransition } from '../../src/acd/operator-store.js';
import { newOperatorStatus, type OperatorStatus } from '../../src/acd/operator-rules.js';
import { waitingScore } from '../../src/acd/queue-order.js';
import { QueueStore } from '../../src/acd/queue-store.js';
import type { StatusCache } from '../../src/acd/status-cache.js';
import { createLogger } from '../../src/log.js';
import type { ConfigCache, Member } from '../../src/provisioning/cache.js';
import { createRedis, type Redis } from '../../src/redis/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { testRedisPrefix, testServices } from '../support/services.js';

const log = createLogger('silent', 'test');
const QUEUE = 7;
let redis: Redis | undefined;
const keys = new RedisKeys(testRedisPrefix());

afterAll(async () => {
  if (!redis) return;
  const found = await redis.keys(`${keys.prefix}*`);
  if (found.length) await redis.del(...found);
  redis.disconnect();
});

interface Bench {
  store: OperatorStore;
  queues: QueueStore;
  offers: { callId: string; reserved: AppliedTransition[] }[];
  /** How many times the dispatcher read the queue's line. */
  reads: () => number;
  dispatch: () => Promise<void>;
}

/** A dispatcher owning `callers` (enqueued in that order) whose status cache says `statuses`. */
async function bench(callers: string[], statuses: Map<number, OperatorStatus>): Promise<Bench> {
  redis ??= createRedis(testServices().redisUrl, 'dispatcher-test');
  if (redis.status === 'wait') await redis.connect();
  const store = new OperatorStore(redis, keys);
  const queues = new QueueStore(redis, keys);
  const now = Date.now();
  const own = new Map<string, WaitingCall>();
  for (const [i, callId] of callers.entries()) {
    own.set(callId, { callId, queueId: QUEUE, tried: new Set(), retryAt: 0 });
    await queues.enqueue(QUEUE, callId, waitingScore(0, now + i));
  }
  let reads = 0;
  const counted = Object.assign(Object.create(queues) as QueueStore, {
    waitingNeeds: (queueId: number, limit: number) => {
      reads++;
      return queues.waitingNeeds(queueId, limit);
    },
  });
  const members: Member[] = [...statuses.keys()].map((operatorId) => ({ operatorId, queueId: QUEUE, penalty: 0, skills: [], grade: 0 }));
  const config = { queue: () => ({ id: QUEUE, strategy: 'longest-idle', ringTimeoutS: 15 }), members: () => members } as unknown as ConfigCache;
  const cache = { get: (id: number) => statuses.get(id) } as unknown as StatusCache;
  const offers: Bench['offers'] = [];
  const dispatcher = new Dispatcher({
    instanceId: 'here',
    operators: store,
    queues: counted,
    config,
    statuses: cache,
    redis,
    keys,
    log,
    waitingCall: (id) => own.get(id),
    offer: (callId, reserved) => offers.push({ callId, reserved }),
  });
  const dispatch = async (): Promise<void> => {
    dispatcher.kick(QUEUE);
    const deadline = Date.now() + 5_000;
    while (offers.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // Let the pass finish whatever else it does.
    await new Promise((r) => setTimeout(r, 100));
  };
  return { store, queues, offers, reads: () => reads, dispatch };
}

const free = (ids: number[], now: number): Map<number, OperatorStatus> =>
  new Map(ids.map((id, i) => [id, { ...newOperatorStatus(id, now), state: 'available', idleSince: now - 100_000 + i }]));

describe('Dispatcher', () => {
  it('finds a free operator behind a dozen its stale view still counts as free', async () => {
    const ids = Array.from({ length: 14 }, (_, i) => 701 + i);
    const b = await bench(['c1'], free(ids, Date.now()));
    for (const id of ids) await b.store.apply(id, { type: 'login' });
    // The longest idle, first in line, are taken by another caller; the cache has not heard yet.
    const taken = ids.slice(0, 12);
    for (const id of taken) await b.store.apply(id, { type: 'reserve', callId: 'other', instance: 'elsewhere', leaseMs: 60_000 });

    await b.dispatch();

    expect(b.offers.map((o) => [o.callId, o.reserved.map((r) => r.operatorId)])).toEqual([['c1', [713]]]);
    expect(await b.store.get(713)).toMatchObject({ state: 'ringing', callId: 'c1', instance: 'here' });
    for (const id of taken) expect(await b.store.get(id)).toMatchObject({ state: 'ringing', callId: 'other' });
    expect(await b.queues.length(QUEUE)).toBe(0);
  });

  it('matches several waiting callers in order from one read of the line, and leaves the rest waiting', async () => {
    const ids = [801, 802, 803];
    const b = await bench(['d1', 'd2', 'd3', 'd4', 'd5'], free(ids, Date.now()));
    for (const id of ids) await b.store.apply(id, { type: 'login' });

    await b.dispatch();

    expect(b.offers.map((o) => [o.callId, o.reserved.map((r) => r.operatorId)])).toEqual([['d1', [801]], ['d2', [802]], ['d3', [803]]]);
    for (const [i, id] of ids.entries()) expect(await b.store.get(id)).toMatchObject({ state: 'ringing', callId: `d${i + 1}` });
    expect((await b.queues.waiting(QUEUE)).map((w) => w.callId)).toEqual(['d4', 'd5']);
    expect(b.reads()).toBe(1);
  });
});
