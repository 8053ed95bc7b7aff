/**
 * Placing one callback (README: Callback). While it waits, the dispatcher sees it like a live
 * caller in its queue (its id in the queue's waiting set at the caller's original score). When its
 * turn comes the operator is rung first, showing "Callback: <number>"; once they answer they hear
 * the queue's hold music while the switchboard calls the caller (src/sip/reach.ts) from the
 * operator's media server. When the caller answers, they hear the queue's greeting and the two are
 * connected: a Conversation takes the call over, as for any queue call. A caller who does not
 * answer (or is busy, or unreachable) costs an attempt: the operator hears `transfer-failed` and
 * is released, and the callback waits for its next attempt (plan.ts) or is recorded failed.
 * An operator who does not answer costs nothing: the callback is back in line at once.
 */
import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import type { WaitingCall } from '../acd/dispatcher.js';
import type { AppliedTransition } from '../acd/operator-store.js';
import { MAX_MISSES_OUTSIDE_QUEUES } from '../acd/operator-rules.js';
import { hangUpDialog, settleOnce } from '../calls/arrival.js';
import type { ActiveCall, CallContext } from '../calls/context.js';
import { Conversation } from '../calls/conversation.js';
import { greets } from '../calls/greeting.js';
import { holdRequests, OperatorRing } from '../calls/operator-ring.js';
import type { CallRecorder, LegRecorder } from '../cdr/call-recorder.js';
import type { Logger } from '../log.js';
import { isConnected } from '../media/answer.js';
import { releaseEndpoint } from '../media/endpoint.js';
import { HoldMusic } from '../media/hold.js';
import type { Operator, Queue } from '../provisioning/types.js';
import { reach } from '../sip/reach.js';
import { afterFailedAttempt } from './plan.js';
import type { CallbackEntry, CallbackStore } from './store.js';
import { bridge } from '../media/bridge.js';

// Before offering a callback again to operators who just missed it (as for live callers).
const RETRY_SAME_OPERATORS_MS = 2_000;

export type CallbackEnd = { outcome: 'connected' | 'failed' | 'cancelled'; at: number; operator: Operator | undefined; reason: string };

interface Ringing {
  operator: Operator;
  leg: LegRecorder;
  startedAt: number;
  /** We CANCELled the ring because ringTimeoutS passed: a miss. */
  timedOut: boolean;
  ring?: OperatorRing;
  timer?: NodeJS.Timeout;
  dialog?: Srf.Dialog;
  endpoint?: Mrf.Endpoint;
}

export interface CallbackCallDeps {
  ctx: CallContext;
  store: CallbackStore;
  recorder: CallRecorder;
  log: Logger;
  /** The callback is over: connected or failed for good. */
  ended(entry: CallbackEntry, end: CallbackEnd): void;
}

export class CallbackCall {
  private phase: 'waiting' | 'retry-wait' | 'offering' | 'calling' | 'over' = 'waiting';
  private readonly waitingCall: WaitingCall;
  private op: Ringing | undefined;
  private callerRing: OperatorRing | undefined;
  private callerTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private hold: HoldMusic | undefined;
  private active: ReturnType<typeof settleOnce> | undefined;

  constructor(
    private readonly d: CallbackCallDeps,
    private entry: CallbackEntry,
  ) {
    this.waitingCall = { callId: entry.id, queueId: entry.queueId, tried: new Set(), retryAt: 0 };
  }

  get id(): string {
    return this.entry.id;
  }

  get queueId(): number {
    return this.entry.queueId;
  }

  private get ctx(): CallContext {
    return this.d.ctx;
  }

  private queue(): Queue | undefined {
    return this.ctx.settings.queue(this.entry.queueId);
  }

  waiting(): WaitingCall | undefined {
    return this.phase === 'waiting' ? this.waitingCall : undefined;
  }

  /** Takes up the entry as Redis has it: back in line, or waiting for its next attempt. */
  async resume(): Promise<void> {
    if (this.entry.state === 'retry-wait' && this.entry.retryAt > Date.now()) return this.waitForRetry(this.entry.retryAt);
    await this.backInLine();
  }

  private async backInLine(): Promise<void> {
    if (this.phase === 'over') return;
    this.phase = 'waiting';
    this.entry = { ...this.entry, state: 'waiting', operatorId: null };
    await this.d.store.enqueue(this.entry);
    this.ctx.dispatcher.kick(this.entry.queueId);
  }

  private waitForRetry(at: number): void {
    if (this.phase === 'over') return;
    this.phase = 'retry-wait';
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.backInLine().catch((err: Error) => this.d.log.warn({ err: err.message }, 'callback cannot go back in line')), Math.max(0, at - Date.now()));
  }

  /** Cancelled (API) or the switchboard stops: this instance no longer places it. */
  dropped(): void {
    clearTimeout(this.retryTimer);
    this.phase = 'over';
  }

  /** The dispatcher reserved operators for this callback; one is enough (ring-all reserves all). */
  offer(reserved: AppliedTransition[]): void {
    for (const t of reserved) this.ctx.operators.record(t);
    const [first, ...rest] = reserved;
    for (const t of rest) void this.release(t.operatorId, false);
    const operator = first ? this.ctx.settings.operator(first.operatorId) : undefined;
    if (this.phase !== 'waiting' || !first || !operator) {
      if (first) void this.release(first.operatorId, false);
      return;
    }
    void this.ringOperator(operator).catch((err: Error) => this.d.log.error({ err: err.message }, 'callback offer failed'));
  }

  /** The switchboard stops (or an API hang-up): ringing stops and the callback waits in Redis. */
  hangup(reason: string): void {
    this.d.log.info({ reason }, 'callback attempt stopped');
    if (this.op?.dialog) hangUpDialog(this.op.dialog);
    this.op?.ring?.cancel();
    this.callerRing?.cancel();
  }

  private register(): void {
    this.active = settleOnce();
    const active = this.active;
    const call: ActiveCall = { callId: this.entry.id, waiting: () => undefined, hangup: (r) => this.hangup(r), done: active.done };
    this.ctx.calls.add(call);
  }

  private unregister(): void {
    this.active?.resolve();
    this.active = undefined;
  }

  private async ringOperator(operator: Operator): Promise<void> {
    const queue = this.queue();
    const now = Date.now();
    this.phase = 'offering';
    this.register();
    await this.d.store.dequeue(this.entry, 'offering', { operatorId: operator.id });
    this.d.recorder.offer({ id: operator.id, username: operator.username }, now);
    const ms = this.ctx.media.pick();
    const op: Ringing = { operator, startedAt: now, timedOut: false, leg: this.d.recorder.leg('operator', 'outbound', '', operator.username, now, operator.id) };
    this.op = op;
    const contacts = (await this.ctx.registrar.contacts(operator.username)).map((b) => b.contact);
    if (!ms || !queue) return this.operatorFailed(op, 503, ms ? 'queue deleted' : 'no media server', false);
    op.timer = setTimeout(() => {
      op.timedOut = true;
      op.ring?.cancel();
    }, queue.ringTimeoutS * 1000);
    this.d.log.info({ operator: operator.username, number: this.entry.number }, 'callback: ringing the operator');
    op.ring = new OperatorRing(
      this.ctx.srf,
      ms,
      {
        contacts,
        username: operator.username,
        domain: this.ctx.config.sipDomain,
        fromNumber: this.entry.number,
        fromName: `Callback: ${this.entry.number}`,
        headers: { 'X-Call-ID': this.entry.id, 'X-Queue': queue.name, 'X-Callback': this.entry.number },
      },
      {
        answered: (dialog, endpoint) => void this.operatorAnswered(op, dialog, endpoint).catch((err: Error) => this.d.log.error({ err: err.message }, 'callback failed at the operator\'s answer')),
        failed: (status, reason) => void this.operatorFailed(op, status, reason, op.timedOut),
      },
      this.d.log,
    );
    await op.ring.start();
  }

  private async release(operatorId: number, missed: boolean): Promise<void> {
    const maxMisses = this.queue()?.maxNoAnswer ?? MAX_MISSES_OUTSIDE_QUEUES;
    await this.ctx.operators.tryApply(operatorId, { type: 'release', callId: this.entry.id, missed, maxMisses });
  }

  /** The operator did not take it: back in line at once, not to be offered to them right away. */
  private async operatorFailed(op: Ringing, status: number, reason: string, timedOut: boolean): Promise<void> {
    clearTimeout(op.timer);
    const at = Date.now();
    op.leg.end(at, null, status, reason);
    this.d.recorder.ringNoAnswer({ id: op.operator.id, username: op.operator.username }, at - op.startedAt, at, timedOut ? 'no answer' : reason);
    await this.release(op.operator.id, timedOut || status === 408 || status === 480);
    this.op = undefined;
    this.waitingCall.tried.add(op.operator.id);
    this.waitingCall.retryAt = at + RETRY_SAME_OPERATORS_MS;
    this.unregister();
    await this.backInLine();
  }

  private async operatorAnswered(op: Ringing, dialog: Srf.Dialog, endpoint: Mrf.Endpoint): Promise<void> {
    clearTimeout(op.timer);
    if (op.timedOut || this.phase !== 'offering') {
      // Answered just as the ring was given up: not wanted any more.
      hangUpDialog(dialog);
      await releaseEndpoint(endpoint);
      return this.operatorFailed(op, 487, 'answered after the ring was cancelled', op.timedOut);
    }
    op.dialog = dialog;
    op.endpoint = endpoint;
    const at = Date.now();
    op.leg.answered(at);
    await this.ctx.operators.tryApply(op.operator.id, { type: 'answer', callId: this.entry.id });
    this.phase = 'calling';
    this.entry = { ...this.entry, attempts: this.entry.attempts + 1 };
    await this.d.store.update(this.entry.id, { state: 'calling', attempts: this.entry.attempts });
    dialog.on('destroy', () => this.operatorHungUp(op));
    // Until the caller answers nobody else listens to the operator's phone: let its BYE through.
    holdRequests(dialog, false);
    const queue = this.queue();
    this.hold = new HoldMusic(endpoint, queue?.holdMusic ?? 'local_stream://moh', this.d.log);
    this.hold.start();
    await this.callCaller(op, endpoint.mediaserver, queue);
  }

  private async callCaller(op: Ringing, ms: Mrf.MediaServer, queue: Queue | undefined): Promise<void> {
    const startedAt = Date.now();
    const target = await reach(this.ctx, this.entry.number);
    const leg = this.d.recorder.leg('caller', 'outbound', '', this.entry.number, startedAt);
    this.d.recorder.callbackStep('callback-attempt', startedAt, op.operator.id, { attempt: this.entry.attempts, number: this.entry.number, via: target?.kind ?? null });
    this.d.log.info({ attempt: this.entry.attempts, number: this.entry.number, via: target?.kind }, 'callback: calling the caller');
    if (!target || !queue) return this.callerFailed(op, leg, 404, target ? 'queue deleted' : 'number not reachable');
    this.callerRing = new OperatorRing(
      this.ctx.srf,
      ms,
      {
        contacts: target.contacts,
        username: target.username,
        domain: this.ctx.config.sipDomain,
        fromNumber: queue.number,
        fromName: queue.name,
        headers: { 'X-Call-ID': this.entry.id },
      },
      {
        answered: (dialog, endpoint) => void this.callerAnswered(op, leg, dialog, endpoint, startedAt),
        failed: (status, reason) => void this.callerFailed(op, leg, status, reason),
      },
      this.d.log,
    );
    this.callerTimer = setTimeout(() => this.callerRing?.cancel(), queue.ringTimeoutS * 1000);
    await this.callerRing.start();
  }

  /** The operator gave up while the caller's phone rang: stop it; the attempt does not count. */
  private operatorHungUp(op: Ringing): void {
    if (this.phase !== 'calling' || this.op !== op) return;
    this.d.log.info('callback: the operator hung up before the caller answered');
    this.callerRing?.cancel();
  }

  private async callerFailed(op: Ringing, leg: LegRecorder, status: number, reason: string): Promise<void> {
    clearTimeout(this.callerTimer);
    const at = Date.now();
    leg.end(at, null, status, reason);
    this.hold?.stop();
    const operatorLeft = !op.dialog || !isConnected(op.dialog);
    if (op.endpoint && !operatorLeft) await op.endpoint.play(this.ctx.prompts.file('transfer-failed')).catch(() => undefined);
    if (op.dialog) hangUpDialog(op.dialog);
    op.leg.end(Date.now(), operatorLeft ? 'operator' : 'system', 200, `caller: ${reason}`);
    await releaseEndpoint(op.endpoint);
    await this.ctx.operators.tryApply(op.operator.id, { type: 'hangup', callId: this.entry.id, wrapupMs: 0 });
    this.op = undefined;
    this.unregister();
    const queue = this.queue();
    this.d.log.info({ status, reason, attempt: this.entry.attempts }, 'callback: the caller was not reached');
    // An operator who hung up while the caller's phone rang did not let the attempt run its course.
    if (operatorLeft && status === 487) this.entry = { ...this.entry, attempts: this.entry.attempts - 1 };
    const next = queue ? afterFailedAttempt(this.entry.attempts, { retries: queue.callbackRetries, intervalS: queue.callbackRetryIntervalS }, at) : { kind: 'failed' as const };
    if (next.kind === 'retry') {
      await this.d.store.dequeue(this.entry, 'retry-wait', { retryAt: next.at, attempts: this.entry.attempts, operatorId: null });
      this.waitForRetry(next.at);
      return;
    }
    this.phase = 'over';
    this.d.recorder.callbackStep('callback-failed', at, op.operator.id, { attempts: this.entry.attempts, status, reason });
    this.d.recorder.end({ at, hangupBy: 'system', sipStatus: status, sipReason: reason, disposition: 'failed' });
    this.d.ended(this.entry, { outcome: 'failed', at, operator: op.operator, reason });
  }

  private async callerAnswered(op: Ringing, leg: LegRecorder, dialog: Srf.Dialog, endpoint: Mrf.Endpoint, startedAt: number): Promise<void> {
    clearTimeout(this.callerTimer);
    const at = Date.now();
    const queue = this.queue();
    leg.answered(at);
    this.hold?.stop();
    if (!op.dialog || !isConnected(op.dialog) || !op.endpoint || !queue) {
      // The operator left as the caller answered: nobody to connect them to.
      hangUpDialog(dialog);
      await releaseEndpoint(endpoint);
      return this.callerFailed(op, leg, 487, 'operator gone');
    }
    this.phase = 'over';
    this.d.log.info({ operator: op.operator.username }, 'callback: caller answered, connecting');
    const ref = { id: op.operator.id, username: op.operator.username };
    this.d.recorder.connect(ref, at - op.startedAt, at);
    this.d.recorder.callbackStep('callback-connected', at, op.operator.id, { attempts: this.entry.attempts, ringS: (at - startedAt) / 1000 });
    await this.ctx.queues.saveCall({
      callId: this.entry.id,
      owner: this.ctx.instanceId,
      callerNumber: this.entry.number,
      callerName: this.entry.callerName,
      dialledNumber: queue.number,
      arrivedAt: this.entry.arrivedAt,
      state: 'connected',
      queueId: queue.id,
      queuedAt: this.entry.requestedAt,
      priority: this.entry.priority,
      score: null,
      operatorId: op.operator.id,
      answeredAt: at,
    }).catch((err: Error) => this.d.log.warn({ err: err.message }, 'cannot publish the live call'));
    this.d.ended(this.entry, { outcome: 'connected', at, operator: op.operator, reason: '' });
    if (!greets(queue)) await bridge(endpoint, op.endpoint);
    this.op = undefined;
    Conversation.begin(this.ctx, {
      callId: this.entry.id,
      log: this.d.log,
      recorder: this.d.recorder,
      caller: { dialog, endpoint, number: this.entry.number, name: this.entry.callerName, dialled: queue.number, leg, arrivedAt: this.entry.arrivedAt, priority: this.entry.priority, skill: '' },
      operator: { operator: op.operator, dialog: op.dialog, endpoint: op.endpoint, leg: op.leg },
      queue,
    });
    this.unregister();
  }
}

