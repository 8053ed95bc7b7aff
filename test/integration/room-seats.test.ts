import { afterAll, describe, expect, it } from 'vitest';
import { RoomSeats, SEAT_LEASE_MS } from '../../src/conference/room-seats.js';
import { createRedis } from '../../src/redis/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { testRedisPrefix, testServices } from '../support/services.js';

describe('room seats in Redis', () => {
  const redis = createRedis(testServices().redisUrl, 'switchboard-test');
  const keys = new RedisKeys(testRedisPrefix());
  // Expiry is set on the key in real time (PEXPIREAT), so the fake clock starts at the real one.
  let now = Date.now();
  const seats = new RoomSeats(redis, keys, () => now);
  // A second instance on the same Redis: its own client, the same keys.
  const other = createRedis(testServices().redisUrl, 'switchboard-test-2');
  const elsewhere = new RoomSeats(other, keys, () => now);

  afterAll(async () => {
    const found = await redis.keys(`${keys.prefix}*`);
    if (found.length) await redis.del(...found);
    await redis.quit();
    await other.quit();
  });

  it('never seats more than the room takes, even from two instances at once', async () => {
    const takes = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? seats : elsewhere).take(1, `call-${i}`, 4));
    const seated = (await Promise.all(takes)).filter(Boolean);
    expect(seated).toHaveLength(4);
    expect(await seats.count(1)).toBe(4);
    expect(await elsewhere.count(1)).toBe(4);
  });

  it('a seat taken again is the same seat, and a seat left is free for the next caller', async () => {
    expect(await seats.take(2, 'a', 2)).toBe(true);
    expect(await seats.take(2, 'a', 2)).toBe(true);
    expect(await seats.take(2, 'b', 2)).toBe(true);
    expect(await seats.take(2, 'c', 2)).toBe(false);
    await seats.leave(2, 'a');
    expect(await seats.take(2, 'c', 2)).toBe(true);
    expect(await seats.count(2)).toBe(2);
  });

  it('seats of an instance that stopped renewing lapse after the lease; renewed ones stay', async () => {
    expect(await seats.take(3, 'kept', 2)).toBe(true);
    expect(await elsewhere.take(3, 'crashed', 2)).toBe(true);
    expect(await seats.take(3, 'third', 2)).toBe(false);
    now += SEAT_LEASE_MS / 2;
    expect(await seats.renew(3, 'kept')).toBe(true);
    now += SEAT_LEASE_MS / 2 + 1;
    expect(await seats.count(3)).toBe(1);
    expect(await elsewhere.renew(3, 'crashed')).toBe(false);
    expect(await seats.take(3, 'third', 2)).toBe(true);
  });

  it('no limit without max members; the key goes away with its last seat\'s lease', async () => {
    for (let i = 0; i < 20; i++) expect(await seats.take(4, `c${i}`, null)).toBe(true);
    expect(await seats.count(4)).toBe(20);
    const ttl = await redis.pttl(keys.roomSeats(4));
    expect(ttl).toBeGreaterThan(0);
  });
});
