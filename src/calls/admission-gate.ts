import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { AdmissionControl, type MediaLoad, type RefusalKind, type Verdict } from '../sip/admission.js';
import type { CallRegistry } from './context.js';

/** What the gate reads the load from: this instance's calls and its media servers. */
export interface GateDeps {
  limits: Config['admission'];
  calls: CallRegistry;
  media: { loads(): (MediaLoad & { server: string })[] };
  /** How far behind its timers this process's event loop runs (LoopDelay). */
  loopDelay: { current(): number };
  log: Logger;
}

/** The figures /v1/metrics shows about admission. */
export interface AdmissionFigures {
  /** New calls refused since start, by why. */
  refused(): ReadonlyMap<RefusalKind, number>;
  /** Each connected media server's load. */
  media(): (MediaLoad & { server: string })[];
}

/** A refusal as the caller gets it: status, headers, and how the call is recorded. */
export interface Refusal {
  status: 503;
  reason: string;
  disposition: 'rejected' | 'failed';
  headers: Record<string, string>;
}

export const REFUSAL_KINDS: readonly RefusalKind[] = ['calls', 'rate', 'event-loop', 'match-delay', 'media-sessions', 'media-cpu', 'media-pending', 'media-unreachable'];

/**
 * The adapter around the admission decision: gathers its inputs for each new INVITE (`admit`) and
 * for each new call about to need the media server (`mediaRefusal`), counts and logs the
 * refusals, and says how to answer them. A call counts as in progress from the moment it
 * is admitted: until it is set up it is not in the call registry yet, so the gate keeps those
 * itself (a burst of INVITEs would otherwise all see the same count).
 */
export class AdmissionGate implements AdmissionFigures {
  private readonly control: AdmissionControl;
  private readonly settingUp = new Set<string>();
  private readonly counts = new Map<RefusalKind, number>(REFUSAL_KINDS.map((k) => [k, 0]));
  private lastWarnAt = Number.NEGATIVE_INFINITY;
  private refusedSinceWarn = 0;

  constructor(private readonly d: GateDeps) {
    this.control = new AdmissionControl(d.limits);
  }

  /**
   * Admits the new call `callId` (then `settled` must follow once it is set up or gone) or says
   * how to refuse it, by the calls in progress, the rate of new calls, how far behind this
   * instance runs and how long its callers rung first wait for an operator to be matched. The
   * media servers' load is asked later, by `mediaRefusal`, only of calls that turn out to need one.
   */
  admit(callId: string, now = Date.now()): Refusal | undefined {
    const verdict = this.control.decide({ now, callsInProgress: this.callsInProgress(), loopDelayMs: this.d.loopDelay.current(), matchDelayMs: this.d.calls.longestUnmatched(now) });
    if (verdict.admit) {
      this.settingUp.add(callId);
      return undefined;
    }
    return this.refuse(verdict, now);
  }

  /**
   * Asked by a new call (not yet answered) just before it first needs a media server endpoint:
   * how to refuse it when no media server can take another, else undefined. Endpoints for calls
   * already answered (an operator's leg, hold, a transfer) are never refused here.
   */
  mediaRefusal(now = Date.now()): Refusal | undefined {
    const verdict = this.control.decideMedia(this.d.media.loads());
    return verdict.admit ? undefined : this.refuse(verdict, now);
  }

  /** The admitted call is in the call registry now, or over. */
  settled(callId: string): void {
    this.settingUp.delete(callId);
  }

  refused(): ReadonlyMap<RefusalKind, number> {
    return this.counts;
  }

  media(): (MediaLoad & { server: string })[] {
    return this.d.media.loads();
  }

  private callsInProgress(): number {
    let pending = 0;
    for (const id of this.settingUp) if (!this.d.calls.get(id)) pending++;
    return this.d.calls.size + pending;
  }

  /** Counts and logs a refusal and says how to answer it. */
  private refuse(verdict: Extract<Verdict, { admit: false }>, now: number): Refusal {
    this.counts.set(verdict.kind, (this.counts.get(verdict.kind) ?? 0) + 1);
    this.warn(verdict, now);
    return this.refusal(verdict);
  }

  private refusal(verdict: Extract<Verdict, { admit: false }>): Refusal {
    // No media server at all is a failure as before, not a choice: no Retry-After promise.
    if (!verdict.overCapacity) {
      return { status: 503, reason: `Service Unavailable: ${verdict.reason}`, disposition: 'failed', headers: { Warning: warning(verdict.reason) } };
    }
    return {
      status: 503,
      reason: verdict.reason,
      disposition: 'rejected',
      headers: { 'Retry-After': String(this.d.limits.retryAfterS), Warning: warning(verdict.reason) },
    };
  }

  /** One line per ADMISSION_LOG_INTERVAL_SECONDS at most, not one per refused call under overload. */
  private warn(verdict: Extract<Verdict, { admit: false }>, now: number): void {
    this.refusedSinceWarn++;
    if (now - this.lastWarnAt < this.d.limits.logIntervalS * 1000) return;
    this.d.log.warn({ kind: verdict.kind, reason: verdict.reason, refused: this.refusedSinceWarn }, 'refusing new calls');
    this.lastWarnAt = now;
    this.refusedSinceWarn = 0;
  }
}

/** RFC 3261 §20.43: 399 "miscellaneous warning", from the switchboard, with the reason in quotes. */
function warning(reason: string): string {
  return `399 switchboard "${reason.replace(/["\\]/g, '')}"`;
}
