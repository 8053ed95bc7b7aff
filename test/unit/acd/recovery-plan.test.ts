import { describe, expect, it } from 'vitest';
import { newOperatorStatus, type OperatorStatus } from '../../../src/acd/operator-rules.js';
import { planOperatorRestore, RESTORED_RING_LEASE_MS } from '../../../src/acd/recovery-plan.js';

const T = 5_000_000;

function op(operatorId: number, changes: Partial<OperatorStatus>): OperatorStatus {
  return { ...newOperatorStatus(operatorId, 0), state: 'available', ...changes };
}

describe('what an instance writes back after Redis lost its data', () => {
  it('writes the operators its calls hold as the calls know them, claiming them for that call', () => {
    // The copy still says ringing: the answer was marked while Redis was away.
    const cached = [op(1, { state: 'ringing', callId: 'c1', instance: 'a', since: T - 5000, deadline: T + 20_000, calls: 4, pending: 'on-break' })];
    const [plan] = planOperatorRestore(cached, [{ operatorId: 1, callId: 'c1', state: 'busy' }], 'a', T);
    expect(plan?.ownerOf).toBe('c1');
    expect(plan?.status).toMatchObject({ state: 'busy', callId: 'c1', instance: 'a', since: T, deadline: 0, calls: 4, pending: 'on-break' });
  });

  it('keeps a held operator\'s status as it was when the copy already agrees', () => {
    const cached = [op(1, { state: 'busy', callId: 'c1', instance: 'a', since: T - 60_000 })];
    const [plan] = planOperatorRestore(cached, [{ operatorId: 1, callId: 'c1', state: 'busy' }], 'a', T);
    expect(plan?.status).toEqual(cached[0]);
  });

  it('gives a ring restored without a copy a lease of its own, and no pending break of another call', () => {
    const cached = [op(2, { state: 'available', pending: '' }), op(3, { state: 'busy', callId: 'other', instance: 'b', pending: 'logged-out' })];
    const plans = planOperatorRestore(cached, [{ operatorId: 3, callId: 'c9', state: 'ringing' }, { operatorId: 4, callId: 'c9', state: 'ringing' }], 'a', T);
    const byId = new Map(plans.map((p) => [p.status.operatorId, p]));
    expect(byId.get(3)?.status).toMatchObject({ state: 'ringing', callId: 'c9', instance: 'a', deadline: T + RESTORED_RING_LEASE_MS, pending: '' });
    // Never seen by this instance: a logged-in operator ringing for its call.
    expect(byId.get(4)?.status).toMatchObject({ state: 'ringing', callId: 'c9', instance: 'a', calls: 0 });
  });

  it('writes everyone else back from the copy where Redis has nothing, and skips the logged out', () => {
    const cached = [op(5, { state: 'on-break' }), op(6, { state: 'busy', callId: 'x', instance: 'b' }), op(7, { state: 'logged-out' }), op(8, { state: 'wrap-up', callId: 'y', instance: 'a', deadline: T + 3000 })];
    const plans = planOperatorRestore(cached, [], 'a', T);
    expect(plans.map((p) => p.ownerOf)).toEqual(['', '', '']);
    expect(plans.map((p) => p.status)).toEqual([cached[0], cached[1], cached[3]]);
  });

  it('frees operators shown on a call of this instance that no call of it holds any more', () => {
    const cached = [op(9, { state: 'busy', callId: 'gone', instance: 'a', idleSince: 1 }), op(10, { state: 'ringing', callId: 'gone2', instance: 'a', idleSince: 2 })];
    const plans = planOperatorRestore(cached, [], 'a', T);
    expect(plans.map((p) => p.status)).toEqual([
      expect.objectContaining({ operatorId: 9, state: 'available', callId: '', instance: '', since: T, idleSince: T }),
      // A ring that never became a call leaves the operator as idle as before.
      expect.objectContaining({ operatorId: 10, state: 'available', callId: '', idleSince: 2 }),
    ]);
  });
});
