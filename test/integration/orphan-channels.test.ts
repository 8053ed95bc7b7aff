/**
 * Ending a gone instance's media channels, against a real Redis: the addresses each instance
 * publishes, one survivor per address running hupall, a predecessor's addresses, and no media
 * server up. The media pool is a recording stand-in here (hupall itself is checked on FreeSWITCH
 * by test/e2e/freeswitch-bench/socket-loss.test.ts and test/e2e/fault-instance-kill.test.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { OrphanChannels, type OutboundMedia } from '../../src/media/orphan-channels.js';
import { createRedis, type Redis } from '../../src/redis/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { testRedisPrefix, testServices } from '../support/services.js';

const log = createLogger('silent', 'test');
const clients: Redis[] = [];
const prefixes: string[] = [];

async function setup(): Promise<{ redis: Redis; keys: RedisKeys }> {
  const redis = createRedis(testServices().redisUrl, 'orphan-channels-test');
  await redis.connect();
  clients.push(redis);
  const keys = new RedisKeys(testRedisPrefix());
  prefixes.push(keys.prefix);
  return { redis, keys };
}

afterAll(async () => {
  const r = clients[0];
  for (const prefix of prefixes) {
    const found = r ? await r.keys(`${prefix}*`) : [];
    if (r && found.length) await r.del(...found);
  }
  for (const c of clients) c.disconnect();
});

/** A media pool with the given addresses and servers up, recording its hupalls. */
function media(addresses: string[], serversUp = 1): OutboundMedia & { hupalls: string[] } {
  const hupalls: string[] = [];
  return {
    hupalls,
    outboundAddresses: () => addresses,
    hangupMatching: (variable, value, cause) => {
      if (serversUp > 0) hupalls.push(`${cause} ${variable} ${value}`);
      return Promise.resolve(serversUp);
    },
  };
}

describe('OrphanChannels', () => {
  it('one of two survivors ends the gone instance\'s channels, once, by its address', async () => {
    const { redis, keys } = await setup();
    const dead = new OrphanChannels({ redis, keys, instanceId: 'b', media: media(['127.0.0.1:40002']), log });
    await dead.publish();
    const alive = new Set(['a', 'c']);
    const isAlive = (i: string): Promise<boolean> => Promise.resolve(alive.has(i));
    const [a, c] = [media(['127.0.0.1:40001']), media(['127.0.0.1:40003'])];
    const sweepers = [new OrphanChannels({ redis, keys, instanceId: 'a', media: a, log }), new OrphanChannels({ redis, keys, instanceId: 'c', media: c, log })];
    // While b lives, nothing is ended.
    alive.add('b');
    expect(await sweepers[0]?.sweep(isAlive)).toBe(0);
    alive.delete('b');

    const ended = await Promise.all(sweepers.map((s) => s.sweep(isAlive)));
    expect(ended.reduce((x, y) => x + y)).toBe(1);
    expect([...a.hupalls, ...c.hupalls]).toEqual(['NORMAL_TEMPORARY_FAILURE sip_h_X-esl-outbound 127.0.0.1:40002']);
    expect(await redis.smembers(keys.instanceOutbound('b'))).toEqual([]);
    // The emptied instance leaves the index on the next pass.
    await sweepers[0]?.sweep(isAlive);
    expect(await redis.smembers(keys.outboundOwners())).toEqual([]);
  });

  it('a restarted instance ends its predecessor\'s channels, not its own', async () => {
    const { redis, keys } = await setup();
    await new OrphanChannels({ redis, keys, instanceId: 'a', media: media(['127.0.0.1:40001']), log }).publish();
    const now = media(['127.0.0.1:40011']);
    const restarted = new OrphanChannels({ redis, keys, instanceId: 'a', media: now, log });
    await restarted.publish();
    expect(await restarted.sweep(() => Promise.resolve(true))).toBe(1);
    expect(now.hupalls).toEqual(['NORMAL_TEMPORARY_FAILURE sip_h_X-esl-outbound 127.0.0.1:40001']);
    expect(await redis.smembers(keys.instanceOutbound('a'))).toEqual(['127.0.0.1:40011']);
  });

  it('with no media server up, keeps the address for a later pass', async () => {
    const { redis, keys } = await setup();
    await new OrphanChannels({ redis, keys, instanceId: 'b', media: media(['127.0.0.1:40002']), log }).publish();
    const down = new OrphanChannels({ redis, keys, instanceId: 'a', media: media([], 0), log });
    expect(await down.sweep(() => Promise.resolve(false))).toBe(0);
    expect(await redis.smembers(keys.instanceOutbound('b'))).toEqual(['127.0.0.1:40002']);
    const up = media([]);
    expect(await new OrphanChannels({ redis, keys, instanceId: 'a', media: up, log }).sweep(() => Promise.resolve(false))).toBe(1);
    expect(up.hupalls).toHaveLength(1);
  });
});
