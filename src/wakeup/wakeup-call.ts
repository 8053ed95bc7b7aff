/**
 * One attempt of a wake-up booking: a call of its own (call id, record, one outbound leg with
 * role 'guest') that rings every registered phone of the extension from a media server endpoint,
 * plays the wake-up prompt to whoever answers and hangs up. Its outcome is the attempt's result.
 */
import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import { randomUUID } from 'node:crypto';
import { bounded, hangUpDialog, settleOnce } from '../calls/arrival.js';
import type { ActiveCall, CallContext } from '../calls/context.js';
import { OperatorRing } from '../calls/operator-ring.js';
import { CallRecorder, type LegRecorder } from '../cdr/call-recorder.js';
import { publishCallEvent } from '../events/call-events.js';
import { callLogger, type Logger } from '../log.js';
import { isConnected } from '../media/answer.js';
import { releaseEndpoint } from '../media/endpoint.js';
import { reach } from '../sip/reach.js';
import { failureResult, type AttemptResult } from './plan.js';

/** What the phone shows as the caller. */
export const WAKEUP_FROM_NUMBER = 'wakeup';
export const WAKEUP_FROM_NAME = 'Wake-up call';
// A prompt that never ends (a broken file on a live stream) must not hold the line for ever.
const PROMPT_MAX_MS = 120_000;

export interface AttemptOutcome {
  result: AttemptResult;
  sipStatus: number | null;
}

export interface WakeupTarget {
  bookingId: number;
  extension: string;
  ringTimeoutS: number;
}

export class WakeupCall implements ActiveCall {
  readonly callId = randomUUID();
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  private readonly log: Logger;
  private readonly recorder: CallRecorder;
  private readonly startedAt = Date.now();
  private leg: LegRecorder | undefined;
  private ring: OperatorRing | undefined;
  private ringTimer: NodeJS.Timeout | undefined;
  private dialog: Srf.Dialog | undefined;
  private finished = false;
  private resolveOutcome!: (o: AttemptOutcome) => void;
  /** Settles when the attempt's result is known (the call may still be ending). */
  readonly outcome = new Promise<AttemptOutcome>((resolve) => {
    this.resolveOutcome = resolve;
  });

  constructor(
    private readonly ctx: CallContext,
    private readonly target: WakeupTarget,
  ) {
    this.log = callLogger(ctx.log, this.callId).child({ wakeup: target.bookingId, extension: target.extension });
    this.recorder = new CallRecorder(
      { callId: this.callId, instanceId: ctx.instanceId, callerNumber: WAKEUP_FROM_NUMBER, callerName: WAKEUP_FROM_NAME, dialledNumber: target.extension, arrivedAt: this.startedAt },
      (r) => ctx.record(r),
      randomUUID,
    );
  }

  waiting(): undefined {
    return undefined;
  }

  /** Rings the extension's phones; the outcome promise tells how it went. */
  async start(): Promise<void> {
    const reachable = await reach(this.ctx, this.target.extension).catch(() => undefined);
    if (!reachable) return this.end('unreachable', 404, 'no such extension');
    this.leg = this.recorder.leg('guest', 'outbound', '', reachable.username, this.startedAt);
    if (reachable.contacts.length === 0) return this.end('unreachable', 480, 'no phone registered');
    const ms = this.ctx.media.pick();
    if (!ms) return this.end('failed', 503, 'no media server');
    this.log.info({ phones: reachable.contacts.length }, 'placing a wake-up call');
    publishCallEvent(this.ctx.bus, {
      event: 'arrived',
      callId: this.callId,
      instanceId: this.ctx.instanceId,
      callerNumber: WAKEUP_FROM_NUMBER,
      callerName: WAKEUP_FROM_NAME,
      dialledNumber: this.target.extension,
      at: this.startedAt,
    });
    await this.publishLive('offering');
    this.ring = new OperatorRing(
      this.ctx.srf,
      ms,
      {
        contacts: reachable.contacts,
        username: reachable.username,
        domain: this.ctx.config.sipDomain,
        fromNumber: WAKEUP_FROM_NUMBER,
        fromName: WAKEUP_FROM_NAME,
        headers: { 'X-Call-ID': this.callId, 'X-Wakeup-Booking': String(this.target.bookingId) },
      },
      {
        answered: (dialog, endpoint) => void this.answered(dialog, endpoint),
        failed: (status, reason) => this.end(failureResult(status, reachable.contacts.length), status, reason),
      },
      this.log,
    );
    this.ringTimer = setTimeout(() => this.ring?.cancel(), this.target.ringTimeoutS * 1000);
    await this.ring.start();
  }

  hangup(reason: string): void {
    if (this.finished) return;
    if (!this.dialog) {
      this.ring?.cancel();
      return;
    }
    this.log.info({ reason }, 'ending the wake-up call');
    hangUpDialog(this.dialog);
  }

  private async answered(dialog: Srf.Dialog, endpoint: Mrf.Endpoint): Promise<void> {
    clearTimeout(this.ringTimer);
    this.dialog = dialog;
    const at = Date.now();
    this.leg?.answered(at);
    this.resolveOutcome({ result: 'answered', sipStatus: 200 });
    this.log.info('wake-up call answered: playing the wake-up prompt');
    const hungUp = new Promise<void>((resolve) => dialog.on('destroy', () => resolve()));
    await this.publishLive('connected');
    if (isConnected(dialog)) {
      await Promise.race([bounded(endpoint.play(this.ctx.prompts.file('wakeup')), PROMPT_MAX_MS), hungUp]);
    }
    const by = isConnected(dialog) ? 'system' : 'guest';
    hangUpDialog(dialog);
    await releaseEndpoint(endpoint);
    this.end('answered', 200, by === 'system' ? 'wake-up prompt played' : 'hung up during the prompt', by);
  }

  private end(result: AttemptResult, status: number, reason: string, by: 'system' | 'guest' = 'system'): void {
    clearTimeout(this.ringTimer);
    if (this.finished) return;
    this.finished = true;
    const at = Date.now();
    this.resolveOutcome({ result, sipStatus: status });
    this.leg?.end(at, result === 'answered' ? by : null, status, reason);
    this.recorder.end({ at, hangupBy: result === 'answered' ? 'system' : null, sipStatus: status, sipReason: reason, disposition: result === 'answered' ? 'answered' : 'failed' });
    this.log.info({ result, status, reason }, 'wake-up attempt over');
    void this.ctx.queues.removeCall(this.callId, null).catch(() => undefined).finally(() => this.settled.resolve());
  }

  /** Shows the attempt among the live calls (GET /v1/calls), like any other call. */
  private async publishLive(state: 'offering' | 'connected'): Promise<void> {
    await this.ctx.queues
      .saveCall({
        callId: this.callId,
        owner: this.ctx.instanceId,
        callerNumber: WAKEUP_FROM_NUMBER,
        callerName: WAKEUP_FROM_NAME,
        dialledNumber: this.target.extension,
        arrivedAt: this.startedAt,
        state,
        queueId: null,
        queuedAt: null,
        priority: 0,
        score: null,
        operatorId: null,
        answeredAt: state === 'connected' ? Date.now() : null,
      })
      .catch((err: Error) => this.log.warn({ err: err.message }, 'cannot publish the live call'));
  }
}
