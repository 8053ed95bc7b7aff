/**
 * Feature codes: an operator dials *21 (log in), *22 (log out), *23 (break) or *24 (back from a
 * break) on their phone. The INVITE is challenged with 407 and the digest proves who dials, so
 * codes need neither a route nor a trusted source. The switchboard applies the change, answers
 * onto the media server, plays a short tone (confirm, or refuse when the change makes no sense
 * in the operator's state) and hangs up.
 *
 * Wrong passwords and floods are treated exactly as the registrar treats them: the same
 * credentials lookup, the same per-source failure counter in Redis (so a flood split between
 * REGISTER and INVITE still hits one limit), and unknown users checked against a dummy HA1.
 */
import { createHash, randomBytes } from 'node:crypto';
import type Mrf from 'drachtio-fsmrf';
import type { OperatorEvent } from '../acd/operator-rules.js';
import type { AppliedTransition } from '../acd/operator-store.js';
import type { Pool } from '../db/pool.js';
import { isConnected, type AnsweredCall } from '../media/answer.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { CredentialsCache, type OperatorCredentials, type SipCredentials } from '../registrar/credentials.js';
import { FailureLimiter } from '../registrar/failure-limiter.js';
import { DigestAuth, findCredentials, RedisReplayGuard, SharedNonceSecret } from '../sip/digest-auth.js';
import { bounded, hangUpDialog, publishLive, settleOnce, unpublishLive, type Arrival } from './arrival.js';
import type { ActiveCall, CallContext } from './context.js';
import { releaseEndpoint } from '../media/endpoint.js';

export type FeatureCode = '*21' | '*22' | '*23' | '*24';

interface CodeMeaning {
  event: OperatorEvent;
  what: string;
}

export const FEATURE_CODES: Readonly<Record<FeatureCode, CodeMeaning>> = {
  '*21': { event: { type: 'login' }, what: 'log in' },
  '*22': { event: { type: 'logout' }, what: 'log out' },
  '*23': { event: { type: 'break' }, what: 'break' },
  '*24': { event: { type: 'back' }, what: 'back from break' },
};

// The tone lasts well under a second; a media server that never reports the end of playback
// must not keep the operator's phone off-hook.
const PROMPT_MAX_MS = 4_000;
// What an unknown user's credentials are checked against: no password hashes to it.
const DUMMY_HA1 = createHash('md5').update(randomBytes(16)).digest('hex');

/**
 * The feature code dialled, if any. Some phones escape '*' in the Request-URI (%2A); both forms
 * mean the same code.
 */
export function featureCodeOf(dialled: string): FeatureCode | undefined {
  let text = dialled;
  try {
    text = decodeURIComponent(dialled);
  } catch {
    // Not valid percent-encoding: take it as it is.
  }
  return Object.hasOwn(FEATURE_CODES, text) ? (text as FeatureCode) : undefined;
}

/** For the record: "break: now on-break", "log out: now busy (logged-out pending)", "back from break: refused". */
function describeChange(code: FeatureCode, change: AppliedTransition | undefined): string {
  const what = FEATURE_CODES[code].what;
  if (!change) return `${what}: refused`;
  const pending = change.status.pending ? ` (${change.status.pending} pending)` : '';
  return `${what}: now ${change.to}${pending}`;
}

/** What checks an INVITE's Proxy-Authorization: the registrar's pieces, for 407 instead of 401. */
export interface FeatureCodeAuth {
  auth: DigestAuth;
  credentials: CredentialsCache;
  limiter: FailureLimiter;
}

export async function createFeatureCodeAuth(d: { redis: Redis; keys: RedisKeys; pool: Pool; realm: string }): Promise<FeatureCodeAuth & { stop(): void }> {
  const secret = await SharedNonceSecret.load(d.redis, d.keys);
  const auth = new DigestAuth({ realm: d.realm, secrets: secret, replayGuard: new RedisReplayGuard(d.redis, d.keys) });
  const credentials = new CredentialsCache(d.pool);
  return {
    auth,
    credentials,
    limiter: new FailureLimiter(d.redis, d.keys),
    stop: () => {
      secret.stop();
      credentials.clear();
    },
  };
}

function header(a: Arrival, name: string): string | undefined {
  const value = a.req.get(name) as unknown;
  return typeof value === 'string' ? value : undefined;
}

function challenge(a: Arrival, auth: DigestAuth, stale: boolean): void {
  a.res.send(407, 'Proxy Authentication Required', { headers: { 'Proxy-Authenticate': auth.challenge(stale) } });
  a.log.debug({ stale }, 'feature code challenged');
}

/** 403 with a record, counted against the source like a failed REGISTER. */
async function authFailed(a: Arrival, fa: FeatureCodeAuth, username: string | undefined, reason: string): Promise<void> {
  a.refuse(403, `Forbidden: authentication failed (${reason})`, 'rejected');
  a.log.warn({ username, source: a.req.source_address, reason }, 'feature code authentication failed');
  if (!(await fa.limiter.fail(a.req.source_address))) return;
  a.log.warn(
    { source: a.req.source_address, failures: fa.limiter.limit, windowS: fa.limiter.windowS },
    'too many failed authentications from this address: refusing its credentials until the window ends',
  );
}

/**
 * Who dials (an operator or an extension), or undefined once the INVITE has been answered 407 or
 * 403. Each code then checks that the caller is of the kind it serves.
 */
export async function authenticateCaller(a: Arrival, fa: FeatureCodeAuth): Promise<SipCredentials | undefined> {
  const found = findCredentials(header(a, 'Proxy-Authorization'), fa.auth.realm);
  if (found.kind === 'none' || found.kind === 'other-realm') return void challenge(a, fa.auth, false);
  if (await fa.limiter.blocked(a.req.source_address)) {
    // Refused unchecked, as the registrar does: a flood costs one Redis GET per request.
    a.refuse(403, 'Forbidden: too many failed authentications', 'rejected');
    return undefined;
  }
  if (found.kind === 'malformed') return void (await authFailed(a, fa, undefined, 'malformed'));
  const c = found.credentials;
  const user = await fa.credentials.get(c.username);
  const verdict = await fa.auth.verify(c, { method: 'INVITE', uri: a.req.uri, ha1: user?.ha1 ?? DUMMY_HA1 });
  if (verdict.ok && user) return user;
  if (!verdict.ok && verdict.stale) return void challenge(a, fa.auth, true);
  await authFailed(a, fa, c.username, verdict.ok ? 'wrong-response' : verdict.reason);
  return undefined;
}

/**
 * Handles an INVITE to a feature code from challenge to hang-up. Without a media server the
 * change is not made at all (503): an operator who hears nothing must be able to assume nothing
 * happened.
 */
export async function handleFeatureCode(ctx: CallContext, fa: FeatureCodeAuth, a: Arrival, code: FeatureCode): Promise<void> {
  const who = await authenticateCaller(a, fa);
  if (!who) return;
  if (who.kind !== 'operator') return a.refuse(403, 'Forbidden: feature codes are for operators', 'rejected');
  const ms = ctx.media.pick();
  if (!ms) return a.refuse(503, 'Service Unavailable: no media server', 'failed');
  const call = new FeatureCodeCall(ctx, a, who, code);
  ctx.calls.add(call);
  await call.run(ms);
}

/** One feature-code call: a few seconds from the answer to the hang-up. */
class FeatureCodeCall implements ActiveCall {
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  private answered: AnsweredCall | undefined;
  private hungUp: string | undefined;

  constructor(
    private readonly ctx: CallContext,
    private readonly a: Arrival,
    private readonly who: OperatorCredentials,
    private readonly code: FeatureCode,
  ) {}

  get callId(): string {
    return this.a.callId;
  }

  waiting(): undefined {
    return undefined;
  }

  hangup(reason: string): void {
    this.hungUp = reason;
    if (this.answered) hangUpDialog(this.answered.dialog);
  }

  async run(ms: Mrf.MediaServer): Promise<void> {
    try {
      await this.carryOut(ms);
    } finally {
      await unpublishLive(this.ctx, this.callId);
      this.settled.resolve();
    }
  }

  private async carryOut(ms: Mrf.MediaServer): Promise<void> {
    const { a, code } = this;
    let change: AppliedTransition | undefined;
    try {
      change = await this.apply();
    } catch (err) {
      a.log.warn({ err: (err as Error).message }, 'cannot change the operator\'s state');
      return a.refuse(503, 'Service Unavailable: operator state unavailable', 'failed');
    }
    a.log.info({ operator: this.who.username, code, done: change !== undefined, to: change?.to }, `feature code: ${FEATURE_CODES[code].what}`);
    await publishLive(this.ctx, a, 'connected', this.who.operatorId).catch(() => undefined);
    const answered = await this.answer(ms);
    if (!answered) return;
    const tone = change ? this.ctx.prompts.confirm : this.ctx.prompts.refuse;
    if (this.hungUp === undefined) await bounded(answered.endpoint.play(tone), PROMPT_MAX_MS);
    // Usually the switchboard hangs up after the tone; an impatient operator may have already.
    const by = isConnected(answered.dialog) ? 'system' : 'caller';
    hangUpDialog(answered.dialog);
    await releaseEndpoint(answered.endpoint);
    const at = Date.now();
    const reason = this.hungUp ?? describeChange(code, change);
    a.leg.end(at, by, 200, reason);
    a.recorder.end({ at, hangupBy: by, sipStatus: 200, sipReason: reason, disposition: change ? 'answered' : 'rejected' });
  }

  /** Answers onto the media server; undefined (and recorded) when that cannot be done. */
  private async answer(ms: Mrf.MediaServer): Promise<AnsweredCall | undefined> {
    const { a } = this;
    this.answered = await a.answerOnto(ms);
    if (!this.answered) return undefined;
    const at = Date.now();
    a.leg.answered(at);
    a.recorder.answered(at, { id: this.who.operatorId, username: this.who.username });
    return this.answered;
  }

  /** The change made, or undefined when it makes no sense in the operator's state now. */
  private async apply(): Promise<AppliedTransition | undefined> {
    try {
      return await this.ctx.operators.apply(this.who.operatorId, FEATURE_CODES[this.code].event);
    } catch (err) {
      if ((err as Error).name === 'TransitionRefused') return undefined;
      throw err;
    }
  }
}
