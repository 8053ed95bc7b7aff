import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import type { CallRecorder, LegRecorder } from '../cdr/call-recorder.js';
import type { Logger } from '../log.js';
import { isConnected } from '../media/answer.js';
import { HoldMusic } from '../media/hold.js';
import type { Operator, Queue } from '../provisioning/types.js';
import { isHoldSdp, parseReferTo, sipfrag } from '../sip/refer.js';
import { bounded, hangUpDialog, settleOnce } from './arrival.js';
import type { ActiveCall, CallContext } from './context.js';
import { OperatorRing } from './operator-ring.js';
import { QueueCall, type AnsweredCaller } from './queue-call.js';
import { releaseEndpoint } from '../media/endpoint.js';

/** A party on the line: their SIP dialog, their media server endpoint and their leg's record. */
export interface Talker {
  dialog: Srf.Dialog;
  endpoint: Mrf.Endpoint;
  leg: LegRecorder;
}

export interface OperatorTalker extends Talker {
  operator: Operator;
}

export interface ConversationStart {
  callId: string;
  log: Logger;
  recorder: CallRecorder;
  caller: AnsweredCaller;
  operator: OperatorTalker;
  /** The queue the caller came through: wrap-up, hold music, and where a failed transfer returns. */
  queue: Queue | undefined;
}

/** Where a transfer can go, resolved from a dialled number through the routes. */
export type TransferTarget = { kind: 'operator'; operator: Operator } | { kind: 'queue'; queue: Queue };

export type TransferResult = 'started' | 'no-route' | 'not-talking';

const DEFAULT_HOLD_MUSIC = 'local_stream://moh';
// A transfer target's phones ring this long before the transfer counts as failed.
const TRANSFER_RING_TIMEOUT_MS = 30_000;
const LEASE_MARGIN_MS = 10_000;
const PROMPT_MAX_MS = 10_000;
const NOTIFY_EXPIRES_S = 60;

/** A blind transfer under way: the target being rung for the caller. */
interface Transfer {
  target: Operator;
  ring: OperatorRing | undefined;
  leg: LegRecorder;
  timer: NodeJS.Timeout | undefined;
  notify: ReferNotifier | undefined;
}

/** Reports a REFER's progress with NOTIFYs (RFC 3515 §2.4.4), unless Refer-Sub: false. */
class ReferNotifier {
  private done = false;

  constructor(
    private readonly dialog: Srf.Dialog,
    private readonly subscribed: boolean,
    private readonly log: Logger,
  ) {}

  send(status: number, reason: string, final: boolean): void {
    if (this.done || !this.subscribed) return;
    if (final) this.done = true;
    if (!isConnected(this.dialog)) return;
    const state = final ? 'terminated;reason=noresource' : `active;expires=${NOTIFY_EXPIRES_S}`;
    this.dialog
      .request({
        method: 'NOTIFY',
        headers: { Event: 'refer', 'Subscription-State': state, 'Content-Type': 'message/sipfrag;version=2.0' },
        body: sipfrag(status, reason),
      } as never)
      .catch((err: Error) => this.log.debug({ err: err.message }, 'NOTIFY for the REFER failed'));
  }
}

/**
 * A caller talking to an operator, from the moment they are connected until the call ends: the
 * operator's phone can put the caller on hold (re-INVITE) and transfer them (REFER), and the
 * API can transfer them too. Both legs stay anchored on the media server, so moving the caller
 * is a matter of bridging their endpoint to another one; phones are never re-INVITEd.
 */
export class Conversation implements ActiveCall {
  readonly callId: string;
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  private readonly log: Logger;
  private operator: OperatorTalker | undefined;
  private hold: HoldMusic | undefined;
  private transferring: Transfer | undefined;
  private ended = false;

  private constructor(
    private readonly ctx: CallContext,
    private readonly s: ConversationStart,
  ) {
    this.callId = s.callId;
    this.log = s.log;
  }

  /** Takes over a call whose caller and operator were just bridged. */
  static begin(ctx: CallContext, s: ConversationStart): Conversation {
    const c = new Conversation(ctx, s);
    ctx.calls.add(c);
    s.caller.dialog.on('destroy', () => c.callerGone());
    c.adopt(s.operator);
    // A BYE right behind the answer may have ended a dialog before these listeners existed.
    if (!isConnected(s.caller.dialog)) c.callerGone();
    else if (!isConnected(s.operator.dialog)) c.operatorGone(s.operator);
    return c;
  }

  waiting(): undefined {
    return undefined;
  }

  private get wrapupMs(): number {
    return (this.s.queue?.wrapupS ?? 0) * 1000;
  }

  private get holdMusic(): string {
    return this.s.queue?.holdMusic ?? DEFAULT_HOLD_MUSIC;
  }

  /** Makes `op` the caller's operator and listens to their phone. */
  private adopt(op: OperatorTalker): void {
    this.operator = op;
    op.dialog.on('destroy', () => this.operatorGone(op));
    op.dialog.on('modify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => void this.reinvite(op, req, res));
    op.dialog.on('refer', (req: Srf.SrfRequest, res: Srf.SrfResponse) => void this.refer(op, req, res));
    void this.ctx.queues.updateCall(this.callId, { state: 'connected', operatorId: op.operator.id }).catch(() => undefined);
  }

  // ---- the phones --------------------------------------------------------------------------

  private callerGone(): void {
    if (this.ended) return;
    this.log.info('caller hung up');
    this.cancelTransfer('caller hung up');
    const op = this.operator;
    if (op) void this.releaseOperator(op, 'caller');
    void this.finish('caller', 'caller hung up');
  }

  private operatorGone(op: OperatorTalker): void {
    op.leg.end(Date.now(), 'operator', 200, 'BYE');
    void releaseEndpoint(op.endpoint);
    void this.operatorDone(op.operator);
    if (this.ended || this.operator !== op) return;
    this.operator = undefined;
    // An operator who hangs up after handing the caller over does not end the call (RFC 5589 §7).
    if (this.transferring) return;
    this.log.info({ operator: op.operator.username }, 'operator hung up');
    this.stopHold();
    hangUpDialog(this.s.caller.dialog);
    void this.finish('operator', 'operator hung up');
  }

  /** A re-INVITE from the operator's phone: hold (sendonly/inactive) or back (sendrecv). */
  private async reinvite(op: OperatorTalker, req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    let answer: string;
    try {
      answer = await op.endpoint.modify(req.body);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'media server refused the phone\'s new SDP');
      res.send(488);
      return;
    }
    res.send(200, { body: answer, headers: { 'Content-Type': 'application/sdp' } } as never);
    if (this.operator !== op || this.transferring) return;
    if (isHoldSdp(req.body)) await this.holdCaller();
    else await this.unholdCaller(op);
  }

  private async holdCaller(): Promise<void> {
    if (this.hold) return;
    this.log.info('caller on hold');
    this.s.recorder.hold(Date.now());
    await this.s.caller.endpoint.unbridge().catch(() => undefined);
    this.hold = new HoldMusic(this.s.caller.endpoint, this.holdMusic, this.log);
    this.hold.start();
  }

  private stopHold(): void {
    if (!this.hold) return;
    this.hold.stop();
    this.hold = undefined;
    this.s.recorder.unhold(Date.now());
  }

  private async unholdCaller(op: OperatorTalker): Promise<void> {
    if (!this.hold) return;
    this.log.info('caller back from hold');
    this.stopHold();
    await this.s.caller.endpoint.bridge(op.endpoint);
  }

  /** REFER from the operator's phone: a blind transfer (RFC 3515). */
  private async refer(op: OperatorTalker, req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    const target = parseReferTo(req.get('Refer-To'));
    if (!target) {
      res.send(400, 'Bad Refer-To', {} as never);
      return;
    }
    const subscribed = (req.get('Refer-Sub') ?? '').trim().toLowerCase() !== 'false';
    res.send(202, subscribed ? {} : ({ headers: { 'Refer-Sub': 'false' } } as never));
    const notify = new ReferNotifier(op.dialog, subscribed, this.log);
    notify.send(100, 'Trying', false);
    if (target.replaces) {
      // Attended transfer needs the consultation call's legs; it is not implemented yet.
      notify.send(501, 'Not Implemented', true);
      return;
    }
    const resolved = this.resolve(target.number);
    this.log.info({ referTo: target.uri, to: target.number, kind: resolved?.kind ?? 'none' }, 'operator transfers the caller');
    if (!resolved) {
      // Unknown number: nothing changes, the caller stays with the operator.
      notify.send(404, 'Not Found', true);
      return;
    }
    await this.transferTo(resolved, notify);
  }

  // ---- transfers ---------------------------------------------------------------------------

  /** A number (or an operator's user name) as a transfer target, through the routes. */
  resolve(number: string): TransferTarget | undefined {
    const settings = this.ctx.settings;
    const byName = settings.operatorByUsername(number);
    if (byName) return { kind: 'operator', operator: byName };
    const route = settings.route(number);
    if (route?.targetType === 'operator' && route.operatorId !== null) {
      const operator = settings.operator(route.operatorId);
      return operator ? { kind: 'operator', operator } : undefined;
    }
    if (route?.targetType === 'queue' && route.queueId !== null) {
      const queue = settings.queue(route.queueId);
      return queue ? { kind: 'queue', queue } : undefined;
    }
    return undefined;
  }

  /** A blind transfer asked for through the API. */
  async transfer(number: string): Promise<TransferResult> {
    if (this.ended || this.transferring || !this.operator) return 'not-talking';
    const target = this.resolve(number);
    if (!target) return 'no-route';
    this.log.info({ to: number, kind: target.kind }, 'caller transferred through the API');
    await this.transferTo(target, undefined);
    return 'started';
  }

  private async transferTo(target: TransferTarget, notify: ReferNotifier | undefined): Promise<void> {
    if (target.kind === 'queue') return this.transferToQueue(target.queue, notify);
    return this.transferToOperator(target.operator, notify);
  }

  /** Into a queue: the caller waits there (by their first arrival) and the operator is free. */
  private async transferToQueue(queue: Queue, notify: ReferNotifier | undefined): Promise<void> {
    notify?.send(200, 'OK', true);
    const from = this.operator;
    this.s.recorder.transferred(from?.operator.id ?? null, { queue: { id: queue.id, number: queue.number } }, Date.now());
    if (from) await this.releaseOperator(from, 'system');
    await this.handOverToQueue(queue, false);
  }

  private async transferToOperator(target: Operator, notify: ReferNotifier | undefined): Promise<void> {
    const leg = this.s.recorder.leg('target', 'outbound', '', target.username, Date.now(), target.id);
    // Marked before anything is awaited: a transferor who hangs up right after the 202 must
    // find the transfer under way (RFC 5589 §7), not end the call.
    const t: Transfer = { target, ring: undefined, leg, timer: undefined, notify };
    this.transferring = t;
    try {
      await this.ctx.operators.apply(target.id, { type: 'reserve', callId: this.callId, instance: this.ctx.instanceId, leaseMs: TRANSFER_RING_TIMEOUT_MS + LEASE_MARGIN_MS });
    } catch (err) {
      this.log.info({ to: target.username, err: (err as Error).message }, 'transfer target not available');
      if (this.transferring !== t) return;
      this.transferring = undefined;
      leg.end(Date.now(), null, 486, 'operator not available');
      await this.transferFailed(486, 'Busy Here', notify);
      return;
    }
    if (this.transferring !== t || this.ended) {
      await this.ctx.operators.tryApply(target.id, { type: 'release', callId: this.callId, missed: false, maxMisses: 3 });
      return;
    }
    await this.holdCaller();
    const contacts = (await this.ctx.registrar.contacts(target.username).catch(() => [])).map((b) => b.contact);
    if (this.transferring !== t || this.ended) return;
    t.timer = setTimeout(() => t.ring?.cancel(), TRANSFER_RING_TIMEOUT_MS);
    t.ring = new OperatorRing(
      this.ctx.srf,
      this.s.caller.endpoint.mediaserver,
      {
        contacts,
        username: target.username,
        domain: this.ctx.config.sipDomain,
        fromNumber: this.s.caller.number,
        fromName: `Transfer: ${this.s.caller.name || this.s.caller.number}`,
        headers: { 'X-Call-ID': this.callId, ...(this.operator ? { 'X-Transferred-By': this.operator.operator.username } : {}) },
      },
      {
        answered: (dialog, endpoint) => void this.targetAnswered(t, dialog, endpoint),
        failed: (status, reason) => void this.targetFailed(t, status, reason),
      },
      this.log,
    );
    await t.ring.start();
  }

  private async targetAnswered(t: Transfer, dialog: Srf.Dialog, endpoint: Mrf.Endpoint): Promise<void> {
    clearTimeout(t.timer);
    if (this.ended || this.transferring !== t) {
      hangUpDialog(dialog);
      await releaseEndpoint(endpoint);
      await this.ctx.operators.tryApply(t.target.id, { type: 'release', callId: this.callId, missed: false, maxMisses: 3 });
      return;
    }
    this.transferring = undefined;
    const at = Date.now();
    t.leg.answered(at);
    const from = this.operator;
    await this.ctx.operators.tryApply(t.target.id, { type: 'answer', callId: this.callId });
    this.stopHold();
    await this.s.caller.endpoint.bridge(endpoint);
    t.notify?.send(200, 'OK', true);
    this.s.recorder.transferred(from?.operator.id ?? null, { operator: { id: t.target.id, username: t.target.username } }, at);
    this.log.info({ to: t.target.username }, 'transfer completed');
    const next: OperatorTalker = { operator: t.target, dialog, endpoint, leg: t.leg };
    this.adopt(next);
    if (from) await this.releaseOperator(from, 'system');
    if (!isConnected(dialog)) this.operatorGone(next);
  }

  private async targetFailed(t: Transfer, status: number, reason: string): Promise<void> {
    clearTimeout(t.timer);
    t.leg.end(Date.now(), null, status, reason);
    const missed = status === 408 || status === 480 || status === 487;
    await this.ctx.operators.tryApply(t.target.id, { type: 'release', callId: this.callId, missed, maxMisses: 3 });
    if (this.transferring !== t) return;
    this.transferring = undefined;
    this.log.info({ to: t.target.username, status, reason }, 'transfer failed');
    await this.transferFailed(status === 487 ? 480 : status, reason, t.notify);
  }

  /**
   * The target did not take the call: the caller hears so, then goes back to the operator who
   * transferred them, or, if that operator is gone, to the front of the queue.
   */
  private async transferFailed(status: number, reason: string, notify: ReferNotifier | undefined): Promise<void> {
    notify?.send(status, reason || 'Failed', true);
    if (this.ended) return;
    this.s.recorder.transferFailed(this.operator?.operator.id ?? null, status, Date.now());
    this.stopHold();
    await bounded(this.s.caller.endpoint.play(this.ctx.prompts.file('transfer-failed')), PROMPT_MAX_MS);
    if (this.ended) return;
    const op = this.operator;
    if (op && isConnected(op.dialog)) {
      await this.s.caller.endpoint.bridge(op.endpoint);
      return;
    }
    if (this.s.queue) {
      await this.handOverToQueue(this.s.queue, true);
      return;
    }
    hangUpDialog(this.s.caller.dialog);
    await this.finish('system', 'transfer failed and nobody to go back to');
  }

  private cancelTransfer(reason: string): void {
    const t = this.transferring;
    if (!t) return;
    this.transferring = undefined;
    clearTimeout(t.timer);
    t.ring?.cancel();
    t.notify?.send(487, 'Request Terminated', true);
    t.leg.end(Date.now(), 'system', 487, reason);
    void this.ctx.operators.tryApply(t.target.id, { type: 'release', callId: this.callId, missed: false, maxMisses: 3 });
  }

  /** The caller goes (back) into a queue; the call goes on there under the same call id. */
  private async handOverToQueue(queue: Queue, front: boolean): Promise<void> {
    this.ended = true;
    this.stopHold();
    await this.s.caller.endpoint.unbridge().catch(() => undefined);
    const next = new QueueCall(this.ctx, this.callId, queue, this.s.caller, this.s.recorder, this.log);
    this.ctx.calls.add(next);
    this.settled.resolve();
    await next.enter();
    if (front) await next.moveToFront();
  }

  // ---- ending ------------------------------------------------------------------------------

  hangup(reason: string): void {
    if (this.ended) return;
    this.cancelTransfer(reason);
    const op = this.operator;
    if (op) void this.releaseOperator(op, 'system');
    this.stopHold();
    hangUpDialog(this.s.caller.dialog);
    void this.finish('system', reason);
  }

  /** Ends the operator's part: BYE to their phone if still up, then wrap-up. */
  private async releaseOperator(op: OperatorTalker, by: 'caller' | 'system'): Promise<void> {
    if (this.operator === op) this.operator = undefined;
    if (isConnected(op.dialog)) {
      op.leg.end(Date.now(), by, 200, 'call over');
      hangUpDialog(op.dialog);
    }
    await releaseEndpoint(op.endpoint);
    await this.operatorDone(op.operator);
  }

  private async operatorDone(operator: Operator): Promise<void> {
    const done = await this.ctx.operators.tryApply(operator.id, { type: 'hangup', callId: this.callId, wrapupMs: this.wrapupMs });
    if (done?.to === 'wrap-up') {
      this.ctx.later(this.wrapupMs, () => void this.ctx.operators.tryApply(operator.id, { type: 'wrapup-done', callId: this.callId }));
    }
  }

  private async finish(hangupBy: 'caller' | 'operator' | 'system', reason: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const at = Date.now();
    this.stopHold();
    this.s.caller.leg.end(at, hangupBy, 200, reason);
    await releaseEndpoint(this.s.caller.endpoint);
    this.s.recorder.end({ at, hangupBy });
    await this.ctx.queues.removeCall(this.callId, null).catch(() => undefined);
    this.log.info({ hangupBy, reason }, 'call ended');
    this.settled.resolve();
  }
}
