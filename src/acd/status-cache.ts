import { EventEmitter } from 'node:events';
import type { EventBus } from '../redis/events.js';
import type { OperatorStatus } from './operator-rules.js';
import { parseStatus, type OperatorStore } from './operator-store.js';

/**
 * Every operator's state as last published, kept in memory so that choosing an operator costs
 * no Redis reads. It may lag Redis by a message; that only costs a retry, because reserving an
 * operator is checked atomically in Redis.
 * Emits 'changed' (status, previous) for each update.
 */
export class StatusCache extends EventEmitter {
  private readonly statuses = new Map<number, OperatorStatus>();

  constructor(
    private readonly store: OperatorStore,
    bus: EventBus,
  ) {
    super();
    bus.onEvent('operator', (e) => {
      const hash = e.status as Record<string, string>;
      this.update(parseStatus(Number(hash.operatorId), hash, Date.now()));
    });
  }

  async load(): Promise<void> {
    for (const status of await this.store.all()) this.update(status);
  }

  update(status: OperatorStatus): void {
    const previous = this.statuses.get(status.operatorId);
    this.statuses.set(status.operatorId, status);
    this.emit('changed', status, previous);
  }

  get(operatorId: number): OperatorStatus | undefined {
    return this.statuses.get(operatorId);
  }

  all(): OperatorStatus[] {
    return [...this.statuses.values()];
  }
}
