/**
 * A call to an operator's own number, as a pure state machine: (state, event) -> (state, effects).
 * The operator is reserved and the caller's media endpoint made before this starts; from then on
 * the operator's phones ring while the caller hears ringing (180) and is not answered until the
 * operator answers. The adapter (direct-call.ts) feeds it SIP, timer and media events and carries
 * out the effects.
 *
 * The hard cases it settles: the caller cancels while the phone rings (cancel at once, free the
 * operator); the phone answers after the caller left (hang the phone up); the ring timeout's
 * CANCEL crosses the phone's 200 (the operator answered: connect); either side hangs up while the
 * caller's 200 OK is on its way (the other side goes too, once it exists).
 */
import type { Disposition } from '../cdr/records.js';

export type DirectPhase = 'ringing' | 'answering' | 'ended';

export interface DirectCallState {
  phase: DirectPhase;
  ringStartedAt: number;
  /** We CANCELled the ring because the ring timeout passed: its failure is a no-answer. */
  timedOut: boolean;
}

export type DirectCallEvent =
  | { type: 'ring-timeout'; at: number }
  | { type: 'operator-answered'; at: number }
  | { type: 'operator-failed'; status: number; at: number }
  /** CANCEL from the caller (before our 200 OK went out, or crossing it). */
  | { type: 'caller-cancel'; at: number }
  /** Our 200 OK to the caller went out: the caller's dialog exists. */
  | { type: 'caller-answered'; at: number }
  /** The 200 OK could not be sent: the caller cancelled, or drachtio refused. */
  | { type: 'answer-failed'; cancelled: boolean; at: number }
  | { type: 'caller-hangup'; at: number }
  /** The operator's phone hung up before the caller's answer went out. */
  | { type: 'operator-hangup'; at: number }
  /** The switchboard ends the call (API, shutdown). */
  | { type: 'hangup'; reason: string; at: number };

export type HangupBy = 'caller' | 'operator' | 'system' | null;

export type DirectEffect =
  | { type: 'cancel-ring' }
  /** 200 OK to the caller with the caller endpoint's SDP. */
  | { type: 'answer-caller' }
  /** A final failure response to the caller's INVITE. */
  | { type: 'reject-caller'; status: number; reason: string }
  | { type: 'bridge' }
  /** The reserved operator took the call (ringing -> busy). */
  | { type: 'operator-busy' }
  /** The reservation ends without a call; a missed ring counts towards a break. */
  | { type: 'release-operator'; missed: boolean }
  /** Caller and operator talk: a Conversation takes the call from here. */
  | { type: 'hand-over' }
  /** BYE to the operator's phone (if its leg is up) and away with its endpoint. */
  | { type: 'drop-operator'; by: 'caller' | 'system' }
  /** BYE to the caller (if their leg is up). */
  | { type: 'hangup-caller' }
  | { type: 'record-connect'; ringMs: number }
  | { type: 'finish'; hangupBy: HangupBy; reason: string; disposition?: Disposition; status?: number };

export interface DirectTransition {
  state: DirectCallState;
  effects: DirectEffect[];
}

export function initialDirectCallState(ringStartedAt: number): DirectCallState {
  return { phase: 'ringing', ringStartedAt, timedOut: false };
}

/** What the caller is told when the operator's phone did not take the call. */
export function callerStatus(status: number, timedOut: boolean): { status: number; reason: string } {
  if (timedOut || status === 487 || status < 400) return { status: 480, reason: 'No Answer' };
  if (status >= 500 && status < 600) return { status: 503, reason: 'Service Unavailable' };
  return { status, reason: '' };
}

/** A failed ring the way the CDR tells it. */
function failure(status: number, timedOut: boolean): { disposition: Disposition; hangupBy: HangupBy; reason: string } {
  if (timedOut) return { disposition: 'timeout', hangupBy: 'system', reason: 'no answer' };
  if (status >= 500 && status < 600) return { disposition: 'failed', hangupBy: 'system', reason: `operator leg failed with ${status}` };
  const declined = status === 486 || status === 600 || status === 603;
  return { disposition: 'rejected', hangupBy: declined ? 'operator' : null, reason: declined ? 'operator declined' : `operator not reachable (${status})` };
}

function ringing(s: DirectCallState, e: DirectCallEvent): DirectTransition {
  const same = (effects: DirectEffect[] = []): DirectTransition => ({ state: s, effects });
  const ended: DirectCallState = { ...s, phase: 'ended' };
  switch (e.type) {
    case 'ring-timeout':
      return s.timedOut ? same() : { state: { ...s, timedOut: true }, effects: [{ type: 'cancel-ring' }] };
    case 'operator-answered':
      // Even after the ring timeout's CANCEL: an operator who answered is connected.
      return { state: { ...s, phase: 'answering' }, effects: [{ type: 'answer-caller' }] };
    case 'operator-failed': {
      const missed = s.timedOut || e.status === 408 || e.status === 480;
      const told = callerStatus(e.status, s.timedOut);
      const f = failure(e.status, s.timedOut);
      return {
        state: ended,
        effects: [
          { type: 'release-operator', missed },
          { type: 'reject-caller', status: told.status, reason: told.reason },
          { type: 'finish', hangupBy: f.hangupBy, reason: f.reason, disposition: f.disposition, status: told.status },
        ],
      };
    }
    case 'caller-cancel':
      return {
        state: ended,
        effects: [
          { type: 'cancel-ring' },
          { type: 'release-operator', missed: false },
          { type: 'finish', hangupBy: 'caller', reason: 'caller hung up while ringing', disposition: 'abandoned', status: 487 },
        ],
      };
    case 'hangup':
      return {
        state: ended,
        effects: [
          { type: 'cancel-ring' },
          { type: 'release-operator', missed: false },
          { type: 'reject-caller', status: 480, reason: 'Temporarily Unavailable' },
          { type: 'finish', hangupBy: 'system', reason: e.reason, disposition: 'failed', status: 480 },
        ],
      };
    default:
      return same();
  }
}

function answering(s: DirectCallState, e: DirectCallEvent): DirectTransition {
  const ended: DirectCallState = { ...s, phase: 'ended' };
  const giveUp = (hangupBy: HangupBy, reason: string, disposition: Disposition, status?: number): DirectTransition => ({
    state: ended,
    effects: [
      { type: 'drop-operator', by: 'system' },
      { type: 'release-operator', missed: false },
      { type: 'finish', hangupBy, reason, disposition, ...(status === undefined ? {} : { status }) },
    ],
  });
  switch (e.type) {
    case 'caller-answered':
      return {
        state: ended,
        effects: [{ type: 'operator-busy' }, { type: 'bridge' }, { type: 'record-connect', ringMs: e.at - s.ringStartedAt }, { type: 'hand-over' }],
      };
    case 'answer-failed':
      return e.cancelled
        ? giveUp('caller', 'caller hung up as the operator answered', 'abandoned', 487)
        : giveUp('system', 'could not answer the caller', 'failed', 500);
    // The caller's 200 OK is on its way: once it is out, 'caller-answered' in 'ended' hangs up.
    case 'operator-hangup':
      return giveUp('operator', 'operator hung up before the caller was connected', 'failed');
    case 'hangup':
      return giveUp('system', e.reason, 'failed');
    default:
      // A CANCEL crossing our 200 OK: the answer's outcome decides.
      return { state: s, effects: [] };
  }
}

export function directCallStep(s: DirectCallState, e: DirectCallEvent): DirectTransition {
  switch (s.phase) {
    case 'ringing':
      return ringing(s, e);
    case 'answering':
      return answering(s, e);
    case 'ended':
      // Late news about a call that is over or handed over: a leg that comes up now is not wanted.
      if (e.type === 'operator-answered') return { state: s, effects: [{ type: 'drop-operator', by: 'system' }] };
      if (e.type === 'caller-answered') return { state: s, effects: [{ type: 'hangup-caller' }] };
      return { state: s, effects: [] };
  }
}
