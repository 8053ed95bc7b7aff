import { afterAll, describe, expect, it } from 'vitest';
import { RoomStore, SEAT_LEASE_MS, type MemberEntry } from '../../src/conference/room-store.js';
import { createRedis } from '../../src/redis/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { testRedisPrefix, testServices } from '../support/services.js';

function member(callId: string, extra: Partial<MemberEntry> = {}): MemberEntry {
  return { callId, owner: 'sb-a', number: '2000', name: '', role: 'member', direction: 'inbound', state: 'waiting', memberId: null, muted: false, joinedAt: Date.now(), operatorId: null, ...extra };
}

describe('rooms in Redis', () => {
  const redis = createRedis(testServices().redisUrl, 'switchboard-test');
  const keys = new RedisKeys(testRedisPrefix());
  // Expiry is set on the keys in real time (PEXPIREAT), so the fake clock starts at the real one.
  let now = Date.now();
  const store = new RoomStore(redis, keys, () => now);
  // A second instance on the same Redis: its own client, the same keys.
  const other = createRedis(testServices().redisUrl, 'switchboard-test-2');
  const elsewhere = new RoomStore(other, keys, () => now);

  afterAll(async () => {
    const found = await redis.keys(`${keys.prefix}*`);
    if (found.length) await redis.del(...found);
    await redis.quit();
    await other.quit();
  });

  it('never seats more than the room takes, even from two instances at once', async () => {
    const admits = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? store : elsewhere).admit(1, member(`call-${i}`), 4, `s-${i}`));
    const seated = (await Promise.all(admits)).filter((a) => a.admitted);
    expect(seated).toHaveLength(4);
    // Everyone in one run of the conference shares its session id: the first one's.
    expect(new Set(seated.map((a) => (a.admitted ? a.sessionId : '')))).toHaveProperty('size', 1);
    expect(await store.count(1)).toBe(4);
    expect(await elsewhere.members(1)).toHaveLength(4);
  });

  it('a member admitted again keeps its seat; a member who leaves frees it; the last one out ends the session', async () => {
    expect(await store.admit(2, member('a'), 2, 's1')).toEqual({ admitted: true, sessionId: 's1' });
    expect(await store.admit(2, member('a'), 2, 'other')).toEqual({ admitted: true, sessionId: 's1' });
    expect(await store.admit(2, member('b'), 2, 'other')).toEqual({ admitted: true, sessionId: 's1' });
    expect(await store.admit(2, member('c'), 2, 'other')).toEqual({ admitted: false, why: 'full' });
    expect(await store.leave(2, 'a')).toBe(1);
    expect(await store.admit(2, member('c'), 2, 'other')).toEqual({ admitted: true, sessionId: 's1' });
    await store.leave(2, 'b');
    await store.leave(2, 'c');
    expect(await store.state(2)).toEqual({ sessionId: null, locked: false });
    expect(await store.admit(2, member('d'), 2, 's2')).toEqual({ admitted: true, sessionId: 's2' });
  });

  it('a lock keeps newcomers out (unless told to ignore it), needs someone in the room, and ends with the room', async () => {
    expect(await store.setLocked(3, true)).toBe(false);
    await store.admit(3, member('m1'), null, 's3');
    expect(await elsewhere.setLocked(3, true)).toBe(true);
    expect(await store.state(3)).toEqual({ sessionId: 's3', locked: true });
    expect(await store.admit(3, member('m2'), null, 'x')).toEqual({ admitted: false, why: 'locked' });
    expect(await store.admit(3, member('m1'), null, 'x')).toEqual({ admitted: true, sessionId: 's3' });
    expect(await store.admit(3, member('invited'), null, 'x', false)).toEqual({ admitted: true, sessionId: 's3' });
    await store.leave(3, 'm1');
    await store.leave(3, 'invited');
    expect(await store.admit(3, member('m3'), null, 's4')).toEqual({ admitted: true, sessionId: 's4' });
    expect((await store.state(3)).locked).toBe(false);
  });

  it('members are listed in the order they came in, as their owners last wrote them', async () => {
    await store.admit(4, member('late', { joinedAt: now + 10 }), null, 's');
    await elsewhere.admit(4, member('early', { joinedAt: now, owner: 'sb-b' }), null, 's');
    expect(await store.update(4, member('late', { joinedAt: now + 10, state: 'joined', memberId: 7, muted: true }))).toBe(true);
    const list = await elsewhere.members(4);
    expect(list.map((m) => [m.callId, m.owner, m.state, m.memberId, m.muted])).toEqual([
      ['early', 'sb-b', 'waiting', null, false],
      ['late', 'sb-a', 'joined', 7, true],
    ]);
    await store.leave(4, 'late');
    // An owner writing after its member left does not bring the member back.
    expect(await store.update(4, member('late'))).toBe(false);
    expect((await store.members(4)).map((m) => m.callId)).toEqual(['early']);
  });

  it('seats of an instance that stopped renewing lapse after the lease; renewed ones stay', async () => {
    await store.admit(5, member('kept'), 2, 's');
    await elsewhere.admit(5, member('crashed', { owner: 'sb-b' }), 2, 's');
    expect((await store.admit(5, member('third'), 2, 's')).admitted).toBe(false);
    now += SEAT_LEASE_MS / 2;
    expect(await store.renew(5, 'kept')).toBe(true);
    now += SEAT_LEASE_MS / 2 + 1;
    expect(await store.count(5)).toBe(1);
    expect((await store.members(5)).map((m) => m.callId)).toEqual(['kept']);
    expect(await elsewhere.renew(5, 'crashed')).toBe(false);
    expect((await store.admit(5, member('third'), 2, 's')).admitted).toBe(true);
  });

  it('no limit without max members; the keys go away with the last seat\'s lease', async () => {
    for (let i = 0; i < 20; i++) expect((await store.admit(6, member(`c${i}`), null, 's')).admitted).toBe(true);
    expect(await store.count(6)).toBe(20);
    for (const key of [keys.roomSeats(6), keys.roomMembers(6), keys.roomState(6)]) {
      const ttl = await redis.pttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(SEAT_LEASE_MS + 1_000 + (now - Date.now()));
    }
  });
});
