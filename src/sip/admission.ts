/**
 * Admission control: whether a new call may come in, decided from the load of this instance and
 * of its media servers before anything is answered or any media server endpoint is created. Past
 * capacity a new caller gets 503 at once; refusing early keeps the calls already accepted
 * working (past its limit the anchored path falls off a cliff: drachtio-fsmrf gives up waiting
 * for FreeSWITCH and calls fail half-way). No I/O: time and load are inputs.
 */

export interface AdmissionLimits {
  /** Calls in progress on this instance at most; 0 = no limit. */
  maxCalls: number;
  /** New calls per second on this instance at most (a token bucket holding one second's worth); 0 = no limit. */
  maxCallsPerSecond: number;
  /**
   * Sessions on a media server at most. Undefined: a share (MEDIA_SESSION_SHARE) of the server's
   * own Max-Sessions; 0 = no limit.
   */
  mediaMaxSessions: number | undefined;
  /** Lowest idle CPU (percent) a media server may report and still take new calls; 0 = no limit. */
  mediaMinIdleCpu: number;
  /** Endpoint creations in flight on a media server at most before new calls needing media are refused; 0 = no limit. */
  mediaMaxPending: number;
  /** How far behind its timers this instance's event loop may run (ms) before new calls are refused; 0 = no limit. */
  maxLoopDelayMs: number;
  /** How long a caller rung first may have waited for an operator to be matched (ms) before new calls are refused; 0 = no limit. */
  maxMatchDelayMs: number;
}

/** A media server's load: its last HEARTBEAT, brought up to date with this instance's own endpoints. */
export interface MediaLoad {
  /** Sessions now: the last HEARTBEAT's Session-Count plus the endpoints this instance made and lost since. */
  sessions: number;
  /** Max-Sessions; 0 or NaN until the first HEARTBEAT came. */
  maxSessions: number;
  /** Idle-CPU in percent; undefined or NaN until the first HEARTBEAT came. */
  idleCpu: number | undefined;
  /** Endpoints this instance asked for and does not have yet (FreeSWITCH has not connected back). */
  pending: number;
}

/**
 * The session count of a server now. A HEARTBEAT comes every 20 s, far too seldom to follow a
 * load that changes by dozens of calls a second; between two, the endpoints this instance opened
 * and closed since the last one are the change (other applications' sessions change only with
 * the next HEARTBEAT).
 */
export function sessionsNow(heartbeatSessions: number, ownAtHeartbeat: number, ownNow: number): number {
  const reported = Number.isFinite(heartbeatSessions) ? heartbeatSessions : 0;
  return Math.max(ownNow, reported + ownNow - ownAtHeartbeat);
}

export interface AdmissionInput {
  /** Milliseconds, any monotonic clock. */
  now: number;
  /** Calls this instance holds now, those being set up included. */
  callsInProgress: number;
  /** How far behind its timers this instance's event loop runs now, in ms (0 until first measured). */
  loopDelayMs: number;
  /** The longest a caller rung first, still unanswered, has waited so far for an operator to be matched, in ms. */
  matchDelayMs: number;
}

/** Why a call was refused, as the metric labels it. */
export type RefusalKind = 'calls' | 'rate' | 'event-loop' | 'match-delay' | 'media-sessions' | 'media-cpu' | 'media-pending' | 'media-unreachable';

export type Verdict =
  | { admit: true }
  | {
      admit: false;
      kind: RefusalKind;
      /** For the record, the Warning header and the log. */
      reason: string;
      /** Over capacity (the switchboard chose to refuse) rather than unable to take the call. */
      overCapacity: boolean;
    };

// Of FreeSWITCH's own Max-Sessions, what the switchboard lets its calls use when MEDIA_MAX_SESSIONS
// is not set: FreeSWITCH refuses sessions past Max-Sessions itself, half-way into a call.
export const MEDIA_SESSION_SHARE = 0.9;
// Once refusing, a limit counted in calls or sessions lets calls in again only this share below
// it (one at least), and the idle CPU this many points above its minimum: without it the verdict
// would flip with every call that starts or ends near the limit.
const COUNT_HYSTERESIS = 0.05;
const CPU_HYSTERESIS_POINTS = 5;
// Once refusing for a late event loop (or late matches), calls are let in again when it runs this
// share of the limit behind or less: an instance short of CPU catches up in bursts.
const DELAY_HYSTERESIS = 0.5;

/** How far below a count limit the load must fall before a tripped limit lets calls in again. */
function margin(limit: number): number {
  return Math.max(1, Math.ceil(limit * COUNT_HYSTERESIS));
}

/** Is `value` over `limit`: at or above it, or while tripped, above its hysteresis band? */
function over(value: number, limit: number, tripped: boolean): boolean {
  return tripped ? value > limit - margin(limit) : value >= limit;
}

/** Is a delay over its limit: at or above it, or while tripped, above the hysteresis share of it? */
function late(delay: number, limit: number, tripped: boolean): boolean {
  return tripped ? delay > limit * DELAY_HYSTERESIS : delay >= limit;
}

/** The session cap of one server, or undefined for none (switched off, or no HEARTBEAT yet). */
export function sessionCap(limits: AdmissionLimits, load: MediaLoad): number | undefined {
  if (limits.mediaMaxSessions === 0) return undefined;
  if (limits.mediaMaxSessions !== undefined) return limits.mediaMaxSessions;
  if (!(load.maxSessions > 0)) return undefined;
  return Math.max(1, Math.floor(load.maxSessions * MEDIA_SESSION_SHARE));
}

/** Why this server cannot take another call, or undefined when it can. */
function mediaFullness(limits: AdmissionLimits, load: MediaLoad, tripped: boolean): { kind: RefusalKind; reason: string } | undefined {
  // First: endpoints pile up in flight when FreeSWITCH answers too slowly, seconds before its
  // session count or idle CPU says so and before drachtio-fsmrf gives up on them (4 s).
  if (limits.mediaMaxPending > 0 && over(load.pending, limits.mediaMaxPending, tripped)) {
    return { kind: 'media-pending', reason: `media server endpoints in flight: ${load.pending} (limit ${limits.mediaMaxPending})` };
  }
  const cap = sessionCap(limits, load);
  if (cap !== undefined && over(load.sessions, cap, tripped)) {
    return { kind: 'media-sessions', reason: `media server at ${load.sessions} sessions (limit ${cap})` };
  }
  const idle = load.idleCpu;
  if (limits.mediaMinIdleCpu > 0 && idle !== undefined && Number.isFinite(idle)) {
    const floor = tripped ? limits.mediaMinIdleCpu + CPU_HYSTERESIS_POINTS : limits.mediaMinIdleCpu;
    if (idle < floor) return { kind: 'media-cpu', reason: `media server idle CPU ${Math.round(idle)} % (minimum ${limits.mediaMinIdleCpu} %)` };
  }
  return undefined;
}

/**
 * The admission decision of one instance, in two parts: `decide` when a new call arrives (calls
 * in progress, rate), `decideMedia` when a new call is about to need a media server endpoint (a
 * call connected phone to phone never asks). Stateful only in what it must remember: the token
 * bucket of new calls and which limits tripped (for hysteresis). Calls refused take no token.
 */
export class AdmissionControl {
  private tokens: number;
  private refilledAt: number | undefined;
  private callsTripped = false;
  private loopTripped = false;
  private matchTripped = false;
  private mediaTripped = false;

  constructor(private readonly limits: AdmissionLimits) {
    this.tokens = limits.maxCallsPerSecond;
  }

  decide(input: AdmissionInput): Verdict {
    this.refill(input.now);
    const refusal = this.refusal(input);
    if (refusal) return { admit: false, ...refusal };
    if (this.limits.maxCallsPerSecond > 0) this.tokens -= 1;
    return { admit: true };
  }

  private refusal(input: AdmissionInput): Omit<Extract<Verdict, { admit: false }>, 'admit'> | undefined {
    const { maxCalls, maxCallsPerSecond } = this.limits;
    if (maxCalls > 0) {
      this.callsTripped = over(input.callsInProgress, maxCalls, this.callsTripped);
      if (this.callsTripped) return { kind: 'calls', reason: `over capacity: ${input.callsInProgress} calls in progress (limit ${maxCalls})`, overCapacity: true };
    }
    const delay = input.loopDelayMs;
    if (this.limits.maxLoopDelayMs > 0) {
      const limit = this.limits.maxLoopDelayMs;
      this.loopTripped = late(delay, limit, this.loopTripped);
      if (this.loopTripped) return { kind: 'event-loop', reason: `over capacity: the switchboard runs ${Math.round(delay)} ms behind (limit ${limit} ms)`, overCapacity: true };
    }
    const match = input.matchDelayMs;
    if (this.limits.maxMatchDelayMs > 0) {
      const limit = this.limits.maxMatchDelayMs;
      this.matchTripped = late(match, limit, this.matchTripped);
      if (this.matchTripped) return { kind: 'match-delay', reason: `over capacity: a caller has waited ${Math.round(match)} ms for an operator to be matched (limit ${limit} ms)`, overCapacity: true };
    }
    if (maxCallsPerSecond > 0 && this.tokens < 1) {
      return { kind: 'rate', reason: `over capacity: more than ${maxCallsPerSecond} new calls per second`, overCapacity: true };
    }
    return undefined;
  }

  /** Whether a new call may have an endpoint on one of `media` (the servers connected now). */
  decideMedia(media: readonly MediaLoad[]): Verdict {
    // Not a matter of load: nothing could take the call. Recorded as a failure, as before.
    if (media.length === 0) return { admit: false, kind: 'media-unreachable', reason: 'no media server', overCapacity: false };
    // Refuses only when no server can take the call; any one with room is enough.
    const full = media.map((load) => mediaFullness(this.limits, load, this.mediaTripped));
    this.mediaTripped = full.every((f) => f !== undefined);
    const first = full[0];
    if (!this.mediaTripped || !first) return { admit: true };
    return { admit: false, kind: first.kind, reason: `over capacity: ${first.reason}`, overCapacity: true };
  }

  private refill(now: number): void {
    const rate = this.limits.maxCallsPerSecond;
    if (rate <= 0) return;
    const elapsedS = this.refilledAt === undefined ? 0 : Math.max(0, now - this.refilledAt) / 1000;
    this.tokens = Math.min(rate, this.tokens + elapsedS * rate);
    this.refilledAt = now;
  }
}
