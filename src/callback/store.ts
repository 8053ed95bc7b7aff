import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import type { ConfirmedHow } from './menu-machine.js';

/**
 * waiting: in the queue at its original place; retry-wait: out of the queue until retryAt after
 * an attempt that reached nobody; offering: an operator's phone rings; calling: the operator
 * answered and the caller's phone rings.
 */
export type CallbackState = 'waiting' | 'retry-wait' | 'offering' | 'calling';

/** A callback as every instance sees it in Redis. */
export interface CallbackEntry {
  /** Also the call id of the call back (its legs, queue events and calls row). */
  id: string;
  originalCallId: string;
  queueId: number;
  number: string;
  callerName: string;
  how: ConfirmedHow;
  priority: number;
  /** The original place in the queue (queue-order.ts waitingScore of the first arrival). */
  score: number;
  /** When the caller first entered the queue, and when they asked to be called back (ms). */
  arrivedAt: number;
  requestedAt: number;
  attempts: number;
  /** The instance that places it; another takes it over once this one's lease is gone. */
  owner: string;
  state: CallbackState;
  retryAt: number;
  operatorId: number | null;
}

const NUMBERS = ['queueId', 'priority', 'score', 'arrivedAt', 'requestedAt', 'attempts', 'retryAt', 'operatorId'] as const;

function toHash(entry: Partial<CallbackEntry>): Record<string, string> {
  return Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}

export function parseEntry(hash: Record<string, string>): CallbackEntry | undefined {
  if (!hash.id) return undefined;
  const entry: Record<string, unknown> = { ...hash };
  for (const field of NUMBERS) entry[field] = hash[field] === undefined || hash[field] === '' ? null : Number(hash[field]);
  entry.attempts = entry.attempts ?? 0;
  entry.retryAt = entry.retryAt ?? 0;
  return entry as unknown as CallbackEntry;
}

// Takes the caller's place in the queue over: the callback goes in at the caller's score, the
// caller (still on the line, hearing the goodbye) leaves it, in one step so nobody behind them
// moves up in between. KEYS: queue, entry hash, callbacks set. ARGV: caller's call id, callback id,
// channel, event, then the entry's hash as field/value pairs. Returns 0 if the caller was not
// waiting there any more (offered meanwhile, moved).
const REQUEST_SCRIPT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], score, ARGV[2])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[2], 'score', score)
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`;

// Hands an entry to another instance if it still belongs to the one it was seen with.
const CLAIM_SCRIPT = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
return 1
`;

// Cancels an entry only while nobody is being rung for it; returns its hash (flat), or
// 'busy' while it is being placed, or nothing if it does not exist.
const CANCEL_SCRIPT = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return nil end
if state ~= 'waiting' and state ~= 'retry-wait' then return 'busy' end
local entry = redis.call('HGETALL', KEYS[1])
local queueId = redis.call('HGET', KEYS[1], 'queueId')
redis.call('ZREM', ARGV[2] .. queueId .. ':waiting', ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[3], '{"type":"queue","queueId":' .. queueId .. ',"reason":"left"}')
return entry
`;

declare module 'ioredis' {
  interface RedisCommander {
    callbackRequest(queueKey: string, entryKey: string, setKey: string, callId: string, callbackId: string, channel: string, event: string, ...fields: string[]): Promise<number>;
    callbackClaim(entryKey: string, from: string, to: string): Promise<number>;
    callbackCancel(entryKey: string, setKey: string, callbackId: string, queuePrefix: string, channel: string): Promise<string[] | 'busy' | null>;
  }
}

/**
 * Callbacks in Redis: a hash per callback and a set of them all, so any instance can list them,
 * cancel them and take over those of an instance that is gone. A waiting callback is also a
 * member of its queue's waiting set (QueueStore) under its id, at its original score: it is
 * served in turn with the live callers.
 */
export class CallbackStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('callbackRequest', { numberOfKeys: 3, lua: REQUEST_SCRIPT });
    redis.defineCommand('callbackClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    redis.defineCommand('callbackCancel', { numberOfKeys: 2, lua: CANCEL_SCRIPT });
  }

  private changed(queueId: number, reason: string): string {
    return JSON.stringify({ type: 'queue', queueId, reason });
  }

  /**
   * Replaces the waiting caller `callId` in the queue by the callback, at the caller's score.
   * Returns the entry as stored, or undefined if the caller was no longer waiting.
   */
  async request(callId: string, entry: Omit<CallbackEntry, 'score'>): Promise<CallbackEntry | undefined> {
    const fields = Object.entries(toHash(entry)).flat();
    const done = await this.redis.callbackRequest(
      this.keys.queueWaiting(entry.queueId),
      this.keys.callback(entry.id),
      this.keys.callbacks(),
      callId,
      entry.id,
      this.keys.eventsChannel(),
      this.changed(entry.queueId, 'entered'),
      ...fields,
    );
    return done === 1 ? this.get(entry.id) : undefined;
  }

  async get(id: string): Promise<CallbackEntry | undefined> {
    return parseEntry(await this.redis.hgetall(this.keys.callback(id)));
  }

  async all(): Promise<CallbackEntry[]> {
    const ids = await this.redis.smembers(this.keys.callbacks());
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.callback(id));
    const results = (await pipeline.exec()) ?? [];
    return results.flatMap(([, hash]) => {
      const entry = parseEntry((hash ?? {}) as Record<string, string>);
      return entry ? [entry] : [];
    });
  }

  async update(id: string, changes: Partial<CallbackEntry>): Promise<void> {
    await this.redis.hset(this.keys.callback(id), toHash(changes));
  }

  /** Back in line at its original place (state waiting). */
  async enqueue(entry: CallbackEntry): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.callback(entry.id), { state: 'waiting', operatorId: '' })
      .zadd(this.keys.queueWaiting(entry.queueId), entry.score, entry.id)
      .publish(this.keys.eventsChannel(), this.changed(entry.queueId, 'entered'))
      .exec();
  }

  /** Out of the queue while it is being placed or waits for its next attempt. */
  async dequeue(entry: CallbackEntry, state: CallbackState, changes: Partial<CallbackEntry> = {}): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.callback(entry.id), toHash({ ...changes, state }))
      .zrem(this.keys.queueWaiting(entry.queueId), entry.id)
      .publish(this.keys.eventsChannel(), this.changed(entry.queueId, 'left'))
      .exec();
  }

  /** Gone for good (connected or failed). */
  async remove(entry: Pick<CallbackEntry, 'id' | 'queueId'>): Promise<void> {
    await this.redis
      .multi()
      .del(this.keys.callback(entry.id))
      .srem(this.keys.callbacks(), entry.id)
      .zrem(this.keys.queueWaiting(entry.queueId), entry.id)
      .publish(this.keys.eventsChannel(), this.changed(entry.queueId, 'left'))
      .exec();
  }

  /** True if the entry was `from`'s and is now `to`'s. */
  async claim(id: string, from: string, to: string): Promise<boolean> {
    return (await this.redis.callbackClaim(this.keys.callback(id), from, to)) === 1;
  }

  /** Cancels a callback nobody is being rung for: the entry as it was, 'busy', or undefined. */
  async cancel(id: string): Promise<CallbackEntry | 'busy' | undefined> {
    const queuePrefix = this.keys.queueWaiting('').replace(/:waiting$/, '');
    const result = await this.redis.callbackCancel(this.keys.callback(id), this.keys.callbacks(), id, queuePrefix, this.keys.eventsChannel());
    if (result === null) return undefined;
    if (result === 'busy') return 'busy';
    const hash: Record<string, string> = {};
    for (let i = 0; i < result.length; i += 2) hash[result[i] as string] = result[i + 1] as string;
    return parseEntry(hash);
  }
}
