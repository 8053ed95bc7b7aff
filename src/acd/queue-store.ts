import type { ChainableCommander } from 'ioredis';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import type { Need } from './skill-match.js';

/** What every instance can see of a call in progress (the API's live calls). */
export interface LiveCall {
  callId: string;
  /** The instance that holds the call's SIP dialogs and media. */
  owner: string;
  callerNumber: string;
  callerName: string;
  dialledNumber: string;
  arrivedAt: number;
  /** camped: waiting for the busy operator in operatorId (camp-on); callback: see src/callback (never stored as a live call). */
  state: 'routing' | 'waiting' | 'offering' | 'connected' | 'camped' | 'ending' | 'callback';
  queueId: number | null;
  queuedAt: number | null;
  priority: number;
  /** Place in the waiting order: see waitingScore(). */
  score: number | null;
  operatorId: number | null;
  answeredAt: number | null;
  /** The skill the call needs; absent or '' when none. */
  skill?: string;
}

/** Where a caller stands on entering a queue. */
export interface Entered {
  /** 1 = next to be served. */
  position: number;
  /** The whole line, when the caller is the only one in it. */
  line?: Need[];
}

export interface WaitingEntry {
  callId: string;
  position: number;
  score: number;
}

const NUMBERS: (keyof LiveCall)[] = ['arrivedAt', 'queueId', 'queuedAt', 'priority', 'score', 'operatorId', 'answeredAt'];

function toHash(call: Partial<LiveCall>): Record<string, string> {
  return Object.fromEntries(Object.entries(call).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}

export function parseLiveCall(hash: Record<string, string>): LiveCall | undefined {
  if (!hash.callId) return undefined;
  const call: Record<string, unknown> = { ...hash };
  for (const field of NUMBERS) call[field] = hash[field] === undefined || hash[field] === '' ? null : Number(hash[field]);
  return call as unknown as LiveCall;
}

/** How a skill need is kept in the queue's needs hash: "<widenAt> <skill>" (read by Lua too). */
export function encodeNeed(need: Pick<Need, 'skill' | 'widenAt'>): string {
  return `${need.widenAt} ${need.skill}`;
}

export function decodeNeed(callId: string, value: string | undefined): Need {
  if (value === undefined) return { callId, skill: '', widenAt: 0 };
  const space = value.indexOf(' ');
  return { callId, widenAt: Number(value.slice(0, space)), skill: value.slice(space + 1) };
}

// Puts a caller ahead of everyone waiting: one less than the best score now in the queue.
// Returns the caller's score (as text: scores exceed Lua's default number format), 0 if absent.
const FRONT_SCRIPT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if head[1] == ARGV[1] then return score end
local front = string.format('%.0f', tonumber(head[2]) - 1)
redis.call('ZADD', KEYS[1], front, ARGV[1])
redis.call('HSET', KEYS[2], 'score', front)
redis.call('PUBLISH', ARGV[2], ARGV[3])
return front
`;

// Moves a waiting caller to another queue, keeping their place by priority and arrival, and
// their skill need with its wait.
const MOVE_SCRIPT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], score, ARGV[1])
local need = redis.call('HGET', KEYS[4], ARGV[1])
if need then
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('HSET', KEYS[5], ARGV[1], need)
end
redis.call('HSET', KEYS[3], 'queueId', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
redis.call('PUBLISH', ARGV[3], ARGV[5])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander {
    queueFront(queueKey: string, callKey: string, callId: string, channel: string, event: string): Promise<number | string>;
    queueMove(fromKey: string, toKey: string, callKey: string, fromNeeds: string, toNeeds: string, callId: string, toQueueId: string, channel: string, e1: string, e2: string): Promise<number>;
  }
}

/**
 * Queues and live calls in Redis: each queue is a sorted set of waiting call ids in serving
 * order; each live call a hash. Changes to a queue are published so that every instance knows
 * when the head of a queue may have changed.
 *
 * Only the instance that owns a call writes its hash, so this store also keeps a copy of what it
 * wrote for the calls it saved: after Redis lost its data the owner can put them back as they were.
 */
export class QueueStore {
  private readonly own = new Map<string, LiveCall>();
  /** The skill needs of this instance's waiting calls, as kept in the needs hash. */
  private readonly ownNeeds = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('queueFront', { numberOfKeys: 2, lua: FRONT_SCRIPT });
    redis.defineCommand('queueMove', { numberOfKeys: 5, lua: MOVE_SCRIPT });
  }

  // The caller (when one entered or left) lets its own instance skip the echo of what it did.
  private changed(queueId: number, reason: 'entered' | 'left' | 'reordered', callId?: string): string {
    return JSON.stringify({ type: 'queue', queueId, reason, callId });
  }

  async saveCall(call: LiveCall): Promise<void> {
    this.own.set(call.callId, { ...call });
    await this.redis.multi().hset(this.keys.call(call.callId), toHash(call)).sadd(this.keys.liveCalls(), call.callId).exec();
  }

  async updateCall(callId: string, changes: Partial<LiveCall>): Promise<void> {
    this.remember(callId, changes);
    await this.redis.hset(this.keys.call(callId), toHash(changes));
  }

  async getCall(callId: string): Promise<LiveCall | undefined> {
    return parseLiveCall(await this.redis.hgetall(this.keys.call(callId)));
  }

  async liveCalls(): Promise<LiveCall[]> {
    const ids = await this.redis.smembers(this.keys.liveCalls());
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.call(id));
    const results = (await pipeline.exec()) ?? [];
    return results.flatMap(([, hash]) => {
      const call = parseLiveCall((hash ?? {}) as Record<string, string>);
      return call ? [call] : [];
    });
  }

  /** True for exactly one of several instances asking about the same call (a short-lived claim). */
  async claimOrphan(callId: string): Promise<boolean> {
    return (await this.redis.set(this.keys.orphanClaim(callId), '1', 'EX', 60, 'NX')) === 'OK';
  }

  async removeCall(callId: string, queueId: number | null): Promise<void> {
    this.own.delete(callId);
    this.ownNeeds.delete(callId);
    const tx = this.redis.multi().del(this.keys.call(callId)).srem(this.keys.liveCalls(), callId);
    if (queueId !== null) {
      tx.zrem(this.keys.queueWaiting(queueId), callId).hdel(this.keys.queueNeeds(queueId), callId).publish(this.keys.eventsChannel(), this.changed(queueId, 'left', callId));
    }
    await tx.exec();
  }

  /**
   * Adds a caller to the queue at their score, with the skill they need (if any); returns their
   * position (1 = next to be served) and, when they are the only caller in it, the line as the
   * dispatcher would read it.
   */
  async enqueue(queueId: number, callId: string, score: number, need?: Pick<Need, 'skill' | 'widenAt'>): Promise<Entered> {
    this.remember(callId, { queueId, score, state: 'waiting' });
    const tx = this.redis.multi().hset(this.keys.call(callId), { queueId: String(queueId), score: String(score), state: 'waiting' });
    return this.joinQueue(tx, 1, queueId, callId, score, need);
  }

  /**
   * saveCall and enqueue in one transaction, for a caller who joins the queue on arrival: one
   * round trip instead of two, and the call's hash written once. Returns where the caller stands.
   */
  async saveAndEnqueue(call: LiveCall & { queueId: number; score: number }, need?: Pick<Need, 'skill' | 'widenAt'>): Promise<Entered> {
    const waiting: LiveCall = { ...call, state: 'waiting' };
    this.own.set(call.callId, waiting);
    const tx = this.redis.multi().hset(this.keys.call(call.callId), toHash(waiting)).sadd(this.keys.liveCalls(), call.callId);
    return this.joinQueue(tx, 2, call.queueId, call.callId, call.score, need);
  }

  /** Adds the queue's part to a transaction holding `before` commands, runs it, returns where the caller stands. */
  private async joinQueue(tx: ChainableCommander, before: number, queueId: number, callId: string, score: number, need?: Pick<Need, 'skill' | 'widenAt'>): Promise<Entered> {
    const key = this.keys.queueWaiting(queueId);
    const needs = this.keys.queueNeeds(queueId);
    const encoded = need && need.skill !== '' ? encodeNeed(need) : undefined;
    if (encoded !== undefined) {
      if (this.own.has(callId)) this.ownNeeds.set(callId, encoded);
      tx.hset(needs, callId, encoded);
    } else {
      this.ownNeeds.delete(callId);
      tx.hdel(needs, callId);
    }
    const results = await tx.zadd(key, score, callId).zrank(key, callId).zcard(key).publish(this.keys.eventsChannel(), this.changed(queueId, 'entered', callId)).exec();
    // after the `before` commands: the need, ZADD, ZRANK, then ZCARD
    const position = Number(results?.[before + 2]?.[1] ?? 0) + 1;
    const alone = Number(results?.[before + 3]?.[1] ?? 0) === 1;
    return alone ? { position, line: [decodeNeed(callId, encoded)] } : { position };
  }

  /** Takes a caller off the queue; false if they were not waiting there. */
  async dequeue(queueId: number, callId: string): Promise<boolean> {
    const results = await this.redis
      .multi()
      .zrem(this.keys.queueWaiting(queueId), callId)
      .hdel(this.keys.queueNeeds(queueId), callId)
      .publish(this.keys.eventsChannel(), this.changed(queueId, 'left', callId))
      .exec();
    return Number(results?.[0]?.[1] ?? 0) === 1;
  }

  /**
   * The first `limit` waiting callers in serving order, with the skill each needs. Two reads in
   * one round trip, not a transaction: a caller enters and leaves the list together with its
   * need, so a caller listed without one has just left, and reserving it is refused in Redis.
   */
  async waitingNeeds(queueId: number, limit: number): Promise<Need[]> {
    const results = await this.redis
      .pipeline()
      .zrange(this.keys.queueWaiting(queueId), '0', String(limit - 1))
      .hgetall(this.keys.queueNeeds(queueId))
      .exec();
    const ids = (results?.[0]?.[1] ?? []) as string[];
    const needs = (results?.[1]?.[1] ?? {}) as Record<string, string>;
    return ids.map((id) => decodeNeed(id, needs[id]));
  }

  async position(queueId: number, callId: string): Promise<number | undefined> {
    const rank = await this.redis.zrank(this.keys.queueWaiting(queueId), callId);
    return rank === null ? undefined : rank + 1;
  }

  async length(queueId: number): Promise<number> {
    return this.redis.zcard(this.keys.queueWaiting(queueId));
  }

  async waiting(queueId: number): Promise<WaitingEntry[]> {
    const flat = await this.redis.zrange(this.keys.queueWaiting(queueId), '0', '-1', 'WITHSCORES');
    const entries: WaitingEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ callId: flat[i] as string, position: i / 2 + 1, score: Number(flat[i + 1]) });
    return entries;
  }

  async moveToFront(queueId: number, callId: string): Promise<boolean> {
    const moved = await this.redis.queueFront(
      this.keys.queueWaiting(queueId),
      this.keys.call(callId),
      callId,
      this.keys.eventsChannel(),
      this.changed(queueId, 'reordered'),
    );
    if (moved === 0) return false;
    this.remember(callId, { score: Number(moved) });
    return true;
  }

  async moveToQueue(fromQueueId: number, toQueueId: number, callId: string): Promise<boolean> {
    const moved = await this.redis.queueMove(
      this.keys.queueWaiting(fromQueueId),
      this.keys.queueWaiting(toQueueId),
      this.keys.call(callId),
      this.keys.queueNeeds(fromQueueId),
      this.keys.queueNeeds(toQueueId),
      callId,
      String(toQueueId),
      this.keys.eventsChannel(),
      this.changed(fromQueueId, 'left', callId),
      this.changed(toQueueId, 'entered', callId),
    );
    if (moved !== 1) return false;
    this.remember(callId, { queueId: toQueueId });
    return true;
  }

  private remember(callId: string, changes: Partial<LiveCall>): void {
    const call = this.own.get(callId);
    if (call) this.own.set(callId, { ...call, ...changes });
  }

  /** The calls this instance saved and has not removed, as it last wrote them. */
  savedCalls(): LiveCall[] {
    return [...this.own.values()];
  }

  /**
   * Writes a call back as saved (after Redis lost it), and into its queue at its old score when
   * it is waiting there, so callers keep their order across instances.
   */
  async restoreCall(call: LiveCall, waitingIn: number | undefined): Promise<void> {
    const tx = this.redis.multi().hset(this.keys.call(call.callId), toHash(call)).sadd(this.keys.liveCalls(), call.callId);
    if (waitingIn !== undefined && call.score !== null) {
      const need = this.ownNeeds.get(call.callId);
      if (need !== undefined) tx.hset(this.keys.queueNeeds(waitingIn), call.callId, need);
      // Without the caller: recovery kicks no dispatcher itself, so this instance must not skip the echo (app.ts).
      tx.zadd(this.keys.queueWaiting(waitingIn), call.score, call.callId).publish(this.keys.eventsChannel(), this.changed(waitingIn, 'entered'));
    }
    await tx.exec();
  }
}
