import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import type { WaitingCall } from '../acd/dispatcher.js';
import type { AppliedTransition } from '../acd/operator-store.js';
import type { HeldOperator } from '../acd/recovery-plan.js';
import { waitingScore } from '../acd/queue-order.js';
import type { Entered, LiveCall } from '../acd/queue-store.js';
import type { Need } from '../acd/skill-match.js';
import type { CallRecorder, LegRecorder } from '../cdr/call-recorder.js';
import type { Logger } from '../log.js';
import { HoldMusic } from '../media/hold.js';
import type { MediaMode, Queue } from '../provisioning/types.js';
import type { ActiveCall, CallContext } from './context.js';
import { hangUpDialog, type Arrival } from './arrival.js';
import { Conversation } from './conversation.js';
import { greets, type GreetingStep } from './greeting.js';
import { afterLateMatch, freeFitting, holdMusicDelayMs } from './ring-first.js';
import { COMPLETED_ELSEWHERE, OperatorRing, type RingMedia } from './operator-ring.js';
import { initialQueueCallState, queueCallStep, type Effect, type LeaveReason, type QueueCallEvent, type QueueCallState } from './queue-call-machine.js';
import { bridge } from '../media/bridge.js';
import { releaseEndpoint } from '../media/endpoint.js';
import { answerOntoMedia, CallerGone, isConnected, type AnsweredCall } from '../media/answer.js';
import { takeCallerMessage } from '../messages/caller-message.js';
import { runCallbackMenu, type RunningMenu } from '../callback/menu.js';
import type { MenuOutcome } from '../callback/menu-machine.js';

// Before offering a caller again to operators who already missed them.
const RETRY_SAME_OPERATORS_MS = 2_000;
// Overflow from queue to queue stops after this many hops (a loop in the configuration).
const MAX_QUEUE_HOPS = 5;
const BUSY_PROMPT_MAX_MS = 15_000;
// A caller rung through first waits this long, unanswered, for the dispatcher to match the free
// operator seen on arrival, and looks again after as long while a match stays plausible.
const RING_FIRST_WAIT_MS = 1_000;

export interface AnsweredCaller {
  dialog: Srf.Dialog;
  endpoint: Mrf.Endpoint;
  number: string;
  name: string;
  dialled: string;
  leg: LegRecorder;
  arrivedAt: number;
  /** From the caller lists: higher is served first. */
  priority: number;
  /** The skill the call needs ('' for none): from its route or the queue's menu. */
  skill: string;
  /** What the operator hears before being connected, after any whisper (a wake-up escalation's note). */
  operatorNote?: GreetingStep[];
  /**
   * The "caller" is a media server leg of the switchboard's own (a wake-up escalation's alert
   * leg), which cannot talk phone to phone: the call stays anchored whatever the queue's mode.
   */
  mediaServerLeg?: boolean;
}

/**
 * A caller not answered yet ("ring first": a direct queue with an operator free on arrival). The
 * operator's phones are offered the caller's own SDP and the caller is answered with the phone's
 * answer, so the media server never sees the call; a caller who has to wait after all is answered
 * onto the media server then, and waits as any other.
 */
export type UnansweredCaller = Omit<AnsweredCaller, 'dialog' | 'endpoint'> & { arrival: Arrival };

/** The caller's answered line; ring first answers with the operator's media, without an endpoint. */
interface CallerLine {
  dialog: Srf.Dialog;
  endpoint: Mrf.Endpoint | undefined;
}

/** How the call's media goes: a leg of the media server's own stays on it in any queue. */
export function callMediaMode(queue: Queue | undefined, caller: Pick<AnsweredCaller, 'mediaServerLeg'>): MediaMode {
  return caller.mediaServerLeg ? 'anchored' : (queue?.mediaMode ?? 'anchored');
}

interface OperatorLeg {
  ring?: OperatorRing<RingMedia>;
  timer?: NodeJS.Timeout;
  leg: LegRecorder;
  dialog?: Srf.Dialog;
  endpoint?: Mrf.Endpoint;
}

/**
 * A caller waiting in a queue and then talking to an operator, with both legs anchored on the
 * media server. The decisions are queueCallStep's; this class feeds it events and carries out
 * its effects on SIP, the media server, Redis and the record.
 */
export class QueueCall implements ActiveCall {
  private state: QueueCallState = initialQueueCallState;
  private readonly waitingCall: WaitingCall;
  private readonly legs = new Map<number, OperatorLeg>();
  private hold: HoldMusic | undefined;
  /** Music held back for a caller likely connected at once (holdMusicOnEntry). */
  private musicTimer: NodeJS.Timeout | undefined;
  private maxWaitTimer: NodeJS.Timeout | undefined;
  /** The end of the caller's wait for an operator with their skill: then anyone may take them. */
  private widenTimer: NodeJS.Timeout | undefined;
  private hops = 0;
  private finished = false;
  /** The callback menu, while the caller is in it (they are not offered meanwhile). */
  private menu: RunningMenu | undefined;
  private score: number;
  /** What the caller waits for in the current queue; the skill wait runs from entering it. */
  private need: Pick<Need, 'skill' | 'widenAt'>;
  /** Who the caller is; their line is `line` once answered. */
  private readonly caller: Omit<AnsweredCaller, 'dialog' | 'endpoint'>;
  private line: CallerLine | undefined;
  /** Ring first: the caller's INVITE, until they are answered one way or the other. */
  private early: Arrival | undefined;
  /** Ring first: the next look at whether a match is still plausible, until one is offered. */
  private matchTimer: NodeJS.Timeout | undefined;
  /** Ring first: the ringback limit (RING_FIRST_MAX_SECONDS) while the phone rings. */
  private ringbackTimer: NodeJS.Timeout | undefined;
  /** Ring first: the caller was kept waiting unanswered past the first look (logged once). */
  private keptWaiting = false;
  /** Ring first: the caller being answered onto the media server to wait (not offered meanwhile). */
  private waitAnswer: Promise<boolean> | undefined;
  /** Ring first: the caller's answer with the first answering phone's media, once under way. */
  private earlyAnswer: Promise<void> | undefined;
  private ringbackSent = false;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((resolve) => {
    this.resolveDone = resolve;
  });

  constructor(
    private readonly ctx: CallContext,
    readonly callId: string,
    private queue: Queue,
    caller: AnsweredCaller | UnansweredCaller,
    private readonly recorder: CallRecorder,
    private readonly log: Logger,
  ) {
    this.waitingCall = { callId, queueId: queue.id, tried: new Set(), retryAt: 0 };
    this.score = waitingScore(caller.priority, caller.arrivedAt);
    this.need = { skill: caller.skill, widenAt: 0 };
    recorder.waitsWith(caller.priority, caller.skill);
    if ('arrival' in caller) {
      const { arrival, ...who } = caller;
      this.caller = who;
      this.early = arrival;
      arrival.req.on('cancel', () => this.callerGone());
    } else {
      const { dialog, endpoint, ...who } = caller;
      this.caller = who;
      this.attach({ dialog, endpoint });
    }
  }

  private attach(line: CallerLine): void {
    this.line = line;
    line.dialog.on('destroy', () => this.callerGone());
    line.endpoint?.on('dtmf', this.onDtmf);
  }

  /** The caller on their media server endpoint: only they hear music, menus and prompts. */
  private onMediaServer(): AnsweredCaller {
    const line = this.line;
    if (!line?.endpoint) throw new Error('the caller is not on the media server');
    return { ...this.caller, dialog: line.dialog, endpoint: line.endpoint };
  }

  /**
   * The queue's message key (the machine ignores it but while the caller waits) or its callback
   * key; the callback menu, while it runs, reads the keys itself.
   */
  private readonly onDtmf = (e: { dtmf?: string }): void => {
    const digit = String(e.dtmf ?? '');
    if (this.menu) return;
    if (this.queue.messageKey !== null && digit === this.queue.messageKey) return this.step({ type: 'message-key', at: Date.now() });
    this.onDigit(digit);
  };

  /** The caller hung up. */
  callerGone(): void {
    this.step({ type: 'caller-hangup', at: Date.now() });
  }

  waiting(): WaitingCall | undefined {
    return this.state.phase === 'waiting' && !this.menu && !this.waitAnswer ? this.waitingCall : undefined;
  }

  unmatchedSince(): number | undefined {
    const first = this.early && this.state.phase === 'waiting' && !this.waitAnswer && this.waitingCall.tried.size === 0;
    return first ? this.caller.arrivedAt : undefined;
  }

  held(): HeldOperator[] {
    return this.state.rings.map((r) => ({ operatorId: r.operatorId, callId: this.callId, state: 'ringing' }));
  }

  hangup(reason: string): void {
    this.step({ type: 'hangup', at: Date.now(), reason });
  }

  /** Puts the answered caller in the queue: hold music, announcements, max wait, dispatch. */
  async enter(join = true): Promise<void> {
    const at = Date.now();
    const call: LiveCall & { queueId: number; score: number } = {
      callId: this.callId,
      owner: this.ctx.instanceId,
      callerNumber: this.caller.number,
      callerName: this.caller.name,
      dialledNumber: this.caller.dialled,
      arrivedAt: this.caller.arrivedAt,
      state: 'waiting',
      queueId: this.queue.id,
      queuedAt: at,
      priority: this.caller.priority,
      score: this.score,
      operatorId: null,
      answeredAt: null,
      skill: this.caller.skill,
    };
    // The live call and its place in the queue in one transaction.
    if (join) await this.joinQueue(at, (need) => this.ctx.queues.saveAndEnqueue(call, need));
    else await this.ctx.queues.saveCall(call);
    if (this.early) this.lookForMatchIn(RING_FIRST_WAIT_MS);
  }

  private lookForMatchIn(ms: number): void {
    clearTimeout(this.matchTimer);
    this.matchTimer = setTimeout(() => void this.matchLate(), ms);
  }

  /**
   * Rung first, but no operator was matched in time. While a match stays plausible (more fitting
   * operators free than callers ahead, as on arrival) the caller is left unanswered in line for
   * the dispatcher, up to RING_FIRST_MAX_SECONDS since arrival: a dispatcher that falls behind for
   * a moment must not send every caller to the media server at once. Otherwise the caller is
   * answered onto the media server to wait.
   */
  private async matchLate(): Promise<void> {
    if (!this.early || this.state.phase !== 'waiting') return;
    const decision = afterLateMatch({
      now: Date.now(),
      arrivedAt: this.caller.arrivedAt,
      maxMs: this.ctx.config.ringFirstMaxS * 1000,
      waitMs: RING_FIRST_WAIT_MS,
      free: freeFitting(this.ctx.settings, this.ctx.statuses, this.queue.id, this.caller.skill),
      ahead: await this.callersAhead(),
    });
    // Matched, answered or gone meanwhile.
    if (!this.early || this.state.phase !== 'waiting') return;
    if (decision.keep) {
      if (!this.keptWaiting) this.log.info({ queue: this.queue.number }, 'no operator matched at once, one is still likely: the caller keeps waiting unanswered');
      this.keptWaiting = true;
      this.lookForMatchIn(decision.checkInMs);
      return;
    }
    this.log.info('no operator matched at once: the caller is answered to wait');
    if (!(await this.answerToWait())) return;
    this.startHoldMusic();
    this.ctx.dispatcher.kick(this.queue.id);
  }

  /** Callers ahead of this one in its queue; unknown (no place, Redis unavailable) counts as too many. */
  private async callersAhead(): Promise<number> {
    const position = await this.ctx.queues.position(this.queue.id, this.callId).catch(() => undefined);
    return position === undefined ? Infinity : position - 1;
  }

  /**
   * Answers a caller rung first onto the media server (they must wait, hear a prompt or leave a
   * message after all). False when the call ended instead: the caller hung up, or the media server
   * failed (503, and the call is ended here).
   */
  private answerToWait(): Promise<boolean> {
    if (!this.early || this.earlyAnswer) return Promise.resolve(!this.finished && this.line?.endpoint !== undefined);
    this.waitAnswer ??= this.answerOntoMediaServer(this.early).finally(() => {
      this.waitAnswer = undefined;
    });
    return this.waitAnswer;
  }

  private async answerOntoMediaServer(early: Arrival): Promise<boolean> {
    // Admission control: a caller who would be the media server's one too many is refused.
    const overload = this.ctx.admission.mediaRefusal();
    if (overload) return this.cannotWait(early, overload.reason, overload.headers);
    const ms = early.pickMedia();
    let answered: AnsweredCall;
    try {
      if (!ms) throw new Error('no media server');
      answered = await answerOntoMedia(this.ctx.srf, ms, early.req, early.res);
      this.early = undefined;
    } catch (err) {
      // A caller who hung up is ended by the CANCEL (callerGone) already.
      if (err instanceof CallerGone) return false;
      this.log.warn({ err: (err as Error).message }, 'cannot answer the caller onto the media server');
      return this.cannotWait(early, 'media server failed');
    }
    if (this.finished) {
      // Ended (a CANCEL that crossed the 200 OK, a hang-up) while being answered.
      hangUpDialog(answered.dialog);
      await releaseEndpoint(answered.endpoint);
      return false;
    }
    this.caller.leg.answered(Date.now());
    this.attach(answered);
    // drachtio-srf makes the dialog on sending 200 OK: a BYE right behind the ACK can end it first.
    if (!isConnected(answered.dialog)) {
      this.callerGone();
      return false;
    }
    return true;
  }

  /** A caller rung first who cannot be put on the media server to wait: 503, and the call ends. */
  private cannotWait(early: Arrival, reason: string, headers: Record<string, string> = {}): false {
    if (!early.res.finalResponseSent) early.res.send(503, { headers });
    // Leaving the queue has ended the machine already: nothing else would finish the call.
    if (this.state.phase === 'ended') void this.finish('system', reason);
    else this.hangup(reason);
    return false;
  }

  /** The queue cannot take the caller (full, or nobody logged in): straight to its overflow. */
  async enterOverflowing(reason: 'exit-full' | 'exit-empty'): Promise<void> {
    await this.enter(false);
    this.recorder.refusedByQueue({ id: this.queue.id, number: this.queue.number }, reason, Date.now());
    this.state = { ...this.state, phase: 'ended' };
    await this.leaveQueue(reason, false);
  }

  private async joinQueue(
    at: number,
    enqueue = (need: Pick<Need, 'skill' | 'widenAt'>): Promise<Entered> => this.ctx.queues.enqueue(this.queue.id, this.callId, this.score, need),
  ): Promise<void> {
    const queue = this.queue;
    this.waitingCall.queueId = queue.id;
    this.waitingCall.tried.clear();
    this.need = { skill: this.caller.skill, widenAt: at + queue.skillWaitS * 1000 };
    const { position, line } = await enqueue(this.need);
    this.recorder.enterQueue({ id: queue.id, number: queue.number }, position, at);
    this.log.info({ queue: queue.number, position, priority: this.caller.priority, skill: this.need.skill }, 'caller queued');
    this.holdMusicOnEntry(position);
    clearTimeout(this.maxWaitTimer);
    if (queue.maxWaitS !== null) {
      this.maxWaitTimer = setTimeout(() => this.step({ type: 'max-wait', at: Date.now() }), queue.maxWaitS * 1000);
    }
    // Nothing else changes when the skill wait ends: without a kick then, the caller would wait
    // for the dispatcher's next periodic look (up to a second more) with operators free.
    clearTimeout(this.widenTimer);
    if (this.need.skill !== '' && queue.skillWaitS > 0) this.widenTimer = setTimeout(() => this.ctx.dispatcher.kick(queue.id), this.need.widenAt - Date.now());
    // A caller entering can make a match only for themselves, with a free operator who fits. With
    // none, the next operator to come free kicks the dispatcher (app.ts), as does the end of the
    // skill wait above: a pass now would read the line for nothing.
    const skill = this.need.widenAt > at ? this.need.skill : '';
    if (freeFitting(this.ctx.settings, this.ctx.statuses, queue.id, skill) > 0) this.ctx.dispatcher.kick(queue.id, line);
  }

  /**
   * Music for a caller who has just entered the queue: at once, unless an operator is free for
   * them (ring-first.ts); then only if they are still not connected after a moment, so that the
   * media server does not start and break off a stream for a call that never really waits.
   */
  private holdMusicOnEntry(position: number): void {
    if (!this.line?.endpoint) return;
    const free = freeFitting(this.ctx.settings, this.ctx.statuses, this.queue.id, this.need.skill);
    const delayMs = holdMusicDelayMs(free, position - 1);
    if (delayMs === 0) return this.startHoldMusic();
    this.stopHoldMusic();
    this.musicTimer = setTimeout(() => this.startHoldMusic(), delayMs);
  }

  /** Music and announcements for a caller on the media server; one rung first hears ringback instead. */
  private startHoldMusic(): void {
    this.stopHoldMusic();
    const endpoint = this.line?.endpoint;
    if (!endpoint) return;
    const queue = this.queue;
    this.hold = new HoldMusic(endpoint, queue.holdMusic, this.log, {
      intervalS: queue.announceIntervalS,
      play: async (endpoint) => {
        const position = await this.ctx.queues.position(queue.id, this.callId);
        if (position !== undefined) await this.ctx.prompts.position(endpoint, position).catch(() => undefined);
        // Offered even when the position could not be played (a media server without the files).
        if (queue.callbackKey !== null) await this.ctx.prompts.callbackOffer(endpoint, queue.callbackKey);
      },
    });
    this.hold.start();
  }

  /** Stops the music, or keeps it from starting (holdMusicOnEntry). */
  private stopHoldMusic(): void {
    clearTimeout(this.musicTimer);
    this.hold?.stop();
  }

  /**
   * A supervisor moves the waiting caller to another queue: same place by arrival there, that
   * queue's music and limits from now on. Only while waiting; false otherwise.
   */
  async moveToQueue(target: Queue): Promise<boolean> {
    if (this.state.phase !== 'waiting' || target.id === this.queue.id) return false;
    // The target queue may greet or be anchored: a caller rung first waits on the media server there.
    if (!(await this.answerToWait()) || this.state.phase !== 'waiting') return false;
    if (!(await this.ctx.queues.moveToQueue(this.queue.id, target.id, this.callId))) return false;
    this.queue = target;
    this.waitingCall.queueId = target.id;
    this.waitingCall.tried.clear();
    const position = (await this.ctx.queues.position(target.id, this.callId)) ?? 0;
    this.recorder.movedToQueue({ id: target.id, number: target.number }, position, Date.now());
    this.log.info({ queue: target.number, position }, 'caller moved to another queue');
    this.startHoldMusic();
    clearTimeout(this.maxWaitTimer);
    if (target.maxWaitS !== null) this.maxWaitTimer = setTimeout(() => this.step({ type: 'max-wait', at: Date.now() }), target.maxWaitS * 1000);
    this.ctx.dispatcher.kick(target.id);
    return true;
  }

  /** A supervisor puts the waiting caller at the head of their queue. */
  async moveToFront(): Promise<boolean> {
    if (this.state.phase !== 'waiting') return false;
    const moved = await this.ctx.queues.moveToFront(this.queue.id, this.callId);
    if (moved) this.ctx.dispatcher.kick(this.queue.id);
    return moved;
  }

  /** The dispatcher reserved these operators for this caller. */
  offer(reserved: AppliedTransition[]): void {
    clearTimeout(this.matchTimer);
    for (const t of reserved) this.ctx.operators.record(t);
    // Matched just as the caller pressed the callback key: the operator wins, the menu stops.
    if (this.menu && this.state.phase === 'waiting') {
      this.menu.abort();
      this.menu = undefined;
      this.startHoldMusic();
    }
    this.step({ type: 'offer', operatorIds: reserved.map((t) => t.operatorId), at: Date.now() });
  }

  /** The caller's key while waiting: the queue's callback key opens the callback menu. */
  private onDigit(digit: string): void {
    if (this.menu || this.state.phase !== 'waiting' || this.queue.callbackKey !== digit) return;
    this.log.info('caller asks for a callback');
    this.stopHoldMusic();
    const menu = runCallbackMenu(this.onMediaServer().endpoint, this.caller.number, this.ctx.prompts, this.log);
    this.menu = menu;
    void menu.outcome
      .then((outcome) => (this.menu === menu ? this.menuOver(outcome) : undefined))
      .catch((err: Error) => this.log.error({ err: err.message }, 'callback menu failed'));
  }

  private async menuOver(outcome: MenuOutcome): Promise<void> {
    const entry = outcome.accepted && this.state.phase === 'waiting' ? await this.requestCallback(outcome) : undefined;
    this.menu = undefined;
    if (!entry) {
      if (this.state.phase !== 'waiting') return;
      // Back to waiting in the same place.
      this.startHoldMusic();
      this.ctx.dispatcher.kick(this.queue.id);
      return;
    }
    const at = Date.now();
    this.state = { ...this.state, phase: 'ended' };
    clearTimeout(this.maxWaitTimer);
    this.recorder.callbackRequested(at, { callbackId: entry.id, number: entry.number, how: entry.how });
    this.log.info({ callbackId: entry.id, number: entry.number, how: entry.how }, 'callback requested; the caller\'s place is kept');
    const caller = this.onMediaServer();
    await caller.endpoint.play(this.ctx.prompts.file('callback-accepted')).catch(() => undefined);
    const by = isConnected(caller.dialog) ? 'system' : 'caller';
    hangUpDialog(caller.dialog);
    await this.finish(by, 'callback requested');
  }

  private async requestCallback(outcome: MenuOutcome): Promise<{ id: string; number: string; how: string } | undefined> {
    try {
      return await this.ctx.callbacks.request({
        callId: this.callId,
        queueId: this.queue.id,
        number: outcome.number,
        how: outcome.how,
        callerName: this.caller.name,
        priority: this.caller.priority,
        arrivedAt: this.caller.arrivedAt,
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot store the callback; the caller keeps waiting');
      return undefined;
    }
  }

  private step(event: QueueCallEvent): void {
    const { state, effects } = queueCallStep(this.state, event);
    this.state = state;
    // Leaving the queue (hang-up, max wait) ends the callback menu too.
    if (state.phase !== 'waiting' && this.menu) {
      this.menu.abort();
      this.menu = undefined;
    }
    for (const effect of effects) {
      this.perform(effect).catch((err: Error) => this.log.error({ err: err.message, effect: effect.type }, 'call step failed'));
    }
  }

  private async perform(e: Effect): Promise<void> {
    const now = Date.now();
    const operator = 'operatorId' in e ? this.ctx.settings.operator(e.operatorId) : undefined;
    const ref = operator ? { id: operator.id, username: operator.username } : { id: 'operatorId' in e ? e.operatorId : 0, username: '?' };
    switch (e.type) {
      case 'ring':
        return this.ring(e.operatorId);
      case 'cancel-ring':
        return this.cancelRing(e.operatorId, e.answeredElsewhere);
      case 'drop-answered':
        return this.dropLeg(e.operatorId, 'system', 487, 'not needed');
      case 'release-operator':
        await this.ctx.operators.tryApply(e.operatorId, { type: 'release', callId: this.callId, missed: e.missed, maxMisses: this.queue.maxNoAnswer });
        return;
      case 'operator-busy':
        // Independent writes: sent together, they cost one round trip to Redis.
        await Promise.all([
          this.ctx.operators.tryApply(e.operatorId, { type: 'answer', callId: this.callId }),
          this.ctx.queues.updateCall(this.callId, { state: 'connected', operatorId: e.operatorId, answeredAt: now }),
        ]);
        return;
      case 'hand-over':
        return this.handOver(e.operatorId);
      case 'bridge':
        return this.bridge(e.operatorId);
      case 'stop-hold-music':
        this.stopHoldMusic();
        clearTimeout(this.maxWaitTimer);
        return;
      case 'requeue':
        for (const id of e.tried) this.waitingCall.tried.add(id);
        this.waitingCall.retryAt = now + RETRY_SAME_OPERATORS_MS;
        // Rung first and nobody took the call: from now on the caller waits on the media server.
        if (this.early) {
          if (!(await this.answerToWait())) return;
          this.startHoldMusic();
        }
        await this.ctx.queues.enqueue(this.queue.id, this.callId, this.score, this.need);
        this.ctx.dispatcher.kick(this.queue.id);
        return;
      case 'dequeue':
        await this.ctx.queues.dequeue(this.queue.id, this.callId);
        return;
      case 'hangup-caller':
        return this.hangUpCaller();
      case 'leave-queue':
        return this.leaveQueue(e.reason);
      case 'take-message':
        return this.takeMessage();
      case 'record-offer':
        this.recorder.offer(ref, now);
        return;
      case 'record-no-answer':
        this.recorder.ringNoAnswer(ref, e.ringMs, now, e.reason);
        return;
      case 'record-connect':
        this.recorder.connect(ref, e.ringMs, now);
        this.log.info({ operator: ref.username }, 'caller connected to operator');
        return;
      case 'record-abandon':
        this.recorder.leaveQueue('abandon', now);
        return;
      case 'finish':
        return this.finish(e.hangupBy, e.reason);
    }
  }

  private async ring(operatorId: number): Promise<void> {
    const operator = this.ctx.settings.operator(operatorId);
    const media = this.ringMedia();
    const startedAt = Date.now();
    const leg = this.recorder.leg('operator', 'outbound', '', operator?.username ?? String(operatorId), startedAt, operatorId);
    const entry: OperatorLeg = { leg };
    this.legs.set(operatorId, entry);
    const fail = (status: number, reason: string): void => {
      clearTimeout(entry.timer);
      entry.leg.end(Date.now(), null, status, reason);
      this.step({ type: 'operator-failed', operatorId, status, at: Date.now() });
    };
    if (!operator || !media) return fail(503, operator ? 'no media server' : 'operator deleted');
    const contacts = (await this.ctx.registrar.contacts(operator.username)).map((b) => b.contact);
    this.ringback();
    entry.timer = setTimeout(() => this.step({ type: 'ring-timeout', operatorId, at: Date.now() }), this.queue.ringTimeoutS * 1000);
    entry.ring = new OperatorRing<RingMedia>(
      this.ctx.srf,
      media,
      {
        contacts,
        username: operator.username,
        domain: this.ctx.config.sipDomain,
        fromNumber: this.caller.number,
        fromName: `${this.queue.name}: ${this.caller.name || this.caller.number}`,
        headers: { 'X-Call-ID': this.callId, 'X-Queue': this.queue.name },
        lateOffer: true,
      },
      {
        answered: (dialog, endpoint) => {
          clearTimeout(entry.timer);
          entry.dialog = dialog;
          entry.endpoint = endpoint;
          entry.leg.answered(Date.now());
          const answered = (): void => this.step({ type: 'operator-answered', operatorId, at: Date.now(), greet: greets(this.queue, this.caller.operatorNote) });
          if (!this.early && !this.earlyAnswer && !this.waitAnswer) return answered();
          void this.answerCallerFor(dialog).then(answered);
        },
        failed: fail,
      },
      this.log,
    );
    await entry.ring.start();
  }

  /**
   * A direct queue offers the operator's phones the caller's own description: the phone answers
   * with its media and the caller is answered with it (rung first) or re-INVITEd towards it by the
   * Conversation. A greeting needs both on the media server first, so a greeting queue rings from
   * an endpoint as an anchored one does. Undefined: no media server to ring from.
   */
  private ringMedia(): RingMedia | undefined {
    if (this.early) return { offer: this.early.req.body };
    const line = this.line;
    if (callMediaMode(this.queue, this.caller) !== 'direct' || greets(this.queue, this.caller.operatorNote)) return line?.endpoint?.mediaserver;
    return line ? { offer: line.dialog.remote.sdp } : undefined;
  }

  /**
   * A caller rung first hears their own phone's ringback while the operator's rings, for
   * RING_FIRST_MAX_SECONDS at most: then they are answered onto the media server (music) while
   * the phone keeps ringing, and re-INVITEd towards it once it answers, as any direct call.
   */
  private ringback(): void {
    const res = this.early?.res;
    if (!res || this.ringbackSent || res.finalResponseSent) return;
    this.ringbackSent = true;
    res.send(180);
    this.ringbackTimer = setTimeout(() => void this.ringFirstTooLong(), this.ctx.config.ringFirstMaxS * 1000);
  }

  private async ringFirstTooLong(): Promise<void> {
    if (!this.early || this.earlyAnswer || this.state.phase !== 'offering') return;
    this.log.info('the operator has not answered yet: the caller is answered to hear music meanwhile');
    if (await this.answerToWait()) this.startHoldMusic();
  }

  /**
   * An operator's phone answered a call rung first: the caller is answered with the description
   * of the first phone to answer, unless being answered onto the media server already (then the
   * Conversation re-INVITEs them). A phone that answers meanwhile waits for that, after which the
   * machine finds the call taken and hangs it up.
   */
  private async answerCallerFor(operatorDialog: Srf.Dialog): Promise<void> {
    if (this.waitAnswer) await this.waitAnswer;
    else if (this.early) this.earlyAnswer ??= this.answerEarly(this.early, operatorDialog.remote.sdp);
    await this.earlyAnswer;
  }

  private async answerEarly(early: Arrival, sdp: string): Promise<void> {
    let dialog: Srf.Dialog;
    try {
      dialog = await this.ctx.srf.createUAS(early.req, early.res, { localSdp: sdp });
    } catch (err) {
      // A CANCEL has ended the call already; anything else ends it here (503 to the INVITE).
      this.log.warn({ err: (err as Error).message }, 'cannot answer the caller with the operator\'s media');
      this.hangup('caller could not be answered');
      return;
    }
    this.early = undefined;
    if (this.finished) return hangUpDialog(dialog);
    this.caller.leg.answered(Date.now());
    this.attach({ dialog, endpoint: undefined });
    // drachtio-srf makes the dialog on sending 200 OK: a BYE right behind the ACK can end it first.
    if (!isConnected(dialog)) this.callerGone();
  }

  private cancelRing(operatorId: number, answeredElsewhere: boolean): void {
    const entry = this.legs.get(operatorId);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.ring?.cancel(answeredElsewhere ? { Reason: COMPLETED_ELSEWHERE } : {});
  }

  private async dropLeg(operatorId: number, by: 'caller' | 'system', status: number, reason: string): Promise<void> {
    const entry = this.legs.get(operatorId);
    if (!entry?.dialog) return;
    const dialog = entry.dialog;
    entry.dialog = undefined;
    entry.leg.end(Date.now(), by, status, reason);
    hangUpDialog(dialog);
    await releaseEndpoint(entry.endpoint);
  }

  private async bridge(operatorId: number): Promise<void> {
    const entry = this.legs.get(operatorId);
    const caller = this.line?.endpoint;
    if (!entry?.endpoint || !caller) return;
    await bridge(caller, entry.endpoint);
  }

  /** Ends the caller's side: BYE once answered, 503 to the INVITE of a caller rung first. */
  private hangUpCaller(): void {
    if (this.line) return hangUpDialog(this.line.dialog);
    const res = this.early?.res;
    if (res && !res.finalResponseSent) res.send(503);
  }

  /** Caller and operator talk: a Conversation takes the call over, this object is done. */
  private handOver(operatorId: number): void {
    const entry = this.legs.get(operatorId);
    const operator = this.ctx.settings.operator(operatorId);
    clearTimeout(this.maxWaitTimer);
    const line = this.line;
    if (!entry?.dialog || !operator || !line) {
      // The operator's leg or record vanished as they answered: nothing to talk on.
      this.log.warn({ operatorId }, 'operator leg gone at the answer; ending the call');
      if (entry?.dialog) hangUpDialog(entry.dialog);
      this.hangUpCaller();
      void this.finish('system', 'operator leg lost at the answer');
      return;
    }
    this.legs.delete(operatorId);
    this.finished = true;
    this.resolveDone();
    Conversation.begin(this.ctx, {
      callId: this.callId,
      log: this.log,
      recorder: this.recorder,
      caller: { ...this.caller, dialog: line.dialog, endpoint: line.endpoint },
      operator: { operator, dialog: entry.dialog, endpoint: entry.endpoint, leg: entry.leg },
      queue: this.queue,
    });
  }

  private async leaveQueue(reason: LeaveReason, record = true): Promise<void> {
    // A caller rung first is answered to hear the next queue's music or the busy announcement.
    if (!(await this.answerToWait())) return;
    const now = Date.now();
    const q = this.queue;
    const next = q.overflowAction === 'queue' ? this.ctx.settings.queueByNumber(q.overflowTarget ?? '') : this.overflowQueueByRoute(q);
    if (record) this.recorder.leaveQueue(reason, now, { overflowAction: q.overflowAction, overflowTarget: q.overflowTarget });
    if (next && next.id !== q.id && this.hops < MAX_QUEUE_HOPS) {
      this.hops++;
      this.log.info({ from: q.number, to: next.number, reason }, 'caller overflows to another queue');
      this.queue = next;
      this.state = initialQueueCallState;
      await this.ctx.queues.updateCall(this.callId, { queueId: next.id });
      await this.joinQueue(now);
      return;
    }
    this.log.info({ queue: q.number, reason }, 'caller leaves the queue: busy announcement');
    await this.busyAndHangUp();
    this.state = { ...this.state, phase: 'ended' };
    await this.finish('system', reason);
  }

  /**
   * The caller pressed the message key: out of the queue (recorded as an exit to another
   * service, as Asterisk's EXITWITHKEY), asked for the extension, recorded, hung up.
   */
  private async takeMessage(): Promise<void> {
    const caller = this.onMediaServer();
    caller.endpoint.off('dtmf', this.onDtmf);
    this.recorder.leaveQueue('exit-overflow', Date.now(), { key: this.queue.messageKey, to: 'voice-message' });
    this.log.info({ queue: this.queue.number }, 'caller leaves the queue to leave a voice message');
    const reason = await takeCallerMessage(caller, { number: caller.number, name: caller.name, callId: this.callId }, this.ctx.messages).catch(
      (err: Error) => `voice message failed: ${err.message}`,
    );
    const by = isConnected(caller.dialog) ? 'system' : 'caller';
    hangUpDialog(caller.dialog);
    await this.finish(by, reason);
  }

  /** An overflow target that is a number routed to a queue. */
  private overflowQueueByRoute(q: Queue): Queue | undefined {
    if (q.overflowAction !== 'number' || !q.overflowTarget) return undefined;
    const route = this.ctx.settings.route(q.overflowTarget);
    return route?.targetType === 'queue' && route.queueId !== null ? this.ctx.settings.queue(route.queueId) : undefined;
  }

  private async busyAndHangUp(): Promise<void> {
    this.stopHoldMusic();
    const caller = this.onMediaServer();
    const played = caller.endpoint.play(this.ctx.prompts.file('busy')).catch(() => undefined);
    await Promise.race([played, new Promise((r) => setTimeout(r, BUSY_PROMPT_MAX_MS))]);
    hangUpDialog(caller.dialog);
  }

  private async finish(hangupBy: 'caller' | 'operator' | 'system', reason: string): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const at = Date.now();
    this.stopHoldMusic();
    clearTimeout(this.maxWaitTimer);
    clearTimeout(this.widenTimer);
    clearTimeout(this.matchTimer);
    clearTimeout(this.ringbackTimer);
    this.line?.endpoint?.off('dtmf', this.onDtmf);
    for (const [operatorId, entry] of this.legs) {
      clearTimeout(entry.timer);
      if (entry.dialog) await this.dropLeg(operatorId, hangupBy === 'caller' ? 'caller' : 'system', 200, reason);
    }
    // Never answered (rung first): the caller cancelled (487) or was refused (503).
    this.caller.leg.end(at, hangupBy, this.line ? 200 : hangupBy === 'caller' ? 487 : 503, reason);
    await releaseEndpoint(this.line?.endpoint);
    this.recorder.end({ at, hangupBy });
    await this.ctx.queues.removeCall(this.callId, this.queue.id).catch(() => undefined);
    this.log.info({ hangupBy, reason }, 'call ended');
    this.resolveDone();
  }
}
