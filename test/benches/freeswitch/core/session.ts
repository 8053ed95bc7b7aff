/**
 * One FreeSWITCH channel (switch_core_session_t + switch_channel_t): its identity, variables,
 * caller profile, channel and call states, and the executor that runs its applications. The SIP
 * leg behind it is reached through {@link SipLegControl}, so the core does not depend on the SIP
 * stack.
 */
import { randomUUID } from 'node:crypto';

import { Executor, type ExecutorHost, type Frame } from './executor.js';

/** CALLSTATE_CHART in src/switch_channel.c (the states this stand-in goes through). */
export type CallState = 'DOWN' | 'RINGING' | 'EARLY' | 'ACTIVE' | 'HANGUP';

/** state_names[] in src/switch_channel.c; the index is Channel-State-Number. */
export const CHANNEL_STATES = [
  'CS_NEW', 'CS_INIT', 'CS_ROUTING', 'CS_SOFT_EXECUTE', 'CS_EXECUTE', 'CS_EXCHANGE_MEDIA', 'CS_PARK',
  'CS_CONSUME_MEDIA', 'CS_HIBERNATE', 'CS_RESET', 'CS_HANGUP', 'CS_REPORTING', 'CS_DESTROY',
] as const;
export type ChannelStateName = (typeof CHANNEL_STATES)[number];

/** What the SIP side offers the core for one dialog. */
export interface SipLegControl {
  /** The answer application: send 200 OK with the channel's SDP (nothing once answered). */
  answer(): void;
  /** FreeSWITCH hangs up: send BYE (or a final response if not yet answered). */
  hangup(cause: string, q850: number): void;
}

/** switch_caller_profile_t fields that switch_caller_profile_event_set_data() reports. */
export interface CallerProfile {
  username: string;
  dialplan: string;
  callerIdName: string;
  callerIdNumber: string;
  networkAddr: string;
  ani: string;
  destinationNumber: string;
  source: string;
  context: string;
  profileIndex: string;
  /** Microseconds since the epoch; 0 while not reached. */
  times: {
    profileCreated: number;
    created: number;
    answered: number;
    progress: number;
    progressMedia: number;
    hungup: number;
    transferred: number;
    bridged: number;
  };
}

export interface SessionInit {
  readonly uuid?: string;
  readonly name: string;
  readonly callId: string;
  readonly sipHeaders: Readonly<Record<string, string>>;
  readonly profile: Omit<CallerProfile, 'times'>;
  readonly variables: ReadonlyArray<readonly [string, string]>;
}

export function nowMicros(): number {
  return Date.now() * 1000;
}

export class Session {
  readonly uuid: string;
  readonly name: string;
  readonly callId: string;
  readonly sipHeaders: Readonly<Record<string, string>>;
  readonly profile: CallerProfile;
  /**
   * Channel variables in the order they were set (they are reported in that order); names are
   * looked up without regard to case, as switch_event_get_header() does.
   */
  private readonly variableMap = new Map<string, readonly [string, string]>();
  readonly executor: Executor;
  callState: CallState = 'DOWN';
  state: ChannelStateName = 'CS_NEW';
  answered = false;
  hangupCause: string | undefined;
  sip: SipLegControl | undefined;
  /** The park loop that was running when its outbound event socket closed (CF_CONTROLLED cleared). */
  uncontrolledPark: Frame | undefined;
  /**
   * Whether FreeSWITCH may send media to the far end. False while the far end's SDP says
   * sendonly or inactive, and for a 3PCC channel still on the answer to its own offer (see
   * Switch.takesMessages()).
   */
  mediaSendable = true;

  constructor(init: SessionInit, makeHost: (session: Session) => ExecutorHost) {
    this.uuid = init.uuid ?? randomUUID();
    this.name = init.name;
    this.callId = init.callId;
    this.sipHeaders = init.sipHeaders;
    const created = nowMicros();
    this.profile = {
      ...init.profile,
      times: { profileCreated: created, created, answered: 0, progress: 0, progressMedia: 0, hungup: 0, transferred: 0, bridged: 0 },
    };
    for (const [name, value] of init.variables) this.setVariable(name, value);
    this.executor = new Executor(makeHost(this));
  }

  get isUp(): boolean {
    return this.callState !== 'HANGUP';
  }

  getVariable(name: string): string | undefined {
    return this.variableMap.get(name.toLowerCase())?.[1];
  }

  /** switch_channel_set_variable(): an empty or missing value unsets. */
  setVariable(name: string, value: string | undefined): void {
    const key = name.toLowerCase();
    if (value === undefined || value === '') {
      this.variableMap.delete(key);
      return;
    }
    const existing = this.variableMap.get(key);
    this.variableMap.set(key, [existing?.[0] ?? name, value]);
  }

  variables(): ReadonlyArray<readonly [string, string]> {
    return [...this.variableMap.values()];
  }

  /** Answer-State as switch_channel_event_set_basic_data() reports it. */
  answerState(): string {
    if (!this.isUp) return 'hangup';
    if (this.answered) return 'answered';
    if (this.callState === 'EARLY') return 'early';
    return 'ringing';
  }
}
