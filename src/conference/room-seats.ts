/**
 * Who is in each room, kept in Redis so that every instance counts the same members: one sorted
 * set per room, a member per call, scored by the expiry of that seat's lease. Taking a seat
 * checks the room's limit and adds the member in one script, so two instances admitting callers
 * at once can never seat more than max_members between them. The owning instance renews its
 * seats while the callers are in; the seats of an instance that crashed lapse after the lease
 * (the script drops expired seats before it counts).
 *
 * Why not ask FreeSWITCH (`conference NAME count`): it knows only its own members (a pool has
 * several media servers) and a count followed by a join is a race between instances.
 */
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';

// A seat lapses this long after its last renewal; renewed three times per lease.
export const SEAT_LEASE_MS = 30_000;
export const SEAT_RENEW_MS = SEAT_LEASE_MS / 3;

// KEYS[1] the room's seats; ARGV: now, expiry, call id, max members (0 = no limit).
// Returns 1 when seated (or already seated), 0 when the room is full.
const TAKE_SCRIPT = `
local key = KEYS[1]
local now, expiry, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZSCORE', key, ARGV[3]) == false and max > 0 and redis.call('ZCARD', key) >= max then return 0 end
redis.call('ZADD', key, expiry, ARGV[3])
redis.call('PEXPIREAT', key, string.format('%.0f', tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])))
return 1
`;

// KEYS[1] the room's seats; ARGV: expiry, call id. Renews a seat still held; 0 if it lapsed.
const RENEW_SCRIPT = `
if redis.call('ZSCORE', KEYS[1], ARGV[2]) == false then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])))
return 1
`;

declare module 'ioredis' {
  interface RedisCommander {
    roomSeatTake(key: string, now: number, expiry: number, callId: string, max: number): Promise<number>;
    roomSeatRenew(key: string, expiry: number, callId: string): Promise<number>;
  }
}

export class RoomSeats {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly now: () => number = Date.now,
  ) {
    redis.defineCommand('roomSeatTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    redis.defineCommand('roomSeatRenew', { numberOfKeys: 1, lua: RENEW_SCRIPT });
  }

  /** Seats a call in the room unless it is full; `maxMembers` null means no limit. */
  async take(roomId: number, callId: string, maxMembers: number | null): Promise<boolean> {
    const now = this.now();
    return (await this.redis.roomSeatTake(this.keys.roomSeats(roomId), now, now + SEAT_LEASE_MS, callId, maxMembers ?? 0)) === 1;
  }

  /** Extends a seat's lease; false if it had lapsed (the room may have been refilled). */
  async renew(roomId: number, callId: string): Promise<boolean> {
    return (await this.redis.roomSeatRenew(this.keys.roomSeats(roomId), this.now() + SEAT_LEASE_MS, callId)) === 1;
  }

  async leave(roomId: number, callId: string): Promise<void> {
    await this.redis.zrem(this.keys.roomSeats(roomId), callId);
  }

  /** Members in the room now, on every instance. */
  async count(roomId: number): Promise<number> {
    const key = this.keys.roomSeats(roomId);
    const [, card] = (await this.redis.multi().zremrangebyscore(key, '-inf', this.now()).zcard(key).exec()) ?? [];
    return Number(card?.[1] ?? 0);
  }
}
