/**
 * Calls to an operator's own number (a route with target type 'operator'). The operator is
 * reserved in Redis exactly as the dispatcher reserves for a queue (a compare-and-set from
 * 'available' with a lease), so a direct call and a queue can never both have them. The caller
 * is not answered until the operator answers: the caller's SDP goes to a media server endpoint,
 * the caller hears ringing (180), and the operator's phones ring from an endpoint of their own;
 * the two endpoints are bridged once both legs are up. Decisions are directCallStep's.
 */
import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import { LEASE_MARGIN_MS, MAX_MISSES_OUTSIDE_QUEUES } from '../acd/operator-rules.js';
import type { HeldOperator } from '../acd/recovery-plan.js';
import type { LegRecorder } from '../cdr/call-recorder.js';
import { publishCallEvent } from '../events/call-events.js';
import { isConnected } from '../media/answer.js';
import { bridge } from '../media/bridge.js';
import type { Operator } from '../provisioning/types.js';
import { hangUpDialog, publishLive, settleOnce, unpublishLive, type Arrival } from './arrival.js';
import type { ActiveCall, CallContext } from './context.js';
import { CampOn, othersCampedOn, wantsCampOn } from './camp-on.js';
import { fallbackQueue } from './camp-on-machine.js';
import { Conversation } from './conversation.js';
import { directCallStep, initialDirectCallState, type DirectCallEvent, type DirectCallState, type DirectEffect } from './direct-call-machine.js';
import { OperatorRing } from './operator-ring.js';
import { releaseEndpoint } from '../media/endpoint.js';

interface OperatorLegState {
  leg: LegRecorder;
  ring?: OperatorRing;
  dialog?: Srf.Dialog;
  endpoint?: Mrf.Endpoint;
}

/**
 * Starts a direct call: reserve the operator (486 if they are not available), make the caller's
 * endpoint, send 180 and ring. Nothing is answered here.
 */
export async function startDirectCall(ctx: CallContext, a: Arrival, operator: Operator): Promise<void> {
  const ms = a.pickMedia();
  if (!ms) return a.refuse(503, 'Service Unavailable: no media server', 'failed');
  // The caller gets an endpoint whether the operator is free or not: asked before anything else.
  if (a.refusedMedia()) return;
  const ringTimeoutMs = ctx.config.directRingTimeoutS * 1000;
  let cancelled = false;
  a.req.on('cancel', () => {
    cancelled = true;
  });
  // Callers already camped on the operator go first: a newcomer lines up behind them.
  if (await othersCampedOn(ctx, operator.id)) return campOnDirect(ctx, a, operator, ms, () => cancelled);
  const reserved = await reserve(ctx, a, operator, ringTimeoutMs);
  if (reserved === 'busy') {
    if (await wantsCampOn(ctx, operator.id)) return campOnDirect(ctx, a, operator, ms, () => cancelled);
    return a.refuse(486, 'Busy Here: operator not available', 'rejected');
  }
  if (reserved === 'error') return a.refuse(503, 'Service Unavailable: operator state unavailable', 'failed');
  const release = (): Promise<unknown> => ctx.operators.tryApply(operator.id, { type: 'release', callId: a.callId, missed: false, maxMisses: MAX_MISSES_OUTSIDE_QUEUES }).catch(() => undefined);
  if (cancelled) {
    await release();
    return a.abandoned();
  }
  let endpoint: Mrf.Endpoint;
  try {
    // A caller who heard an intercept announcement keeps the endpoint they hear (same SDP).
    endpoint = a.takeEarlyMedia() ?? (await ms.createEndpoint({ remoteSdp: a.req.body }));
  } catch (err) {
    await release();
    a.log.warn({ err: (err as Error).message }, 'cannot make the caller\'s endpoint on the media server');
    return a.refuse(503, 'Service Unavailable: media server failed', 'failed');
  }
  if (cancelled) {
    await releaseEndpoint(endpoint);
    await release();
    return a.abandoned();
  }
  const call = new DirectCall(ctx, a, operator, ms, endpoint, ringTimeoutMs);
  ctx.calls.add(call);
  await call.start();
}

/**
 * The operator is on a call: the caller is answered, hears that the line is busy, and camps on
 * them. If the camp-on ends without them, the caller goes to the operator's own queue (lowest
 * penalty first), or hears the busy announcement when the operator is in no queue.
 */
async function campOnDirect(ctx: CallContext, a: Arrival, operator: Operator, ms: Mrf.MediaServer, cancelled: () => boolean): Promise<void> {
  if (cancelled()) return a.abandoned();
  const answered = await a.answerOnto(ms);
  if (!answered) return;
  a.leg.answered(Date.now());
  const queueId = fallbackQueue(ctx.settings.queuesOf(operator.id).map((q) => ({ queueId: q, penalty: memberPenalty(ctx, q, operator.id) })));
  const campOn = new CampOn(ctx, {
    callId: a.callId,
    log: a.log,
    recorder: a.recorder,
    caller: { ...answered, number: a.caller.number, name: a.caller.name, dialled: a.dialled, leg: a.leg, arrivedAt: a.arrivedAt, priority: 0, skill: '' },
    target: operator,
    origin: 'direct',
    fromOperator: undefined,
    fallbackQueue: queueId === undefined ? undefined : ctx.settings.queue(queueId),
    queue: undefined,
  });
  ctx.calls.add(campOn);
  await campOn.start();
}

function memberPenalty(ctx: CallContext, queueId: number, operatorId: number): number {
  return ctx.settings.members(queueId).find((m) => m.operatorId === operatorId)?.penalty ?? 0;
}

async function reserve(ctx: CallContext, a: Arrival, operator: Operator, ringTimeoutMs: number): Promise<'reserved' | 'busy' | 'error'> {
  try {
    await ctx.operators.apply(operator.id, { type: 'reserve', callId: a.callId, instance: ctx.instanceId, leaseMs: ringTimeoutMs + LEASE_MARGIN_MS });
    return 'reserved';
  } catch (err) {
    if ((err as Error).name === 'TransitionRefused') {
      a.log.info({ operator: operator.username }, 'operator not available for a direct call');
      return 'busy';
    }
    a.log.warn({ err: (err as Error).message }, 'cannot reserve the operator');
    return 'error';
  }
}

export class DirectCall implements ActiveCall {
  private state: DirectCallState;
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  private readonly op: OperatorLegState;
  private callerDialog: Srf.Dialog | undefined;
  private ringTimer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(
    private readonly ctx: CallContext,
    private readonly a: Arrival,
    private readonly operator: Operator,
    private readonly ms: Mrf.MediaServer,
    private readonly callerEndpoint: Mrf.Endpoint,
    private readonly ringTimeoutMs: number,
  ) {
    const now = Date.now();
    this.state = initialDirectCallState(now);
    this.op = { leg: a.recorder.leg('operator', 'outbound', '', operator.username, now, operator.id) };
    a.recorder.offer({ id: operator.id, username: operator.username }, now);
    a.req.on('cancel', () => this.step({ type: 'caller-cancel', at: Date.now() }));
    // The media server may drop the caller's channel (restart, kill): nothing left to talk on.
    callerEndpoint.on('destroy', () => this.hangup('media server ended the caller\'s channel'));
  }

  get callId(): string {
    return this.a.callId;
  }

  waiting(): undefined {
    return undefined;
  }

  held(): HeldOperator[] {
    return this.state.phase === 'ended' ? [] : [{ operatorId: this.operator.id, callId: this.callId, state: 'ringing' }];
  }

  hangup(reason: string): void {
    this.step({ type: 'hangup', reason, at: Date.now() });
  }

  async start(): Promise<void> {
    const { a } = this;
    try {
      a.res.send(180);
    } catch (err) {
      // The caller's CANCEL got in first; its event ends the call.
      a.log.debug({ err: (err as Error).message }, 'cannot send 180');
    }
    // Not awaited: Redis runs commands in order, so the removal at the end still comes after.
    void publishLive(this.ctx, a, 'offering', this.operator.id).catch((err: Error) => a.log.warn({ err: err.message }, 'cannot publish the live call'));
    this.ringTimer = setTimeout(() => this.step({ type: 'ring-timeout', at: Date.now() }), this.ringTimeoutMs);
    let contacts: string[];
    try {
      contacts = (await this.ctx.registrar.contacts(this.operator.username)).map((b) => b.contact);
    } catch (err) {
      return this.ringFailed(503, `cannot look up the operator's phones: ${(err as Error).message}`);
    }
    // The caller may have cancelled (or the API hung up) while the phones were looked up.
    if (this.state.phase !== 'ringing') return;
    a.log.info({ operator: this.operator.username, phones: contacts.length }, 'ringing the operator for a direct call');
    this.op.ring = new OperatorRing(
      this.ctx.srf,
      this.ms,
      {
        contacts,
        username: this.operator.username,
        domain: this.ctx.config.sipDomain,
        fromNumber: a.caller.number,
        fromName: a.caller.name || a.caller.number,
        headers: { 'X-Call-ID': a.callId },
      },
      {
        answered: (dialog, endpoint) => this.operatorAnswered(dialog, endpoint),
        failed: (status, reason) => this.ringFailed(status, reason),
      },
      a.log,
    );
    await this.op.ring.start();
  }

  private ringFailed(status: number, reason: string): void {
    this.op.leg.end(Date.now(), null, status, reason);
    this.a.log.info({ status, reason }, 'operator leg failed');
    this.step({ type: 'operator-failed', status, at: Date.now() });
  }

  private operatorAnswered(dialog: Srf.Dialog, endpoint: Mrf.Endpoint): void {
    this.op.dialog = dialog;
    this.op.endpoint = endpoint;
    this.op.leg.answered(Date.now());
    dialog.on('destroy', () => this.operatorGone());
    this.step({ type: 'operator-answered', at: Date.now() });
  }

  /** The operator's phone hung up (BYE). */
  private operatorGone(): void {
    if (!this.op.dialog) return;
    this.op.dialog = undefined;
    this.op.leg.end(Date.now(), 'operator', 200, 'BYE');
    void releaseEndpoint(this.op.endpoint);
    this.step({ type: 'operator-hangup', at: Date.now() });
  }

  private step(event: DirectCallEvent): void {
    const { state, effects } = directCallStep(this.state, event);
    this.state = state;
    for (const effect of effects) {
      this.perform(effect).catch((err: Error) => this.a.log.error({ err: err.message, effect: effect.type }, 'direct call step failed'));
    }
  }

  private async perform(e: DirectEffect): Promise<void> {
    const opId = this.operator.id;
    const callId = this.a.callId;
    switch (e.type) {
      case 'cancel-ring':
        clearTimeout(this.ringTimer);
        this.op.ring?.cancel();
        return;
      case 'answer-caller':
        clearTimeout(this.ringTimer);
        return this.answerCaller();
      case 'reject-caller':
        return this.rejectCaller(e.status, e.reason);
      case 'bridge':
        if (this.op.endpoint) await bridge(this.callerEndpoint, this.op.endpoint);
        return;
      case 'operator-busy':
        await this.ctx.operators.tryApply(opId, { type: 'answer', callId });
        // A call already over must not leave a half live-call hash behind.
        if (!this.finished) await this.ctx.queues.updateCall(callId, { state: 'connected', answeredAt: Date.now() });
        return;
      case 'release-operator':
        await this.ctx.operators.tryApply(opId, { type: 'release', callId, missed: e.missed, maxMisses: MAX_MISSES_OUTSIDE_QUEUES });
        return;
      case 'hand-over':
        return this.handOver();
      case 'drop-operator':
        return this.dropOperator(e.by);
      case 'hangup-caller':
        if (this.callerDialog) hangUpDialog(this.callerDialog);
        return;
      case 'record-connect':
        this.a.recorder.answered(Date.now(), { id: opId, username: this.operator.username });
        publishCallEvent(this.ctx.bus, { event: 'connected', callId: this.a.callId, operatorId: opId });
        this.a.log.info({ operator: this.operator.username, ringMs: e.ringMs }, 'caller connected to operator');
        return;
      case 'finish':
        return this.finish(e);
    }
  }

  /** Caller and operator talk: a Conversation takes the call over (no queue: no wrap-up). */
  private handOver(): void {
    const { dialog, endpoint } = this.op;
    if (!this.callerDialog || !dialog || !endpoint) return;
    clearTimeout(this.ringTimer);
    this.finished = true;
    this.settled.resolve();
    Conversation.begin(this.ctx, {
      callId: this.a.callId,
      log: this.a.log,
      recorder: this.a.recorder,
      caller: {
        dialog: this.callerDialog,
        endpoint: this.callerEndpoint,
        number: this.a.caller.number,
        name: this.a.caller.name,
        dialled: this.a.dialled,
        leg: this.a.leg,
        arrivedAt: this.a.arrivedAt,
        priority: 0,
        skill: '',
      },
      operator: { operator: this.operator, dialog, endpoint, leg: this.op.leg },
      queue: undefined,
    });
  }

  private rejectCaller(status: number, reason: string): void {
    const res = this.a.res;
    if (res.finalResponseSent) return;
    try {
      res.send(status, reason, {});
    } catch {
      // drachtio-srf knows only the registered status codes; a phone's odd one becomes a 480.
      res.send(480);
    }
  }

  private async answerCaller(): Promise<void> {
    const { a } = this;
    let dialog: Srf.Dialog;
    try {
      dialog = await this.ctx.srf.createUAS(a.req, a.res, { localSdp: this.callerEndpoint.local.sdp });
    } catch (err) {
      const cancelled = (err as { status?: number }).status === 487 || a.res.finalResponseSent;
      a.log.info({ err: (err as Error).message }, 'could not answer the caller');
      this.step({ type: 'answer-failed', cancelled, at: Date.now() });
      return;
    }
    this.callerDialog = dialog;
    a.leg.answered(Date.now());
    dialog.on('destroy', () => this.step({ type: 'caller-hangup', at: Date.now() }));
    this.step({ type: 'caller-answered', at: Date.now() });
    // drachtio-srf makes the dialog on sending 200 OK: a BYE right behind the ACK can end it
    // before the listener above was attached (see SIP-NOTES).
    if (!isConnected(dialog)) this.step({ type: 'caller-hangup', at: Date.now() });
  }

  private async dropOperator(by: 'caller' | 'system'): Promise<void> {
    const dialog = this.op.dialog;
    this.op.dialog = undefined;
    if (dialog) {
      this.op.leg.end(Date.now(), by, 200, 'call over');
      hangUpDialog(dialog);
    }
    await releaseEndpoint(this.op.endpoint);
  }

  private async finish(e: Extract<DirectEffect, { type: 'finish' }>): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.ringTimer);
    const at = Date.now();
    this.a.leg.end(at, e.hangupBy, e.status ?? 200, e.reason);
    // A ring still on its way out ends here; a leg that failed, was dropped or hung up is
    // already recorded (a leg records only its first end).
    this.op.leg.end(at, e.hangupBy === 'caller' ? 'caller' : 'system', 487, e.reason);
    await releaseEndpoint(this.callerEndpoint);
    this.a.recorder.end({
      at,
      hangupBy: e.hangupBy,
      ...(e.status === undefined ? {} : { sipStatus: e.status }),
      sipReason: e.reason,
      ...(e.disposition === undefined ? {} : { disposition: e.disposition }),
    });
    await unpublishLive(this.ctx, this.a.callId);
    this.a.log.info({ hangupBy: e.hangupBy, reason: e.reason, disposition: e.disposition }, 'direct call ended');
    this.settled.resolve();
  }
}
