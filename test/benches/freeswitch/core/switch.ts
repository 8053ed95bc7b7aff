/**
 * The switch core: sessions, events, call control (answer, hangup, bridge, transfer, park) and
 * application execution. Applications, API commands and the SIP and event-socket front ends are
 * plugged in from their own modules; this file holds the state transitions FreeSWITCH's core
 * makes (src/switch_channel.c, src/switch_ivr_bridge.c, src/switch_core_state_machine.c), with
 * the media model updated at each step.
 */
import { randomUUID } from 'node:crypto';

import type { FsEvent, EventName } from '../esl/event.js';
import { MediaModel } from '../model/model.js';
import { MediaTiming, type MediaOptions } from '../apps/media.js';
import { Conferences } from '../conference/conferences.js';
import { causeCode, NORMAL_CLEARING } from './causes.js';
import { addCallerProfile, addChannelData } from './channel-data.js';
import { EventBus, type CoreIdentity, type EventSink, type Origin } from './events.js';
import type { Frame, Invocation } from './executor.js';
import { nowMicros, Session, type CallState, type SessionInit } from './session.js';

/** An application as the executor runs it (see apps/registry.ts). */
export interface Application {
  run(context: AppContext): Promise<void>;
}

export interface AppContext {
  readonly sw: Switch;
  readonly session: Session;
  readonly frame: Frame;
  /** Application data after ${variable} expansion. */
  readonly arg: string;
  /** Waits `ms` (or for ever) unless interrupted first. */
  wait(ms: number | 'forever'): Promise<'elapsed' | 'interrupted'>;
  /** Sets current_application_response, reported as Application-Response. */
  respond(text: string): void;
}

export type ApiHandler = (sw: Switch, args: string, caller: ApiCaller) => string;

export interface ApiCaller {
  /** The session an outbound listener controls, if any (bgapi's Job-Owner-UUID). */
  readonly sessionUuid: string | undefined;
}

export interface SwitchOptions {
  readonly identity: CoreIdentity;
  /** "ip:port" the drachtio_mrf profile listens on; known once the SIP side is bound. */
  readonly sipAddress: () => string;
  readonly maxSessions: number;
  readonly sessionsPerSecond: number;
  readonly media: MediaOptions;
  readonly applications: ReadonlyMap<string, Application>;
  readonly apis: ReadonlyMap<string, ApiHandler>;
}

/** Applications that loop in switch_ivr_park(). */
const PARK_LOOPS = new Set(['socket', 'park']);

/** Variables sofia_glue / the mrf dialplan leave behind that change the core's behaviour. */
const PARK_AFTER_BRIDGE = 'park_after_bridge';
const HANGUP_AFTER_BRIDGE = 'hangup_after_bridge';
/**
 * uuid_bridge answers +OK before the bridge is up: uuid_bridge_on_soft_execute() polls the other
 * channel's state every 20 ms (switch_yield(20000)) until both are in CS_SOFT_EXECUTE, and only
 * then fires CHANNEL_BRIDGE. One such round.
 */
const BRIDGE_SETUP_MS = 20;

const ORIGIN = {
  state: { file: 'switch_channel.c', func: 'switch_channel_perform_set_callstate', line: 302 },
  hangup: { file: 'switch_channel.c', func: 'switch_channel_perform_hangup', line: 3483 },
  answer: { file: 'switch_channel.c', func: 'switch_channel_perform_mark_answered', line: 3847 },
  create: { file: 'switch_core_state_machine.c', func: 'switch_core_session_run', line: 648 },
  execute: { file: 'switch_core_session.c', func: 'switch_core_session_exec', line: 2950 },
  executeComplete: { file: 'switch_core_session.c', func: 'switch_core_session_exec', line: 2974 },
  bridge: { file: 'switch_ivr_bridge.c', func: 'audio_bridge_on_exchange_media', line: 1019 },
  unbridge: { file: 'switch_ivr_bridge.c', func: 'switch_ivr_multi_threaded_bridge', line: 1780 },
  hangupComplete: { file: 'switch_core_state_machine.c', func: 'switch_core_session_reporting_state', line: 943 },
  destroy: { file: 'switch_core_session.c', func: 'switch_core_session_perform_destroy', line: 1655 },
  dtmf: { file: 'switch_channel.c', func: 'switch_channel_dequeue_dtmf', line: 678 },
} satisfies Record<string, Origin>;

export class Switch {
  readonly events: EventBus;
  readonly model = new MediaModel();
  readonly media: MediaTiming;
  readonly conferences: Conferences;
  readonly startedAt = Date.now();
  /** Hooks other modules register (the outbound listener of a channel). */
  readonly onHangup = new Set<(session: Session) => void>();
  /** Open outbound event-socket connections, closed when the stand-in stops. */
  readonly connections = new Set<{ close(): void; readonly closed: Promise<void> }>();
  /**
   * What the core reports and enforces about its load: Max-Sessions (switch_core_session_limit(),
   * `fsctl max_sessions`) and Idle-CPU (switch_core_idle_cpu(); measured by FreeSWITCH, set by
   * tests here).
   */
  readonly load: { maxSessions: number; idleCpu: number };
  private readonly sessions = new Map<string, Session>();
  private sessionsSinceStartup = 0;
  private readonly dtmfWatchers = new Map<string, Set<(digit: string) => void>>();
  /** Channels that originated their current bridge (uuid_bridge's first argument). */
  private readonly bridgeOriginators = new Set<string>();
  /** Bridges asked for and not up yet: originator's uuid to the other channel's. */
  private readonly bridgesUnderWay = new Map<string, string>();

  constructor(readonly options: SwitchOptions) {
    this.events = new EventBus(options.identity);
    this.media = new MediaTiming(options.media);
    this.conferences = new Conferences(this);
    this.load = { maxSessions: options.maxSessions, idleCpu: 100 };
  }

  get identity(): CoreIdentity {
    return this.options.identity;
  }

  // ---- events ----

  newEvent(name: EventName, origin?: Origin, subclass?: string): FsEvent {
    return this.events.create(name, origin, subclass);
  }

  /** An event about a channel: the common headers, then the channel data. */
  channelEvent(name: EventName, session: Session, origin?: Origin): FsEvent {
    const event = this.newEvent(name, origin);
    addChannelData(event, session);
    return event;
  }

  fire(event: FsEvent): void {
    this.events.fire(event);
  }

  attach(sink: EventSink): void {
    this.events.attach(sink);
  }

  detach(sink: EventSink): void {
    this.events.detach(sink);
  }

  // ---- sessions ----

  createSession(init: SessionInit): Session {
    const session = new Session(init, (self) => ({
      run: (frame) => this.runFrameThenCheckControl(self, frame),
      takesMessages: () => this.takesMessages(self),
    }));
    this.sessions.set(session.uuid, session);
    this.sessionsSinceStartup++;
    session.setVariable('uuid', session.uuid);
    session.setVariable('call_uuid', session.uuid);
    this.model.addChannel({ uuid: session.uuid, name: session.name, callId: session.callId, sipHeaders: session.sipHeaders });
    this.fire(this.channelEvent('CHANNEL_CREATE', session, ORIGIN.create));
    this.setCallState(session, 'RINGING');
    return session;
  }

  /**
   * A conference member's private events are taken by the conference's output loop, which only
   * turns while it can write media. Observed on FreeSWITCH 1.10.12 with drachtio-fsmrf: a member
   * whose far end is sendonly or inactive, or a 3PCC channel never pointed at a phone (such as
   * createConference()'s control leg), runs no queued sendmsg (not even hangup) until it leaves
   * the room; uuid_kill and the conference API still act at once.
   */
  private takesMessages(session: Session): boolean {
    if (!session.isUp) return false;
    return session.mediaSendable || !this.model.conferenceOf(session.uuid);
  }

  /** The far end's media direction changed (an offer or answer arrived): queued messages may move. */
  setMediaSendable(session: Session, sendable: boolean): void {
    session.mediaSendable = sendable;
    session.executor.poke();
  }

  locate(uuid: string): Session | undefined {
    const session = this.sessions.get(uuid);
    return session?.isUp ? session : undefined;
  }

  liveSessions(): Session[] {
    return [...this.sessions.values()].filter((session) => session.isUp);
  }

  get sessionCount(): number {
    return this.liveSessions().length;
  }

  get sessionsCreated(): number {
    return this.sessionsSinceStartup;
  }

  // ---- call state ----

  setCallState(session: Session, callState: CallState): void {
    const previous = session.callState;
    if (previous === callState || previous === 'HANGUP') return;
    session.callState = callState;
    const event = this.newEvent('CHANNEL_CALLSTATE', ORIGIN.state)
      .add('Original-Channel-Call-State', previous)
      .add('Channel-Call-State-Number', ['DOWN', 'DIALING', 'RINGING', 'EARLY', 'ACTIVE', 'HELD', 'RING_WAIT', 'HANGUP'].indexOf(callState));
    addChannelData(event, session);
    this.fire(event);
  }

  /** switch_channel_perform_mark_answered(): the SIP side has sent its 200 OK. */
  markAnswered(session: Session): void {
    if (session.answered || !session.isUp) return;
    session.answered = true;
    session.profile.times.answered = nowMicros();
    this.model.answer(session.uuid);
    this.fire(this.channelEvent('CHANNEL_ANSWER', session, ORIGIN.answer));
    this.setCallState(session, 'ACTIVE');
  }

  /**
   * switch_channel_perform_hangup(): CHANNEL_HANGUP, the call state, every running application
   * returns, the SIP leg gets its BYE (unless the far end sent one), then CHANNEL_HANGUP_COMPLETE
   * and CHANNEL_DESTROY once the applications have reported back.
   */
  hangup(session: Session, cause: string = NORMAL_CLEARING, options: { remote?: boolean } = {}): void {
    if (!session.isUp) return;
    session.hangupCause = cause;
    session.state = 'CS_HANGUP';
    session.profile.times.hungup = nowMicros();
    this.fire(this.channelEvent('CHANNEL_HANGUP', session, ORIGIN.hangup));
    this.setCallState(session, 'HANGUP');
    const partner = this.model.bridgedWith(session.uuid);
    this.model.hangup(session.uuid, cause);
    session.executor.hangup();
    if (!options.remote) session.sip?.hangup(cause, causeCode(cause));
    for (const hook of this.onHangup) hook(session);
    const originator = this.originatorWaitingFor(session);
    if (originator) {
      // uuid_bridge_on_soft_execute(): switch_ivr_wait_for_answer() fails on the gone channel,
      // and without uuid_bridge_park_on_cancel the originator is hung up (switch_ivr_bridge.c:1211).
      this.bridgesUnderWay.delete(originator.uuid);
      this.model.unbridge(originator.uuid);
      this.hangup(originator, 'ORIGINATOR_CANCEL');
    } else if (partner) this.afterBridge(session, partner);
    setImmediate(() => this.finishHangup(session));
  }

  /** The originator of a uuid_bridge under way with `session` as its other channel, if any. */
  private originatorWaitingFor(session: Session): Session | undefined {
    for (const [originator, other] of this.bridgesUnderWay) {
      if (other === session.uuid) return this.sessions.get(originator);
    }
    return undefined;
  }

  private finishHangup(session: Session): void {
    session.state = 'CS_REPORTING';
    this.fire(this.channelEvent('CHANNEL_HANGUP_COMPLETE', session, ORIGIN.hangupComplete));
    session.state = 'CS_DESTROY';
    this.fire(this.channelEvent('CHANNEL_DESTROY', session, ORIGIN.destroy));
    this.sessions.delete(session.uuid);
    this.dtmfWatchers.delete(session.uuid);
  }

  // ---- bridging and transfer ----

  /**
   * switch_ivr_uuid_bridge(): both channels leave whatever they run (CF_TRANSFER) and exchange
   * media. At least one must be answered.
   */
  bridge(a: Session, b: Session): boolean {
    if (!a.isUp || !b.isUp || a === b) return false;
    if (!a.answered && !b.answered) return false;
    if (this.model.areBridged(a.uuid, b.uuid)) return true;
    // A third channel bridged to either of them is left behind: park_after_bridge applies to it.
    this.leaveCurrentBridge(a, false);
    this.leaveCurrentBridge(b, false);
    a.executor.transfer();
    b.executor.transfer();
    this.setBridgeVariables(a, b);
    this.bridgeOriginators.add(a.uuid);
    this.model.bridge(a.uuid, b.uuid);
    a.profile.times.bridged = b.profile.times.bridged = nowMicros();
    a.state = b.state = 'CS_EXCHANGE_MEDIA';
    this.bridgesUnderWay.set(a.uuid, b.uuid);
    // The interrupted applications report back first; the bridge event follows them.
    setTimeout(() => {
      if (this.bridgesUnderWay.get(a.uuid) === b.uuid) this.bridgesUnderWay.delete(a.uuid);
      if (!this.model.areBridged(a.uuid, b.uuid)) return;
      this.fire(this.bridgeEvent('CHANNEL_BRIDGE', a, b));
      // switch_ivr_multi_threaded_bridge(): bridge_to names the other side once the bridge is up.
      a.setVariable('bridge_to', b.uuid);
      b.setVariable('bridge_to', a.uuid);
    }, BRIDGE_SETUP_MS);
    return true;
  }

  /**
   * A transfer of a uuid_bridge's originator before the bridge is up: uuid_bridge_on_soft_execute()
   * finds the originator not ready (CF_TRANSFER) and hangs up the other channel with
   * DESTINATION_OUT_OF_ORDER, while the originator goes where it was transferred. Observed on
   * FreeSWITCH 1.10.12 with `uuid_transfer <originator> -both park inline` right behind the bridge;
   * the other way round (the other channel hung up first: ORIGINATOR_CANCEL) is in hangup().
   */
  private spoilBridgeUnderWay(originator: Session): void {
    const other = this.bridgesUnderWay.get(originator.uuid);
    if (other === undefined) return;
    this.bridgesUnderWay.delete(originator.uuid);
    const session = this.sessions.get(other);
    if (session?.isUp) this.hangup(session, 'DESTINATION_OUT_OF_ORDER');
  }

  /**
   * switch_ivr_session_transfer() to an inline dialplan: the bridge (if any) ends, running loops
   * return, and the new applications run before anything queued. `partnerFollows` is uuid_transfer's
   * -both, where the other side is transferred too; otherwise it meets park_after_bridge.
   */
  transferInline(session: Session, applications: Invocation[], partnerFollows = false): void {
    this.leaveCurrentBridge(session, partnerFollows);
    session.executor.transfer();
    session.profile.times.transferred = nowMicros();
    session.state = 'CS_EXECUTE';
    for (const invocation of [...applications].reverse()) session.executor.enqueueFront(invocation);
    this.spoilBridgeUnderWay(session);
  }

  /**
   * The outbound socket controlling the channel closed: listener_run() clears CF_CONTROLLED,
   * which switch_ivr_park() checks between the messages it runs. The park loop running then (the
   * socket application's, or one a transfer started) ends once nothing is left to run: the
   * channel idle there leaves park and its dialplan ends, which hangs it up; one playing hold music
   * from there is hung up when the playback returns. A channel running no park (bridged) stays up,
   * and so does one parked later (switch_ivr_park() sets CF_CONTROLLED again). Observed on
   * FreeSWITCH 1.10.12 (test/e2e/freeswitch-bench/socket-loss.test.ts).
   */
  socketClosed(session: Session): void {
    if (!session.isUp) return;
    const innermost = session.executor.restingFrames().at(-1);
    if (innermost && PARK_LOOPS.has(innermost.invocation.app)) session.uncontrolledPark = innermost;
    this.leaveParkIfUncontrolled(session);
  }

  private runFrameThenCheckControl(session: Session, frame: Frame): Promise<boolean> | false {
    const running = this.runFrame(session, frame);
    if (running === false) return running;
    // After the executor has finished the frame and taken whatever was queued behind it.
    void running.finally(() => setImmediate(() => this.leaveParkIfUncontrolled(session)));
    return running;
  }

  /** switch_ivr_park()'s loop test, once the park has nothing left to run. */
  private leaveParkIfUncontrolled(session: Session): void {
    const park = session.uncontrolledPark;
    if (!park || !session.isUp) return;
    const executor = session.executor;
    if (!executor.isRunning(park)) {
      session.uncontrolledPark = undefined;
      return;
    }
    if (executor.current() || executor.queued() > 0 || executor.restingFrames().at(-1) !== park) return;
    session.uncontrolledPark = undefined;
    executor.leave(park);
  }

  /** Park a channel silently, as park_after_bridge does (CHANNEL_PARK, no CHANNEL_EXECUTE). */
  private parkAfterBridge(session: Session): void {
    session.executor.enqueueFront({
      app: 'park',
      arg: '',
      appUuid: undefined,
      loops: 1,
      silent: true,
      // Bridged again before the park came round: nothing to do.
      skip: () => this.model.bridgedWith(session.uuid) !== undefined,
    });
  }

  /** The bridge ends: one CHANNEL_UNBRIDGE, from the side that originated it (uuid_bridge's first). */
  private leaveCurrentBridge(session: Session, partnerFollows: boolean): void {
    const partner = this.model.bridgedWith(session.uuid);
    if (!partner) return;
    const other = this.sessions.get(partner);
    this.model.unbridge(session.uuid);
    // The bridge is over (switch_ivr_session_transfer(), the bridge loop's end): no bridge_to.
    session.setVariable('bridge_to', undefined);
    if (!other) return;
    other.setVariable('bridge_to', undefined);
    this.fireUnbridge(session, other);
    if (!partnerFollows) this.leftAlone(other, session);
  }

  private fireUnbridge(one: Session, other: Session): void {
    const [a, b] = this.bridgeOriginators.has(other.uuid) ? [other, one] : [one, other];
    this.bridgeOriginators.delete(a.uuid);
    this.bridgeOriginators.delete(b.uuid);
    this.fire(this.bridgeEvent('CHANNEL_UNBRIDGE', a, b));
  }

  /**
   * A resting application beneath a conference or a bridge (the socket's park, a park) takes
   * over again: the channel is parked once more.
   */
  resumePark(session: Session): void {
    if (!session.isUp || this.model.bridgedWith(session.uuid) || this.model.conferenceOf(session.uuid)) return;
    const parkedBeneath = session.executor.restingFrames().some((frame) => ['park', 'socket'].includes(frame.invocation.app));
    if (parkedBeneath) this.model.setParked(session.uuid, true);
  }

  /** The far side of a bridge hung up. */
  private afterBridge(gone: Session, partnerUuid: string): void {
    const partner = this.locate(partnerUuid);
    if (!partner) return;
    this.fireUnbridge(partner, gone);
    this.leftAlone(partner, gone);
  }

  /** What the mrf dialplan set decides: hangup_after_bridge=false, park_after_bridge=true. */
  private leftAlone(partner: Session, gone: Session): void {
    if (!partner.isUp) return;
    if (partner.getVariable(HANGUP_AFTER_BRIDGE) === 'true') {
      this.hangup(partner, gone.hangupCause ?? NORMAL_CLEARING);
      return;
    }
    if (partner.getVariable(PARK_AFTER_BRIDGE) === 'true') {
      this.parkAfterBridge(partner);
      return;
    }
    this.hangup(partner, NORMAL_CLEARING);
  }

  private setBridgeVariables(a: Session, b: Session): void {
    a.setVariable('bridge_uuid', b.uuid);
    a.setVariable('signal_bond', b.uuid);
    a.setVariable('bridge_channel', b.name);
    b.setVariable('bridge_uuid', a.uuid);
    b.setVariable('signal_bond', a.uuid);
    b.setVariable('bridge_channel', a.name);
  }

  private bridgeEvent(name: 'CHANNEL_BRIDGE' | 'CHANNEL_UNBRIDGE', self: Session, other: Session): FsEvent {
    const event = this.newEvent(name, name === 'CHANNEL_BRIDGE' ? ORIGIN.bridge : ORIGIN.unbridge)
      .add('Bridge-A-Unique-ID', self.uuid)
      .add('Bridge-B-Unique-ID', other.uuid);
    addChannelData(event, self);
    event.set('Other-Type', 'originatee');
    addCallerProfile(event, other, 'Other-Leg');
    return event;
  }

  // ---- applications ----

  execute(session: Session, invocation: Invocation): void {
    session.executor.enqueue(invocation);
  }

  /** ExecutorHost.run(): false (and the channel hung up) when the application does not exist. */
  private runFrame(session: Session, frame: Frame): Promise<boolean> | false {
    if (frame.invocation.skip?.()) return Promise.resolve(true);
    const application = this.options.applications.get(frame.invocation.app);
    if (!application) {
      // switch_core_session_execute_application_get_flags(): "Invalid Application".
      this.hangup(session, 'DESTINATION_OUT_OF_ORDER');
      return false;
    }
    return this.runLoops(session, frame, application);
  }

  private async runLoops(session: Session, frame: Frame, application: Application): Promise<boolean> {
    const { loops } = frame.invocation;
    for (let round = 0; loops < 0 || round < loops; round++) {
      const started = Date.now();
      await this.runOnce(session, frame, application);
      // switch_ivr_parse_event(): stop looping when interrupted or when a round took < 500 ms.
      if (frame.interruption.reason || !session.isUp || Date.now() - started < 500) break;
    }
    return true;
  }

  private async runOnce(session: Session, frame: Frame, application: Application): Promise<void> {
    const { app, silent } = frame.invocation;
    const appUuid = frame.invocation.appUuid ?? randomUUID();
    const arg = this.expand(session, frame.invocation.arg);
    session.setVariable('current_application', app);
    session.setVariable('current_application_data', arg);
    session.setVariable('current_application_response', undefined);
    if (!silent) this.fire(this.executeEvent('CHANNEL_EXECUTE', session, app, arg, appUuid));
    await application.run(this.appContext(session, frame, arg));
    if (!silent) this.fire(this.executeEvent('CHANNEL_EXECUTE_COMPLETE', session, app, arg, appUuid));
  }

  private executeEvent(name: 'CHANNEL_EXECUTE' | 'CHANNEL_EXECUTE_COMPLETE', session: Session, app: string, arg: string, appUuid: string): FsEvent {
    const complete = name === 'CHANNEL_EXECUTE_COMPLETE';
    const event = this.channelEvent(name, session, complete ? ORIGIN.executeComplete : ORIGIN.execute)
      .add('Application', app)
      .add('Application-Data', arg);
    if (complete) event.add('Application-Response', session.getVariable('current_application_response') ?? '_none_');
    return event.add('Application-UUID', appUuid);
  }

  private appContext(session: Session, frame: Frame, arg: string): AppContext {
    return {
      sw: this,
      session,
      frame,
      arg,
      wait: (ms) => waitUnlessInterrupted(frame, ms),
      respond: (text) => session.setVariable('current_application_response', text),
    };
  }

  /** switch_channel_expand_variables(), for the plain ${name} form. */
  expand(session: Session, text: string): string {
    return text.replace(/\$\{([^}]+)\}/g, (_match, name: string) => session.getVariable(name) ?? '');
  }

  // ---- DTMF ----

  /** A digit arrives on the channel (RFC 2833 from the phone, or uuid_recv_dtmf). */
  receiveDtmf(session: Session, digit: string, durationSamples: number, source: string): void {
    if (!session.isUp) return;
    this.model.addDtmf(session.uuid, digit);
    const event = this.newEvent('DTMF', ORIGIN.dtmf);
    addChannelData(event, session);
    event.add('DTMF-Digit', digit).add('DTMF-Duration', durationSamples).add('DTMF-Source', source);
    this.fire(event);
    for (const watcher of [...(this.dtmfWatchers.get(session.uuid) ?? [])]) watcher(digit);
  }

  /** Lets an application (playback terminators, play_and_get_digits) see digits; returns an unwatch. */
  watchDtmf(session: Session, watcher: (digit: string) => void): () => void {
    const watchers = this.dtmfWatchers.get(session.uuid) ?? new Set();
    watchers.add(watcher);
    this.dtmfWatchers.set(session.uuid, watchers);
    return () => watchers.delete(watcher);
  }

  // ---- API ----

  api(command: string, args: string, caller: ApiCaller): string {
    const handler = this.options.apis.get(command.toLowerCase());
    // api_exec(): an unknown command is not an error of the socket, just this text.
    if (!handler) return `-ERR ${command} Command not found!\n`;
    return handler(this, args, caller);
  }

  /** Ends every channel, as a shutdown does. */
  shutdown(): void {
    for (const session of this.liveSessions()) this.hangup(session, 'SYSTEM_SHUTDOWN');
  }
}

function waitUnlessInterrupted(frame: Frame, ms: number | 'forever'): Promise<'elapsed' | 'interrupted'> {
  if (frame.interruption.reason) return Promise.resolve('interrupted');
  const interrupted = frame.interruption.whenInterrupted.then(() => 'interrupted' as const);
  if (ms === 'forever') return interrupted;
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<'elapsed'>((resolve) => {
    timer = setTimeout(() => resolve('elapsed'), Math.max(0, ms));
  });
  return Promise.race([elapsed, interrupted]).finally(() => clearTimeout(timer));
}
