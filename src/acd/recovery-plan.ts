import { LEASE_MARGIN_MS, planTransition, newOperatorStatus, type OperatorStatus } from './operator-rules.js';

/** An operator that a call of this instance holds right now, as that call knows it. */
export interface HeldOperator {
  operatorId: number;
  callId: string;
  state: 'ringing' | 'busy';
}

/** A status to write back after Redis lost its data. */
export interface OperatorRestore {
  status: OperatorStatus;
  /**
   * The call whose owner is writing: its word replaces a status about the same call written
   * first by another instance from an older copy. '' to write only where nothing is.
   */
  ownerOf: string;
}

/**
 * A ring restored without a known lease gets this long: the call's own ring timer ends it
 * sooner; the lease only matters if this instance dies too.
 */
export const RESTORED_RING_LEASE_MS = 2 * LEASE_MARGIN_MS;

/**
 * What one instance writes back for operators after Redis lost its data, from what is still
 * true: the operators its own calls hold (ringing or talking, as the calls know it), and for
 * everyone else its copy of every operator's last published state. An operator shown on a call
 * of this instance that no call of it holds any more is written back freed. Logged-out
 * operators need nothing: no status means logged out.
 */
export function planOperatorRestore(cached: OperatorStatus[], held: HeldOperator[], instanceId: string, now: number): OperatorRestore[] {
  const byId = new Map(cached.map((s) => [s.operatorId, s]));
  const heldIds = new Set(held.map((h) => h.operatorId));
  const plans = held.map((h) => ({ status: heldStatus(byId.get(h.operatorId), h, instanceId, now), ownerOf: h.callId }));
  for (const s of cached) {
    if (heldIds.has(s.operatorId) || s.state === 'logged-out') continue;
    // Wrap-up is left as it is: its deadline ends it whoever owns it.
    const lost = s.instance === instanceId && (s.state === 'ringing' || s.state === 'busy');
    plans.push({ status: lost ? released(s, now) : s, ownerOf: '' });
  }
  return plans;
}

function heldStatus(cached: OperatorStatus | undefined, h: HeldOperator, instanceId: string, now: number): OperatorStatus {
  const base = cached ?? { ...newOperatorStatus(h.operatorId, now), state: 'available' as const };
  const same = base.callId === h.callId && base.state === h.state;
  const pending = base.callId === h.callId ? base.pending : '';
  if (same) return { ...base, instance: instanceId, pending };
  const deadline = h.state === 'ringing' ? now + RESTORED_RING_LEASE_MS : 0;
  return { ...base, state: h.state, since: now, callId: h.callId, instance: instanceId, deadline, pending };
}

/** The operator as they are once the call that no longer holds them lets go (as the sweeper would). */
function released(s: OperatorStatus, now: number): OperatorStatus {
  return { ...s, ...planTransition(s, { type: 'expire' }, now).changes };
}
