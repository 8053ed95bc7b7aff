import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { newOperatorStatus, planTransition, type OperatorEvent, type OperatorState, type OperatorStatus, type TransitionPlan } from './operator-rules.js';

/** What a transition that took effect changed, for the operator's history. */
export interface AppliedTransition {
  operatorId: number;
  from: OperatorState;
  to: OperatorState;
  /** How long the operator had been in `from`, in ms (0 when the state did not change). */
  fromMs: number;
  status: OperatorStatus;
  reason: string;
}

// Applies a plan if the operator is still in one of the expected states (and on the expected
// call), then publishes the new status. Returns {1, old state, old since, new status json} or
// {0, current state, current call}. A missing hash is an operator never seen: logged out.
const CAS_SCRIPT = `
local key = KEYS[1]
local from = cjson.decode(ARGV[1])
local callId = ARGV[2]
local changes = cjson.decode(ARGV[3])
local state = redis.call('HGET', key, 'state') or 'logged-out'
local current = redis.call('HGET', key, 'callId') or ''
local ok = false
for _, s in ipairs(from) do if s == state then ok = true end end
if not ok or (callId ~= '' and callId ~= current) then return {0, state, current} end
local since = redis.call('HGET', key, 'since') or ''
if redis.call('EXISTS', key) == 0 then
  local defaults = cjson.decode(ARGV[6])
  for k, v in pairs(defaults) do redis.call('HSET', key, k, tostring(v)) end
end
for k, v in pairs(changes) do redis.call('HSET', key, k, tostring(v)) end
redis.call('SADD', KEYS[2], ARGV[4])
local all = redis.call('HGETALL', key)
local status = {}
for i = 1, #all, 2 do status[all[i]] = all[i + 1] end
local json = cjson.encode(status)
redis.call('PUBLISH', ARGV[5], '{"type":"operator","status":' .. json .. '}')
return {1, state, since, json}
`;

// Reserves operators for the caller at the head of a waiting list (a queue, or the callers camped
// on one operator): takes the first `width` of the listed operators that are still available, and
// takes the caller off the list, all at once. KEYS: the list, the n operators, then optionally
// each operator's camp-on list: an operator with callers camped on them (entries scored by an
// expiry after ARGV[7], now) is kept for those callers and not taken.
// Returns {new status json, previous since} pairs, flattened; an empty list when none was free; {-1} when the
// caller is no longer first in the list (someone else got there first, or the caller left).
const MATCH_SCRIPT = `
local queue = KEYS[1]
local callId = ARGV[1]
local changes = cjson.decode(ARGV[2])
local width = tonumber(ARGV[3])
local channel = ARGV[4]
local from = ARGV[5]
local n = tonumber(ARGV[6])
local now = ARGV[7]
local head = redis.call('ZRANGE', queue, 0, 0)
if head[1] ~= callId then return {-1} end
local taken = {}
local count = 0
for i = 2, n + 1 do
  if count >= width then break end
  local key = KEYS[i]
  local camp = KEYS[i + n]
  local kept = camp ~= nil and redis.call('ZCOUNT', camp, now, '+inf') > 0
  if not kept and redis.call('HGET', key, 'state') == from then
    local since = redis.call('HGET', key, 'since') or '0'
    for k, v in pairs(changes) do redis.call('HSET', key, k, tostring(v)) end
    local all = redis.call('HGETALL', key)
    local status = {}
    for j = 1, #all, 2 do status[all[j]] = all[j + 1] end
    local json = cjson.encode(status)
    redis.call('PUBLISH', channel, '{"type":"operator","status":' .. json .. '}')
    table.insert(taken, json)
    table.insert(taken, since)
    count = count + 1
  end
end
if count > 0 then redis.call('ZREM', queue, callId) end
return taken
`;

const NUMERIC: (keyof OperatorStatus)[] = ['operatorId', 'since', 'idleSince', 'deadline', 'calls', 'misses'];

/** Parses an operator hash as Redis returns it (all strings). */
export function parseStatus(operatorId: number, hash: Record<string, string>, now: number): OperatorStatus {
  if (!hash.state) return newOperatorStatus(operatorId, now);
  const status = { ...newOperatorStatus(operatorId, now), ...hash } as unknown as Record<string, unknown>;
  for (const field of NUMERIC) status[field] = Number(status[field] ?? 0);
  return status as unknown as OperatorStatus;
}

function toHash(changes: Partial<OperatorStatus>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(changes).map(([k, v]) => [k, v as string | number]));
}

declare module 'ioredis' {
  interface RedisCommander {
    operatorCas(key: string, index: string, from: string, callId: string, changes: string, id: string, channel: string, defaults: string): Promise<[number, string, string, string?]>;
    operatorMatch(...args: (string | number)[]): Promise<(string | number)[]>;
  }
}

/**
 * Operators' live state in Redis. Every change is a compare-and-set carried out by a Lua
 * script, so two switchboard instances can never both offer a call to the same operator, and
 * every change is published for the other instances' caches and the live event stream.
 */
export class OperatorStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly now: () => number = Date.now,
  ) {
    redis.defineCommand('operatorCas', { numberOfKeys: 2, lua: CAS_SCRIPT });
    redis.defineCommand('operatorMatch', { lua: MATCH_SCRIPT });
  }

  async get(operatorId: number): Promise<OperatorStatus> {
    return parseStatus(operatorId, await this.redis.hgetall(this.keys.operator(operatorId)), this.now());
  }

  /** Every operator that has a live state (anyone who ever logged in). */
  async all(): Promise<OperatorStatus[]> {
    const ids = (await this.redis.smembers(this.keys.operatorIndex())).map(Number);
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.operator(id));
    const results = (await pipeline.exec()) ?? [];
    const now = this.now();
    return ids.map((id, i) => parseStatus(id, (results[i]?.[1] ?? {}) as Record<string, string>, now));
  }

  /**
   * Applies an event, retrying a few times if the operator changed between the read and the
   * write. Throws TransitionRefused when the event makes no sense in the operator's state.
   */
  async apply(operatorId: number, event: OperatorEvent): Promise<AppliedTransition> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(operatorId);
      const now = this.now();
      const plan = planTransition(current, event, now);
      const applied = await this.cas(operatorId, plan);
      if (applied) return applied;
      if (attempt >= 3) throw new Error(`operator ${operatorId} kept changing; gave up on ${event.type}`);
    }
  }

  /** Carries out a plan made elsewhere; undefined when the operator was no longer as expected. */
  async cas(operatorId: number, plan: TransitionPlan): Promise<AppliedTransition | undefined> {
    const defaults = toHash(newOperatorStatus(operatorId, this.now()));
    const [ok, fromState, sinceText, json] = await this.redis.operatorCas(
      this.keys.operator(operatorId),
      this.keys.operatorIndex(),
      JSON.stringify(plan.from),
      plan.callId ?? '',
      JSON.stringify(toHash(plan.changes)),
      String(operatorId),
      this.keys.eventsChannel(),
      JSON.stringify(defaults),
    );
    if (ok !== 1 || json === undefined) return undefined;
    const status = parseStatus(operatorId, JSON.parse(json) as Record<string, string>, this.now());
    const from = fromState as OperatorState;
    // An operator never seen before has no time in their first state.
    const fromMs = from === status.state || sinceText === '' ? 0 : Math.max(0, status.since - Number(sinceText));
    return { operatorId, from, to: status.state, fromMs, status, reason: plan.reason };
  }

  /**
   * Reserves up to `width` of `operatorIds` (best first) for the call at the head of the queue
   * and takes it off the queue. 'not-head' when the call is not first in line any more. Operators
   * with callers camped on them are left to those callers.
   */
  async reserveForHead(
    queueId: number,
    callId: string,
    operatorIds: number[],
    width: number,
    reserve: { instance: string; leaseMs: number },
  ): Promise<AppliedTransition[] | 'not-head'> {
    const campLists = operatorIds.map((id) => this.keys.campOn(id));
    return this.reserveForHeadOf(this.keys.queueWaiting(queueId), callId, operatorIds, width, reserve, campLists);
  }

  /**
   * Reserves one operator for the first of the callers camped on them, taking that caller off
   * their camp-on list: 'not-head' when another caller camped first, [] when the operator is not
   * available.
   */
  async reserveForCampOn(operatorId: number, callId: string, reserve: { instance: string; leaseMs: number }): Promise<AppliedTransition[] | 'not-head'> {
    return this.reserveForHeadOf(this.keys.campOn(operatorId), callId, [operatorId], 1, reserve, []);
  }

  private async reserveForHeadOf(
    listKey: string,
    callId: string,
    operatorIds: number[],
    width: number,
    reserve: { instance: string; leaseMs: number },
    campLists: string[],
  ): Promise<AppliedTransition[] | 'not-head'> {
    const now = this.now();
    const plan = planTransition(
      { ...newOperatorStatus(0, now), state: 'available' },
      { type: 'reserve', callId, instance: reserve.instance, leaseMs: reserve.leaseMs },
      now,
    );
    const keys = [listKey, ...operatorIds.map((id) => this.keys.operator(id)), ...campLists];
    const [from] = plan.from as [OperatorState];
    const changes = JSON.stringify(toHash(plan.changes));
    const result = await this.redis.operatorMatch(keys.length, ...keys, callId, changes, width, this.keys.eventsChannel(), from, operatorIds.length, now);
    if (result.length === 1 && result[0] === -1) return 'not-head';
    const taken: AppliedTransition[] = [];
    for (let i = 0; i < result.length; i += 2) {
      const hash = JSON.parse(String(result[i])) as Record<string, string>;
      const status = parseStatus(Number(hash.operatorId), hash, now);
      const fromMs = Math.max(0, now - Number(result[i + 1]));
      taken.push({ operatorId: status.operatorId, from, to: 'ringing', fromMs, status, reason: plan.reason });
    }
    return taken;
  }
}
