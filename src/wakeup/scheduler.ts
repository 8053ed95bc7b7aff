/**
 * Every instance runs one scheduler: every POLL_MS it claims the due bookings (one indexed query
 * each, FOR UPDATE SKIP LOCKED, see WakeupStore.claimDue) and carries each out: an attempt
 * (WakeupCall), a missed occurrence when the switchboard was down longer than the grace period,
 * or, after the last failed try, the escalation to an operator. The lease on a claim is renewed
 * while the attempt lasts; if this instance dies, another takes the booking over when the lease
 * runs out and counts the unfinished attempt as failed.
 */
import type { CallContext } from '../calls/context.js';
import type { WakeupConfig } from '../config.js';
import type { Logger } from '../log.js';
import { escalate } from './escalation.js';
import { afterAttempt, dueAction, type AttemptResult } from './plan.js';
import { progressOf, type Claim, type WakeupStore } from './store.js';
import { WakeupCall } from './wakeup-call.js';

const POLL_MS = 500;
const LEASE_MS = 30_000;
const RENEW_MS = 10_000;
// Bookings claimed in one poll at most; the rest wait for the next poll (half a second).
const MAX_CLAIMS_PER_POLL = 50;

export interface SchedulerDeps {
  ctx: CallContext;
  store: WakeupStore;
  config: WakeupConfig;
  log: Logger;
  /** Whether calls can be placed now (SIP and media servers connected, not shutting down). */
  canCall(): boolean;
}

export class WakeupScheduler {
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly d: SchedulerDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
  }

  /** Stops claiming; waits (bounded) for the bookings in hand to be written back. */
  async stop(waitMs: number): Promise<void> {
    clearInterval(this.timer);
    const all = Promise.all([...this.inFlight]);
    await Promise.race([all, new Promise((r) => setTimeout(r, waitMs).unref())]);
  }

  private async poll(): Promise<void> {
    if (this.polling || !this.d.canCall()) return;
    this.polling = true;
    try {
      for (let i = 0; i < MAX_CLAIMS_PER_POLL; i++) {
        const claim = await this.d.store.claimDue(this.d.ctx.instanceId, LEASE_MS);
        if (!claim) return;
        const work = this.handle(claim).catch((err: Error) => this.d.log.error({ err: err.message, wakeup: claim.booking.id }, 'wake-up booking failed; its claim runs out and it is tried again'));
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      }
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'cannot poll for wake-up calls');
    } finally {
      this.polling = false;
    }
  }

  private async handle(claim: Claim): Promise<void> {
    const b = claim.booking;
    if (claim.staleAttempt) {
      this.d.log.warn({ wakeup: b.id }, 'wake-up attempt of an instance gone counted as failed');
      return this.settle(claim, 'failed');
    }
    if (dueAction(progressOf(b), Date.now(), this.d.config.graceS * 1000) === 'missed') {
      this.d.log.warn({ wakeup: b.id, extension: b.extension, due: b.nextDueAt }, 'wake-up call missed: due while the switchboard was down, beyond the grace period');
      await this.d.store.recordMissed(claim, b.occurrenceAt ?? (b.nextDueAt as string), b.attempt + 1, this.d.ctx.instanceId);
      return this.settle(claim, 'missed');
    }
    const call = new WakeupCall(this.d.ctx, { bookingId: b.id, extension: b.extension, ringTimeoutS: b.ringTimeoutS });
    const attemptId = await this.d.store.startAttempt(claim, b.occurrenceAt ?? (b.nextDueAt as string), b.attempt + 1, this.d.ctx.instanceId, call.callId);
    if (attemptId === undefined) return; // changed or cancelled since the claim
    this.d.ctx.calls.add(call);
    const renewal = setInterval(() => void this.d.store.renew(b.id, claim.token, LEASE_MS).catch(() => undefined), RENEW_MS);
    try {
      await call.start();
      const outcome = await call.outcome;
      await this.d.store.endAttempt(attemptId, outcome.result, outcome.sipStatus);
      await this.settle(claim, outcome.result);
    } finally {
      clearInterval(renewal);
    }
  }

  /** Moves the booking on after an attempt: retry, next day, done, or escalation. */
  private async settle(claim: Claim, result: AttemptResult): Promise<void> {
    const b = claim.booking;
    const next = afterAttempt(b, progressOf(b), result, Date.now());
    let escalationCallId: string | undefined;
    if (next.escalate) {
      const placed = await escalate(this.d.ctx, { bookingId: b.id, extension: b.extension, queueNumber: b.escalationQueue ?? this.d.config.escalationQueue ?? null, note: b.note });
      if ('error' in placed) this.d.log.error({ wakeup: b.id, extension: b.extension, why: placed.error }, 'wake-up not answered and no operator can be called');
      else escalationCallId = placed.callId;
    }
    if (!(await this.d.store.settle(claim, next, escalationCallId))) this.d.log.info({ wakeup: b.id }, 'wake-up booking changed meanwhile; its new settings stand');
  }
}
