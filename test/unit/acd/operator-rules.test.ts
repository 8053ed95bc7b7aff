import { describe, expect, it } from 'vitest';
import { newOperatorStatus, planTransition, TransitionRefused, type OperatorStatus } from '../../../src/acd/operator-rules.js';

const T = 1_000_000;

function op(changes: Partial<OperatorStatus>): OperatorStatus {
  return { ...newOperatorStatus(7, 0), ...changes };
}

function apply(o: OperatorStatus, plan: ReturnType<typeof planTransition>): OperatorStatus {
  return { ...o, ...plan.changes };
}

describe('operator state rules', () => {
  it('walks a whole call: login, offer, answer, hang up, wrap up, free again', () => {
    let o = newOperatorStatus(7, 0);
    o = apply(o, planTransition(o, { type: 'login' }, T));
    expect(o).toMatchObject({ state: 'available', idleSince: T });
    const reserve = planTransition(o, { type: 'reserve', callId: 'c1', instance: 'i1', leaseMs: 20_000 }, T + 10);
    expect(reserve.from).toEqual(['available']);
    o = apply(o, reserve);
    expect(o).toMatchObject({ state: 'ringing', callId: 'c1', instance: 'i1', deadline: T + 20_010 });
    o = apply(o, planTransition(o, { type: 'answer', callId: 'c1' }, T + 20));
    expect(o).toMatchObject({ state: 'busy', calls: 1, deadline: 0 });
    o = apply(o, planTransition(o, { type: 'hangup', callId: 'c1', wrapupMs: 5000 }, T + 100));
    expect(o).toMatchObject({ state: 'wrap-up', deadline: T + 5100, callId: 'c1' });
    o = apply(o, planTransition(o, { type: 'wrapup-done', callId: 'c1' }, T + 5100));
    expect(o).toMatchObject({ state: 'available', idleSince: T + 5100, callId: '', deadline: 0 });
  });

  it('frees an operator whose call ended before its answer was marked, and refuses the late answer', () => {
    let o = op({ state: 'ringing', callId: 'c1', deadline: T + 1000 });
    o = apply(o, planTransition(o, { type: 'hangup', callId: 'c1', wrapupMs: 0 }, T));
    expect(o).toMatchObject({ state: 'available', callId: '', deadline: 0 });
    expect(() => planTransition(o, { type: 'answer', callId: 'c1' }, T)).toThrow(TransitionRefused);
  });

  it('skips wrap-up when the queue has none', () => {
    const o = op({ state: 'busy', callId: 'c1' });
    expect(apply(o, planTransition(o, { type: 'hangup', callId: 'c1', wrapupMs: 0 }, T))).toMatchObject({ state: 'available', idleSince: T });
  });

  it('puts an operator on break after N misses in a row, and a miss does not reset idle time', () => {
    let o = op({ state: 'available', idleSince: 5 });
    for (let i = 1; i <= 2; i++) {
      o = apply(o, planTransition(o, { type: 'reserve', callId: `c${i}`, instance: 'i', leaseMs: 1 }, T));
      o = apply(o, planTransition(o, { type: 'release', callId: `c${i}`, missed: true, maxMisses: 3 }, T));
      expect(o).toMatchObject({ state: 'available', misses: i, idleSince: 5 });
    }
    o = apply(o, planTransition(o, { type: 'reserve', callId: 'c3', instance: 'i', leaseMs: 1 }, T));
    const third = planTransition(o, { type: 'release', callId: 'c3', missed: true, maxMisses: 3 }, T);
    expect(third.reason).toBe('3 offers missed in a row');
    expect(apply(o, third)).toMatchObject({ state: 'on-break', misses: 3 });
  });

  it('does not count a withdrawn offer as a miss, and an answer clears the count', () => {
    let o = op({ state: 'ringing', callId: 'c1', misses: 2 });
    expect(apply(o, planTransition(o, { type: 'release', callId: 'c1', missed: false, maxMisses: 3 }, T))).toMatchObject({ state: 'available', misses: 2 });
    o = op({ state: 'ringing', callId: 'c1', misses: 2 });
    expect(apply(o, planTransition(o, { type: 'answer', callId: 'c1' }, T))).toMatchObject({ misses: 0 });
  });

  it('keeps a break asked for during a call until the call is over', () => {
    let o = op({ state: 'busy', callId: 'c1' });
    const plan = planTransition(o, { type: 'break' }, T);
    expect(plan).toMatchObject({ from: ['ringing', 'busy', 'wrap-up'], callId: 'c1', changes: { pending: 'on-break' } });
    o = apply(o, plan);
    expect(o.state).toBe('busy');
    o = apply(o, planTransition(o, { type: 'hangup', callId: 'c1', wrapupMs: 1000 }, T));
    expect(o.state).toBe('wrap-up');
    o = apply(o, planTransition(o, { type: 'wrapup-done', callId: 'c1' }, T + 1000));
    expect(o).toMatchObject({ state: 'on-break', pending: '' });
  });

  it('lets "back" cancel a pending break', () => {
    const o = op({ state: 'busy', callId: 'c1', pending: 'on-break' });
    expect(planTransition(o, { type: 'back' }, T).changes).toEqual({ pending: '' });
  });

  it('logs out from a break, and from a call once it is over', () => {
    const onBreak = op({ state: 'on-break' });
    expect(apply(onBreak, planTransition(onBreak, { type: 'logout' }, T)).state).toBe('logged-out');
    const busy = op({ state: 'busy', callId: 'c1' });
    expect(planTransition(busy, { type: 'logout' }, T).changes).toEqual({ pending: 'logged-out' });
  });

  it('frees an operator whose call owner vanished, keeping idle time for a mere reservation', () => {
    const ringing = op({ state: 'ringing', callId: 'c1', idleSince: 42 });
    expect(apply(ringing, planTransition(ringing, { type: 'expire' }, T))).toMatchObject({ state: 'available', idleSince: 42, callId: '' });
    const busy = op({ state: 'busy', callId: 'c1', idleSince: 42 });
    expect(apply(busy, planTransition(busy, { type: 'expire' }, T))).toMatchObject({ state: 'available', idleSince: T });
  });

  it('moves a busy operator onto another call, for an attended transfer', () => {
    const o = op({ state: 'busy', callId: 'c2' });
    expect(apply(o, planTransition(o, { type: 'move-call', from: 'c2', to: 'c1' }, T))).toMatchObject({ state: 'busy', callId: 'c1' });
    expect(() => planTransition(o, { type: 'move-call', from: 'c9', to: 'c1' }, T)).toThrow(TransitionRefused);
  });

  it('moves an operator whose answer is not marked yet, and the late answer then changes nothing', () => {
    const ringing = op({ state: 'ringing', callId: 'c2', deadline: T + 5_000, calls: 3, misses: 1 });
    const moved = apply(ringing, planTransition(ringing, { type: 'move-call', from: 'c2', to: 'c1' }, T));
    expect(moved).toMatchObject({ state: 'busy', callId: 'c1', deadline: 0, misses: 0, calls: 4, since: T });
    expect(() => planTransition(moved, { type: 'answer', callId: 'c2' }, T + 1)).toThrow(TransitionRefused);
    const available = op({ state: 'available' });
    expect(() => planTransition(available, { type: 'move-call', from: '', to: 'c1' }, T)).toThrow(TransitionRefused);
  });

  it.each([
    [{ state: 'available' as const }, { type: 'login' as const }],
    [{ state: 'logged-out' as const }, { type: 'break' as const }],
    [{ state: 'on-break' as const }, { type: 'reserve' as const, callId: 'c', instance: 'i', leaseMs: 1 }],
    [{ state: 'ringing' as const, callId: 'c1' }, { type: 'answer' as const, callId: 'c2' }],
    [{ state: 'available' as const }, { type: 'hangup' as const, callId: 'c1', wrapupMs: 0 }],
    [{ state: 'ringing' as const, callId: 'c2' }, { type: 'hangup' as const, callId: 'c1', wrapupMs: 0 }],
    [{ state: 'available' as const }, { type: 'expire' as const }],
    [{ state: 'available' as const }, { type: 'back' as const }],
  ])('refuses what makes no sense: %j then %j', (state, event) => {
    expect(() => planTransition(op(state), event, T)).toThrow(TransitionRefused);
  });
});
