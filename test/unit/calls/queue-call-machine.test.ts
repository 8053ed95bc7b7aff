import { describe, expect, it } from 'vitest';
import { initialQueueCallState, queueCallStep, type Effect, type QueueCallEvent, type QueueCallState } from '../../../src/calls/queue-call-machine.js';

function run(events: QueueCallEvent[], from: QueueCallState = initialQueueCallState): { state: QueueCallState; effects: Effect[][] } {
  let state = from;
  const effects: Effect[][] = [];
  for (const e of events) {
    const t = queueCallStep(state, e);
    state = t.state;
    effects.push(t.effects);
  }
  return { state, effects };
}

const types = (effects: Effect[]): string[] => effects.map((e) => e.type);

describe('a caller in a queue', () => {
  it('is offered, rung, answered, bridged and handed over to the conversation', () => {
    const { state, effects } = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'operator-answered', operatorId: 7, at: 3000 },
    ]);
    expect(types(effects[0] ?? [])).toEqual(['record-offer', 'ring']);
    expect(effects[1]).toEqual([
      { type: 'operator-busy', operatorId: 7 },
      { type: 'stop-hold-music' },
      { type: 'bridge', operatorId: 7 },
      { type: 'record-connect', operatorId: 7, ringMs: 3000 },
      { type: 'hand-over', operatorId: 7 },
    ]);
    expect(state).toMatchObject({ phase: 'ended', operatorId: 7, rings: [] });
  });

  it('with a greeting, leaves connecting them to the conversation, after the greeting', () => {
    const { effects } = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'operator-answered', operatorId: 7, at: 3000, greet: true },
    ]);
    expect(types(effects[1] ?? [])).toEqual(['operator-busy', 'stop-hold-music', 'record-connect', 'hand-over']);
  });

  it('hangs up while the phone rings: the ring is cancelled at once and the operator freed', () => {
    const { state, effects } = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'caller-hangup', at: 2000 },
    ]);
    expect(effects[1]).toEqual([
      { type: 'cancel-ring', operatorId: 7, answeredElsewhere: false },
      { type: 'release-operator', operatorId: 7, missed: false },
      { type: 'record-abandon' },
      { type: 'finish', hangupBy: 'caller', reason: 'caller hung up' },
    ]);
    expect(state.phase).toBe('ended');
  });

  it('hangs up while waiting: taken off the queue and recorded as an abandon', () => {
    const { effects } = run([{ type: 'caller-hangup', at: 5 }]);
    expect(types(effects[0] ?? [])).toEqual(['dequeue', 'record-abandon', 'finish']);
  });

  it('an operator who answers after the caller left is hung up', () => {
    const { effects } = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'caller-hangup', at: 1000 },
      { type: 'operator-answered', operatorId: 7, at: 1001 },
    ]);
    expect(effects[2]).toEqual([{ type: 'drop-answered', operatorId: 7 }]);
  });

  it('no answer within the ring timeout: cancelled, counted as a miss, back in line', () => {
    const { state, effects } = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'ring-timeout', operatorId: 7, at: 15_000 },
      { type: 'operator-failed', operatorId: 7, status: 487, at: 15_010 },
    ]);
    expect(effects[1]).toEqual([{ type: 'cancel-ring', operatorId: 7, answeredElsewhere: false }]);
    expect(effects[2]).toEqual([
      { type: 'release-operator', operatorId: 7, missed: true },
      { type: 'record-no-answer', operatorId: 7, ringMs: 15_010, reason: 'no answer' },
      { type: 'requeue', tried: [7] },
    ]);
    expect(state.phase).toBe('waiting');
  });

  it('an operator who rejects is not counted as a miss, and the caller goes back in line', () => {
    const { effects } = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'operator-failed', operatorId: 7, status: 486, at: 500 },
    ]);
    expect(effects[1]).toEqual([
      { type: 'release-operator', operatorId: 7, missed: false },
      { type: 'record-no-answer', operatorId: 7, ringMs: 500, reason: 'busy' },
      { type: 'requeue', tried: [7] },
    ]);
  });

  it('an unreachable phone counts as a miss', () => {
    const { effects } = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'operator-failed', operatorId: 7, status: 480, at: 5 },
    ]);
    expect(effects[1]?.[0]).toEqual({ type: 'release-operator', operatorId: 7, missed: true });
  });

  it('ring-all: the first answer wins and the others are cancelled as completed elsewhere', () => {
    const { state, effects } = run([
      { type: 'offer', operatorIds: [1, 2, 3], at: 0 },
      { type: 'operator-answered', operatorId: 2, at: 100 },
      { type: 'operator-answered', operatorId: 3, at: 101 },
      { type: 'operator-failed', operatorId: 1, status: 487, at: 102 },
    ]);
    expect(effects[1]?.slice(0, 4)).toEqual([
      { type: 'cancel-ring', operatorId: 1, answeredElsewhere: true },
      { type: 'release-operator', operatorId: 1, missed: false },
      { type: 'cancel-ring', operatorId: 3, answeredElsewhere: true },
      { type: 'release-operator', operatorId: 3, missed: false },
    ]);
    expect(effects[1]?.at(-1)).toEqual({ type: 'hand-over', operatorId: 2 });
    expect(effects[2]).toEqual([{ type: 'drop-answered', operatorId: 3 }]);
    expect(effects[3]).toEqual([]);
    expect(state).toMatchObject({ phase: 'ended', operatorId: 2 });
  });

  it('ring-all: stays offering until every phone has failed', () => {
    const { state, effects } = run([
      { type: 'offer', operatorIds: [1, 2], at: 0 },
      { type: 'operator-failed', operatorId: 1, status: 603, at: 10 },
    ]);
    expect(types(effects[1] ?? [])).toEqual(['release-operator', 'record-no-answer']);
    expect(state.phase).toBe('offering');
  });

  it('max wait while waiting: leaves the queue for its overflow', () => {
    const { state, effects } = run([{ type: 'max-wait', at: 60_000 }]);
    expect(effects[0]).toEqual([{ type: 'dequeue' }, { type: 'leave-queue', reason: 'exit-timeout' }]);
    expect(state.phase).toBe('ended');
  });

  it('max wait while a phone rings: the ring may finish; an answer still connects', () => {
    const answered = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'max-wait', at: 1 },
      { type: 'operator-answered', operatorId: 7, at: 2 },
    ]);
    expect(answered.effects[2]?.at(-1)).toEqual({ type: 'hand-over', operatorId: 7 });
    const failed = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'max-wait', at: 1 },
      { type: 'operator-failed', operatorId: 7, status: 486, at: 2 },
    ]);
    expect(failed.effects[2]?.at(-1)).toEqual({ type: 'leave-queue', reason: 'exit-timeout' });
    expect(failed.state.phase).toBe('ended');
  });

  it('after the hand-over, news about the call changes nothing here', () => {
    const handedOver = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'operator-answered', operatorId: 7, at: 1 },
    ]).state;
    expect(run([{ type: 'caller-hangup', at: 9 }], handedOver).effects[0]).toEqual([]);
    expect(run([{ type: 'max-wait', at: 9 }], handedOver).effects[0]).toEqual([]);
    expect(run([{ type: 'hangup', at: 9, reason: 'x' }], handedOver).effects[0]).toEqual([]);
  });

  it('an offer that arrives after the caller left hands the operators straight back', () => {
    const ended = run([{ type: 'caller-hangup', at: 0 }]).state;
    expect(run([{ type: 'offer', operatorIds: [4, 5], at: 1 }], ended).effects[0]).toEqual([
      { type: 'release-operator', operatorId: 4, missed: false },
      { type: 'release-operator', operatorId: 5, missed: false },
    ]);
    const handedOver = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'operator-answered', operatorId: 7, at: 1 },
    ]).state;
    expect(run([{ type: 'offer', operatorIds: [4], at: 2 }], handedOver).effects[0]).toEqual([
      { type: 'release-operator', operatorId: 4, missed: false },
    ]);
  });

  it('the switchboard hanging up a ringing call cancels and frees everyone', () => {
    const { effects } = run([
      { type: 'offer', operatorIds: [7], at: 0 },
      { type: 'hangup', at: 1, reason: 'supervisor' },
    ]);
    expect(types(effects[1] ?? [])).toEqual(['cancel-ring', 'release-operator', 'hangup-caller', 'finish']);
  });
});

describe('the message key', () => {
  it('takes a waiting caller out of the line to leave a message', () => {
    const { state, effects } = run([{ type: 'message-key', at: 5_000 }]);
    expect(effects[0]).toEqual([{ type: 'dequeue' }, { type: 'stop-hold-music' }, { type: 'take-message' }]);
    expect(state.phase).toBe('ended');
    // An offer arriving now gives the operators back; hanging up changes nothing more.
    expect(queueCallStep(state, { type: 'offer', operatorIds: [3], at: 5_100 }).effects).toEqual([{ type: 'release-operator', operatorId: 3, missed: false }]);
    expect(queueCallStep(state, { type: 'caller-hangup', at: 5_200 }).effects).toEqual([]);
  });

  it('is ignored while phones ring for the caller', () => {
    const { state, effects } = run([{ type: 'offer', operatorIds: [7], at: 0 }, { type: 'message-key', at: 100 }]);
    expect(effects[1]).toEqual([]);
    expect(state.phase).toBe('offering');
  });
});
