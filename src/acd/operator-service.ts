import { randomUUID } from 'node:crypto';
import type { HistoryRecord } from '../cdr/records.js';
import type { Logger } from '../log.js';
import type { OperatorEvent, OperatorStatus, TransitionPlan } from './operator-rules.js';
import type { AppliedTransition, OperatorStore } from './operator-store.js';

/**
 * Changes operators' states and leaves a record of every change that took effect: the one way
 * the rest of the switchboard moves an operator (calls, feature codes, the API, the sweeper).
 */
export class OperatorService {
  /**
   * `known` gives an operator's status as last heard (the status cache), if any: a change planned
   * from it saves reading the status first, and costs a read only when it was out of date.
   */
  constructor(
    readonly store: OperatorStore,
    private readonly emit: (r: HistoryRecord) => void,
    private readonly log: Logger,
    private readonly known: (operatorId: number) => OperatorStatus | undefined = () => undefined,
  ) {}

  /** Applies an event; throws TransitionRefused if it makes no sense in the current state. */
  async apply(operatorId: number, event: OperatorEvent): Promise<AppliedTransition> {
    const applied = await this.store.apply(operatorId, event, this.known(operatorId));
    this.record(applied);
    return applied;
  }

  /** Applies an event if it still fits; returns undefined (and logs nothing) if it does not. */
  async tryApply(operatorId: number, event: OperatorEvent): Promise<AppliedTransition | undefined> {
    try {
      return await this.apply(operatorId, event);
    } catch (err) {
      if ((err as Error).name === 'TransitionRefused') return undefined;
      throw err;
    }
  }

  async cas(operatorId: number, plan: TransitionPlan): Promise<AppliedTransition | undefined> {
    const applied = await this.store.cas(operatorId, plan);
    if (applied) this.record(applied);
    return applied;
  }

  /** Records transitions that happened elsewhere (the atomic match of a caller and operators). */
  record(t: AppliedTransition): void {
    if (t.from === t.to) return;
    const callId = t.status.callId || null;
    this.log.info({ operatorId: t.operatorId, from: t.from, to: t.to, reason: t.reason, ...(callId ? { callId } : {}) }, 'operator state');
    this.emit({
      kind: 'operator-event',
      row: {
        eventId: randomUUID(),
        at: new Date(t.status.since).toISOString(),
        operatorId: t.operatorId,
        fromState: t.from,
        toState: t.to,
        fromStateS: t.fromMs / 1000,
        reason: t.reason,
        callId,
      },
    });
  }
}
