import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ApiKey, Role } from '../config.js';
import { maskCaller } from '../events/mask.js';
import { ApiError } from './errors.js';

/** Who is asking: the role of their key and, for an operator key, whose key it is. */
export interface Principal {
  role: Role;
  /** Operator keys only: the operator's username. */
  operator?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    role?: Role;
    principal?: Principal;
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
const base64url = (b: Buffer): string => b.toString('base64url');

/** Where a token may stand in for a key: the event stream, for EventSource, which cannot set headers. */
export const EVENTS_PATH = '/v1/events';
/** Long enough to open the stream right after asking; short enough that a logged URL is useless. */
export const EVENT_TOKEN_TTL_MS = 60_000;

interface TokenPayload {
  r: Role;
  o?: string;
  /** Expiry, ms since the epoch. */
  e: number;
  /** Random, so two tokens asked for in one millisecond differ. */
  n: string;
}

/**
 * Checks a presented key against every configured one in constant time (comparing digests of equal
 * length), so response timing tells an attacker nothing about how close a guess was.
 *
 * Also issues and checks the short-lived tokens that open the event stream from a browser. They are
 * signed with a secret derived from all configured keys: every instance (they share API_KEYS)
 * accepts a token any of them issued, without shared state, and changing API_KEYS voids them all.
 */
export class ApiKeyAuth {
  private readonly keys: { digest: Buffer; principal: Principal }[];
  private readonly tokenSecret: Buffer;

  constructor(keys: ApiKey[]) {
    this.keys = keys.map((k) => ({ digest: digest(k.key), principal: k.operator === undefined ? { role: k.role } : { role: k.role, operator: k.operator } }));
    this.tokenSecret = digest(`switchboard event tokens\0${keys.map((k) => k.key).sort().join('\0')}`);
  }

  principalFor(presented: string): Principal | undefined {
    const d = digest(presented);
    let found: Principal | undefined;
    for (const k of this.keys) {
      if (timingSafeEqual(k.digest, d)) found = k.principal;
    }
    return found;
  }

  roleFor(presented: string): Role | undefined {
    return this.principalFor(presented)?.role;
  }

  /**
   * Accepts `Authorization: Bearer <key>` or `X-API-Key: <key>`; on the event stream also
   * `?token=` from issueToken().
   */
  authenticate(request: FastifyRequest): Principal {
    const presented = keyFrom(request);
    if (presented === undefined) {
      const token = eventToken(request);
      if (token !== undefined) return this.principalOfToken(token);
      throw new ApiError(401, 'unauthorized', 'an API key is required (Authorization: Bearer <key> or X-API-Key)');
    }
    const principal = this.principalFor(presented);
    if (principal === undefined) throw new ApiError(401, 'unauthorized', 'the API key is not valid');
    return principal;
  }

  /** A token that opens the event stream (only that) as `principal`, for EVENT_TOKEN_TTL_MS. */
  issueToken(principal: Principal, now = Date.now()): { token: string; expiresAt: number } {
    const payload: TokenPayload = { r: principal.role, e: now + EVENT_TOKEN_TTL_MS, n: base64url(randomBytes(9)) };
    if (principal.operator !== undefined) payload.o = principal.operator;
    const body = base64url(Buffer.from(JSON.stringify(payload)));
    return { token: `${body}.${this.sign(body)}`, expiresAt: payload.e };
  }

  /** The principal a token was issued to; undefined when it is forged, malformed or expired. */
  redeemToken(token: string, now = Date.now()): Principal | undefined {
    const [body, mac, extra] = token.split('.');
    if (body === undefined || mac === undefined || extra !== undefined) return undefined;
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let payload: TokenPayload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenPayload;
    } catch {
      return undefined;
    }
    if (typeof payload.e !== 'number' || payload.e <= now) return undefined;
    return payload.o === undefined ? { role: payload.r } : { role: payload.r, operator: payload.o };
  }

  private principalOfToken(token: string): Principal {
    const principal = this.redeemToken(token);
    if (principal === undefined) throw new ApiError(401, 'unauthorized', 'the token is not valid or has expired; ask POST /v1/events/tokens for a new one');
    return principal;
  }

  private sign(body: string): string {
    return base64url(createHmac('sha256', this.tokenSecret).update(body).digest());
  }
}

function keyFrom(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return match?.[1];
  }
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey !== '' ? apiKey : undefined;
}

/** `?token=` on GET /v1/events only: nowhere else may a credential travel in a URL. */
function eventToken(request: FastifyRequest): string | undefined {
  if (request.method !== 'GET') return undefined;
  const url = new URL(request.url, 'http://switchboard');
  if (url.pathname !== EVENTS_PATH) return undefined;
  return url.searchParams.get('token') ?? undefined;
}

/** Route guard: the caller's role must be one of these. */
export function requireRole(...allowed: Role[]) {
  return async (request: FastifyRequest): Promise<void> => {
    if (request.role !== undefined && allowed.includes(request.role)) return;
    throw new ApiError(403, 'forbidden', `this needs the ${allowed.join(' or ')} role`);
  };
}

/** What a role may see: masking of callers' numbers and, for operator keys, whose calls are theirs. */
export class Access {
  constructor(
    private readonly maskRoles: readonly Role[],
    private readonly operators: { operatorByUsername(username: string): { id: number } | undefined },
  ) {}

  /** True when this principal must see callers' numbers masked (MASK_CALLER_NUMBERS). */
  masks(principal: Principal | undefined): boolean {
    return principal === undefined || this.maskRoles.includes(principal.role);
  }

  /**
   * For an operator key, the id of its operator; undefined for admins and supervisors, who are
   * not limited to one operator. 403 when the key names an operator the configuration lacks.
   */
  ownOperator(principal: Principal | undefined): number | undefined {
    if (principal?.role !== 'operator') return undefined;
    const op = this.operators.operatorByUsername(principal.operator ?? '');
    if (!op) throw new ApiError(403, 'forbidden', `this key belongs to operator "${principal.operator ?? ''}", who is not configured`);
    return op.id;
  }

  /** Callers' numbers and names in a record as this principal may see them. */
  present<T extends { callerNumber?: unknown; callerName?: unknown }>(principal: Principal | undefined, item: T): T {
    if (!this.masks(principal)) return item;
    return maskCaller(item);
  }
}
