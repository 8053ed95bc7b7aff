/**
 * The REGISTER handler (RFC 3261 §10.3) for operators' softphones: digest authentication against
 * the operators table, bindings in Redis, and a per-source limit on failed authentications.
 *
 * Unknown users are treated exactly like known users with a wrong password (challenge, then 403,
 * checked against a dummy HA1 so even the work done is the same): a 404 would tell an attacker
 * which usernames exist.
 */
import { createHash, randomBytes } from 'node:crypto';
import type Srf from 'drachtio-srf';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../log.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { DigestAuth, findCredentials, RedisReplayGuard, SharedNonceSecret, type DigestCredentials } from '../sip/digest-auth.js';
import { parseNameAddr, uriUser } from './contact.js';
import { CredentialsCache } from './credentials.js';
import { DEFAULT_FAILURE_LIMIT, DEFAULT_FAILURE_WINDOW_S, FailureLimiter } from './failure-limiter.js';
import { planRegister, type ExpiryLimits, type PlannedContact, type RegisterPlan } from './rules.js';
import { BindingStore, type ApplyResult, type Binding, type BindingSource } from './store.js';

export type { Binding, BindingSource } from './store.js';

export interface Registrar {
  /** The operator's current bindings, oldest first: where to ring their phones. */
  contacts(username: string): Promise<Binding[]>;
  /** After Redis lost its data: writes back the unexpired bindings this instance knows of. */
  restoreBindings(): Promise<number>;
  close(): void;
}

export interface RegistrarDeps {
  pool: Pool;
  redis: Redis;
  keys: RedisKeys;
  /** The digest realm; operators' HA1s are computed with it (SIP_DOMAIN). */
  realm: string;
  log: Logger;
  minExpires?: number;
  maxExpires?: number;
  defaultExpires?: number;
  /** Failed authentications from one source address before it is refused outright. */
  failureLimit?: number;
  failureWindowS?: number;
  /** Bindings one operator may hold at once. */
  maxContacts?: number;
}

export const DEFAULT_MIN_EXPIRES = 60;
export const DEFAULT_MAX_EXPIRES = 3600;
export const DEFAULT_EXPIRES = 3600;

interface Context {
  req: Srf.SrfRequest;
  res: Srf.SrfResponse;
  source: BindingSource;
  /** "address:port/protocol" for log lines. */
  from: string;
}

interface Parts {
  auth: DigestAuth;
  limiter: FailureLimiter;
  credentials: CredentialsCache;
  store: BindingStore;
  limits: ExpiryLimits;
  log: Logger;
}

// What an unknown user's credentials are checked against: no password hashes to it.
const DUMMY_HA1 = createHash('md5').update(randomBytes(16)).digest('hex');

function remaining(binding: Binding, now: number): number {
  return Math.max(0, Math.ceil((binding.expiresAt - now) / 1000));
}

/** The 200 OK's Contact: every current binding with the seconds it has left (§10.3 step 8). */
export function contactList(bindings: Binding[], now: number): string {
  return bindings
    .map((b) => {
      const q = b.params.q ? `;q=${b.params.q}` : '';
      return `<${b.contact}>;expires=${remaining(b, now)}${q}`;
    })
    .join(', ');
}

function header(req: Srf.SrfRequest, name: string): string | undefined {
  const value = req.get(name) as string | undefined;
  return typeof value === 'string' ? value : undefined;
}

function userOf(req: Srf.SrfRequest, name: 'To' | 'From'): string | undefined {
  const value = header(req, name);
  const parsed = value === undefined ? undefined : parseNameAddr(value);
  return parsed ? uriUser(parsed.uri) : undefined;
}

function cseqOf(req: Srf.SrfRequest): number | undefined {
  const m = /^\s*(\d{1,10})\s+REGISTER\s*$/i.exec(header(req, 'CSeq') ?? '');
  return m ? Number(m[1]) : undefined;
}

class RegisterHandler {
  constructor(private readonly p: Parts) {}

  async handle(ctx: Context): Promise<void> {
    const found = findCredentials(header(ctx.req, 'Authorization'), this.p.auth.realm);
    if (found.kind === 'none' || found.kind === 'other-realm') return this.challenge(ctx, false);
    if (await this.p.limiter.blocked(ctx.source.address)) {
      // Refused without looking at the credentials: a flood costs one Redis GET per request.
      this.p.log.debug({ source: ctx.from }, 'REGISTER from a source over its failure limit refused');
      return this.send(ctx, 403);
    }
    if (found.kind === 'malformed') return this.failed(ctx, undefined, 'malformed');
    const username = await this.authenticate(ctx, found.credentials);
    if (username === undefined) return;
    await this.register(ctx, username);
  }

  /** The authenticated username, or undefined once a 401/403 has been sent. */
  private async authenticate(ctx: Context, credentials: DigestCredentials): Promise<string | undefined> {
    const operator = await this.p.credentials.get(credentials.username);
    const verdict = await this.p.auth.verify(credentials, { method: 'REGISTER', uri: ctx.req.uri, ha1: operator?.ha1 ?? DUMMY_HA1 });
    if (verdict.ok && operator) return operator.username;
    if (!verdict.ok && verdict.stale) {
      this.challenge(ctx, true);
      return undefined;
    }
    const reason = verdict.ok ? 'wrong-response' : verdict.reason;
    // The two URIs are no secret and are the only way to see why a phone's digest-uri differs.
    const uris = reason === 'wrong-uri' ? { digestUri: credentials.uri, requestUri: ctx.req.uri } : {};
    await this.failed(ctx, credentials.username, reason, uris);
    return undefined;
  }

  private async register(ctx: Context, username: string): Promise<void> {
    const log = this.p.log.child({ username, source: ctx.from });
    const toUser = userOf(ctx.req, 'To');
    const fromUser = userOf(ctx.req, 'From');
    if (toUser !== username || fromUser !== username) {
      // Authenticated, but registering someone else: no third-party registration here.
      log.warn({ to: toUser, from: fromUser }, 'REGISTER for another user refused');
      return this.send(ctx, 403, 'Not Your Address');
    }
    const callId = header(ctx.req, 'Call-ID');
    const cseq = cseqOf(ctx.req);
    if (callId === undefined || cseq === undefined) return this.send(ctx, 400, 'Bad Call-ID Or CSeq');

    const plan = planRegister(header(ctx.req, 'Contact'), header(ctx.req, 'Expires'), this.p.limits);
    await this.carryOut(ctx, username, plan, { callId, cseq }, log);
  }

  private async carryOut(ctx: Context, username: string, plan: RegisterPlan, id: { callId: string; cseq: number }, log: Logger): Promise<void> {
    const { callId, cseq } = id;
    const now = Date.now();
    switch (plan.kind) {
      case 'reject':
        log.info({ status: plan.status, reason: plan.reason }, 'REGISTER refused');
        if (plan.status === 423) return this.send(ctx, 423, plan.reason, { 'Min-Expires': String(plan.minExpires) });
        return this.send(ctx, 400, plan.reason);
      case 'query':
        return this.ok(ctx, await this.p.store.list(username, now), now);
      case 'remove-all': {
        const result = await this.p.store.removeAll(username, { callId, cseq, now });
        if (result.status === 'ok') log.info('all registrations removed');
        return this.reply(ctx, result, now, log);
      }
      case 'update': {
        const userAgent = header(ctx.req, 'User-Agent');
        const change = { callId, cseq, now, source: ctx.source, ...(userAgent === undefined ? {} : { userAgent }) };
        const result = await this.p.store.apply(username, plan.contacts, change);
        if (result.status === 'ok') log.info({ changes: describe(plan.contacts), bindings: result.bindings.length }, 'registration updated');
        return this.reply(ctx, result, now, log);
      }
    }
  }

  private reply(ctx: Context, result: ApplyResult, now: number, log: Logger): void {
    if (result.status === 'ok') return this.ok(ctx, result.bindings, now);
    if (result.status === 'too-many') {
      log.warn('REGISTER refused: too many contacts for one operator');
      return this.send(ctx, 403, 'Too Many Contacts');
    }
    // §10.3 step 7: an older request (same Call-ID, CSeq not higher) must not undo a newer one.
    log.info('REGISTER out of order (Call-ID/CSeq) ignored');
    return this.send(ctx, 500, 'Out Of Order Registration');
  }

  private ok(ctx: Context, bindings: Binding[], now: number): void {
    const headers: Record<string, string> = { Date: new Date(now).toUTCString() };
    if (bindings.length > 0) headers.Contact = contactList(bindings, now);
    this.send(ctx, 200, 'OK', headers);
  }

  private challenge(ctx: Context, stale: boolean): void {
    this.send(ctx, 401, 'Unauthorized', { 'WWW-Authenticate': this.p.auth.challenge(stale) });
  }

  /** 403, counted against the source; the log names user, source and reason, never a secret. */
  private async failed(ctx: Context, username: string | undefined, reason: string, extra: object = {}): Promise<void> {
    this.send(ctx, 403);
    this.p.log.warn({ username, source: ctx.from, reason, ...extra }, 'REGISTER authentication failed');
    const reachedLimit = await this.p.limiter.fail(ctx.source.address);
    if (!reachedLimit) return;
    this.p.log.warn(
      { source: ctx.source.address, failures: this.p.limiter.limit, windowS: this.p.limiter.windowS },
      'too many failed REGISTER authentications from this address: refusing its credentials until the window ends',
    );
  }

  send(ctx: Context, status: number, reason?: string, headers: Record<string, string> = {}): void {
    if (ctx.res.finalResponseSent) return;
    ctx.res.send(status, reason ?? '', { headers });
  }
}

function describe(contacts: PlannedContact[]): string[] {
  return contacts.map((c) => `${c.uri} ${c.expires === 0 ? 'removed' : `for ${c.expires}s`}`);
}

function sourceOf(req: Srf.SrfRequest): BindingSource {
  return { address: req.source_address, port: Number(req.source_port), protocol: String(req.protocol).toLowerCase() };
}

/**
 * Answers every REGISTER that reaches this instance. The nonce secret is read from Redis in the
 * background; requests arriving before it is there wait for it.
 */
export function attachRegistrar(srf: Srf, deps: RegistrarDeps): Registrar {
  const { log } = deps;
  const store = new BindingStore(deps.redis, deps.keys, deps.maxContacts);
  const limits: ExpiryLimits = {
    min: deps.minExpires ?? DEFAULT_MIN_EXPIRES,
    max: deps.maxExpires ?? DEFAULT_MAX_EXPIRES,
    default: deps.defaultExpires ?? DEFAULT_EXPIRES,
  };
  const limiter = new FailureLimiter(deps.redis, deps.keys, deps.failureLimit ?? DEFAULT_FAILURE_LIMIT, deps.failureWindowS ?? DEFAULT_FAILURE_WINDOW_S);
  const credentials = new CredentialsCache(deps.pool);
  let closed = false;
  let secret: SharedNonceSecret | undefined;
  let handler: Promise<RegisterHandler> | undefined;

  const ready = (): Promise<RegisterHandler> => {
    handler ??= SharedNonceSecret.load(deps.redis, deps.keys).then((loaded) => {
      secret = loaded;
      if (closed) loaded.stop();
      const auth = new DigestAuth({ realm: deps.realm, secrets: loaded, replayGuard: new RedisReplayGuard(deps.redis, deps.keys) });
      return new RegisterHandler({ auth, limiter, credentials, store, limits, log });
    });
    // A Redis outage at start must not poison every later REGISTER: try again next time.
    handler.catch(() => (handler = undefined));
    return handler;
  };
  void ready().catch((err: Error) => log.warn({ err: err.message }, 'registrar: cannot read the nonce secret from Redis yet'));

  srf.use('register', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    const source = sourceOf(req);
    const ctx: Context = { req, res, source, from: `${source.address}:${source.port}/${source.protocol}` };
    if (closed) return void res.send(503);
    ready()
      .then((h) => h.handle(ctx))
      .catch((err: Error) => {
        log.error({ err: err.message, source: ctx.from }, 'REGISTER failed');
        if (!res.finalResponseSent) res.send(500);
      });
  });

  return {
    contacts: (username) => store.list(username),
    restoreBindings: () => store.restore(),
    close: () => {
      closed = true;
      secret?.stop();
      credentials.clear();
    },
  };
}
