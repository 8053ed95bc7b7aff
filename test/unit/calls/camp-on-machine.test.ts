import { describe, expect, it } from 'vitest';
import { campOnStep, fallbackQueue, initialCampOnState, shouldCampOn, type CampOnEvent, type CampOnState } from '../../../src/calls/camp-on-machine.js';

/** Feeds events in order; returns the last state and every effect's type (with who/outcome). */
function run(state: CampOnState, events: CampOnEvent[]): { state: CampOnState; effects: string[] } {
  const effects: string[] = [];
  let s = state;
  for (const e of events) {
    const t = campOnStep(s, e);
    s = t.state;
    for (const f of t.effects) {
      const detail = 'who' in f ? `:${f.who}` : 'outcome' in f ? `:${f.outcome}` : '';
      effects.push(f.type + detail);
    }
  }
  return { state: s, effects };
}

const transfer = initialCampOnState({ operator: true, queue: true }, true);
const direct = initialCampOnState({ operator: false, queue: true }, false);
const alone = initialCampOnState({ operator: false, queue: false }, false);

describe('shouldCampOn', () => {
  it('camps on an operator on a call, or behind callers already camped, when camp-on is on', () => {
    expect(shouldCampOn(60, 'busy', 0)).toBe(true);
    expect(shouldCampOn(60, 'ringing', 0)).toBe(true);
    expect(shouldCampOn(60, 'wrap-up', 0)).toBe(true);
    expect(shouldCampOn(60, 'available', 2)).toBe(true);
  });

  it('refuses as before when camp-on is off or the operator is away', () => {
    expect(shouldCampOn(0, 'busy', 3)).toBe(false);
    expect(shouldCampOn(60, 'logged-out', 0)).toBe(false);
    expect(shouldCampOn(60, 'on-break', 0)).toBe(false);
    expect(shouldCampOn(60, 'available', 0)).toBe(false);
    expect(shouldCampOn(60, undefined, 0)).toBe(false);
  });
});

describe('fallbackQueue', () => {
  it('takes the lowest penalty, then the lowest queue id; none without memberships', () => {
    expect(fallbackQueue([{ queueId: 7, penalty: 2 }, { queueId: 9, penalty: 0 }, { queueId: 3, penalty: 0 }])).toBe(3);
    expect(fallbackQueue([])).toBeUndefined();
  });
});

describe('campOnStep', () => {
  it('rings the operator once free and first in line, and connects on the answer', () => {
    const r = run(transfer, [{ type: 'target-free' }, { type: 'reserved', who: 'target', ok: true }, { type: 'answered', who: 'target' }]);
    expect(r.effects).toEqual(['reserve:target', 'ring:target', 'record:connected', 'connect:target']);
    expect(r.state.phase).toBe('ended');
  });

  it('keeps waiting when another caller is first or the operator was taken', () => {
    const r = run(transfer, [{ type: 'target-free' }, { type: 'reserved', who: 'target', ok: false }]);
    expect(r.effects).toEqual(['reserve:target']);
    expect(r.state.phase).toBe('waiting');
  });

  it('after the timeout rings the transferring operator and connects them', () => {
    const r = run(transfer, [{ type: 'timeout' }, { type: 'reserved', who: 'origin', ok: true }, { type: 'answered', who: 'origin' }]);
    expect(r.effects).toEqual(['leave-line', 'record:timeout', 'reserve:origin', 'ring:origin', 'connect:origin']);
  });

  it('goes to the queue when the transferring operator is not available or does not answer', () => {
    expect(run(transfer, [{ type: 'timeout' }, { type: 'reserved', who: 'origin', ok: false }]).effects).toEqual(['leave-line', 'record:timeout', 'reserve:origin', 'to-queue']);
    const r = run(transfer, [{ type: 'timeout' }, { type: 'reserved', who: 'origin', ok: true }, { type: 'ring-failed', who: 'origin', missed: true }]);
    expect(r.effects).toEqual(['leave-line', 'record:timeout', 'reserve:origin', 'ring:origin', 'release:origin', 'to-queue']);
    expect(r.state.phase).toBe('ended');
  });

  it('a direct caller goes to the queue at the timeout; with no queue, the busy announcement and a timeout record', () => {
    expect(run(direct, [{ type: 'timeout' }]).effects).toEqual(['leave-line', 'record:timeout', 'to-queue']);
    const t = campOnStep(alone, { type: 'timeout' });
    expect(t.effects.at(-1)).toEqual({ type: 'busy-and-hangup', reason: 'camp-on over, nobody to go back to', disposition: 'timeout' });
  });

  it('an operator who does not answer once free sends the caller back, recorded as no-answer', () => {
    const r = run(transfer, [{ type: 'target-free' }, { type: 'reserved', who: 'target', ok: true }, { type: 'ring-failed', who: 'target', missed: true }]);
    expect(r.effects).toEqual(['reserve:target', 'ring:target', 'release:target', 'record:no-answer', 'reserve:origin']);
  });

  it('waits for a ring under way when the timeout passes, and rings a reservation that crossed the timeout', () => {
    const ringing = run(transfer, [{ type: 'target-free' }, { type: 'reserved', who: 'target', ok: true }, { type: 'timeout' }]);
    expect(ringing.effects).toEqual(['reserve:target', 'ring:target']);
    const crossed = run(transfer, [{ type: 'target-free' }, { type: 'timeout' }, { type: 'reserved', who: 'target', ok: true }]);
    expect(crossed.effects).toEqual(['reserve:target', 'ring:target']);
    const lost = run(transfer, [{ type: 'target-free' }, { type: 'timeout' }, { type: 'reserved', who: 'target', ok: false }]);
    expect(lost.effects).toEqual(['reserve:target', 'leave-line', 'record:timeout', 'reserve:origin']);
  });

  it('a caller who hangs up while camped leaves the line, is recorded as abandoned, and the call ends', () => {
    const r = run(transfer, [{ type: 'caller-hangup' }]);
    expect(r.effects).toEqual(['leave-line', 'record:abandoned', 'finish']);
    const ringing = run(transfer, [{ type: 'target-free' }, { type: 'reserved', who: 'target', ok: true }, { type: 'caller-hangup' }]);
    expect(ringing.effects.slice(2)).toEqual(['cancel-ring', 'release:target', 'leave-line', 'record:abandoned', 'finish']);
  });

  it('gives back a reservation and drops a phone that answer after the call ended', () => {
    const r = run(transfer, [{ type: 'target-free' }, { type: 'hangup', reason: 'API' }, { type: 'reserved', who: 'target', ok: true }, { type: 'answered', who: 'target' }]);
    expect(r.effects).toEqual(['reserve:target', 'leave-line', 'record:ended', 'finish', 'release:target', 'drop-answered:target']);
  });

  it('a caller who hangs up while going back is not recorded twice', () => {
    const r = run(transfer, [{ type: 'timeout' }, { type: 'reserved', who: 'origin', ok: true }, { type: 'caller-hangup' }]);
    expect(r.effects).toEqual(['leave-line', 'record:timeout', 'reserve:origin', 'ring:origin', 'cancel-ring', 'release:origin', 'finish']);
  });
});
