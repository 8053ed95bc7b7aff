/**
 * Rebuilding live state after Redis lost its data, against the Redis of scripts/test-services.sh
 * under prefixes of this file's own: "losing the data" deletes every key of the prefix.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { OperatorService } from '../../src/acd/operator-service.js';
import { OperatorStore } from '../../src/acd/operator-store.js';
import { QueueStore, type LiveCall } from '../../src/acd/queue-store.js';
import { StateRecovery, type OwnedCall } from '../../src/acd/recovery.js';
import { StatusCache } from '../../src/acd/status-cache.js';
import { Sweeper } from '../../src/acd/sweeper.js';
import type { HistoryRecord } from '../../src/cdr/records.js';
import { createLogger } from '../../src/log.js';
import { ConfigCache } from '../../src/provisioning/cache.js';
import { createRedis, type Redis } from '../../src/redis/client.js';
import { EventBus } from '../../src/redis/events.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { BindingStore } from '../../src/registrar/store.js';
import { planRegister } from '../../src/registrar/rules.js';
import { testRedisPrefix, testServices } from '../support/services.js';

const log = createLogger('silent', 'test');
/** The sweeper's media side, not under test here. */
const noChannels = { publish: async (): Promise<void> => undefined, sweep: async (): Promise<number> => 0 };

const clients: Redis[] = [];
const prefixes: string[] = [];

async function client(): Promise<Redis> {
  const r = createRedis(testServices().redisUrl, 'recovery-test');
  await r.connect();
  clients.push(r);
  return r;
}

/** Everything under the prefix is gone, as after a Redis restart without persistence. */
async function loseData(redis: Redis, keys: RedisKeys): Promise<void> {
  const found = await redis.keys(`${keys.prefix}*`);
  if (found.length) await redis.del(...found);
}

afterAll(async () => {
  const r = clients[0];
  for (const prefix of prefixes) if (r) await loseData(r, new RedisKeys(prefix));
  for (const c of clients) c.disconnect();
});

async function world(instanceId: string) {
  const keys = new RedisKeys(testRedisPrefix());
  prefixes.push(keys.prefix);
  const redis = await client();
  const store = new OperatorStore(redis, keys);
  const records: HistoryRecord[] = [];
  const operators = new OperatorService(store, (r) => records.push(r), log);
  const bus = new EventBus(await client(), redis, keys, instanceId, log);
  await bus.start();
  const statuses = new StatusCache(store, bus);
  const queues = new QueueStore(redis, keys);
  const bindings = new BindingStore(redis, keys);
  const owned: OwnedCall[] = [];
  const recovery = new StateRecovery({ redis, keys, instanceId, log, statuses, operators: store, queues, calls: () => owned, restoreBindings: () => bindings.restore() });
  return { keys, redis, store, records, operators, statuses, queues, bindings, owned, recovery };
}

function liveCall(callId: string, owner: string, arrivedAt: number): LiveCall {
  return { callId, owner, callerNumber: '555', callerName: '', dialledNumber: '8000', arrivedAt, state: 'waiting', queueId: 4, queuedAt: arrivedAt, priority: 0, score: arrivedAt, operatorId: null, answeredAt: null };
}

describe('StateRecovery', () => {
  it('puts back its waiting callers in order, the operator its call holds, other operators, and phones', async () => {
    const w = await world('a');
    await w.recovery.start();
    // Three callers wait; the last was moved to the front. Operator 1 talks on call t1 of ours.
    for (const [id, at] of [['c1', 1000], ['c2', 2000], ['c3', 3000]] as const) {
      await w.queues.saveCall(liveCall(id, 'a', at));
      await w.queues.enqueue(4, id, at, id === 'c2' ? { skill: 'fr', widenAt: 9000 } : undefined);
      w.owned.push({ callId: id, waiting: () => ({ queueId: 4 }) });
    }
    await w.queues.moveToFront(4, 'c3');
    await w.queues.saveCall({ ...liveCall('t1', 'a', 500), state: 'connected', operatorId: 1 });
    w.owned.push({ callId: 't1', waiting: () => undefined, held: () => [{ operatorId: 1, callId: 't1', state: 'busy' }] });
    await w.store.apply(1, { type: 'login' });
    await w.store.apply(1, { type: 'reserve', callId: 't1', instance: 'a', leaseMs: 20_000 });
    await w.store.apply(2, { type: 'login' });
    await w.store.apply(2, { type: 'break' });
    const plan = planRegister('<sip:olga@192.0.2.9:5070>', '600', { min: 1, max: 3600, default: 3600 });
    if (plan.kind !== 'update') throw new Error('not an update');
    await w.bindings.apply('olga', plan.contacts, { callId: 'r1', cseq: 1, now: Date.now(), source: { address: '192.0.2.9', port: 5070, protocol: 'udp' } });
    await w.statuses.load();
    const order = (await w.queues.waiting(4)).map((e) => e.callId);
    expect(order).toEqual(['c3', 'c1', 'c2']);

    await loseData(w.redis, w.keys);
    expect(w.recovery.settling(Date.now())).toBe(false);
    await w.recovery.check();

    expect(w.recovery.settling(Date.now())).toBe(true);
    expect((await w.queues.waiting(4)).map((e) => e.callId)).toEqual(order);
    // c2 still waits for a French speaker, with the same widening time.
    expect((await w.queues.waitingNeeds(4, 10)).find((n) => n.callId === 'c2')).toEqual({ callId: 'c2', skill: 'fr', widenAt: 9000 });
    expect((await w.queues.liveCalls()).map((c) => c.callId).sort()).toEqual(['c1', 'c2', 'c3', 't1']);
    // Marked answered while Redis was away: the call's word, busy, wins over the copy's ringing.
    expect(await w.store.get(1)).toMatchObject({ state: 'busy', callId: 't1', instance: 'a' });
    expect((await w.store.get(2)).state).toBe('on-break');
    expect((await w.bindings.list('olga')).map((b) => b.contact)).toEqual(['sip:olga@192.0.2.9:5070']);
    // Nothing lost the second time round: no rebuild, nothing changed.
    await w.recovery.check();
    expect((await w.queues.waiting(4)).map((e) => e.callId)).toEqual(order);
    w.recovery.stop();
  });

  it('takes its own calls that ended while Redis was away off the live list', async () => {
    const w = await world('a');
    await w.recovery.start();
    await w.queues.saveCall(liveCall('ended', 'a', 1000));
    await w.queues.saveCall(liveCall('other', 'b', 1000));
    // The removal never reached Redis (it was away): this instance's store no longer has the call.
    const stale = new QueueStore(w.redis, w.keys);
    const recovery = new StateRecovery({ redis: w.redis, keys: w.keys, instanceId: 'a', log, statuses: w.statuses, operators: w.store, queues: stale, calls: () => [], restoreBindings: async () => 0 });
    await recovery.start();
    await w.redis.del(w.keys.stateEpoch());
    await recovery.check();
    expect((await w.queues.liveCalls()).map((c) => c.callId)).toEqual(['other']);
    recovery.stop();
    w.recovery.stop();
  });
});

describe('OperatorStore.restore', () => {
  it('writes where nothing is, and over a status only for the call named', async () => {
    const w = await world('a');
    const status = { ...(await w.store.get(7)), state: 'busy' as const, callId: 'k1', instance: 'a' };
    expect(await w.store.restore(status)).toBe(true);
    expect(await w.store.restore({ ...status, state: 'available', callId: '' })).toBe(false);
    expect(await w.store.restore({ ...status, state: 'ringing', callId: 'k2' }, 'k2')).toBe(false);
    expect(await w.store.restore({ ...status, since: 42 }, 'k1')).toBe(true);
    expect(await w.store.get(7)).toMatchObject({ state: 'busy', callId: 'k1', since: 42 });
    expect(await w.redis.smembers(w.keys.operatorIndex())).toEqual(['7']);
  });
});

describe('Sweeper', () => {
  const settings = new ConfigCache(undefined as never, log);

  it('at start closes the calls and frees the operators a predecessor of the same id left behind', async () => {
    const w = await world('sb-1');
    await w.queues.saveCall(liveCall('old', 'sb-1', 1000));
    await w.queues.enqueue(4, 'old', 1000);
    await w.store.apply(3, { type: 'login' });
    await w.store.apply(3, { type: 'reserve', callId: 'old2', instance: 'sb-1', leaseMs: 60_000 });
    await w.statuses.load();
    const recovery = { check: async (): Promise<void> => undefined, settling: (): boolean => false };
    const sweeper = new Sweeper({ redis: w.redis, keys: w.keys, instanceId: 'sb-1', statuses: w.statuses, operators: w.operators, queues: w.queues, settings, record: (r) => w.records.push(r), log, recovery, channels: noChannels });
    await sweeper.start();
    await sweeper.stop();
    expect(await w.queues.liveCalls()).toEqual([]);
    expect(await w.queues.waiting(4)).toEqual([]);
    expect((await w.store.get(3)).state).toBe('available');
    expect(w.records.filter((r) => r.kind === 'call').map((r) => r.row)).toEqual([expect.objectContaining({ callId: 'old', sipReason: 'switchboard instance lost' })]);
  });

  it('judges nobody gone while settling after an outage', async () => {
    const w = await world('sb-2');
    await w.store.apply(5, { type: 'login' });
    await w.store.apply(5, { type: 'reserve', callId: 'x', instance: 'not-renewed-yet', leaseMs: 60_000 });
    await w.queues.saveCall(liveCall('y', 'not-renewed-yet', 1000));
    await w.statuses.load();
    let settling = true;
    const recovery = { check: async (): Promise<void> => undefined, settling: (): boolean => settling };
    const sweeper = new Sweeper({ redis: w.redis, keys: w.keys, instanceId: 'sb-2', statuses: w.statuses, operators: w.operators, queues: w.queues, settings, record: (r) => w.records.push(r), log, recovery, channels: noChannels });
    expect(await sweeper.sweep(Date.now())).toBe(0);
    expect(await sweeper.sweepCalls(Date.now())).toBe(0);
    settling = false;
    expect(await sweeper.sweep(Date.now())).toBe(1);
    expect(await sweeper.sweepCalls(Date.now())).toBe(1);
  });
});
