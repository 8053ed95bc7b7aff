import type { Strategy } from '../provisioning/types.js';

/** An operator who could take the call, with what the strategies rank by. */
export interface Candidate {
  operatorId: number;
  penalty: number;
  /** ms epoch: when the operator last became free. */
  idleSince: number;
  /** Calls answered since login. */
  calls: number;
}

/**
 * The order in which to offer a call to the available operators of a queue, best first.
 * `after` is the operator offered last in this queue, for round-robin. Ring-all offers to all
 * of them at once; the order then only says who is listed first.
 */
export function rankCandidates<C extends Candidate>(strategy: Strategy, candidates: readonly C[], after?: number): C[] {
  const byId = (a: C, b: C): number => a.operatorId - b.operatorId;
  const byIdle = (a: C, b: C): number => a.idleSince - b.idleSince || a.penalty - b.penalty || byId(a, b);
  const list = [...candidates];
  switch (strategy) {
    case 'longest-idle':
    case 'ring-all':
      return list.sort(byIdle);
    case 'fewest-calls':
      return list.sort((a, b) => a.calls - b.calls || byIdle(a, b));
    case 'linear':
      return list.sort((a, b) => a.penalty - b.penalty || byId(a, b));
    case 'round-robin': {
      list.sort(byId);
      if (after === undefined) return list;
      // Start with the first operator after the one offered last, wrapping round.
      const next = list.findIndex((c) => c.operatorId > after);
      return next <= 0 ? list : [...list.slice(next), ...list.slice(0, next)];
    }
  }
}

/** How many operators an offer rings at once. */
export function offerWidth(strategy: Strategy, available: number): number {
  return strategy === 'ring-all' ? available : Math.min(1, available);
}
