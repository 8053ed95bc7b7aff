/**
 * The dispatcher against the Redis of scripts/test-services.sh, with a status cache that is
 * behind: the operators it believes free have just been taken.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Dispatcher, type WaitingCall } from '../../src/acd/dispatcher.js';
import { OperatorStore, type AppliedTransition } from '../../src/acd/operator-store.js';
import { newOperatorStatus, type OperatorStatus } from '../../src/acd/operator-rules.js';
import { waitingScore } from '../../src/acd/queue-order.js';
import { QueueStore, type Entered } from '../../src/acd/queue-store.js';
import type { Need } from '../../src/acd/skill-match.js';
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
  /** What each caller was told on entering, in order. */
  entered: Entered[];
  /** How many times the dispatcher read the queue's line. */
  reads: () => number;
  /** Kicks the dispatcher (with the line a caller was told, if given) and waits for its pass. */
  dispatch: (line?: Need[]) => Promise<void>;
  dispatcher: Dispatcher;
}

/** A dispatcher owning `callers` (enqueued in that order in `queueId`) whose status cache says `statuses`. */
async function bench(callers: string[], statuses: Map<number, OperatorStatus>, queueId = QUEUE): Promise<Bench> {
  redis ??= createRedis(testServices().redisUrl, 'dispatcher-test');
  if (redis.status === 'wait') await redis.connect();
  const store = new OperatorStore(redis, keys);
  const queues = new QueueStore(redis, keys);
  const now = Date.now();
  const own = new Map<string, WaitingCall>();
  const entered: Entered[] = [];
  for (const [i, callId] of callers.entries()) {
    own.set(callId, { callId, queueId, tried: new Set(), retryAt: 0 });
    entered.push(await queues.enqueue(queueId, callId, waitingScore(0, now + i)));
  }
  let reads = 0;
  const counted = Object.assign(Object.create(queues) as QueueStore, {
    waitingNeeds: (id: number, limit: number) => {
      reads++;
      return queues.waitingNeeds(id, limit);
    },
  });
  const members: Member[] = [...statuses.keys()].map((operatorId) => ({ operatorId, queueId, penalty: 0, skills: [], grade: 0 }));
  const config = { queue: () => ({ id: queueId, strategy: 'longest-idle', ringTimeoutS: 15 }), members: () => members } as unknown as ConfigCache;
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
  const dispatch = async (line?: Need[]): Promise<void> => {
    dispatcher.kick(queueId, line);
    const deadline = Date.now() + 5_000;
    while (offers.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // Let the pass finish whatever else it does.
    await new Promise((r) => setTimeout(r, 100));
  };
  return { store, queues, offers, entered, reads: () => reads, dispatch, dispatcher };
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

  it('matches a caller who entered an empty line without reading the line', async () => {
    const b = await bench(['e1'], free([901], Date.now()), 71);
    await b.store.apply(901, { type: 'login' });
    const [entered] = b.entered;
    expect(entered).toEqual({ position: 1, line: [{ callId: 'e1', skill: '', widenAt: 0 }] });

    await b.dispatch(entered?.line);

    expect(b.offers.map((o) => [o.callId, o.reserved.map((r) => r.operatorId)])).toEqual([['e1', [901]]]);
    expect(b.reads()).toBe(0);
  });

  it('reads the line when it changed after the caller entered, and offers nobody out of turn', async () => {
    const b = await bench(['f1'], free([911], Date.now()), 72);
    await b.store.apply(911, { type: 'login' });
    const line = b.entered[0]?.line;
    expect(line).toHaveLength(1);
    // Another instance's caller, ahead by priority, enters after f1 was told it was alone.
    const ahead = await b.queues.enqueue(72, 'elsewhere-1', waitingScore(5, Date.now()));
    expect(ahead.position).toBe(1);

    b.dispatcher.kick(72, line);
    for (let i = 0; i < 100 && b.reads() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));

    expect(b.offers).toEqual([]);
    expect(b.reads()).toBe(1);
    expect(await b.store.get(911)).toMatchObject({ state: 'available' });
    expect((await b.queues.waiting(72)).map((w) => w.callId)).toEqual(['elsewhere-1', 'f1']);
  });

  it('forgets the line a caller was told when something else changes before the pass', async () => {
    const b = await bench(['g1', 'g2'], free([921, 922], Date.now()), 73);
    for (const id of [921, 922]) await b.store.apply(id, { type: 'login' });
    // As if g1 had been alone: g2's kick right behind must make the pass read the line.
    b.dispatcher.kick(73, [{ callId: 'g1', skill: '', widenAt: 0 }]);

    await b.dispatch();

    expect(b.offers.map((o) => [o.callId, o.reserved.map((r) => r.operatorId)])).toEqual([['g1', [921]], ['g2', [922]]]);
    expect(b.reads()).toBe(1);
  });
});
