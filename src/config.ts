import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { isUsername } from './provisioning/types.js';
import type { AdmissionLimits } from './sip/admission.js';

/** Who may use an API key. Roles beyond admin are enforced by the API's route guards. */
export type Role = 'admin' | 'supervisor' | 'operator';

export interface ApiKey {
  key: string;
  role: Role;
  /** Operator keys only: the username of the operator the key belongs to. */
  operator?: string;
}

export interface HostPort {
  host: string;
  port: number;
}

/** A trusted caller source: an address or CIDR block, IPv4 or IPv6. */
export interface Cidr {
  address: string;
  prefix: number;
  family: 4 | 6;
}

export interface Config {
  instanceId: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  http: HostPort;
  apiKeys: ApiKey[];
  /** Roles that see callers' numbers masked in every API response and event. */
  maskCallerNumbers: Role[];
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  drachtio: HostPort & { secret: string };
  freeswitch: {
    servers: HostPort[];
    password: string;
    profile: string;
    /** Where FreeSWITCH connects back to us (the outbound event socket). */
    listen: HostPort;
    advertisedAddress: string | undefined;
  };
  sipDomain: string;
  trustedSources: Cidr[];
  /** Directory on the media server holding the switchboard's prompts. */
  promptsDir: string;
  startupWaitSeconds: number;
  shutdownGraceSeconds: number;
  /** How long the record writer lets records gather after draining the outbox (see RecordWriter). */
  recordsGatherMs: number;
  /** How long an operator's phones ring for a call to their own number before the caller hears 480. */
  directRingTimeoutS: number;
  /** The largest CSV file a directory import takes. */
  directoryImportMaxBytes: number;
  /** How long a number change intercepts calls when it names no end. */
  numberChangeInterceptDays: number;
  /** How long a caller camps on a busy operator before going back; 0 turns camp-on off. */
  campOnTimeoutS: number;
  /**
   * The SIP trunk or gateway (host and port) that outside numbers are called through: numbers
   * that are neither an extension nor an operator. Unset: the switchboard calls only its own phones.
   */
  outboundGateway: HostPort | undefined;
  /**
   * Ring first (direct queues, an operator free on arrival): how long the caller hears ringback,
   * unanswered, before being answered onto the media server while the phone keeps ringing; 0: off.
   */
  ringFirstMaxS: number;
  /** Admission control of new calls (src/sip/admission.ts), and how a refusal looks. */
  admission: AdmissionLimits & {
    /** Retry-After on the 503 of a call refused over capacity. */
    retryAfterS: number;
    /** At most one warning in the log per this many seconds while calls are refused. */
    logIntervalS: number;
  };
  /** Voice messages: where their WAV files live (FreeSWITCH writes, the switchboard reads) and their limits. */
  messages: {
    dir: string;
    maxSeconds: number;
    maxPerExtension: number;
    maxAgeDays: number;
  };
  wakeup: WakeupConfig;
}

/** Wake-up calls (README: Wake-up calls): defaults of new bookings and the scheduler's rules. */
export interface WakeupConfig {
  retries: number;
  retryIntervalS: number;
  ringTimeoutS: number;
  /** How late a due booking may still be placed (the switchboard was down); later it is missed. */
  graceS: number;
  /** The queue (by number) whose operators hear about a wake-up call nobody answered. */
  escalationQueue: string | undefined;
}

export type Env = Record<string, string | undefined>;

/** Thrown with every problem found, one line each, so an operator fixes them all in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Reads one variable at a time and collects what is wrong instead of stopping at the first. */
class Reader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }

  fail(name: string, message: string): void {
    this.problems.push(`${name} ${message}`);
  }

  string(name: string, fallback?: string): string {
    const value = this.raw(name) ?? fallback;
    if (value !== undefined) return value;
    this.fail(name, 'is required but not set');
    return '';
  }

  optional(name: string): string | undefined {
    return this.raw(name);
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^-?\d+$/.test(value)) {
      this.fail(name, `must be a whole number, got "${value}"`);
      return fallback;
    }
    const n = Number(value);
    if (n < min || n > max) {
      this.fail(name, `must be between ${min} and ${max}, got ${n}`);
      return fallback;
    }
    return n;
  }

  port(name: string, fallback: number): number {
    return this.integer(name, fallback, 1, 65535);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.fail(name, `must be one of ${allowed.join(', ')}, got "${value}"`);
    return fallback;
  }

  url(name: string, protocols: readonly string[], fallback?: string): string {
    const value = this.string(name, fallback);
    if (value === '') return value;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      this.fail(name, `is not a valid URL (expected ${protocols[0]}//host:port/...)`);
      return value;
    }
    if (!protocols.includes(parsed.protocol)) {
      this.fail(name, `must start with ${protocols.join(' or ')}, got "${parsed.protocol}"`);
    } else if (parsed.hostname === '') {
      this.fail(name, 'has no host name');
    }
    return value;
  }
}

// About six rings: what PBXs commonly allow before giving up, long enough to reach a desk phone,
// and well short of the 3 minutes an unanswered INVITE may live (Timer C).
export const DEFAULT_DIRECT_RING_TIMEOUT_S = 30;
// A minute of music is about what callers put up with before they hang up or want a person.
export const DEFAULT_CAMP_ON_TIMEOUT_S = 60;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
const ROLES: readonly Role[] = ['admin', 'supervisor', 'operator'];
const MIN_KEY_LENGTH = 16;

function parseHostPort(text: string, defaultPort: number): HostPort | string {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const plain = /^([^:\s]+)(?::(\d+))?$/.exec(text);
  const match = bracketed ?? plain;
  if (!match) return `"${text}" is not host:port`;
  const host = match[1] as string;
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `"${text}" has a bad port`;
  return { host, port };
}

function parseFreeswitchServers(r: Reader): HostPort[] {
  const name = 'FREESWITCH_ESL';
  const value = r.string(name, '127.0.0.1:8021');
  const servers: HostPort[] = [];
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0 && value !== '') r.fail(name, 'lists no server');
  for (const item of items) {
    const parsed = parseHostPort(item, 8021);
    if (typeof parsed === 'string') {
      r.fail(name, `must be a comma-separated list of host:port, but ${parsed}`);
      continue;
    }
    servers.push(parsed);
  }
  return servers;
}

/**
 * One API_KEYS entry: `key` (admin), `role:key`, or `operator/<username>:key` (an operator key
 * must say whose it is). Returns the key or the problem with the entry.
 */
function parseApiKey(item: string): ApiKey | string {
  const colon = item.indexOf(':');
  const who = colon === -1 ? 'admin' : item.slice(0, colon);
  const key = colon === -1 ? item : item.slice(colon + 1);
  const [role, operator, extra] = who.split('/');
  if (role === undefined || !(ROLES as readonly string[]).includes(role) || extra !== undefined) {
    return `has an entry with unknown role "${who}" (roles: ${ROLES.join(', ')})`;
  }
  if (role === 'operator' && operator === undefined) {
    return 'has an operator key without its operator: write operator/<username>:<key>';
  }
  if (operator !== undefined && role !== 'operator') return `has a ${role} key naming an operator ("${who}"); only operator keys do`;
  if (operator !== undefined && !isUsername(operator)) return `has an operator key for "${operator}", which is not a valid username`;
  if (key.length < MIN_KEY_LENGTH) return `has a ${role} key shorter than ${MIN_KEY_LENGTH} characters`;
  return operator === undefined ? { key, role: role as Role } : { key, role: 'operator', operator };
}

function parseApiKeys(r: Reader): ApiKey[] {
  const name = 'API_KEYS';
  const value = r.string(name);
  const keys: ApiKey[] = [];
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0 && value !== '') r.fail(name, 'lists no key');
  for (const item of items) {
    const parsed = parseApiKey(item);
    if (typeof parsed === 'string') r.fail(name, parsed);
    else keys.push(parsed);
  }
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k.key)) r.fail(name, `has the same key twice (a ${k.role} key); every key must be different`);
    seen.add(k.key);
  }
  return keys;
}

/** MASK_CALLER_NUMBERS: the roles that must not see callers' numbers, e.g. "operator,supervisor". */
function parseMaskRoles(r: Reader): Role[] {
  const name = 'MASK_CALLER_NUMBERS';
  const value = r.optional(name) ?? '';
  const roles: Role[] = [];
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (item === 'none') continue;
    if ((ROLES as readonly string[]).includes(item)) roles.push(item as Role);
    else r.fail(name, `has unknown role "${item}" (roles: ${ROLES.join(', ')}, or none)`);
  }
  return roles;
}

export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, extra] = text.split('/');
  if (address === undefined || extra !== undefined) return undefined;
  const family = isIP(address);
  if (family !== 4 && family !== 6) return undefined;
  const max = family === 4 ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: max, family };
  if (!/^\d+$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family };
}

function parseTrustedSources(r: Reader): Cidr[] {
  const name = 'TRUSTED_SOURCES';
  const value = r.optional(name) ?? '';
  const sources: Cidr[] = [];
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const cidr = parseCidr(item);
    if (!cidr) {
      r.fail(name, `has "${item}", which is not an IP address or CIDR block (e.g. 10.0.0.0/8)`);
      continue;
    }
    sources.push(cidr);
  }
  return sources;
}

function parseSipDomain(r: Reader): string {
  const name = 'SIP_DOMAIN';
  const value = r.string(name);
  if (value !== '' && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(value)) {
    r.fail(name, `must be a host name such as pbx.example.com, got "${value}"`);
  }
  return value;
}

/** OUTBOUND_GATEWAY: `host` or `host:port` (5060 if left out), e.g. 10.0.0.5:5060 or sbc.example.net. */
function parseOutboundGateway(r: Reader): HostPort | undefined {
  const name = 'OUTBOUND_GATEWAY';
  const value = r.optional(name);
  if (value === undefined) return undefined;
  const match = /^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?$/.exec(value);
  const port = Number(match?.[3] ?? 5060);
  if (!match?.[1] || port < 1 || port > 65535) {
    r.fail(name, `must be host or host:port of a SIP gateway, e.g. 10.0.0.5:5060, got "${value}"`);
    return undefined;
  }
  return { host: match[1], port };
}

function parseIpAddress(r: Reader, name: string, fallback?: string): string | undefined {
  const value = r.optional(name) ?? fallback;
  if (value === undefined) return undefined;
  if (isIP(value) === 0) r.fail(name, `must be an IP address, got "${value}"`);
  return value;
}

// Endpoints in flight on one media server past which new calls needing media get 503. A healthy
// FreeSWITCH sets one up in tens of milliseconds (a few in flight at 30 calls/s); one falling
// behind piles them up within a second, long before drachtio-fsmrf gives up on one (4 s). At 20
// in flight the calls already let in were failing on this 2-core machine (README, Admission control).
const DEFAULT_MEDIA_MAX_PENDING = 10;

// How far behind its timers an instance may run before it refuses new calls. A healthy one runs a
// few ms behind; one short of CPU hundreds, and its calls' timers (ring timeouts, the wait for a
// match) fire late with it.
const DEFAULT_MAX_EVENT_LOOP_DELAY_MS = 250;

// How long a caller rung first may wait for an operator to be matched before new calls are
// refused. A dispatcher that keeps up matches in tens of ms; past its capacity the wait grows by
// the second while the event loop may still look healthy (each match waits on Redis round trips).
// One second is when such a caller would start to be answered onto the media server instead.
const DEFAULT_MAX_MATCH_DELAY_MS = 1_000;

/** Admission limits: 0 switches a limit off; MEDIA_MAX_SESSIONS unset follows the server's own Max-Sessions. */
function parseAdmission(r: Reader): Config['admission'] {
  const mediaMaxSessions = r.optional('MEDIA_MAX_SESSIONS') === undefined ? undefined : r.integer('MEDIA_MAX_SESSIONS', 0, 0, 1_000_000);
  return {
    maxCalls: r.integer('MAX_CALLS', 0, 0, 1_000_000),
    maxCallsPerSecond: r.integer('MAX_CALLS_PER_SECOND', 0, 0, 100_000),
    mediaMaxSessions,
    mediaMinIdleCpu: r.integer('MEDIA_MIN_IDLE_CPU', 0, 0, 99),
    mediaMaxPending: r.integer('MEDIA_MAX_PENDING', DEFAULT_MEDIA_MAX_PENDING, 0, 10_000),
    maxLoopDelayMs: r.integer('MAX_EVENT_LOOP_DELAY_MS', DEFAULT_MAX_EVENT_LOOP_DELAY_MS, 0, 60_000),
    maxMatchDelayMs: r.integer('MAX_MATCH_DELAY_MS', DEFAULT_MAX_MATCH_DELAY_MS, 0, 60_000),
    retryAfterS: r.integer('ADMISSION_RETRY_AFTER_SECONDS', 5, 1, 3600),
    logIntervalS: r.integer('ADMISSION_LOG_INTERVAL_SECONDS', 10, 1, 3600),
  };
}

/**
 * An absolute directory (FreeSWITCH is told the full path of each file it records) without spaces
 * (its record application splits its arguments on them).
 */
function parseMessagesDir(r: Reader): string {
  const dir = r.string('MESSAGES_DIR', '/var/lib/switchboard/messages').replace(/\/+$/, '');
  if (!dir.startsWith('/') || /\s/.test(dir)) r.fail('MESSAGES_DIR', `must be an absolute path without spaces, got "${dir}"`);
  return dir;
}

function parseWakeup(r: Reader): WakeupConfig {
  const queue = r.optional('WAKEUP_ESCALATION_QUEUE');
  if (queue !== undefined && !/^[0-9]{1,16}$/.test(queue)) r.fail('WAKEUP_ESCALATION_QUEUE', `must be a queue's number (digits), got "${queue}"`);
  return {
    retries: r.integer('WAKEUP_RETRIES', 2, 0, 10),
    retryIntervalS: r.integer('WAKEUP_RETRY_INTERVAL_SECONDS', 300, 10, 3600),
    ringTimeoutS: r.integer('WAKEUP_RING_TIMEOUT_SECONDS', 30, 5, 300),
    graceS: r.integer('WAKEUP_GRACE_SECONDS', 600, 0, 86400),
    escalationQueue: queue,
  };
}

/** What `npm run migrate` needs: the database and how long to wait for it. */
export function loadDatabaseConfig(env: Env): Pick<Config, 'databaseUrl' | 'startupWaitSeconds'> {
  const r = new Reader(env);
  const config = {
    databaseUrl: r.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    startupWaitSeconds: r.integer('STARTUP_WAIT_SECONDS', 30, 0, 3600),
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/** Validates the whole environment; throws ConfigError listing every bad or missing variable. */
export function loadConfig(env: Env): Config {
  const r = new Reader(env);
  const config: Config = {
    instanceId: r.string('INSTANCE_ID', `${hostname()}-${process.pid}`),
    logLevel: r.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    http: {
      host: parseIpAddress(r, 'HTTP_HOST', '0.0.0.0') ?? '0.0.0.0',
      port: r.port('HTTP_PORT', 8080),
    },
    apiKeys: parseApiKeys(r),
    maskCallerNumbers: parseMaskRoles(r),
    databaseUrl: r.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: r.url('REDIS_URL', ['redis:', 'rediss:']),
    redisPrefix: r.string('REDIS_PREFIX', 'sb:'),
    drachtio: {
      host: r.string('DRACHTIO_HOST', '127.0.0.1'),
      port: r.port('DRACHTIO_PORT', 9022),
      secret: r.string('DRACHTIO_SECRET'),
    },
    freeswitch: {
      servers: parseFreeswitchServers(r),
      password: r.string('FREESWITCH_PASSWORD'),
      profile: r.string('FREESWITCH_PROFILE', 'drachtio_mrf'),
      listen: {
        host: parseIpAddress(r, 'MEDIA_LISTEN_ADDRESS', '127.0.0.1') ?? '127.0.0.1',
        port: r.integer('MEDIA_LISTEN_PORT', 0, 0, 65535),
      },
      advertisedAddress: parseIpAddress(r, 'MEDIA_ADVERTISED_ADDRESS'),
    },
    sipDomain: parseSipDomain(r),
    trustedSources: parseTrustedSources(r),
    promptsDir: r.string('PROMPTS_DIR', '/usr/local/freeswitch/sounds/switchboard').replace(/\/+$/, ''),
    startupWaitSeconds: r.integer('STARTUP_WAIT_SECONDS', 30, 0, 3600),
    shutdownGraceSeconds: r.integer('SHUTDOWN_GRACE_SECONDS', 30, 0, 3600),
    recordsGatherMs: r.integer('RECORDS_GATHER_MS', 500, 0, 1000),
    directRingTimeoutS: r.integer('DIRECT_RING_TIMEOUT_SECONDS', DEFAULT_DIRECT_RING_TIMEOUT_S, 1, 300),
    directoryImportMaxBytes: r.integer('DIRECTORY_IMPORT_MAX_BYTES', 5 * 1024 * 1024, 1024, 100 * 1024 * 1024),
    numberChangeInterceptDays: r.integer('NUMBER_CHANGE_INTERCEPT_DAYS', 90, 1, 3650),
    campOnTimeoutS: r.integer('CAMP_ON_TIMEOUT_SECONDS', DEFAULT_CAMP_ON_TIMEOUT_S, 0, 3600),
    outboundGateway: parseOutboundGateway(r),
    ringFirstMaxS: r.integer('RING_FIRST_MAX_SECONDS', 5, 0, 300),
    admission: parseAdmission(r),
    messages: {
      dir: parseMessagesDir(r),
      maxSeconds: r.integer('MESSAGE_MAX_SECONDS', 120, 5, 3600),
      maxPerExtension: r.integer('MESSAGES_MAX_PER_EXTENSION', 50, 1, 10_000),
      maxAgeDays: r.integer('MESSAGE_MAX_AGE_DAYS', 30, 1, 3650),
    },
    wakeup: parseWakeup(r),
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
