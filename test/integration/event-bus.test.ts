/**
 * The event bus between instances, against the Redis of scripts/test-services.sh: two buses on
 * one key prefix stand for two switchboard instances.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createRedis, type Redis } from '../../src/redis/client.js';
import { EventBus, type BusEvent } from '../../src/redis/events.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { testRedisPrefix, testServices } from '../support/services.js';

const log = createLogger('silent', 'test');
const clients: Redis[] = [];
const buses: EventBus[] = [];

async function client(): Promise<Redis> {
  const r = createRedis(testServices().redisUrl, 'event-bus-test');
  await r.connect();
  clients.push(r);
  return r;
}

async function instance(keys: RedisKeys, id: string): Promise<EventBus> {
  const bus = new EventBus(await client(), await client(), keys, id, log);
  await bus.start();
  buses.push(bus);
  return bus;
}

/** Every message on the events channel, as it travels. */
async function tap(keys: RedisKeys): Promise<string[]> {
  const raw = await client();
  const messages: string[] = [];
  raw.on('message', (_channel: string, text: string) => messages.push(text));
  await raw.subscribe(keys.eventsChannel());
  return messages;
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

afterAll(async () => {
  for (const bus of buses) await bus.stop();
  for (const c of clients) c.disconnect();
});

describe('EventBus', () => {
  it('events published together reach every instance in order, many in one message', async () => {
    const keys = new RedisKeys(testRedisPrefix());
    const [a, b] = [await instance(keys, 'a'), await instance(keys, 'b')];
    const wire = await tap(keys);
    const heard: { by: string; n: unknown }[] = [];
    a.onEvent('tick', (e) => heard.push({ by: 'a', n: e.n }));
    b.onEvent('tick', (e) => heard.push({ by: 'b', n: e.n }));
    for (let n = 0; n < 50; n++) a.publish({ type: 'tick', n });
    await until(() => heard.length === 100);
    const order = (by: string): unknown[] => heard.filter((h) => h.by === by).map((h) => h.n);
    expect(order('a')).toEqual(Array.from({ length: 50 }, (_, n) => n));
    expect(order('b')).toEqual(order('a'));
    expect(wire.length).toBeGreaterThan(0);
    expect(wire.length).toBeLessThan(50);
  });

  it('an event published alone travels as a plain object, as instances of earlier versions expect', async () => {
    const keys = new RedisKeys(testRedisPrefix());
    const a = await instance(keys, 'a');
    const wire = await tap(keys);
    a.publish({ type: 'config', what: 'queues' });
    await until(() => wire.length === 1);
    expect(JSON.parse(wire[0] as string) as BusEvent).toEqual({ type: 'config', what: 'queues' });
  });

  it('events still gathering when the bus stops are sent first', async () => {
    const keys = new RedisKeys(testRedisPrefix());
    const a = await instance(keys, 'a');
    const wire = await tap(keys);
    a.publish({ type: 'last', n: 1 });
    a.publish({ type: 'last', n: 2 });
    await a.stop();
    await until(() => wire.length === 1);
    expect(JSON.parse(wire[0] as string) as BusEvent[]).toEqual([{ type: 'last', n: 1 }, { type: 'last', n: 2 }]);
  });
});
