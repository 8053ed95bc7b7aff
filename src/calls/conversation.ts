import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import { LEASE_MARGIN_MS, MAX_MISSES_OUTSIDE_QUEUES } from '../acd/operator-rules.js';
import type { HeldOperator } from '../acd/recovery-plan.js';
import type { CallRecorder, LegRecorder } from '../cdr/call-recorder.js';
import type { Logger } from '../log.js';
import { isConnected } from '../media/answer.js';
import { bridge, unbridge } from '../media/bridge.js';
import { modifyEndpoint, releaseEndpoint } from '../media/endpoint.js';
import { anchorPhone, reinvitePending, reinvite as reinvitePhone } from '../media/reinvite.js';
import { DEFAULT_HOLD_MUSIC, HoldMusic } from '../media/hold.js';
import type { MediaMode, Operator, Queue } from '../provisioning/types.js';
import { reoffer } from '../sip/session.js';
import { isHoldSdp, parseReferTo, sipfrag, type Replaces } from '../sip/refer.js';
import { bounded, hangUpDialog, settleOnce } from './arrival.js';
import type { ActiveCall, CallContext } from './context.js';
import { CampOn, othersCampedOn, wantsCampOn } from './camp-on.js';
import { greetingPlan, type GreetingPlan, type GreetingStep } from './greeting.js';
import { askForRating } from './rating.js';
import { mediaStep, type MediaEvent, type MediaState } from './media-path.js';
import { holdRequests, OperatorRing } from './operator-ring.js';
import { callMediaMode, QueueCall, type AnsweredCaller } from './queue-call.js';

/**
 * A party on the line: their SIP dialog, their media server endpoint (none while they talk
 * directly to the other phone) and their leg's record.
 */
export interface Talker {
  dialog: Srf.Dialog;
  endpoint: Mrf.Endpoint | undefined;
  leg: LegRecorder;
}

/** The caller as a conversation holds them: on the media server or not, as the call needs. */
type ConversationCaller = Omit<AnsweredCaller, 'endpoint'> & Talker;

export interface OperatorTalker extends Talker {
  operator: Operator;
}

export interface ConversationStart {
  callId: string;
  log: Logger;
  recorder: CallRecorder;
  /** The caller; without an endpoint when the operator's phone was offered the caller's own media. */
  caller: ConversationCaller;
  operator: OperatorTalker;
  /** The queue the caller came through: wrap-up, hold music, and where a failed transfer returns. */
  queue: Queue | undefined;
}

/** Where a transfer can go, resolved from a dialled number through the routes. */
export type TransferTarget = { kind: 'operator'; operator: Operator } | { kind: 'queue'; queue: Queue };

export type ConversationResult = 'done' | 'no-route' | 'not-talking' | 'not-consulting';

/**
 * What a third party is rung for. blind: the caller goes to them, the operator leaves.
 * consult: the operator talks to them while the caller holds, then completes (the caller goes to
 * them) or cancels. three-way: all three talk together.
 */
type ThirdMode = 'blind' | 'consult' | 'three-way';

interface Third {
  mode: ThirdMode;
  target: Operator;
  leg: LegRecorder;
  ring: OperatorRing | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The REFER's progress reports, for a transfer asked for by the operator's phone. */
  notify: ReferNotifier | undefined;
  talker: OperatorTalker | undefined;
  /** A consultation completed before the target answered: connect the caller on the answer. */
  completeOnAnswer: boolean;
}

// A transfer target's phones ring this long before the transfer counts as failed.
const THIRD_RING_TIMEOUT_MS = 30_000;
const PROMPT_MAX_MS = 10_000;
const NOTIFY_EXPIRES_S = 60;
/** A REFER to "*3" + a number starts a three-way call with that number. */
const THREE_WAY_PREFIX = /^\*3(.+)$/;

/** The endpoint of a party the call has anchored (needMedia) before it gets here. */
function onMedia(t: { endpoint: Mrf.Endpoint | undefined }): Mrf.Endpoint {
  if (!t.endpoint) throw new Error('the party is not on the media server');
  return t.endpoint;
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
 * A caller talking to an operator, from the moment they are connected until the call ends. The
 * operator's phone can put the caller on hold (re-INVITE) and transfer them, blind (REFER) or
 * attended (REFER with Replaces naming a consultation call); the API can transfer them, consult
 * another operator first, or bring a third party in. Every leg stays anchored on the media
 * server, so moving people is bridging, unbridging or conferencing their endpoints; phones are
 * never re-INVITEd.
 */
export class Conversation implements ActiveCall {
  readonly callId: string;
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  private readonly log: Logger;
  private readonly caller: ConversationCaller;
  private operator: OperatorTalker | undefined;
  /** direct queues: whether caller and operator talk phone to phone right now (media-path.ts). */
  private media: MediaState;
  /** The caller's re-INVITEs, while this conversation has the call (a queue or camp-on may take it on). */
  private readonly onCallerModify = (req: Srf.SrfRequest, res: Srf.SrfResponse): void => void this.callerReinvite(req, res);
  /** Media path changes (re-INVITEs) one at a time, in the order asked for. */
  private mediaWork: Promise<unknown> = Promise.resolve();
  private hold: HoldMusic | undefined;
  /** The operator's phone holds the call (its last re-INVITE was sendonly or inactive). */
  private operatorHolds = false;
  private third: Third | undefined;
  /** The media server conference of a three-way call, while there is one. */
  private conference: string | undefined;
  /** Listeners on the operator's dialog, to hand the operator to another call intact. */
  private readonly detach = new Map<OperatorTalker, () => void>();
  private ended = false;
  /** The work-number greeting plays: caller and operator are not connected yet. */
  private greeting = false;
  /** The operator hung up and the caller is being asked for a rating. */
  private rating = false;

  private constructor(
    private readonly ctx: CallContext,
    private readonly s: ConversationStart,
  ) {
    this.callId = s.callId;
    this.log = s.log;
    this.caller = { ...s.caller };
    this.media = s.caller.endpoint || s.operator.endpoint ? 'anchored' : 'direct';
  }

  /**
   * Takes over a call whose operator just answered: caller and operator are bridged already,
   * unless the queue greets (greeting.ts), in which case they are once the greeting is over.
   */
  static begin(ctx: CallContext, s: ConversationStart): Conversation {
    const c = new Conversation(ctx, s);
    ctx.calls.add(c);
    s.caller.dialog.on('destroy', () => c.callerGone());
    s.caller.dialog.on('modify', c.onCallerModify);
    c.adopt(s.operator);
    const plan = greetingPlan(s.queue, s.operator.operator.workNumber, s.caller.operatorNote);
    // Whoever connected them bridged the endpoints just now with bridge(), which has marked that
    // bridge under way: a hold right away waits for it (media/bridge.ts).
    if (plan) c.greeting = true;
    // A BYE right behind the answer may have ended a dialog before these listeners existed.
    if (!isConnected(s.caller.dialog)) c.callerGone();
    else if (!isConnected(s.operator.dialog)) c.operatorGone(s.operator);
    else if (plan) void c.greet(plan, s.operator).catch((err: Error) => c.log.warn({ err: err.message }, 'greeting failed'));
    else c.plainTalk();
    return c;
  }

  /**
   * The caller hears the greeting and the operator's work number while the operator hears the
   * whisper; then they are connected. Either hanging up meanwhile ends the call as at any time
   * (callerGone, operatorGone), and the greeting stops with the endpoints.
   */
  private async greet(plan: GreetingPlan, op: OperatorTalker): Promise<void> {
    this.log.info({ workNumber: op.operator.workNumber, greeting: plan.caller.length > 0, whisper: plan.operator.length > 0 }, 'greeting before connecting');
    // The queue's hold music was just broken off with `uuid_break all`, which would also flush a
    // greeting queued behind it. Breaking again on the same event socket and awaiting the answer
    // makes sure that break is behind us before the greeting starts.
    // A greeting queue rings its operators from an endpoint (queue-call.ts): both are anchored.
    const caller = onMedia(this.caller);
    const operator = onMedia(op);
    await caller.api('uuid_break', `${caller.uuid} all`).catch(() => undefined);
    await Promise.all([this.playSteps(caller, plan.caller), this.playSteps(operator, plan.operator)]);
    this.greeting = false;
    if (this.ended || this.operator !== op) return;
    await bridge(caller, operator);
    this.log.info({ operator: op.operator.username }, 'greeting over: caller and operator connected');
    this.plainTalk();
  }

  private async playSteps(endpoint: Mrf.Endpoint, steps: GreetingStep[]): Promise<void> {
    for (const step of steps) {
      if (this.ended) return;
      const work = step.kind === 'play' ? endpoint.play(this.ctx.prompts.configured(step.prompt)) : this.ctx.prompts.digits(endpoint, step.digits);
      await bounded(work, PROMPT_MAX_MS);
    }
  }

  waiting(): undefined {
    return undefined;
  }

  held(): HeldOperator[] {
    if (this.ended) return [];
    const held: HeldOperator[] = this.operator ? [{ operatorId: this.operator.operator.id, callId: this.callId, state: 'busy' }] : [];
    const third = this.third;
    if (third) held.push({ operatorId: third.target.id, callId: this.callId, state: third.talker ? 'busy' : 'ringing' });
    return held;
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
    this.operatorHolds = false;
    const gone = (): void => this.operatorGone(op);
    const modify = (req: Srf.SrfRequest, res: Srf.SrfResponse): void => void this.reinvite(op, req, res).catch(this.warn('the operator\'s re-INVITE failed'));
    const refer = (req: Srf.SrfRequest, res: Srf.SrfResponse): void => void this.refer(op, req, res).catch(this.warn('the operator\'s REFER failed'));
    op.dialog.on('destroy', gone);
    op.dialog.on('modify', modify);
    op.dialog.on('refer', refer);
    this.detach.set(op, () => {
      op.dialog.off('destroy', gone);
      op.dialog.off('modify', modify);
      op.dialog.off('refer', refer);
    });
    holdRequests(op.dialog, false);
    void this.ctx.queues.updateCall(this.callId, { state: 'connected', operatorId: op.operator.id }).catch(() => undefined);
  }

  /** A handler for what fails in work nobody awaits (a phone's request, a hang-up's follow-up): a line in the log. */
  private warn(what: string): (err: Error) => void {
    return (err) => this.log.warn({ err: err.message }, what);
  }

  /** Stops listening to an operator's phone (they leave, or go to another call). */
  private forget(op: OperatorTalker): void {
    this.detach.get(op)?.();
    this.detach.delete(op);
    if (this.operator === op) this.operator = undefined;
  }

  // ---- the media path ----------------------------------------------------------------------

  private get mediaMode(): MediaMode {
    return callMediaMode(this.s.queue, this.s.caller);
  }

  private mediaEvent(event: MediaEvent): string {
    const step = mediaStep(this.mediaMode, this.media, event);
    this.media = step.state;
    return step.effect;
  }

  /** Media path changes run one after another: each sees the state the one before left. */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.mediaWork.then(work, work);
    this.mediaWork = run.catch(() => undefined);
    return run;
  }

  /**
   * A feature needs the media server: phones that talk directly are re-INVITEd onto endpoints of
   * their own (the caller only, when the operator is about to leave or just listens to nothing:
   * a blind transfer, a queue, a rating), after which the anchored logic runs as in an anchored
   * queue. Caller and operator are bridged there only when they go on `talking` (a three-way
   * call while the guest's phone rings); otherwise the feature moves them (hold music, a prompt):
   * a bridge undone at once is work for the media server for nothing. A phone that refuses ends
   * the call (a half-moved call has no media path to fall back on): false then, as when the call
   * ended meanwhile.
   */
  private needMedia(who: 'caller' | 'both', then: 'apart' | 'talking' = 'apart'): Promise<boolean> {
    return this.serially(async () => {
      if (this.ended) return false;
      const missing = who === 'both' && this.operator !== undefined && !this.operator.endpoint && this.media === 'anchored';
      if (this.mediaEvent(missing ? 'operator-needed' : 'need-media') !== 'anchor') return true;
      try {
        await this.anchorParties(who, then);
        this.mediaEvent('anchored');
        return !this.ended;
      } catch (err) {
        this.mediaEvent('anchor-failed');
        this.log.warn({ err: (err as Error).message }, 'a phone could not be moved onto the media server; ending the call');
        this.hangup('media server could not be joined');
        return false;
      }
    });
  }

  private async anchorParties(who: 'caller' | 'both', then: 'apart' | 'talking'): Promise<void> {
    const ms = this.caller.endpoint?.mediaserver ?? this.operator?.endpoint?.mediaserver ?? this.ctx.media.pick();
    if (!ms) throw new Error('no media server');
    const talkers: Talker[] = this.operator && who === 'both' ? [this.caller, this.operator] : [this.caller];
    const parties = talkers.filter((t) => !t.endpoint && isConnected(t.dialog));
    const moved = await Promise.allSettled(parties.map((t) => this.anchorTalker(ms, t)));
    // A phone that hung up meanwhile did not refuse: its hang-up is handled as such.
    const refused = moved.find((r, i): r is PromiseRejectedResult => r.status === 'rejected' && isConnected((parties[i] as Talker).dialog));
    if (refused) throw refused.reason;
    const op = this.operator;
    if (then === 'talking' && this.caller.endpoint && op?.endpoint) await bridge(this.caller.endpoint, op.endpoint);
    this.log.info({ moved: parties.length }, 'call anchored on the media server');
  }

  /**
   * One phone onto an endpoint of its own. A party gone by the time it is there (hung up, the
   * call over: its endpoint was released before this one existed) leaves no endpoint behind.
   */
  private async anchorTalker(ms: Mrf.MediaServer, t: Talker): Promise<void> {
    const endpoint = await anchorPhone(ms, t.dialog, this.done);
    const stillHere = !this.ended && isConnected(t.dialog) && (t === this.caller || t === this.operator);
    if (stillHere) t.endpoint = endpoint;
    else await releaseEndpoint(endpoint);
  }

  /**
   * Caller and operator are plainly talking again (just connected, back from hold, a transfer or
   * consultation over): in a direct queue the phones are re-INVITEd towards each other and the
   * endpoints released. A phone that refuses keeps the call anchored as it is.
   */
  private plainTalk(): void {
    void this.serially(async () => {
      const op = this.operator;
      if (!op || !this.talking || this.hold || !isConnected(this.caller.dialog) || !isConnected(op.dialog)) return;
      if (this.mediaEvent('plain-talk') !== 'release') return;
      const callerEndpoint = this.caller.endpoint;
      const operatorEndpoint = op.endpoint;
      let callerMoved = false;
      try {
        await reinvitePhone(this.caller.dialog, op.dialog.remote.sdp);
        callerMoved = true;
        // The operator's phone was offered the caller's own media when it was rung: it has it.
        if (operatorEndpoint) await reinvitePhone(op.dialog, this.caller.dialog.remote.sdp);
      } catch (err) {
        this.mediaEvent('release-failed');
        this.log.warn({ err: (err as Error).message, callerMoved }, 'a phone refused the other\'s media; the call stays on the media server');
        await this.stayAnchored(op, callerMoved);
        return;
      }
      this.caller.endpoint = undefined;
      op.endpoint = undefined;
      this.mediaEvent('released');
      // Bridged to the operator's endpoint, the caller's is parked first; alone (the operator's
      // phone was rung with the caller's media) it is simply hung up: a uuid_transfer to park is
      // a dialplan transfer and a dozen events per call on FreeSWITCH for nothing.
      if (callerEndpoint && operatorEndpoint) await unbridge(callerEndpoint).catch(() => undefined);
      await Promise.all([releaseEndpoint(callerEndpoint), releaseEndpoint(operatorEndpoint)]);
      this.log.info({ operator: op.operator.username }, 'caller and operator talk directly: media server released');
    });
  }

  /** After a refused release: every phone back on its endpoint, caller and operator bridged. */
  private async stayAnchored(op: OperatorTalker, callerMoved: boolean): Promise<void> {
    try {
      const callerEndpoint = onMedia(this.caller);
      if (callerMoved) await reinvitePhone(this.caller.dialog, callerEndpoint.local.sdp);
      op.endpoint ??= await anchorPhone(callerEndpoint.mediaserver, op.dialog);
      await bridge(callerEndpoint, op.endpoint);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'the call cannot be anchored again; ending it');
      this.hangup('media path lost');
    }
  }

  /** The caller as a queue or camp-on takes them over: on the media server (needMedia first). */
  private anchoredCaller(): AnsweredCaller {
    return { ...this.caller, endpoint: onMedia(this.caller) };
  }

  /** An SDP for a phone of ours that continues the session it knows (reoffer), remembered as sent. */
  private answerFor(t: Talker, sdp: string): string {
    const answer = reoffer(sdp, t.dialog.local.sdp);
    t.dialog.local.sdp = answer;
    return answer;
  }

  /**
   * A re-INVITE from an operator who talks directly to the caller: hold brings the media server
   * in (an endpoint answers it here, holdCaller moves the caller); anything else is passed on to
   * the caller, whose answer is the operator's.
   */
  private async answerDirect(op: OperatorTalker, offer: string): Promise<string> {
    if (!isHoldSdp(offer)) return this.answerFor(op, await reinvitePhone(this.caller.dialog, offer));
    const ms = this.caller.endpoint?.mediaserver ?? this.ctx.media.pick();
    if (!ms) throw new Error('no media server');
    op.endpoint = await ms.createEndpoint({ remoteSdp: offer });
    return this.answerFor(op, op.endpoint.local.sdp);
  }

  /**
   * A re-INVITE from the caller's phone. Anchored, it gets the media server's description, as
   * drachtio-srf answers when nobody listens; talking directly, it goes on to the operator. One
   * that crosses a re-INVITE of ours gets 491 (RFC 3261 §14.1).
   */
  private async callerReinvite(req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    const dialog = this.caller.dialog;
    if (reinvitePending(dialog)) return void res.send(491);
    const op = this.operator;
    if (this.caller.endpoint || !op || op.endpoint) {
      res.send(200, { body: dialog.local.sdp, headers: { 'Content-Type': 'application/sdp' } } as never);
      return;
    }
    try {
      const answer = this.answerFor(this.caller, await reinvitePhone(op.dialog, req.body));
      res.send(200, { body: answer, headers: { 'Content-Type': 'application/sdp' } } as never);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'the operator\'s phone refused the caller\'s new SDP');
      res.send(488);
    }
  }

  // ---- the phones --------------------------------------------------------------------------

  private callerGone(): void {
    if (this.ended) return;
    this.log.info('caller hung up');
    this.caller.leg.end(Date.now(), 'caller', 200, 'BYE');
    // The operator already hung up: the rating sees the caller go and ends the call as theirs.
    if (this.rating) return;
    if (this.conference) return this.partyLeft();
    this.dropThird('caller hung up', 'caller');
    const op = this.operator;
    if (op) void this.releaseOperator(op, 'caller');
    void this.finish('caller', 'caller hung up');
  }

  private operatorGone(op: OperatorTalker): void {
    op.leg.end(Date.now(), 'operator', 200, 'BYE');
    void releaseEndpoint(op.endpoint);
    void this.operatorDone(op.operator);
    if (this.ended || this.operator !== op) return;
    this.forget(op);
    const third = this.third;
    if (third?.mode === 'blind') return; // RFC 5589 §7: the transfer goes on without them.
    if (third?.mode === 'consult') {
      // Leaving a consultation hands the caller to the target (an attended transfer on hang-up).
      this.log.info({ operator: op.operator.username }, 'operator left the consultation: the caller goes to the target');
      void this.completeConsultation().catch(this.warn('completing the consultation failed'));
      return;
    }
    if (this.conference) return this.partyLeft();
    this.log.info({ operator: op.operator.username }, 'operator hung up');
    this.dropThird('operator hung up', 'operator');
    this.stopHold();
    const queue = this.ratingQueue();
    if (queue) {
      void this.rate(op.operator, queue).catch((err: Error) => {
        this.log.warn({ err: err.message }, 'rating failed');
        hangUpDialog(this.caller.dialog);
        void this.finish('operator', 'operator hung up');
      });
      return;
    }
    hangUpDialog(this.caller.dialog);
    void this.finish('operator', 'operator hung up');
  }

  /**
   * The queue (as configured now) whose rating the caller is asked for, if any: only a caller
   * who talked to the operator (not during the greeting) and is still on the line.
   */
  private ratingQueue(): Queue | undefined {
    const from = this.s.queue;
    if (!from || this.greeting || !isConnected(this.caller.dialog)) return undefined;
    const queue = this.ctx.settings.queue(from.id) ?? from;
    return queue.rating ? queue : undefined;
  }

  /** The operator hung up first: the caller stays on to rate them, then is hung up. */
  private async rate(operator: Operator, queue: Queue): Promise<void> {
    this.rating = true;
    const talkEndedAt = Date.now();
    this.log.info({ operator: operator.username }, 'the caller is asked to rate the call');
    if (!(await this.needMedia('caller'))) return;
    await unbridge(onMedia(this.caller)).catch(() => undefined);
    const outcome = await askForRating(this.anchoredCaller(), this.ctx.prompts, queue.ratingTimeoutS * 1000, this.log);
    this.s.recorder.rated(operator.id, outcome.rating);
    this.caller.leg.end(Date.now(), 'system', 200, 'rating over');
    hangUpDialog(this.caller.dialog);
    await this.finish('operator', 'operator hung up', talkEndedAt);
  }

  /** A re-INVITE from the operator's phone: hold (sendonly/inactive) or back (sendrecv). */
  private async reinvite(op: OperatorTalker, req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    // Crossing a re-INVITE of ours, or while the phones are being moved: 491, the phone retries.
    if (reinvitePending(op.dialog) || this.media === 'anchoring' || this.media === 'releasing') return void res.send(491);
    let answer: string;
    try {
      answer = op.endpoint ? await modifyEndpoint(op.endpoint, req.body) : await this.answerDirect(op, req.body);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'media server refused the phone\'s new SDP');
      res.send(488);
      return;
    }
    res.send(200, { body: answer, headers: { 'Content-Type': 'application/sdp' } } as never);
    if (this.operator !== op || this.third || this.conference || this.greeting) return;
    this.operatorHolds = isHoldSdp(req.body);
    if (this.operatorHolds) await this.holdCaller(() => this.operatorHolds);
    else await this.unholdCaller(op);
  }

  /**
   * Hold music for the caller, unless it is no longer `wanted` once the caller is on the media
   * server: the operator's phone may take the call back while a direct call is being anchored,
   * and that un-hold found no hold to end.
   */
  private async holdCaller(wanted: () => boolean = () => true): Promise<void> {
    if (this.hold) return;
    // On hold from the moment it was asked for, also while a direct call is being anchored.
    const at = Date.now();
    if (!(await this.needMedia('caller')) || this.hold) return;
    if (!wanted()) return this.plainTalk();
    this.log.info('caller on hold');
    this.s.recorder.hold(at);
    const caller = onMedia(this.caller);
    const music = new HoldMusic(caller, this.holdMusic, this.log);
    // Set before anything is awaited, for an un-hold meanwhile to find and end.
    this.hold = music;
    await unbridge(caller).catch(() => undefined);
    if (this.hold === music) music.start();
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
    await bridge(onMedia(this.caller), onMedia(op));
    this.plainTalk();
  }

  /** REFER from the operator's phone: blind, or attended with Replaces (RFC 3515, RFC 3891). */
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
    if (this.third || this.conference || this.greeting) {
      notify.send(491, 'Request Pending', true);
      return;
    }
    if (target.replaces) {
      await this.attendedByReplaces(target.replaces, notify);
      return;
    }
    // "*3" before the number: bring them in as a third party instead (any phone that can
    // transfer can start a three-way call this way).
    const threeWay = THREE_WAY_PREFIX.exec(target.number);
    if (threeWay) {
      const guest = this.resolve(threeWay[1] as string);
      if (guest?.kind !== 'operator') {
        notify.send(404, 'Not Found', true);
        return;
      }
      this.log.info({ to: guest.operator.username }, 'operator brings a third party in');
      await this.ringThird('three-way', guest.operator, notify);
      return;
    }
    const resolved = this.resolve(target.number);
    this.log.info({ referTo: target.uri, to: target.number, kind: resolved?.kind ?? 'none' }, 'operator transfers the caller');
    if (!resolved) {
      // Unknown number: nothing changes, the caller stays with the operator.
      notify.send(404, 'Not Found', true);
      return;
    }
    if (resolved.kind === 'queue') return this.transferToQueue(resolved.queue, notify);
    await this.ringThird('blind', resolved.operator, notify);
  }

  // ---- what the API asks for ---------------------------------------------------------------

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

  private get talking(): boolean {
    return !this.ended && !this.third && !this.conference && !this.greeting && this.operator !== undefined;
  }

  /** A blind transfer: to an operator (rung now) or into a queue. */
  async transfer(number: string): Promise<ConversationResult> {
    if (!this.talking) return 'not-talking';
    const target = this.resolve(number);
    if (!target) return 'no-route';
    this.log.info({ to: number, kind: target.kind }, 'caller transferred through the API');
    if (target.kind === 'queue') await this.transferToQueue(target.queue, undefined);
    else await this.ringThird('blind', target.operator, undefined);
    return 'done';
  }

  /** Consultation: the caller holds while the operator talks to another operator. */
  consult(number: string): Promise<ConversationResult> {
    return this.bringIn('consult', number);
  }

  /** Rings an operator for a consultation or a three-way call, as the API asks. */
  private async bringIn(mode: 'consult' | 'three-way', number: string): Promise<ConversationResult> {
    if (!this.talking) return 'not-talking';
    const target = this.resolve(number);
    if (target?.kind !== 'operator') return 'no-route';
    this.log.info({ to: target.operator.username, mode }, 'another operator is rung');
    await this.ringThird(mode, target.operator, undefined);
    return 'done';
  }

  /** Ends a consultation by giving the caller to the target (now, or when they answer). */
  async complete(): Promise<ConversationResult> {
    if (this.ended || this.third?.mode !== 'consult') return 'not-consulting';
    await this.completeConsultation();
    return 'done';
  }

  /** Ends a consultation without a transfer: the operator is back with the caller. */
  async cancel(): Promise<ConversationResult> {
    const third = this.third;
    if (this.ended || third?.mode !== 'consult') return 'not-consulting';
    this.log.info('consultation cancelled');
    this.dropThird('consultation cancelled', 'system');
    this.s.recorder.transferFailed(this.operator?.operator.id ?? null, 487, Date.now(), 'attended');
    await this.backToOperator();
    return 'done';
  }

  /** Brings another operator in: caller, operator and they talk together. */
  threeWay(number: string): Promise<ConversationResult> {
    return this.bringIn('three-way', number);
  }

  // ---- third parties -----------------------------------------------------------------------

  /** Into a queue: the caller waits there (by their first arrival) and the operator is free. */
  private async transferToQueue(queue: Queue, notify: ReferNotifier | undefined): Promise<void> {
    if (!(await this.needMedia('caller'))) return notify?.send(503, 'Service Unavailable', true);
    notify?.send(200, 'OK', true);
    const from = this.operator;
    this.s.recorder.transferred(from?.operator.id ?? null, { queue: { id: queue.id, number: queue.number } }, Date.now());
    if (from) await this.releaseOperator(from, 'system');
    await this.handOverToQueue(queue, false);
  }

  private async ringThird(mode: ThirdMode, target: Operator, notify: ReferNotifier | undefined): Promise<void> {
    const role = mode === 'three-way' ? 'guest' : 'target';
    const leg = this.s.recorder.leg(role, 'outbound', '', target.username, Date.now(), target.id);
    // Marked before anything is awaited: a transferor who hangs up right after the 202 must
    // find the transfer under way (RFC 5589 §7), not end the call.
    const third: Third = { mode, target, leg, ring: undefined, timer: undefined, notify, talker: undefined, completeOnAnswer: false };
    this.third = third;
    // A blind transfer to an operator others are camped on lines up behind them.
    if (mode === 'blind' && (await othersCampedOn(this.ctx, target.id))) return this.campOn(third);
    try {
      await this.ctx.operators.apply(target.id, { type: 'reserve', callId: this.callId, instance: this.ctx.instanceId, leaseMs: THIRD_RING_TIMEOUT_MS + LEASE_MARGIN_MS });
    } catch (err) {
      this.log.info({ to: target.username, err: (err as Error).message }, 'the operator asked for is not available');
      if (this.third !== third) return;
      if (mode === 'blind' && (await wantsCampOn(this.ctx, target.id))) return this.campOn(third);
      this.third = undefined;
      leg.end(Date.now(), null, 486, 'operator not available');
      await this.thirdFailed(third, 486, 'Busy Here');
      return;
    }
    if (this.third !== third || this.ended) {
      await this.ctx.operators.tryApply(target.id, { type: 'release', callId: this.callId, missed: false, maxMisses: MAX_MISSES_OUTSIDE_QUEUES });
      return;
    }
    if (!(await this.needMedia(mode === 'blind' ? 'caller' : 'both', mode === 'three-way' ? 'talking' : 'apart'))) return;
    if (mode !== 'three-way') await this.holdCaller();
    const contacts = (await this.ctx.registrar.contacts(target.username).catch(() => [])).map((b) => b.contact);
    if (this.third !== third || this.ended) return;
    third.timer = setTimeout(() => third.ring?.cancel(), THIRD_RING_TIMEOUT_MS);
    third.ring = new OperatorRing(
      this.ctx.srf,
      onMedia(this.caller).mediaserver,
      {
        contacts,
        username: target.username,
        domain: this.ctx.config.sipDomain,
        fromNumber: this.caller.number,
        fromName: `${mode === 'consult' ? 'Consult' : mode === 'three-way' ? 'Conference' : 'Transfer'}: ${this.caller.name || this.caller.number}`,
        headers: { 'X-Call-ID': this.callId, ...(this.operator ? { 'X-Transferred-By': this.operator.operator.username } : {}) },
      },
      {
        // A party gone while the answer is handled (the endpoint no longer there) ends through
        // its own hang-up; the failure itself is only worth a line.
        answered: (dialog, endpoint) =>
          void this.thirdAnswered(third, dialog, endpoint).catch((err: Error) => this.log.warn({ err: err.message, to: third.target.username }, 'connecting the third party failed')),
        failed: (status, reason) => void this.thirdRingFailed(third, status, reason),
      },
      this.log,
    );
    // Not awaited: the ring settles through its answered/failed callbacks, and whoever asked for
    // it (a REFER, the API) is answered as soon as the phones ring.
    void third.ring.start().catch((err: Error) => this.log.warn({ err: err.message }, 'ringing the third party failed'));
  }

  private async thirdAnswered(third: Third, dialog: Srf.Dialog, endpoint: Mrf.Endpoint): Promise<void> {
    clearTimeout(third.timer);
    if (this.ended || this.third !== third) {
      hangUpDialog(dialog);
      await releaseEndpoint(endpoint);
      await this.ctx.operators.tryApply(third.target.id, { type: 'release', callId: this.callId, missed: false, maxMisses: MAX_MISSES_OUTSIDE_QUEUES });
      return;
    }
    third.leg.answered(Date.now());
    await this.ctx.operators.tryApply(third.target.id, { type: 'answer', callId: this.callId });
    const talker: OperatorTalker = { operator: third.target, dialog, endpoint, leg: third.leg };
    third.talker = talker;
    dialog.on('destroy', () => this.thirdGone(third));
    holdRequests(dialog, false);
    this.log.info({ to: third.target.username, mode: third.mode }, 'third party answered');
    if (third.mode === 'blind' || third.completeOnAnswer) return this.handCallerTo(third, talker);
    if (third.mode === 'consult') {
      if (this.operator) await bridge(onMedia(this.operator), endpoint);
      return;
    }
    await this.startThreeWay(talker);
    third.notify?.send(200, 'OK', true);
  }

  private async thirdRingFailed(third: Third, status: number, reason: string): Promise<void> {
    clearTimeout(third.timer);
    third.leg.end(Date.now(), null, status, reason);
    const missed = status === 408 || status === 480 || status === 487;
    await this.ctx.operators.tryApply(third.target.id, { type: 'release', callId: this.callId, missed, maxMisses: MAX_MISSES_OUTSIDE_QUEUES });
    if (this.third !== third) return;
    this.third = undefined;
    this.log.info({ to: third.target.username, status, reason, mode: third.mode }, 'third party did not answer');
    await this.thirdFailed(third, status === 487 ? 480 : status, reason);
  }

  /**
   * The third party did not take the call. A three-way call simply goes on as it was; otherwise
   * the caller hears so, then goes back to the operator, or, if that operator is gone, to the
   * front of the queue.
   */
  private async thirdFailed(third: Third, status: number, reason: string): Promise<void> {
    third.notify?.send(status, reason || 'Failed', true);
    if (this.ended || third.mode === 'three-way') return;
    this.s.recorder.transferFailed(this.operator?.operator.id ?? null, status, Date.now(), third.mode === 'blind' ? 'blind' : 'attended');
    this.stopHold();
    // A target found busy before anything was rung: the caller may still talk directly.
    if (!(await this.needMedia('caller'))) return;
    await bounded(onMedia(this.caller).play(this.ctx.prompts.file('transfer-failed')), PROMPT_MAX_MS);
    if (this.ended) return;
    await this.backToOperator();
  }

  /**
   * A blind transfer's target is busy: the transfer is taken (final NOTIFY 200, the transferor
   * is hung up and free) and the caller camps on the target; a CampOn holds the call from here.
   */
  private async campOn(third: Third): Promise<void> {
    if (!(await this.needMedia('caller'))) return;
    if (this.third !== third || this.ended) return;
    this.third = undefined;
    const at = Date.now();
    third.leg.end(at, null, 486, 'busy: the caller camps on');
    third.notify?.send(200, 'OK', true);
    const from = this.operator;
    this.s.recorder.campedOn(from?.operator.id ?? null, { id: third.target.id, username: third.target.username }, at);
    if (from) await this.releaseOperator(from, 'system');
    // The caller may have hung up meanwhile: callerGone ended the call.
    if (this.ended) return;
    this.ended = true;
    this.caller.dialog.off('modify', this.onCallerModify);
    this.stopHold();
    await unbridge(onMedia(this.caller)).catch(() => undefined);
    const campOn = new CampOn(this.ctx, {
      callId: this.callId,
      log: this.log,
      recorder: this.s.recorder,
      caller: this.anchoredCaller(),
      target: third.target,
      origin: 'transfer',
      fromOperator: from?.operator,
      fallbackQueue: this.s.queue,
      queue: this.s.queue,
    });
    this.ctx.calls.add(campOn);
    this.settled.resolve();
    await campOn.start();
  }

  /** After a failed or cancelled transfer: the caller with their operator, or the queue's front. */
  private async backToOperator(): Promise<void> {
    this.stopHold();
    const op = this.operator;
    if (op && isConnected(op.dialog)) {
      // Without an endpoint the operator still has the caller's media: plainTalk re-INVITEs the caller.
      if (op.endpoint) await bridge(onMedia(this.caller), op.endpoint);
      this.plainTalk();
      return;
    }
    if (this.s.queue) {
      await this.handOverToQueue(this.s.queue, true);
      return;
    }
    hangUpDialog(this.caller.dialog);
    await this.finish('system', 'transfer failed and nobody to go back to');
  }

  /** The third party hung up. */
  private thirdGone(third: Third): void {
    const talker = third.talker;
    // Once a transfer made the third party the caller's operator, their hang-up is an
    // operator's (operatorGone), not a third party's.
    if (!talker || this.ended || this.third !== third) return;
    talker.leg.end(Date.now(), 'target', 200, 'BYE');
    void releaseEndpoint(talker.endpoint);
    void this.operatorDone(third.target, 0);
    if (this.third === third) this.third = undefined;
    if (third.mode === 'consult') {
      this.log.info('the consulted operator hung up: back with the caller');
      void this.backToOperator().catch(this.warn('going back to the operator failed'));
      return;
    }
    if (third.mode === 'three-way') this.partyLeft();
  }

  /** Completes a consultation: the caller to the target, the operator free. */
  private async completeConsultation(): Promise<void> {
    const third = this.third;
    if (!third) return;
    if (third.talker) return this.handCallerTo(third, third.talker);
    // Completed before the target answered: the caller hears music until they do.
    third.completeOnAnswer = true;
    const op = this.operator;
    if (op) await this.releaseOperator(op, 'system');
  }

  /** The caller now talks to `talker`, who becomes their operator; the old operator leaves. */
  private async handCallerTo(third: Third, talker: OperatorTalker): Promise<void> {
    this.third = undefined;
    const at = Date.now();
    const from = this.operator;
    this.stopHold();
    if (from?.endpoint) await unbridge(from.endpoint).catch(() => undefined);
    await bridge(onMedia(this.caller), onMedia(talker));
    third.notify?.send(200, 'OK', true);
    this.s.recorder.transferred(from?.operator.id ?? null, { operator: { id: talker.operator.id, username: talker.operator.username } }, at, third.mode === 'blind' ? 'blind' : 'attended');
    this.log.info({ to: talker.operator.username, mode: third.mode }, 'transfer completed');
    this.adopt(talker);
    if (from) await this.releaseOperator(from, 'system');
    if (!isConnected(talker.dialog)) this.operatorGone(talker);
    else this.plainTalk();
  }

  // ---- attended transfer from the phone ----------------------------------------------------

  /**
   * REFER with Replaces: the operator's phone consulted another operator in a call of its own
   * (through the switchboard) and now joins the caller to them. Replaces names that call's
   * dialog as the phone sees it; the switchboard finds the call and takes its other party.
   */
  private async attendedByReplaces(replaces: Replaces, notify: ReferNotifier): Promise<void> {
    const other = this.ctx.calls.all().find((c): c is Conversation => c instanceof Conversation && c !== this && c.holdsPhoneDialog(replaces));
    if (!other) {
      this.log.info({ replaces: replaces.callId }, 'Replaces names no call of ours; nothing changes');
      notify.send(481, 'Call/Transaction Does Not Exist', true);
      return;
    }
    // The transferor's phone leaves: only the caller needs the media server to be joined.
    if (!(await this.needMedia('caller'))) return;
    const ms = onMedia(this.caller).mediaserver;
    const theirs = other.operator?.endpoint?.mediaserver;
    if (theirs && theirs !== ms) {
      notify.send(503, 'Service Unavailable', true);
      return;
    }
    const talker = other.surrender(this.callId);
    if (!talker) {
      notify.send(481, 'Call/Transaction Does Not Exist', true);
      return;
    }
    await this.ctx.operators.tryApply(talker.operator.id, { type: 'move-call', from: other.callId, to: this.callId });
    this.log.info({ consultation: other.callId, to: talker.operator.username }, 'attended transfer by the phone');
    const leg = this.s.recorder.leg('target', 'outbound', talker.dialog.sip.callId, talker.operator.username, Date.now(), talker.operator.id);
    leg.answered(Date.now());
    const joined: OperatorTalker = { ...talker, leg };
    if (!joined.endpoint) {
      // The consulted operator talked directly to the phone that called them: onto our media server.
      try {
        joined.endpoint = await anchorPhone(ms, joined.dialog);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'the consulted operator\'s phone could not be moved onto the media server');
        notify.send(503, 'Service Unavailable', true);
        leg.end(Date.now(), 'system', 503, 'media server could not be joined');
        hangUpDialog(joined.dialog);
        await this.operatorDone(joined.operator, 0);
        return;
      }
    }
    const third: Third = { mode: 'consult', target: talker.operator, leg, ring: undefined, timer: undefined, notify, talker: joined, completeOnAnswer: false };
    await this.handCallerTo(third, joined);
  }

  /** Is this call's inbound leg the dialog a Replaces names (from the phone's side)? */
  holdsPhoneDialog(replaces: Replaces): boolean {
    const sip = this.caller.dialog.sip;
    return sip.callId === replaces.callId && sip.localTag === replaces.toTag && sip.remoteTag === replaces.fromTag;
  }

  /**
   * Gives this call's operator away to another call (an attended transfer made by the phone that
   * called in here): this call ends, the operator's leg goes on there.
   */
  surrender(toCallId: string): OperatorTalker | undefined {
    const op = this.operator;
    if (this.ended || !op || this.third || this.conference) return undefined;
    this.forget(op);
    // The other call listens from now on; until then the phone's requests wait.
    holdRequests(op.dialog, true);
    op.leg.end(Date.now(), 'system', 200, `joined call ${toCallId}`);
    if (op.endpoint) void unbridge(op.endpoint).catch(() => undefined);
    hangUpDialog(this.caller.dialog);
    void this.finish('system', `attended transfer into call ${toCallId}`);
    return op;
  }

  // ---- three-way ---------------------------------------------------------------------------

  private async startThreeWay(third: OperatorTalker): Promise<void> {
    const name = `3way-${this.callId}`;
    this.conference = name;
    const op = this.operator;
    const caller = onMedia(this.caller);
    await unbridge(caller).catch(() => undefined);
    const joins = [caller, onMedia(third), ...(op?.endpoint ? [op.endpoint] : [])].map((ep) => ep.join(name));
    const results = await Promise.allSettled(joins);
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed > 0) this.log.warn({ failed }, 'some parties could not join the three-way call');
    this.s.recorder.answered(Date.now(), { id: third.operator.id, username: third.operator.username });
    this.log.info({ conference: name }, 'three-way call');
  }

  /** Someone left a three-way call: two carry on; one alone is hung up. */
  private partyLeft(): void {
    const callerIn = isConnected(this.caller.dialog);
    const present = [callerIn, this.operator !== undefined, this.third?.talker !== undefined].filter(Boolean).length;
    if (present >= 2) {
      this.log.info({ present }, 'a party left the three-way call; the others stay together');
      return;
    }
    this.log.info('the three-way call is down to one party; ending it');
    this.dropThird('three-way call ended', 'system');
    const op = this.operator;
    if (op) void this.releaseOperator(op, 'system');
    hangUpDialog(this.caller.dialog);
    void this.finish(callerIn ? 'system' : 'caller', 'three-way call ended');
  }

  // ---- ending ------------------------------------------------------------------------------

  hangup(reason: string): void {
    if (this.ended) return;
    this.dropThird(reason, 'system');
    const op = this.operator;
    if (op) void this.releaseOperator(op, 'system');
    this.stopHold();
    hangUpDialog(this.caller.dialog);
    void this.finish('system', reason);
  }

  /** Stops ringing or hangs up the third party, and frees them. */
  private dropThird(reason: string, by: 'caller' | 'operator' | 'system'): void {
    const third = this.third;
    if (!third) return;
    this.third = undefined;
    clearTimeout(third.timer);
    third.notify?.send(487, 'Request Terminated', true);
    const talker = third.talker;
    if (!talker) {
      third.ring?.cancel();
      third.leg.end(Date.now(), 'system', 487, reason);
      void this.ctx.operators.tryApply(third.target.id, { type: 'release', callId: this.callId, missed: false, maxMisses: MAX_MISSES_OUTSIDE_QUEUES });
      return;
    }
    third.leg.end(Date.now(), by === 'operator' ? 'operator' : by, 200, reason);
    hangUpDialog(talker.dialog);
    void releaseEndpoint(talker.endpoint);
    void this.operatorDone(third.target, 0);
  }

  /** Ends the operator's part: BYE to their phone if still up, then wrap-up. */
  private async releaseOperator(op: OperatorTalker, by: 'caller' | 'system'): Promise<void> {
    this.forget(op);
    if (isConnected(op.dialog)) {
      op.leg.end(Date.now(), by, 200, 'call over');
      hangUpDialog(op.dialog);
    }
    await releaseEndpoint(op.endpoint);
    await this.operatorDone(op.operator);
  }

  private async operatorDone(operator: Operator, wrapupMs = this.wrapupMs): Promise<void> {
    const done = await this.ctx.operators.tryApply(operator.id, { type: 'hangup', callId: this.callId, wrapupMs });
    if (done?.to === 'wrap-up') {
      this.ctx.later(wrapupMs, () => void this.ctx.operators.tryApply(operator.id, { type: 'wrapup-done', callId: this.callId }));
    }
  }

  /** The caller goes (back) into a queue; the call goes on there under the same call id. */
  private async handOverToQueue(queue: Queue, front: boolean): Promise<void> {
    this.ended = true;
    this.caller.dialog.off('modify', this.onCallerModify);
    this.stopHold();
    const caller = this.anchoredCaller();
    await unbridge(caller.endpoint).catch(() => undefined);
    const next = new QueueCall(this.ctx, this.callId, queue, caller, this.s.recorder, this.log);
    this.ctx.calls.add(next);
    this.settled.resolve();
    await next.enter();
    if (front) await next.moveToFront();
  }

  private async finish(hangupBy: 'caller' | 'operator' | 'system', reason: string, talkEndedAt?: number): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.caller.dialog.off('modify', this.onCallerModify);
    const at = Date.now();
    this.stopHold();
    this.caller.leg.end(at, hangupBy, 200, reason);
    await releaseEndpoint(this.caller.endpoint);
    this.s.recorder.end({ at, hangupBy, ...(talkEndedAt === undefined ? {} : { talkEndedAt }) });
    await this.ctx.queues.removeCall(this.callId, null).catch(() => undefined);
    this.log.info({ hangupBy, reason }, 'call ended');
    this.settled.resolve();
  }
}
