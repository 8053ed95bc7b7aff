import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { newOperatorStatus, planTransition, TransitionRefused, type OperatorEvent, type OperatorState, type OperatorStatus, type TransitionPlan } from './operator-rules.js';

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
// call), and, when ARGV[7] holds a status (fields as text), still has exactly those fields: the
// status the plan was made from, known without reading it first. Then publishes the new status.
// Returns {1, old state, old since, new status json} or {0, current state, current call}. A
// missing hash is an operator never seen: logged out.
const CAS_SCRIPT = `
local key = KEYS[1]
local from = cjson.decode(ARGV[1])
local callId = ARGV[2]
local changes = cjson.decode(ARGV[3])
local cur = redis.call('HMGET', key, 'state', 'callId', 'since')
local state = cur[1] or 'logged-out'
local current = cur[2] or ''
local ok = false
for _, s in ipairs(from) do if s == state then ok = true end end
if not ok or (callId ~= '' and callId ~= current) then return {0, state, current} end
if ARGV[7] ~= '' then
  local all = redis.call('HGETALL', key)
  local have = {}
  for i = 1, #all, 2 do have[all[i]] = all[i + 1] end
  for k, v in pairs(cjson.decode(ARGV[7])) do
    if (have[k] or '') ~= v then return {0, state, current} end
  end
end
local since = cur[3] or ''
local fields = {}
if not cur[1] and redis.call('EXISTS', key) == 0 then
  for k, v in pairs(cjson.decode(ARGV[6])) do fields[k] = tostring(v) end
end
for k, v in pairs(changes) do fields[k] = tostring(v) end
local flat = {}
for k, v in pairs(fields) do
  table.insert(flat, k)
  table.insert(flat, v)
end
if #flat > 0 then redis.call('HSET', key, unpack(flat)) end
redis.call('SADD', KEYS[2], ARGV[4])
local all = redis.call('HGETALL', key)
local status = {}
for i = 1, #all, 2 do status[all[i]] = all[i + 1] end
local json = cjson.encode(status)
redis.call('PUBLISH', ARGV[5], '{"type":"operator","status":' .. json .. '}')
return {1, state, since, json}
`;

// Reserves operators for a waiting caller whose turn it is, in a waiting list (a queue, or the
// callers camped on one operator; skill-match.ts has the rule): takes the first `width` of the
// listed operators that are still available, that no caller ahead could take and that no camped
// caller waits for, and takes the caller off the list, all at once. A caller ahead with no entry
// in the needs hash, or whose skill wait is over, could take anyone: then nobody is taken ({-1}).
// A caller ahead still waiting for skill S keeps the operators with S. An operator with callers
// camped on them (entries scored by an expiry after campNow) is kept for those callers.
// Returns {new status json, previous since} pairs, flattened; an empty list when none was free;
// {-1} when the caller is not waiting or not in turn.
// KEYS: list, needs, the n operators, then optionally each operator's camp-on list.
// ARGV: callId, changes, width, channel, from, now, skills (a JSON list per operator), n, campNow.
// `now` is the dispatcher's clock, the one it planned with.
const MATCH_SCRIPT = `
local queue = KEYS[1]
local needs = KEYS[2]
local callId = ARGV[1]
local changes = cjson.decode(ARGV[2])
local width = tonumber(ARGV[3])
local channel = ARGV[4]
local from = ARGV[5]
local now = tonumber(ARGV[6])
local skills = cjson.decode(ARGV[7])
local n = tonumber(ARGV[8])
local campNow = ARGV[9]
local rank = redis.call('ZRANK', queue, callId)
if not rank then return {-1} end
local held = {}
if rank > 0 then
  for _, id in ipairs(redis.call('ZRANGE', queue, 0, rank - 1)) do
    local need = redis.call('HGET', needs, id)
    if not need then return {-1} end
    local space = string.find(need, ' ', 1, true)
    if tonumber(string.sub(need, 1, space - 1)) <= now then return {-1} end
    held[string.sub(need, space + 1)] = true
  end
end
local taken = {}
local count = 0
local flat = {}
for k, v in pairs(changes) do
  table.insert(flat, k)
  table.insert(flat, tostring(v))
end
for i = 3, n + 2 do
  if count >= width then break end
  local key = KEYS[i]
  local camp = KEYS[i + n]
  local cur = redis.call('HMGET', key, 'state', 'since')
  local free = cur[1] == from
  if free and camp ~= nil and redis.call('ZCOUNT', camp, campNow, '+inf') > 0 then free = false end
  for _, skill in ipairs(skills[i - 2] or {}) do
    if held[skill] then free = false end
  end
  if free then
    local since = cur[2] or '0'
    if #flat > 0 then redis.call('HSET', key, unpack(flat)) end
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
if count > 0 then
  redis.call('ZREM', queue, callId)
  redis.call('HDEL', needs, callId)
end
return taken
`;

// Puts an operator's status back after Redis lost it: only if the operator has no hash, or (when
// ARGV[2] names a call) if the hash is about that call, whose owner knows best. Returns 1 if written.
const RESTORE_SCRIPT = `
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then
  if ARGV[2] == '' or redis.call('HGET', key, 'callId') ~= ARGV[2] then return 0 end
end
local status = cjson.decode(ARGV[1])
for k, v in pairs(status) do redis.call('HSET', key, k, tostring(v)) end
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], '{"type":"operator","status":' .. cjson.encode(status) .. '}')
return 1
`;

const NUMERIC: (keyof OperatorStatus)[] = ['operatorId', 'since', 'idleSince', 'deadline', 'calls', 'misses'];

/** Parses an operator hash as Redis returns it (all strings). */
export function parseStatus(operatorId: number, hash: Record<string, string>, now: number): OperatorStatus {
  if (!hash.state) return newOperatorStatus(operatorId, now);
  const status = { ...newOperatorStatus(operatorId, now), ...hash } as unknown as Record<string, unknown>;
  for (const field of NUMERIC) status[field] = Number(status[field] ?? 0);
  return status as unknown as OperatorStatus;
}

/** A status as Redis keeps it, every field text: Lua would print large numbers in exponent form. */
function asText(status: OperatorStatus): Record<string, string> {
  return Object.fromEntries(Object.entries(status).map(([k, v]) => [k, String(v)]));
}

function toHash(changes: Partial<OperatorStatus>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(changes).map(([k, v]) => [k, v as string | number]));
}

declare module 'ioredis' {
  interface RedisCommander {
    operatorCas(key: string, index: string, from: string, callId: string, changes: string, id: string, channel: string, defaults: string, expected: string): Promise<[number, string, string, string?]>;
    operatorMatch(...args: (string | number)[]): Promise<(string | number)[]>;
    operatorRestore(key: string, index: string, status: string, callId: string, id: string, channel: string): Promise<number>;
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
    redis.defineCommand('operatorRestore', { numberOfKeys: 2, lua: RESTORE_SCRIPT });
  }

  /**
   * Writes a status back after Redis lost it: only where the operator has none, or, with
   * `ownerOf`, where the one there is about that call. True if it was written.
   */
  async restore(status: OperatorStatus, ownerOf = ''): Promise<boolean> {
    const json = JSON.stringify(asText(status));
    const id = String(status.operatorId);
    const written = await this.redis.operatorRestore(this.keys.operator(id), this.keys.operatorIndex(), json, ownerOf, id, this.keys.eventsChannel());
    return written === 1;
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
   * `known` is the status as last heard (the status cache): the first try plans from it without
   * reading Redis, and counts only if Redis still holds exactly that status; otherwise, or if
   * the plan is refused, the status is read and the event planned again.
   */
  async apply(operatorId: number, event: OperatorEvent, known?: OperatorStatus): Promise<AppliedTransition> {
    const guessed = known ? await this.applyToKnown(operatorId, event, known) : undefined;
    if (guessed) return guessed;
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(operatorId);
      const now = this.now();
      const plan = planTransition(current, event, now);
      const applied = await this.cas(operatorId, plan);
      if (applied) return applied;
      if (attempt >= 3) throw new Error(`operator ${operatorId} kept changing; gave up on ${event.type}`);
    }
  }

  /** The first try of apply(): undefined when `known` is out of date or refuses the event. */
  private async applyToKnown(operatorId: number, event: OperatorEvent, known: OperatorStatus): Promise<AppliedTransition | undefined> {
    let plan: TransitionPlan;
    try {
      plan = planTransition(known, event, this.now());
    } catch (err) {
      if (err instanceof TransitionRefused) return undefined;
      throw err;
    }
    return this.cas(operatorId, plan, known);
  }

  /**
   * Carries out a plan made elsewhere; undefined when the operator was no longer as expected
   * (in the plan's states and call, and, given `expected`, with exactly that status).
   */
  async cas(operatorId: number, plan: TransitionPlan, expected?: OperatorStatus): Promise<AppliedTransition | undefined> {
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
      expected ? JSON.stringify(asText(expected)) : '',
    );
    if (ok !== 1 || json === undefined) return undefined;
    const status = parseStatus(operatorId, JSON.parse(json) as Record<string, string>, this.now());
    const from = fromState as OperatorState;
    // An operator never seen before has no time in their first state.
    const fromMs = from === status.state || sinceText === '' ? 0 : Math.max(0, status.since - Number(sinceText));
    return { operatorId, from, to: status.state, fromMs, status, reason: plan.reason };
  }

  /**
   * Reserves up to `width` of `operators` (best first, with their skills in this queue) for a
   * waiting call and takes it off the queue, if it is the call's turn for them at `now` (see
   * skill-match.ts). 'out-of-turn' when the call is not waiting or a call ahead has the turn.
   * Operators with callers camped on them are left to those callers.
   */
  async reserveInTurn(
    queueId: number,
    callId: string,
    operators: { operatorId: number; skills: readonly string[] }[],
    width: number,
    reserve: { instance: string; leaseMs: number; now: number },
  ): Promise<AppliedTransition[] | 'out-of-turn'> {
    const lists = { list: this.keys.queueWaiting(queueId), needs: this.keys.queueNeeds(queueId) };
    const campLists = operators.map((o) => this.keys.campOn(o.operatorId));
    return this.reserveFromList(lists, callId, operators, width, reserve, campLists);
  }

  /**
   * Reserves one operator for the first of the callers camped on them, taking that caller off
   * their camp-on list: 'out-of-turn' when another caller camped first, [] when the operator is
   * not available.
   */
  async reserveForCampOn(operatorId: number, callId: string, reserve: { instance: string; leaseMs: number }): Promise<AppliedTransition[] | 'out-of-turn'> {
    const list = this.keys.campOn(operatorId);
    // Camped callers need no skill: their needs hash is one nothing writes, so only the first
    // of them is ever in turn.
    const lists = { list, needs: `${list}:needs` };
    return this.reserveFromList(lists, callId, [{ operatorId, skills: [] }], 1, { ...reserve, now: this.now() }, []);
  }

  private async reserveFromList(
    lists: { list: string; needs: string },
    callId: string,
    operators: { operatorId: number; skills: readonly string[] }[],
    width: number,
    reserve: { instance: string; leaseMs: number; now: number },
    campLists: string[],
  ): Promise<AppliedTransition[] | 'out-of-turn'> {
    const now = this.now();
    const plan = planTransition(
      { ...newOperatorStatus(0, now), state: 'available' },
      { type: 'reserve', callId, instance: reserve.instance, leaseMs: reserve.leaseMs },
      now,
    );
    const keys = [lists.list, lists.needs, ...operators.map((o) => this.keys.operator(o.operatorId)), ...campLists];
    const [from] = plan.from as [OperatorState];
    const changes = JSON.stringify(toHash(plan.changes));
    const skills = JSON.stringify(operators.map((o) => o.skills));
    const result = await this.redis.operatorMatch(keys.length, ...keys, callId, changes, width, this.keys.eventsChannel(), from, reserve.now, skills, operators.length, now);
    if (result.length === 1 && result[0] === -1) return 'out-of-turn';
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
