/**
 * Registrations in Redis: one hash per operator (RedisKeys.registrations), one field per contact,
 * the value a JSON binding with its absolute expiry. Every change runs as one Lua script, so the
 * §10.3 Call-ID/CSeq checks and the update are a single step even when several instances handle
 * REGISTERs for the same operator at once. Expired bindings are never returned and are deleted by
 * whichever script meets them first; the hash itself expires with its last binding.
 */
import { createHash } from 'node:crypto';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { contactKey, type Params } from './contact.js';
import type { PlannedContact } from './rules.js';

export interface BindingSource {
  address: string;
  port: number;
  /** udp, tcp, tls, ws, wss as drachtio-server reports it. */
  protocol: string;
}

export interface Binding {
  /** The Contact URI to send requests to. */
  contact: string;
  /** Contact parameters other than expires (q, +sip.instance, reg-id ...). */
  params: Params;
  /** Absolute expiry, ms since the epoch. */
  expiresAt: number;
  /** Where the REGISTER came from: the way back through a NAT. */
  source: BindingSource;
  callId: string;
  cseq: number;
  registeredAt: number;
  userAgent?: string;
}

/** What the REGISTER changes, with the identity §10.3 orders updates by. */
export interface BindingChange {
  callId: string;
  cseq: number;
  source: BindingSource;
  userAgent?: string;
  now: number;
}

export type ApplyResult =
  | { status: 'ok'; bindings: Binding[] }
  /** §10.3 step 7: same Call-ID and a CSeq not higher than stored; nothing was changed. */
  | { status: 'out-of-order' }
  | { status: 'too-many' };

// Both scripts drop bindings that expired, then work on the rest. cjson ships with Redis' Lua.
const SWEEP = `
local function live(key, now)
  local flat = redis.call('HGETALL', key)
  local bindings, raw = {}, {}
  for i = 1, #flat, 2 do
    local ok, b = pcall(cjson.decode, flat[i + 1])
    if ok and type(b) == 'table' and tonumber(b.expiresAt) and tonumber(b.expiresAt) > now then
      bindings[flat[i]] = b
      raw[flat[i]] = flat[i + 1]
    else
      redis.call('HDEL', key, flat[i])
    end
  end
  return bindings, raw
end
`;

const LIST_SCRIPT = `${SWEEP}
local _, raw = live(KEYS[1], tonumber(ARGV[1]))
local out = {}
for _, json in pairs(raw) do out[#out + 1] = json end
return out
`;

// ARGV: now, callId, cseq, maxContacts, mode ('remove-all' | 'update'), then per contact:
// field, expiresAt (0 = remove), json.
const APPLY_SCRIPT = `${SWEEP}
local key = KEYS[1]
local now, callId, cseq = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local maxContacts, mode = tonumber(ARGV[4]), ARGV[5]
local bindings, raw = live(key, now)
local function stale(b) return b.callId == callId and tonumber(b.cseq) >= cseq end

if mode == 'remove-all' then
  for _, b in pairs(bindings) do if stale(b) then return {'out-of-order'} end end
  redis.call('DEL', key)
  return {'ok'}
end

for i = 6, #ARGV, 3 do
  local b = bindings[ARGV[i]]
  if b and stale(b) then return {'out-of-order'} end
end
local expiry = {}
for field, b in pairs(bindings) do expiry[field] = tonumber(b.expiresAt) end
for i = 6, #ARGV, 3 do
  if tonumber(ARGV[i + 1]) == 0 then
    raw[ARGV[i]] = nil
    expiry[ARGV[i]] = nil
  else
    raw[ARGV[i]] = ARGV[i + 2]
    expiry[ARGV[i]] = tonumber(ARGV[i + 1])
  end
end
local out, latest = {'ok'}, 0
for field, json in pairs(raw) do
  out[#out + 1] = json
  if expiry[field] > latest then latest = expiry[field] end
end
if #out - 1 > maxContacts then return {'too-many'} end

for i = 6, #ARGV, 3 do
  if tonumber(ARGV[i + 1]) == 0 then
    redis.call('HDEL', key, ARGV[i])
  else
    redis.call('HSET', key, ARGV[i], ARGV[i + 2])
  end
end
if latest == 0 then
  redis.call('DEL', key)
else
  -- Relative to the caller's clock, like every expiry in the hash.
  redis.call('PEXPIRE', key, string.format('%.0f', latest - now))
end
return out
`;

class Script {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** EVALSHA, falling back to EVAL once after a Redis restart forgot the script. */
  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

// Writes bindings back after Redis lost its data, unless the operator has registered since.
// ARGV: now, then per binding: field, json; the hash expires with the latest binding.
const RESTORE_SCRIPT = `
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then return 0 end
local latest = 0
for i = 2, #ARGV, 2 do
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
  local expiresAt = tonumber(cjson.decode(ARGV[i + 1]).expiresAt)
  if expiresAt > latest then latest = expiresAt end
end
redis.call('PEXPIRE', key, string.format('%.0f', latest - tonumber(ARGV[1])))
return 1
`;

const LIST = new Script(LIST_SCRIPT);
const RESTORE = new Script(RESTORE_SCRIPT);
const APPLY = new Script(APPLY_SCRIPT);

function decode(values: unknown): Binding[] {
  if (!Array.isArray(values)) return [];
  const bindings = values.map((json) => JSON.parse(String(json)) as Binding);
  return bindings.sort((a, b) => a.registeredAt - b.registeredAt || a.contact.localeCompare(b.contact));
}

export const DEFAULT_MAX_CONTACTS = 10;

/**
 * Operators' bindings in Redis. It also remembers the bindings it last read or wrote for each
 * operator, so that after Redis lost its data the phones can still be rung until they register
 * again (a phone re-registers only when its registration is close to expiry).
 */
export class BindingStore {
  private readonly known = new Map<string, Binding[]>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly maxContacts = DEFAULT_MAX_CONTACTS,
  ) {}

  /** Current bindings, oldest first; expired ones are left out (and deleted). */
  async list(username: string, now = Date.now()): Promise<Binding[]> {
    return this.remember(username, decode(await LIST.run(this.redis, [this.keys.registrations(username)], [now])));
  }

  /**
   * Writes back the bindings this store knows and that have not expired, for every operator that
   * has none in Redis (after Redis lost its data). Returns how many operators got theirs back.
   */
  async restore(now = Date.now()): Promise<number> {
    let restored = 0;
    for (const [username, bindings] of this.known) {
      const live = bindings.filter((b) => b.expiresAt > now);
      if (live.length === 0) {
        this.known.delete(username);
        continue;
      }
      const args = [now, ...live.flatMap((b) => [contactKey(b.contact), JSON.stringify(b)])];
      if ((await RESTORE.run(this.redis, [this.keys.registrations(username)], args)) === 1) restored++;
    }
    return restored;
  }

  private remember(username: string, bindings: Binding[]): Binding[] {
    if (bindings.length === 0) this.known.delete(username);
    else this.known.set(username, bindings);
    return bindings;
  }

  /** Adds, refreshes or removes the planned contacts, all or none (§10.3 steps 7 and 8). */
  async apply(username: string, contacts: PlannedContact[], change: BindingChange): Promise<ApplyResult> {
    const args: (string | number)[] = [change.now, change.callId, change.cseq, this.maxContacts, 'update'];
    for (const c of contacts) {
      const expiresAt = c.expires === 0 ? 0 : change.now + c.expires * 1000;
      const binding: Binding = {
        contact: c.uri,
        params: c.params,
        expiresAt,
        source: change.source,
        callId: change.callId,
        cseq: change.cseq,
        registeredAt: change.now,
        ...(change.userAgent === undefined ? {} : { userAgent: change.userAgent }),
      };
      args.push(c.key, expiresAt, c.expires === 0 ? '' : JSON.stringify(binding));
    }
    return this.result(username, await APPLY.run(this.redis, [this.keys.registrations(username)], args));
  }

  /** `Contact: *` with Expires: 0 (§10.3 step 6). */
  async removeAll(username: string, change: Pick<BindingChange, 'callId' | 'cseq' | 'now'>): Promise<ApplyResult> {
    const args = [change.now, change.callId, change.cseq, this.maxContacts, 'remove-all'];
    return this.result(username, await APPLY.run(this.redis, [this.keys.registrations(username)], args));
  }

  private result(username: string, reply: unknown): ApplyResult {
    const [status, ...rest] = Array.isArray(reply) ? (reply as unknown[]) : [];
    if (status === 'out-of-order') return { status: 'out-of-order' };
    if (status === 'too-many') return { status: 'too-many' };
    if (status !== 'ok') throw new Error(`unexpected reply from the registration script: ${String(status)}`);
    return { status: 'ok', bindings: this.remember(username, decode(rest)) };
  }
}
