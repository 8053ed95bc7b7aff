import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampOnStore } from '../../src/acd/camp-on-store.js';
import { OperatorStore } from '../../src/acd/operator-store.js';
import { waitingScore } from '../../src/acd/queue-order.js';
import { QueueStore } from '../../src/acd/queue-store.js';
import { createRedis, type Redis } from '../../src/redis/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { testRedisPrefix, testServices } from '../support/services.js';

/**
 * The camp-on line in real Redis: callers in the order they camped, only the first takes the
 * operator (atomically, leaving the line), queues leave an operator with callers camped on them
 * alone, and the entries of a dead instance expire.
 */
let redis: Redis;
let keys: RedisKeys;
let operators: OperatorStore;
let line: CampOnStore;
const lease = { instance: 'i1', leaseMs: 20_000 };

beforeAll(async () => {
  redis = createRedis(testServices().redisUrl, 'camp-on-test');
  await redis.connect();
  keys = new RedisKeys(testRedisPrefix());
  operators = new OperatorStore(redis, keys);
  line = new CampOnStore(redis, keys);
});

afterAll(async () => {
  const found = await redis.keys(`${keys.prefix}*`);
  if (found.length) await redis.del(...found);
  redis.disconnect();
});

async function busy(operatorId: number): Promise<void> {
  await operators.apply(operatorId, { type: 'login' });
  await operators.apply(operatorId, { type: 'reserve', callId: 'other', instance: 'i1', leaseMs: 20_000 });
  await operators.apply(operatorId, { type: 'answer', callId: 'other' });
}

async function free(operatorId: number, callId = 'other'): Promise<void> {
  await operators.apply(operatorId, { type: 'hangup', callId, wrapupMs: 0 });
}

describe('the camp-on line', () => {
  it('serves callers in the order they camped: only the first takes the operator once free', async () => {
    const now = Date.now();
    await busy(1);
    expect(await line.join(1, 'c1', now + 60_000, now)).toBe(1);
    expect(await line.join(1, 'c2', now + 61_000, now)).toBe(2);
    expect(await line.count(1, now)).toBe(2);
    // Busy: nobody takes them.
    expect(await operators.reserveForCampOn(1, 'c1', lease)).toEqual([]);
    await free(1);
    expect(await operators.reserveForCampOn(1, 'c2', lease)).toBe('out-of-turn');
    const taken = await operators.reserveForCampOn(1, 'c1', lease);
    expect(taken).toMatchObject([{ operatorId: 1, to: 'ringing', status: { callId: 'c1' } }]);
    expect(await line.count(1, now)).toBe(1);
    await operators.apply(1, { type: 'answer', callId: 'c1' });
    await free(1, 'c1');
    expect(await operators.reserveForCampOn(1, 'c2', lease)).toMatchObject([{ operatorId: 1 }]);
    expect(await line.count(1, now)).toBe(0);
  });

  it('keeps an operator with callers camped on them from queues, and gives them back once the line is empty', async () => {
    const now = Date.now();
    const queues = new QueueStore(redis, keys);
    await operators.apply(2, { type: 'login' });
    await line.join(2, 'camper', now + 60_000, now);
    await queues.enqueue(9, 'queued', waitingScore(0, now));
    expect(await operators.reserveInTurn(9, 'queued', [{ operatorId: 2, skills: [] }], 1, { ...lease, now })).toEqual([]);
    await line.leave(2, 'camper');
    expect(await operators.reserveInTurn(9, 'queued', [{ operatorId: 2, skills: [] }], 1, { ...lease, now })).toMatchObject([{ operatorId: 2 }]);
  });

  it('drops the entries of camp-ons that expired (a dead instance\'s) from the line and its count', async () => {
    const now = Date.now();
    await operators.apply(3, { type: 'login' });
    await line.join(3, 'live', now + 60_000, now);
    await line.join(3, 'stale', now - 1, now - 70_000);
    expect(await line.count(3, now)).toBe(1);
    expect(await operators.reserveForCampOn(3, 'live', lease)).toBe('out-of-turn');
    await line.prune(3, now);
    expect(await operators.reserveForCampOn(3, 'live', lease)).toMatchObject([{ operatorId: 3 }]);
  });
});
