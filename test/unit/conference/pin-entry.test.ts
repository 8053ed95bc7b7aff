import { describe, expect, it } from 'vitest';
import {
  collectStep,
  judgeEntry,
  maxPinLength,
  pinPolicy,
  startCollecting,
  type CollectEffect,
  type CollectEvent,
  type Collecting,
} from '../../../src/conference/pin-entry.js';

const room = (pin: string | null, moderatorPin: string | null): { pin: string | null; moderatorPin: string | null } => ({ pin, moderatorPin });

/** Runs events through the collector; returns the final state and every effect in order. */
function run(events: CollectEvent[], maxLength = 4): { state: Collecting; effects: CollectEffect[] } {
  let state = startCollecting();
  const effects: CollectEffect[] = [];
  for (const e of events) {
    const step = collectStep(state, e, maxLength);
    state = step.state;
    effects.push(...step.effects);
  }
  return { state, effects };
}

const digits = (text: string): CollectEvent[] => [...text].map((digit) => ({ type: 'digit', digit }));
const completed = (r: { effects: CollectEffect[] }): CollectEffect | undefined => r.effects.find((e) => e.type === 'complete');

describe('which rooms ask for a PIN', () => {
  it('asks when the room has a PIN or only a moderator PIN, and not in an open room', () => {
    expect(pinPolicy(room(null, null))).toBe('open');
    expect(pinPolicy(room('1234', null))).toBe('pin');
    expect(pinPolicy(room('1234', '9999'))).toBe('pin');
    expect(pinPolicy(room(null, '9999'))).toBe('moderator-only');
  });

  it('stops an entry at the length of the room\'s longest PIN', () => {
    expect(maxPinLength(room('1234', '987654'))).toBe(6);
    expect(maxPinLength(room(null, '55'))).toBe(2);
  });
});

describe('collecting one entry', () => {
  it('starts the digit timer only when the prompt is over', () => {
    expect(run([]).effects).toEqual([]);
    expect(run([{ type: 'prompt-over' }]).effects).toEqual([{ type: 'arm-timer' }]);
    // A timeout while the prompt still plays is a stale timer's: ignored.
    expect(run([{ type: 'timeout' }]).state.done).toBe(false);
  });

  it('ends on the pound key with the digits typed, without it', () => {
    const r = run([{ type: 'prompt-over' }, ...digits('12#')]);
    expect(completed(r)).toEqual({ type: 'complete', entry: '12', how: 'terminator' });
  });

  it('cuts the prompt short on the first digit, once', () => {
    const r = run([...digits('12'), { type: 'prompt-over' }, ...digits('#')]);
    expect(r.effects.filter((e) => e.type === 'stop-prompt')).toHaveLength(1);
    expect(r.effects[0]).toEqual({ type: 'stop-prompt' });
    expect(completed(r)).toMatchObject({ entry: '12' });
  });

  it('ends by itself at the longest PIN\'s length', () => {
    expect(completed(run([{ type: 'prompt-over' }, ...digits('1234')], 4))).toEqual({ type: 'complete', entry: '1234', how: 'length' });
  });

  it('takes what was typed when the timer runs out, possibly nothing', () => {
    expect(completed(run([{ type: 'prompt-over' }, ...digits('12'), { type: 'timeout' }]))).toEqual({ type: 'complete', entry: '12', how: 'timeout' });
    expect(completed(run([{ type: 'prompt-over' }, { type: 'timeout' }]))).toEqual({ type: 'complete', entry: '', how: 'timeout' });
  });

  it('restarts the timer on every digit, and starts the entry again on star', () => {
    const r = run([{ type: 'prompt-over' }, ...digits('99*12#')]);
    expect(r.effects.filter((e) => e.type === 'arm-timer')).toHaveLength(1 + 5);
    expect(completed(r)).toMatchObject({ entry: '12' });
  });

  it('ignores everything once the entry is complete', () => {
    const r = run([{ type: 'prompt-over' }, ...digits('#5'), { type: 'timeout' }]);
    expect(r.effects.filter((e) => e.type === 'complete')).toHaveLength(1);
  });
});

describe('what an entry means', () => {
  const pinRoom = room('1234', '9999');

  it('the room PIN enters as a member, the moderator PIN as moderator', () => {
    expect(judgeEntry(pinRoom, '1234', 1)).toEqual({ kind: 'admit', role: 'member' });
    expect(judgeEntry(pinRoom, '9999', 1)).toEqual({ kind: 'admit', role: 'moderator' });
    expect(judgeEntry(room('1234', null), '9999', 1)).toEqual({ kind: 'retry', wrong: true });
  });

  it('asks again after a wrong or empty entry, and refuses after the last attempt', () => {
    expect(judgeEntry(pinRoom, '1111', 1)).toEqual({ kind: 'retry', wrong: true });
    expect(judgeEntry(pinRoom, '', 2)).toEqual({ kind: 'retry', wrong: false });
    expect(judgeEntry(pinRoom, '1111', 3)).toEqual({ kind: 'refuse', reason: 'wrong PIN' });
    expect(judgeEntry(pinRoom, '', 3)).toEqual({ kind: 'refuse', reason: 'no PIN entered' });
    expect(judgeEntry(pinRoom, '1234', 3)).toEqual({ kind: 'admit', role: 'member' });
  });

  it('in a room with only a moderator PIN, nothing (or #) enters as a member; a wrong try is asked again, then let in', () => {
    const modOnly = room(null, '9999');
    expect(judgeEntry(modOnly, '', 1)).toEqual({ kind: 'admit', role: 'member' });
    expect(judgeEntry(modOnly, '9999', 1)).toEqual({ kind: 'admit', role: 'moderator' });
    expect(judgeEntry(modOnly, '9998', 1)).toEqual({ kind: 'retry', wrong: true });
    expect(judgeEntry(modOnly, '9998', 3)).toEqual({ kind: 'admit', role: 'member' });
  });
});
