/**
 * Every Redis key the switchboard uses is built here, so the whole keyspace can be read in one
 * place and several deployments can share one Redis under different prefixes.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  private key(...parts: (string | number)[]): string {
    return this.prefix + parts.join(':');
  }

  /** Hash: one field per contact URI of an operator, value = JSON binding with its expiry. */
  registrations(username: string): string {
    return this.key('reg', username);
  }

  /** Hash: state, since, calls taken, current call... of one operator. */
  operator(operatorId: number | string): string {
    return this.key('op', operatorId);
  }

  /** Key with a TTL: an operator reserved for a call; expires if its instance dies. */
  reservation(operatorId: number | string): string {
    return this.key('resv', operatorId);
  }

  /** Sorted set of call ids waiting in a queue, scored by priority then arrival. */
  queueWaiting(queueId: number | string): string {
    return this.key('q', queueId, 'waiting');
  }

  /** Hash: the live state of one call (owner instance, queue, caller, times). */
  call(callId: string): string {
    return this.key('call', callId);
  }

  /** Set of call ids in progress on the whole switchboard. */
  liveCalls(): string {
    return this.key('calls');
  }

  /** Key with a TTL that an instance renews while it lives. */
  instanceLease(instanceId: string): string {
    return this.key('instance', instanceId);
  }

  /** Stream: call records and events on their way to PostgreSQL (the durable outbox). */
  recordOutbox(): string {
    return this.key('outbox', 'records');
  }

  /** Pub/sub channel: live call, queue and operator events for every instance. */
  eventsChannel(): string {
    return this.key('events');
  }
}
