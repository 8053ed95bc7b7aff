/**
 * Server side of SIP digest authentication (RFC 2617 as RFC 3261 §22 uses it): MD5, with
 * qop=auth or without qop (RFC 2069 clients). The same code serves REGISTER (401 and
 * WWW-Authenticate / Authorization) and INVITE (407 and Proxy-Authenticate / Proxy-Authorization).
 *
 * Nonces are stateless: a timestamp and a random part signed with an HMAC whose secret all
 * instances share through Redis. drachtio-server spreads requests round-robin, so the retry that
 * carries credentials may reach another instance than the one that challenged; any instance can
 * verify any nonce without a lookup.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';

/** How long a nonce stays fresh; an older one gets `stale=true` so the phone retries silently. */
export const DEFAULT_NONCE_TTL_S = 300;
// Instances' clocks differ a little; a nonce from slightly in the future is still ours.
const CLOCK_SKEW_MS = 30_000;
const MAC_BYTES = 16;

export interface DigestCredentials {
  scheme: string;
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm?: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
  opaque?: string;
}

export type DigestFailure =
  | 'malformed'
  | 'wrong-realm'
  | 'unsupported-algorithm'
  | 'unsupported-qop'
  | 'wrong-uri'
  | 'bad-nonce'
  | 'stale'
  | 'wrong-response'
  | 'replay';

/**
 * `stale` is true only when the response was right for an expired (or no longer verifiable)
 * nonce: the client knows the password and should simply retry with the fresh nonce.
 */
export type DigestVerdict = { ok: true; username: string } | { ok: false; reason: DigestFailure; stale: boolean };

export interface DigestRequest {
  method: string;
  /** The Request-URI as received; the digest-uri must name the same resource. */
  uri: string;
  /** MD5(username:realm:password) of the claimed user. */
  ha1: string;
}

/** Where the signing secrets come from: the first signs, all verify (so a change is not abrupt). */
export interface NonceSecrets {
  current(): Buffer;
  all(): readonly Buffer[];
}

/** Says whether a (nonce, nonce-count) pair is used for the first time. */
export interface ReplayGuard {
  firstUse(nonce: string, nc: string, ttlMs: number): Promise<boolean>;
}

export interface DigestAuthOptions {
  realm: string;
  secrets: NonceSecrets;
  nonceTtlS?: number;
  replayGuard?: ReplayGuard;
  now?: () => number;
}

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

/** RFC 2617 §3.2.2.1: request-digest, with qop=auth or (RFC 2069) without qop. */
export function digestResponse(p: {
  ha1: string;
  nonce: string;
  method: string;
  uri: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
}): string {
  const ha2 = md5(`${p.method}:${p.uri}`);
  if (p.qop === undefined) return md5(`${p.ha1}:${p.nonce}:${ha2}`);
  return md5(`${p.ha1}:${p.nonce}:${p.nc ?? ''}:${p.cnonce ?? ''}:${p.qop}:${ha2}`);
}

// ---- parsing ----------------------------------------------------------------------------------

const SEPARATORS = /[\s,]*/y;
const PARAM = /([\w-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)/y;
const SCHEME = /([A-Za-z][\w-]*)(?:\s+|$)/y;
// Basic and other schemes carry a token68 instead of parameters (RFC 7235 §2.1).
const TOKEN68 = /[A-Za-z0-9._~+/-]+=*/y;

function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}

function matchAt(re: RegExp, text: string, pos: number): RegExpExecArray | null {
  re.lastIndex = pos;
  return re.exec(text);
}

/**
 * Splits one or more credentials (several Authorization headers arrive joined by commas) into
 * their schemes and parameters. Returns undefined when the text does not follow the grammar.
 */
export function parseAuthorization(header: string): Record<string, string>[] | undefined {
  const out: Record<string, string>[] = [];
  let pos = 0;
  for (;;) {
    pos += matchAt(SEPARATORS, header, pos)?.[0].length ?? 0;
    if (pos >= header.length) return out;
    const current = out[out.length - 1];
    const param = matchAt(PARAM, header, pos);
    if (param) {
      if (!current) return undefined;
      current[(param[1] as string).toLowerCase()] = unquote(param[2] as string);
      pos += param[0].length;
      continue;
    }
    const scheme = matchAt(SCHEME, header, pos);
    if (scheme) {
      out.push({ scheme: scheme[1] as string });
      pos += scheme[0].length;
      continue;
    }
    const nonDigest = current !== undefined && current.scheme?.toLowerCase() !== 'digest';
    const token = nonDigest ? matchAt(TOKEN68, header, pos) : null;
    if (!token) return undefined;
    pos += token[0].length;
  }
}

const REQUIRED = ['username', 'realm', 'nonce', 'uri', 'response'] as const;

function toCredentials(params: Record<string, string>): DigestCredentials | undefined {
  if ((params.scheme ?? '').toLowerCase() !== 'digest') return undefined;
  if (REQUIRED.some((name) => params[name] === undefined)) return undefined;
  return params as unknown as DigestCredentials;
}

export type CredentialsLookup =
  | { kind: 'none' }
  | { kind: 'malformed' }
  | { kind: 'other-realm'; username: string }
  | { kind: 'found'; credentials: DigestCredentials };

/**
 * Finds the Digest credentials meant for our realm. A client may carry credentials for other
 * realms too (RFC 3261 §22.3); those are not ours to judge and count as no credentials.
 */
export function findCredentials(header: string | undefined, realm: string): CredentialsLookup {
  if (header === undefined || header.trim() === '') return { kind: 'none' };
  const parsed = parseAuthorization(header);
  if (!parsed) return { kind: 'malformed' };
  const digests = parsed.filter((p) => (p.scheme ?? '').toLowerCase() === 'digest');
  if (digests.length === 0) return { kind: 'none' };
  if (digests.some((p) => p.realm === undefined)) return { kind: 'malformed' };
  const ours = digests.find((p) => p.realm === realm);
  if (!ours) return { kind: 'other-realm', username: digests[0]?.username ?? '' };
  const credentials = toCredentials(ours);
  return credentials ? { kind: 'found', credentials } : { kind: 'malformed' };
}

// ---- nonces -----------------------------------------------------------------------------------

type NonceState = 'fresh' | 'expired' | 'invalid';

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Request-URIs compare case-insensitively here; phones never differ from us in anything else. */
function sameUri(digestUri: string, requestUri: string): boolean {
  return digestUri === requestUri || digestUri.toLowerCase() === requestUri.toLowerCase();
}

export class DigestAuth {
  readonly realm: string;
  readonly nonceTtlMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: DigestAuthOptions) {
    this.realm = opts.realm;
    this.nonceTtlMs = (opts.nonceTtlS ?? DEFAULT_NONCE_TTL_S) * 1000;
    this.now = opts.now ?? Date.now;
  }

  private mac(secret: Buffer, body: string): string {
    return createHmac('sha256', secret).update(`${body}.${this.realm}`).digest().subarray(0, MAC_BYTES).toString('base64url');
  }

  /** timestamp(ms, base 36) "." random "." HMAC(secret, timestamp.random.realm) */
  createNonce(): string {
    const body = `${this.now().toString(36)}.${randomBytes(9).toString('base64url')}`;
    return `${body}.${this.mac(this.opts.secrets.current(), body)}`;
  }

  nonceState(nonce: string): NonceState {
    const parts = nonce.split('.');
    if (parts.length !== 3) return 'invalid';
    const [ts, rand, mac] = parts as [string, string, string];
    const body = `${ts}.${rand}`;
    if (!this.opts.secrets.all().some((s) => sameText(this.mac(s, body), mac))) return 'invalid';
    const issued = parseInt(ts, 36);
    const age = this.now() - issued;
    if (!Number.isFinite(issued) || age < -CLOCK_SKEW_MS) return 'invalid';
    return age > this.nonceTtlMs ? 'expired' : 'fresh';
  }

  /** The value of WWW-Authenticate (401) or Proxy-Authenticate (407). */
  challenge(stale = false): string {
    const parts = [`Digest realm="${this.realm}"`, `nonce="${this.createNonce()}"`, 'qop="auth"', 'algorithm=MD5'];
    if (stale) parts.push('stale=true');
    return parts.join(', ');
  }

  /** Checks credentials against the claimed user's HA1 (a dummy one for unknown users). */
  async verify(c: DigestCredentials, req: DigestRequest): Promise<DigestVerdict> {
    const fail = (reason: DigestFailure, stale = false): DigestVerdict => ({ ok: false, reason, stale });
    if (c.realm !== this.realm) return fail('wrong-realm');
    if (c.algorithm !== undefined && c.algorithm.toUpperCase() !== 'MD5') return fail('unsupported-algorithm');
    if (c.qop !== undefined && c.qop !== 'auth') return fail('unsupported-qop');
    if (c.qop !== undefined && (!/^[0-9a-fA-F]{8}$/.test(c.nc ?? '') || !c.cnonce)) return fail('malformed');
    if (c.qop !== undefined && parseInt(c.nc as string, 16) === 0) return fail('malformed');
    if (!sameUri(c.uri, req.uri)) return fail('wrong-uri');

    const expected = digestResponse({ ha1: req.ha1, nonce: c.nonce, method: req.method, uri: c.uri, qop: c.qop, nc: c.nc, cnonce: c.cnonce });
    const correct = sameText(expected, c.response.toLowerCase());
    const state = this.nonceState(c.nonce);
    // A right answer to a nonce we no longer accept means "retry with a new one", not "wrong password".
    if (state === 'invalid') return fail('bad-nonce', correct);
    if (!correct) return fail('wrong-response');
    if (state === 'expired') return fail('stale', true);
    if (c.qop !== undefined && this.opts.replayGuard) {
      const first = await this.opts.replayGuard.firstUse(c.nonce, c.nc as string, this.nonceTtlMs + CLOCK_SKEW_MS);
      if (!first) return fail('replay');
    }
    return { ok: true, username: c.username };
  }
}

// ---- shared state in Redis --------------------------------------------------------------------

/**
 * Remembers every nonce-count seen with a nonce until the nonce expires, so a captured request
 * cannot be replayed. A set rather than "highest nc" lets requests that overtake each other
 * (UDP, or a REGISTER and an INVITE sharing a nonce) both pass.
 */
export class RedisReplayGuard implements ReplayGuard {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async firstUse(nonce: string, nc: string, ttlMs: number): Promise<boolean> {
    const key = this.keys.digestNonceCounts(nonce);
    const result = await this.redis.multi().sadd(key, nc.toLowerCase()).pexpire(key, ttlMs).exec();
    const added = result?.[0]?.[1];
    return added === 1;
  }
}

const SECRET_BYTES = 32;
/** How often instances re-read the secret, so they agree again if Redis lost and recreated it. */
const SECRET_REFRESH_MS = 60_000;

/**
 * The nonce-signing secret shared by all instances: created once with SET NX, read by everyone.
 * The previous secret stays valid for verification after a change, so nonces handed out just
 * before it do not fail.
 */
export class SharedNonceSecret implements NonceSecrets {
  private secrets: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  static async load(redis: Redis, keys: RedisKeys, refreshMs = SECRET_REFRESH_MS): Promise<SharedNonceSecret> {
    const shared = new SharedNonceSecret(redis, keys);
    await shared.refresh();
    shared.timer = setInterval(() => void shared.refresh().catch(() => undefined), refreshMs);
    shared.timer.unref();
    return shared;
  }

  async refresh(): Promise<void> {
    const key = this.keys.digestNonceSecret();
    await this.redis.set(key, randomBytes(SECRET_BYTES).toString('hex'), 'NX');
    const hex = await this.redis.get(key);
    if (hex === null) throw new Error('nonce secret vanished from Redis right after it was set');
    const secret = Buffer.from(hex, 'hex');
    if (this.secrets[0]?.equals(secret)) return;
    this.secrets = [secret, ...this.secrets.slice(0, 1)];
  }

  current(): Buffer {
    const secret = this.secrets[0];
    if (!secret) throw new Error('nonce secret not loaded');
    return secret;
  }

  all(): readonly Buffer[] {
    return this.secrets;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
