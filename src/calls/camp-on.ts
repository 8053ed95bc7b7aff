/**
 * Camp-on (the adapter): a caller waiting for a busy operator. Decisions are campOnStep's; this
 * class plays the busy prompt and music, keeps the caller in the operator's camp-on line in
 * Redis, watches the operator's state (the status cache, which every instance keeps from Redis
 * pub/sub), rings the operator or the one the caller goes back to, and hands the call on: to a
 * Conversation once someone answers, or to a QueueCall.
 */
import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import { randomUUID } from 'node:crypto';
import { LEASE_MARGIN_MS, MAX_MISSES_OUTSIDE_QUEUES, type OperatorStatus } from '../acd/operator-rules.js';
import type { StatusCache } from '../acd/status-cache.js';
import type { CallRecorder, LegRecorder } from '../cdr/call-recorder.js';
import { publishCallEvent } from '../events/call-events.js';
import type { Logger } from '../log.js';
import { isConnected } from '../media/answer.js';
import { releaseEndpoint } from '../media/endpoint.js';
import { DEFAULT_HOLD_MUSIC, HoldMusic } from '../media/hold.js';
import type { Operator, Queue } from '../provisioning/types.js';
import { bounded, hangUpDialog, settleOnce } from './arrival.js';
import { campOnStep, initialCampOnState, shouldCampOn, type CampOnEffect, type CampOnEvent, type CampOnOutcome, type CampOnState, type Party } from './camp-on-machine.js';
import type { ActiveCall, CallContext } from './context.js';
import { Conversation } from './conversation.js';
import { OperatorRing } from './operator-ring.js';
import { QueueCall, type AnsweredCaller } from './queue-call.js';
import { bridge } from '../media/bridge.js';

const PROMPT_MAX_MS = 10_000;
// A safety net besides the status updates: the operator's state is looked at this often.
const WATCH_TICK_MS = 1_000;

export interface CampOnStart {
  callId: string;
  log: Logger;
  recorder: CallRecorder;
  caller: AnsweredCaller;
  /** The busy operator the caller waits for. */
  target: Operator;
  origin: 'transfer' | 'direct';
  /** The operator who transferred the caller: rung again when the camp-on ends without the target. */
  fromOperator: Operator | undefined;
  /** Where the caller goes when nobody takes them (at its front for a transfer). */
  fallbackQueue: Queue | undefined;
  /** The queue the call came through: wrap-up and hold music once connected. */
  queue: Queue | undefined;
}

/**
 * Whether a caller for this operator should camp on rather than be refused (see shouldCampOn).
 * Reads Redis, not the status cache: a refused reservation has just seen the operator there.
 */
export async function wantsCampOn(ctx: CallContext, operatorId: number): Promise<boolean> {
  if (ctx.config.campOnTimeoutS <= 0) return false;
  const now = Date.now();
  const [status, camped] = await Promise.all([ctx.operators.store.get(operatorId), ctx.campOns.count(operatorId, now)]);
  return shouldCampOn(ctx.config.campOnTimeoutS, status.state, camped);
}

/** Whether others already wait for this operator: a newcomer lines up behind them. */
export async function othersCampedOn(ctx: CallContext, operatorId: number): Promise<boolean> {
  if (ctx.config.campOnTimeoutS <= 0) return false;
  return (await ctx.campOns.count(operatorId, Date.now())) > 0;
}

type StatusListener = (s: OperatorStatus) => void;
const watchers = new WeakMap<StatusCache, Map<number, Set<StatusListener>>>();

/**
 * Calls `fn` with each status update of one operator; returns how to stop. One listener on the
 * status cache serves every camped call of the instance, however many there are.
 */
function watchOperator(statuses: StatusCache, operatorId: number, fn: StatusListener): () => void {
  let byOperator = watchers.get(statuses);
  if (!byOperator) {
    const map = new Map<number, Set<StatusListener>>();
    statuses.on('changed', (s: OperatorStatus) => {
      for (const listener of map.get(s.operatorId) ?? []) listener(s);
    });
    watchers.set(statuses, map);
    byOperator = map;
  }
  const listeners = byOperator.get(operatorId) ?? new Set<StatusListener>();
  byOperator.set(operatorId, listeners);
  listeners.add(fn);
  const map = byOperator;
  return () => {
    listeners.delete(fn);
    if (listeners.size === 0 && map.get(operatorId) === listeners) map.delete(operatorId);
  };
}

interface Ringing {
  who: Party;
  operator: Operator;
  leg: LegRecorder;
  ring: OperatorRing;
  timer: NodeJS.Timeout;
  dialog?: Srf.Dialog;
  endpoint?: Mrf.Endpoint;
}

export class CampOn implements ActiveCall {
  readonly callId: string;
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  private readonly log: Logger;
  private state: CampOnState;
  private readonly campedAt = Date.now();
  private hold: HoldMusic | undefined;
  private music = true;
  private timer: NodeJS.Timeout | undefined;
  private tick: NodeJS.Timeout | undefined;
  private ringing: Ringing | undefined;
  private finished = false;
  private unwatch: (() => void) | undefined;
  private readonly onStatus = (s: OperatorStatus): void => {
    if (s.operatorId === this.s.target.id && s.state === 'available') this.step({ type: 'target-free' });
  };

  constructor(
    private readonly ctx: CallContext,
    private readonly s: CampOnStart,
  ) {
    this.callId = s.callId;
    this.log = s.log;
    this.state = initialCampOnState({ operator: s.fromOperator !== undefined, queue: s.fallbackQueue !== undefined }, s.origin === 'transfer');
    s.caller.dialog.on('destroy', () => this.step({ type: 'caller-hangup' }));
  }

  waiting(): undefined {
    return undefined;
  }

  hangup(reason: string): void {
    this.step({ type: 'hangup', reason });
  }

  /** Lines the caller up, tells them, and starts watching the operator. */
  async start(): Promise<void> {
    const { target, caller } = this.s;
    const timeoutMs = this.ctx.config.campOnTimeoutS * 1000;
    // The entry outlives the owner's own timer, so only a dead instance's entry ever expires.
    const place = await this.ctx.campOns.join(target.id, this.callId, this.campedAt + timeoutMs + LEASE_MARGIN_MS, this.campedAt);
    this.log.info({ operator: target.username, place, timeoutS: this.ctx.config.campOnTimeoutS }, 'caller camps on a busy operator');
    publishCallEvent(this.ctx.bus, { event: 'camped-on', callId: this.callId, operatorId: target.id, position: place });
    await this.ctx.queues.saveCall({
      callId: this.callId,
      owner: this.ctx.instanceId,
      callerNumber: caller.number,
      callerName: caller.name,
      dialledNumber: caller.dialled,
      arrivedAt: caller.arrivedAt,
      state: 'camped',
      queueId: null,
      queuedAt: null,
      priority: caller.priority,
      score: null,
      operatorId: target.id,
      answeredAt: null,
    });
    this.timer = setTimeout(() => this.step({ type: 'timeout' }), timeoutMs);
    this.unwatch = watchOperator(this.ctx.statuses, target.id, this.onStatus);
    this.tick = setInterval(() => this.look(), WATCH_TICK_MS);
    void this.announce();
    // The caller may have left while we lined them up; or the operator may be free already.
    if (!isConnected(caller.dialog)) this.step({ type: 'caller-hangup' });
    else this.look();
  }

  private look(): void {
    const status = this.ctx.statuses.get(this.s.target.id);
    if (status) this.onStatus(status);
  }

  /** "The line is busy, please hold", then music until someone takes the caller. */
  private async announce(): Promise<void> {
    const endpoint = this.s.caller.endpoint;
    await bounded(endpoint.play(this.ctx.prompts.file('camp-on')), PROMPT_MAX_MS);
    if (!this.music) return;
    this.hold = new HoldMusic(endpoint, this.s.queue?.holdMusic ?? DEFAULT_HOLD_MUSIC, this.log);
    this.hold.start();
  }

  private stopMusic(): void {
    this.music = false;
    this.hold?.stop();
    this.hold = undefined;
  }

  private stopWatching(): void {
    clearTimeout(this.timer);
    clearInterval(this.tick);
    this.unwatch?.();
    this.unwatch = undefined;
  }

  private step(event: CampOnEvent): void {
    const { state, effects } = campOnStep(this.state, event);
    this.state = state;
    if (state.phase !== 'waiting' && state.phase !== 'reserving') this.stopWatching();
    for (const effect of effects) {
      this.perform(effect).catch((err: Error) => this.log.error({ err: err.message, effect: effect.type }, 'camp-on step failed'));
    }
  }

  private party(who: Party): Operator {
    return who === 'target' ? this.s.target : (this.s.fromOperator as Operator);
  }

  private async perform(e: CampOnEffect): Promise<void> {
    switch (e.type) {
      case 'reserve':
        return this.reserve(e.who);
      case 'ring':
        return this.ring(e.who);
      case 'cancel-ring':
        if (!this.ringing) return;
        clearTimeout(this.ringing.timer);
        this.ringing.ring.cancel();
        return;
      case 'release':
        await this.ctx.operators.tryApply(this.party(e.who).id, { type: 'release', callId: this.callId, missed: e.missed, maxMisses: MAX_MISSES_OUTSIDE_QUEUES });
        return;
      case 'drop-answered':
        return this.dropAnswered();
      case 'leave-line':
        await this.ctx.campOns.leave(this.s.target.id, this.callId);
        return;
      case 'connect':
        return this.connect(e.who);
      case 'to-queue':
        return this.toQueue();
      case 'busy-and-hangup':
        this.stopMusic();
        await bounded(this.s.caller.endpoint.play(this.ctx.prompts.file('busy')), PROMPT_MAX_MS);
        return this.finish({ type: 'finish', hangupBy: 'system', reason: e.reason, ...(e.disposition ? { disposition: e.disposition } : {}) });
      case 'record':
        return this.record(e.outcome);
      case 'finish':
        return this.finish(e);
    }
  }

  private reserveLeaseMs(): number {
    return this.ctx.config.directRingTimeoutS * 1000 + LEASE_MARGIN_MS;
  }

  /** The first caller in line takes the operator, atomically; an origin operator only if available. */
  private async reserve(who: Party): Promise<void> {
    const operator = this.party(who);
    const lease = { instance: this.ctx.instanceId, leaseMs: this.reserveLeaseMs() };
    let ok = false;
    try {
      if (who === 'target') {
        await this.ctx.campOns.prune(operator.id, Date.now());
        const taken = await this.ctx.operators.store.reserveForCampOn(operator.id, this.callId, lease);
        if (taken !== 'out-of-turn') for (const t of taken) this.ctx.operators.record(t);
        ok = taken !== 'out-of-turn' && taken.length > 0;
      } else {
        ok = (await this.ctx.operators.tryApply(operator.id, { type: 'reserve', callId: this.callId, ...lease })) !== undefined;
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message, operator: operator.username }, 'cannot reserve the operator');
    }
    this.step({ type: 'reserved', who, ok });
  }

  private async ring(who: Party): Promise<void> {
    const operator = this.party(who);
    const { caller } = this.s;
    const role = who === 'target' && this.s.origin === 'transfer' ? 'target' : 'operator';
    const contacts = (await this.ctx.registrar.contacts(operator.username).catch(() => [])).map((b) => b.contact);
    // Ended while the phones were looked up: the reservation is already given back.
    if (this.state.phase === 'ended') return;
    const leg = this.s.recorder.leg(role, 'outbound', '', operator.username, Date.now(), operator.id);
    const failed = (status: number, reason: string): void => {
      clearTimeout(ringing.timer);
      leg.end(Date.now(), null, status, reason);
      this.log.info({ operator: operator.username, status, reason }, 'the operator rung for a camped caller did not answer');
      this.step({ type: 'ring-failed', who, missed: status === 408 || status === 480 || status === 487 });
    };
    const ring = new OperatorRing(
      this.ctx.srf,
      caller.endpoint.mediaserver,
      {
        contacts,
        username: operator.username,
        domain: this.ctx.config.sipDomain,
        fromNumber: caller.number,
        fromName: `${who === 'target' ? 'Camp-on' : 'Back'}: ${caller.name || caller.number}`,
        headers: { 'X-Call-ID': this.callId },
      },
      {
        answered: (dialog, endpoint) => {
          clearTimeout(ringing.timer);
          ringing.dialog = dialog;
          ringing.endpoint = endpoint;
          leg.answered(Date.now());
          this.step({ type: 'answered', who });
        },
        failed,
      },
      this.log,
    );
    const ringing: Ringing = { who, operator, leg, ring, timer: setTimeout(() => ring.cancel(), this.ctx.config.directRingTimeoutS * 1000) };
    this.ringing = ringing;
    this.log.info({ operator: operator.username, who }, 'ringing the operator for a camped caller');
    await ring.start();
  }

  private async dropAnswered(): Promise<void> {
    const r = this.ringing;
    if (!r?.dialog) return;
    r.leg.end(Date.now(), 'system', 200, 'not needed');
    hangUpDialog(r.dialog);
    await releaseEndpoint(r.endpoint);
  }

  /** Caller and the operator who answered talk: a Conversation takes the call over. */
  private async connect(who: Party): Promise<void> {
    const r = this.ringing;
    if (!r?.dialog || !r.endpoint) return;
    const at = Date.now();
    const operator = r.operator;
    const ref = { id: operator.id, username: operator.username };
    this.stopMusic();
    await this.ctx.operators.tryApply(operator.id, { type: 'answer', callId: this.callId });
    await bridge(this.s.caller.endpoint, r.endpoint);
    if (who === 'target' && this.s.origin === 'transfer') this.s.recorder.transferred(this.s.fromOperator?.id ?? null, { operator: ref }, at);
    else this.s.recorder.answered(at, ref);
    publishCallEvent(this.ctx.bus, { event: 'connected', callId: this.callId, operatorId: operator.id });
    this.log.info({ operator: operator.username, who }, 'camped caller connected');
    this.finished = true;
    this.settled.resolve();
    Conversation.begin(this.ctx, {
      callId: this.callId,
      log: this.log,
      recorder: this.s.recorder,
      caller: this.s.caller,
      operator: { operator, dialog: r.dialog, endpoint: r.endpoint, leg: r.leg },
      queue: this.s.queue,
    });
  }

  /** Into the fallback queue: a transferred caller at its front, a direct caller by arrival. */
  private async toQueue(): Promise<void> {
    const queue = this.s.fallbackQueue as Queue;
    this.stopMusic();
    this.log.info({ queue: queue.number }, 'camped caller goes to a queue');
    this.finished = true;
    const next = new QueueCall(this.ctx, this.callId, queue, this.s.caller, this.s.recorder, this.log);
    this.ctx.calls.add(next);
    this.settled.resolve();
    await next.enter();
    if (this.s.origin === 'transfer') await next.moveToFront();
  }

  private record(outcome: CampOnOutcome): void {
    const at = Date.now();
    const { target } = this.s;
    this.ctx.record({
      kind: 'camp-on',
      row: {
        campOnId: randomUUID(),
        callId: this.callId,
        instanceId: this.ctx.instanceId,
        operatorId: target.id,
        operatorUsername: target.username,
        origin: this.s.origin,
        fromOperatorId: this.s.fromOperator?.id ?? null,
        campedAt: new Date(this.campedAt).toISOString(),
        endedAt: new Date(at).toISOString(),
        waitS: (at - this.campedAt) / 1000,
        outcome,
      },
    });
    this.log.info({ operator: target.username, outcome, waitS: (at - this.campedAt) / 1000 }, 'camp-on over');
  }

  private async finish(e: Extract<CampOnEffect, { type: 'finish' }>): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const at = Date.now();
    this.stopMusic();
    this.stopWatching();
    hangUpDialog(this.s.caller.dialog);
    this.s.caller.leg.end(at, e.hangupBy, 200, e.reason);
    await releaseEndpoint(this.s.caller.endpoint);
    this.s.recorder.end({ at, hangupBy: e.hangupBy, sipReason: e.reason, ...(e.disposition ? { disposition: e.disposition } : {}) });
    await this.ctx.queues.removeCall(this.callId, null).catch(() => undefined);
    this.log.info({ hangupBy: e.hangupBy, reason: e.reason }, 'call ended');
    this.settled.resolve();
  }
}
