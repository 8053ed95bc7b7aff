/**
 * Who is in each room, kept in Redis so that every instance sees the same members:
 *
 * - seats: a sorted set per room, a member per call, scored by the expiry of that seat's lease.
 *   The owning instance renews its seats while the callers are in; the seats of an instance that
 *   crashed lapse after the lease (every script drops expired seats before it counts).
 * - members: a hash per room, call id -> JSON of the member (owner instance, number, role,
 *   conference member id, muted, state). Only the owner writes a member's entry; readers skip
 *   entries whose seat has lapsed.
 * - state: a hash per room for the conference now running: its session id (one per run, from
 *   the first member in to the last one out, so history can tell two meetings apart) and the
 *   lock. It goes with the last member, as a conference on the media server does.
 *
 * Admission checks the lock and the room's limit and seats the member in one script, so two
 * instances admitting callers at once can never seat more than max_members between them, nor
 * let anyone into a room locked a moment before. All three keys expire with the newest seat.
 *
 * Why not ask FreeSWITCH (`conference NAME count`, `list`): it knows only its own members (a pool
 * has several media servers) and a count followed by a join is a race between instances. The
 * media server stays the truth of who is connected: owners write what its events say.
 */
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import type { MemberRole } from './pin-entry.js';

// A seat lapses this long after its last renewal; renewed three times per lease.
export const SEAT_LEASE_MS = 30_000;
export const SEAT_RENEW_MS = SEAT_LEASE_MS / 3;

export interface MemberEntry {
  callId: string;
  /** The instance that holds the member's call (SIP dialog and media endpoint). */
  owner: string;
  /** The caller's number, or the number dialled out to. */
  number: string;
  name: string;
  role: MemberRole;
  direction: 'inbound' | 'outbound';
  /** waiting: hears music until a moderator comes; joining: on its way in; joined: in the conference. */
  state: 'waiting' | 'joining' | 'joined';
  /** mod_conference's member id once joined (from its add-member event). */
  memberId: number | null;
  muted: boolean;
  /** Admitted to the room (ms). */
  joinedAt: number;
  operatorId: number | null;
}

export interface RoomState {
  sessionId: string | null;
  locked: boolean;
}

export type Admission = { admitted: true; sessionId: string } | { admitted: false; why: 'locked' | 'full' };

// Keeps the three keys of a room alive exactly as long as its newest seat.
const EXPIRE_WITH_SEATS = `
local function expire_with_seats(seats, members, state)
  local newest = redis.call('ZRANGE', seats, -1, -1, 'WITHSCORES')[2]
  if newest == nil then
    redis.call('DEL', seats, members, state)
    return
  end
  local at = string.format('%.0f', tonumber(newest))
  redis.call('PEXPIREAT', seats, at)
  if redis.call('EXISTS', members) == 1 then redis.call('PEXPIREAT', members, at) end
  if redis.call('EXISTS', state) == 1 then redis.call('PEXPIREAT', state, at) end
end
`;

// KEYS: seats, members, state. ARGV: now, expiry, call id, max members (0 = none), member JSON,
// a session id to use if none runs, check the lock (1/0).
// Returns {1, session id} when seated, {0, 'locked' | 'full'} when not.
const ADMIT_SCRIPT = `${EXPIRE_WITH_SEATS}
local seats, members, state = KEYS[1], KEYS[2], KEYS[3]
local now, expiry, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', seats, '-inf', now)
if redis.call('ZCARD', seats) == 0 then redis.call('DEL', members, state) end
local seated = redis.call('ZSCORE', seats, ARGV[3]) ~= false
if not seated and ARGV[7] == '1' and redis.call('HGET', state, 'locked') == '1' then return {0, 'locked'} end
if not seated and max > 0 and redis.call('ZCARD', seats) >= max then return {0, 'full'} end
redis.call('ZADD', seats, expiry, ARGV[3])
redis.call('HSET', members, ARGV[3], ARGV[5])
redis.call('HSETNX', state, 'session', ARGV[6])
local session = redis.call('HGET', state, 'session')
expire_with_seats(seats, members, state)
return {1, session}
`;

// KEYS: seats, members, state. ARGV: expiry, call id. Renews a seat still held; 0 if it lapsed.
const RENEW_SCRIPT = `${EXPIRE_WITH_SEATS}
if redis.call('ZSCORE', KEYS[1], ARGV[2]) == false then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
expire_with_seats(KEYS[1], KEYS[2], KEYS[3])
return 1
`;

// KEYS: seats, members. ARGV: call id, member JSON. Writes a member whose seat is still held.
const UPDATE_SCRIPT = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
`;

// KEYS: seats, members, state. ARGV: now, call id. Frees the seat; the room's state goes with its
// last member. Returns the members left.
const LEAVE_SCRIPT = `${EXPIRE_WITH_SEATS}
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]))
expire_with_seats(KEYS[1], KEYS[2], KEYS[3])
return redis.call('ZCARD', KEYS[1])
`;

// KEYS: seats, state. ARGV: now, '1' or '0'. Locks or unlocks a room in use; 0 if nobody is in.
const LOCK_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]))
if redis.call('ZCARD', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'locked', ARGV[2])
redis.call('PEXPIRE', KEYS[2], redis.call('PTTL', KEYS[1]))
return 1
`;

declare module 'ioredis' {
  interface RedisCommander {
    roomAdmit(seats: string, members: string, state: string, now: number, expiry: number, callId: string, max: number, member: string, session: string, checkLock: string): Promise<[number, string]>;
    roomRenew(seats: string, members: string, state: string, expiry: number, callId: string): Promise<number>;
    roomUpdate(seats: string, members: string, callId: string, member: string): Promise<number>;
    roomLeave(seats: string, members: string, state: string, now: number, callId: string): Promise<number>;
    roomLock(seats: string, state: string, now: number, locked: string): Promise<number>;
  }
}

export class RoomStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly now: () => number = Date.now,
  ) {
    redis.defineCommand('roomAdmit', { numberOfKeys: 3, lua: ADMIT_SCRIPT });
    redis.defineCommand('roomRenew', { numberOfKeys: 3, lua: RENEW_SCRIPT });
    redis.defineCommand('roomUpdate', { numberOfKeys: 2, lua: UPDATE_SCRIPT });
    redis.defineCommand('roomLeave', { numberOfKeys: 3, lua: LEAVE_SCRIPT });
    redis.defineCommand('roomLock', { numberOfKeys: 2, lua: LOCK_SCRIPT });
  }

  private roomKeys(roomId: number): [string, string, string] {
    return [this.keys.roomSeats(roomId), this.keys.roomMembers(roomId), this.keys.roomState(roomId)];
  }

  /**
   * Seats a member unless the room is full (`maxMembers` null: no limit) or, with `checkLock`,
   * locked. `sessionId` names the conference's run if this member starts it.
   */
  async admit(roomId: number, member: MemberEntry, maxMembers: number | null, sessionId: string, checkLock = true): Promise<Admission> {
    const now = this.now();
    const [ok, value] = await this.redis.roomAdmit(...this.roomKeys(roomId), now, now + SEAT_LEASE_MS, member.callId, maxMembers ?? 0, JSON.stringify(member), sessionId, checkLock ? '1' : '0');
    if (ok === 1) return { admitted: true, sessionId: value };
    return { admitted: false, why: value === 'locked' ? 'locked' : 'full' };
  }

  /** Extends a seat's lease; false if it had lapsed (the room may have been refilled). */
  async renew(roomId: number, callId: string): Promise<boolean> {
    return (await this.redis.roomRenew(...this.roomKeys(roomId), this.now() + SEAT_LEASE_MS, callId)) === 1;
  }

  /** Writes what the owner knows of its member now; false if the seat has lapsed. */
  async update(roomId: number, member: MemberEntry): Promise<boolean> {
    const [seats, members] = this.roomKeys(roomId);
    return (await this.redis.roomUpdate(seats, members, member.callId, JSON.stringify(member))) === 1;
  }

  /** Frees a member's seat; returns how many members are left. */
  async leave(roomId: number, callId: string): Promise<number> {
    return this.redis.roomLeave(...this.roomKeys(roomId), this.now(), callId);
  }

  /** Members in the room now, on every instance (waiting ones too). */
  async count(roomId: number): Promise<number> {
    const key = this.keys.roomSeats(roomId);
    const [, card] = (await this.redis.multi().zremrangebyscore(key, '-inf', this.now()).zcard(key).exec()) ?? [];
    return Number(card?.[1] ?? 0);
  }

  /** Members in the room now, in the order they came in; lapsed seats are left out. */
  async members(roomId: number): Promise<MemberEntry[]> {
    const [seats, members] = this.roomKeys(roomId);
    const [seatRows, entries] = (await this.redis.multi().zrangebyscore(seats, `(${this.now()}`, '+inf').hgetall(members).exec()) ?? [];
    const live = new Set((seatRows?.[1] as string[] | undefined) ?? []);
    const all = (entries?.[1] as Record<string, string> | undefined) ?? {};
    return Object.entries(all)
      .filter(([callId]) => live.has(callId))
      .map(([, json]) => JSON.parse(json) as MemberEntry)
      .sort((a, b) => a.joinedAt - b.joinedAt);
  }

  async state(roomId: number): Promise<RoomState> {
    if ((await this.count(roomId)) === 0) return { sessionId: null, locked: false };
    const [session, locked] = await this.redis.hmget(this.keys.roomState(roomId), 'session', 'locked');
    return { sessionId: session ?? null, locked: locked === '1' };
  }

  /** Locks (or unlocks) the running conference; false when nobody is in the room. */
  async setLocked(roomId: number, locked: boolean): Promise<boolean> {
    const [seats, , state] = this.roomKeys(roomId);
    return (await this.redis.roomLock(seats, state, this.now(), locked ? '1' : '0')) === 1;
  }
}
