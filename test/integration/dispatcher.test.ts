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

describe('Dispatcher', () => {
  it('finds a free operator behind a dozen its stale view still counts as free', async () => {
    redis = createRedis(testServices().redisUrl, 'dispatcher-test');
    await redis.connect();
    const store = new OperatorStore(redis, keys);
    const queues = new QueueStore(redis, keys);
    const ids = Array.from({ length: 14 }, (_, i) => 701 + i);
    for (const id of ids) await store.apply(id, { type: 'login' });
    // The longest idle, first in line, are taken by another caller; the cache has not heard yet.
    const taken = ids.slice(0, 12);
    for (const id of taken) await store.apply(id, { type: 'reserve', callId: 'other', instance: 'elsewhere', leaseMs: 60_000 });
    const now = Date.now();
    const stale = new Map<number, OperatorStatus>(ids.map((id, i) => [id, { ...newOperatorStatus(id, now), state: 'available', idleSince: now - 100_000 + i }]));
    const members: Member[] = ids.map((operatorId) => ({ operatorId, queueId: QUEUE, penalty: 0, skills: [], grade: 0 }));
    const config = { queue: () => ({ id: QUEUE, strategy: 'longest-idle', ringTimeoutS: 15 }), members: () => members } as unknown as ConfigCache;
    const statuses = { get: (id: number) => stale.get(id) } as unknown as StatusCache;

    const caller: WaitingCall = { callId: 'c1', queueId: QUEUE, tried: new Set(), retryAt: 0 };
    await queues.enqueue(QUEUE, caller.callId, waitingScore(0, now));
    const offers: { callId: string; reserved: AppliedTransition[] }[] = [];
    const dispatcher = new Dispatcher({
      instanceId: 'here',
      operators: store,
      queues,
      config,
      statuses,
      redis,
      keys,
      log,
      waitingCall: (id) => (id === caller.callId ? caller : undefined),
      offer: (callId, reserved) => offers.push({ callId, reserved }),
    });
    dispatcher.kick(QUEUE);
    const deadline = Date.now() + 5_000;
    while (offers.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));

    expect(offers.map((o) => [o.callId, o.reserved.map((r) => r.operatorId)])).toEqual([['c1', [713]]]);
    expect(await store.get(713)).toMatchObject({ state: 'ringing', callId: 'c1', instance: 'here' });
    for (const id of taken) expect(await store.get(id)).toMatchObject({ state: 'ringing', callId: 'other' });
    expect(await queues.length(QUEUE)).toBe(0);
  });
});
