import { describe, expect, it } from 'vitest';
import {
  callerStatus,
  directCallStep,
  initialDirectCallState,
  type DirectCallEvent,
  type DirectCallState,
  type DirectEffect,
} from '../../../src/calls/direct-call-machine.js';

function run(events: DirectCallEvent[], from: DirectCallState = initialDirectCallState(0)): { state: DirectCallState; effects: DirectEffect[][] } {
  let state = from;
  const effects: DirectEffect[][] = [];
  for (const e of events) {
    const t = directCallStep(state, e);
    state = t.state;
    effects.push(t.effects);
  }
  return { state, effects };
}

const types = (effects: DirectEffect[] | undefined): string[] => (effects ?? []).map((e) => e.type);

describe('a call to an operator\'s number', () => {
  it('answers the caller only once the operator answered, then bridges, marks the operator busy and hands over', () => {
    const { state, effects } = run([
      { type: 'operator-answered', at: 4000 },
      { type: 'caller-answered', at: 4050 },
    ]);
    expect(effects[0]).toEqual([{ type: 'answer-caller' }]);
    expect(effects[1]).toEqual([{ type: 'operator-busy' }, { type: 'bridge' }, { type: 'record-connect', ringMs: 4050 }, { type: 'hand-over' }]);
    expect(state.phase).toBe('ended');
  });

  it('the caller cancels while it rings: the ring is cancelled at once, the operator freed without blame, an abandon recorded', () => {
    const { state, effects } = run([{ type: 'caller-cancel', at: 2000 }]);
    expect(effects[0]).toEqual([
      { type: 'cancel-ring' },
      { type: 'release-operator', missed: false },
      { type: 'finish', hangupBy: 'caller', reason: 'caller hung up while ringing', disposition: 'abandoned', status: 487 },
    ]);
    expect(state.phase).toBe('ended');
  });

  it('the phone answers after the caller left: it is hung up, and nothing else happens', () => {
    const { effects } = run([
      { type: 'caller-cancel', at: 2000 },
      { type: 'operator-failed', status: 487, at: 2010 },
      { type: 'operator-answered', at: 2020 },
    ]);
    expect(effects[1]).toEqual([]);
    expect(effects[2]).toEqual([{ type: 'drop-operator', by: 'system' }]);
  });

  it('the operator declines: the caller gets the same status, unanswered; not a miss', () => {
    const { effects } = run([{ type: 'operator-failed', status: 486, at: 1000 }]);
    expect(effects[0]).toEqual([
      { type: 'release-operator', missed: false },
      { type: 'reject-caller', status: 486, reason: '' },
      { type: 'finish', hangupBy: 'operator', reason: 'operator declined', disposition: 'rejected', status: 486 },
    ]);
  });

  it('no answer: the ring timeout cancels the ring, and its 487 becomes a 480 to the caller and a miss', () => {
    const { state, effects } = run([
      { type: 'ring-timeout', at: 30_000 },
      { type: 'ring-timeout', at: 30_001 },
      { type: 'operator-failed', status: 487, at: 30_050 },
    ]);
    expect(effects[0]).toEqual([{ type: 'cancel-ring' }]);
    expect(effects[1]).toEqual([]);
    expect(effects[2]).toEqual([
      { type: 'release-operator', missed: true },
      { type: 'reject-caller', status: 480, reason: 'No Answer' },
      { type: 'finish', hangupBy: 'system', reason: 'no answer', disposition: 'timeout', status: 480 },
    ]);
    expect(state.phase).toBe('ended');
  });

  it('the phone\'s 200 crosses the ring timeout\'s CANCEL: the operator answered, so they are connected', () => {
    const { state, effects } = run([
      { type: 'ring-timeout', at: 30_000 },
      { type: 'operator-answered', at: 30_010 },
      { type: 'caller-answered', at: 30_020 },
    ]);
    expect(types(effects[1])).toEqual(['answer-caller']);
    expect(types(effects[2])).toEqual(['operator-busy', 'bridge', 'record-connect', 'hand-over']);
    expect(state.phase).toBe('ended');
  });

  it('an unreachable phone (408/480) is a miss; a media server failure is not and is told as 503', () => {
    expect(run([{ type: 'operator-failed', status: 480, at: 1 }]).effects[0]?.[0]).toEqual({ type: 'release-operator', missed: true });
    expect(run([{ type: 'operator-failed', status: 408, at: 1 }]).effects[0]?.[0]).toEqual({ type: 'release-operator', missed: true });
    const media = run([{ type: 'operator-failed', status: 503, at: 1 }]).effects[0];
    expect(media?.[0]).toEqual({ type: 'release-operator', missed: false });
    expect(media?.[1]).toEqual({ type: 'reject-caller', status: 503, reason: 'Service Unavailable' });
    expect(media?.[2]).toMatchObject({ type: 'finish', disposition: 'failed', hangupBy: 'system' });
  });

  it('a CANCEL crossing our 200 OK changes nothing by itself: the answer\'s outcome decides', () => {
    const cancelled = run([
      { type: 'operator-answered', at: 1000 },
      { type: 'caller-cancel', at: 1001 },
      { type: 'answer-failed', cancelled: true, at: 1002 },
    ]);
    expect(cancelled.effects[1]).toEqual([]);
    expect(cancelled.effects[2]).toEqual([
      { type: 'drop-operator', by: 'system' },
      { type: 'release-operator', missed: false },
      { type: 'finish', hangupBy: 'caller', reason: 'caller hung up as the operator answered', disposition: 'abandoned', status: 487 },
    ]);
    const answered = run([
      { type: 'operator-answered', at: 1000 },
      { type: 'caller-cancel', at: 1001 },
      { type: 'caller-answered', at: 1002 },
    ]);
    expect(answered.effects[2]?.at(-1)).toEqual({ type: 'hand-over' });
  });

  it('the operator hangs up while the caller\'s 200 OK is on its way: the caller is hung up as soon as their leg exists', () => {
    const { state, effects } = run([
      { type: 'operator-answered', at: 1000 },
      { type: 'operator-hangup', at: 1001 },
      { type: 'caller-answered', at: 1002 },
    ]);
    expect(types(effects[1])).toEqual(['drop-operator', 'release-operator', 'finish']);
    expect(effects[2]).toEqual([{ type: 'hangup-caller' }]);
    expect(state.phase).toBe('ended');
  });

  it('after the hand-over, hang-ups are the conversation\'s business, not this machine\'s', () => {
    const handedOver = run([
      { type: 'operator-answered', at: 1000 },
      { type: 'caller-answered', at: 1001 },
    ]).state;
    expect(run([{ type: 'caller-hangup', at: 5000 }], handedOver).effects[0]).toEqual([]);
    expect(run([{ type: 'operator-hangup', at: 5000 }], handedOver).effects[0]).toEqual([]);
    expect(run([{ type: 'hangup', reason: 'api', at: 5000 }], handedOver).effects[0]).toEqual([]);
  });

  it('a hang-up from the switchboard ends the call while it rings or is being answered', () => {
    expect(types(run([{ type: 'hangup', reason: 'shutdown', at: 1 }]).effects[0])).toEqual(['cancel-ring', 'release-operator', 'reject-caller', 'finish']);
    const answering = run([{ type: 'operator-answered', at: 1 }, { type: 'hangup', reason: 'api', at: 2 }]);
    expect(types(answering.effects[1])).toEqual(['drop-operator', 'release-operator', 'finish']);
  });
});

describe('what the caller is told', () => {
  it('passes the phone\'s refusal through, but never a 487 or a 3xx, and hides server errors behind 503', () => {
    expect(callerStatus(486, false)).toEqual({ status: 486, reason: '' });
    expect(callerStatus(603, false)).toEqual({ status: 603, reason: '' });
    expect(callerStatus(487, false)).toEqual({ status: 480, reason: 'No Answer' });
    expect(callerStatus(302, false)).toEqual({ status: 480, reason: 'No Answer' });
    expect(callerStatus(500, false)).toEqual({ status: 503, reason: 'Service Unavailable' });
    expect(callerStatus(486, true)).toEqual({ status: 480, reason: 'No Answer' });
  });
});
