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

  /**
   * String: the secret every instance signs digest nonces with, created once (SET NX) so a
   * challenge issued by one instance verifies on any other.
   */
  digestNonceSecret(): string {
    return this.key('auth', 'nonce-secret');
  }

  /** Set with a TTL: the nonce-count values already used with one digest nonce (replay guard). */
  digestNonceCounts(nonce: string): string {
    return this.key('auth', 'nc', nonce);
  }

  /** Counter with a TTL: failed authentications from one source address in the current window. */
  authFailures(sourceAddress: string): string {
    return this.key('auth', 'fail', sourceAddress);
  }

  /** Hash: state, since, calls taken, current call... of one operator. */
  operator(operatorId: number | string): string {
    return this.key('op', operatorId);
  }

  /**
   * Sorted set: the calls camped on a busy operator, scored by when each camp-on expires (ms), so
   * in the order they camped; entries of a crashed instance drop out when they expire.
   */
  campOn(operatorId: number | string): string {
    return this.key('op', operatorId, 'camp-on');
  }

  /** Set of the ids of every operator with a live state. */
  operatorIndex(): string {
    return this.key('ops');
  }

  /** Sorted set of call ids waiting in a queue, scored by priority then arrival. */
  queueWaiting(queueId: number | string): string {
    return this.key('q', queueId, 'waiting');
  }

  /**
   * Hash: what the waiting calls of a queue that need a skill wait for, call id -> "<widenAt ms>
   * <skill>". A waiting call without a field needs no skill.
   */
  queueNeeds(queueId: number | string): string {
    return this.key('q', queueId, 'needs');
  }

  /** String: the operator a round-robin queue offered its last call to. */
  queueCursor(queueId: number | string): string {
    return this.key('q', queueId, 'cursor');
  }

  /**
   * Sorted set: the calls seated in a room (conference), scored by the lease's expiry (ms). The
   * owning instance renews each seat while the member is in; a crashed instance's seats expire.
   */
  roomSeats(roomId: number | string): string {
    return this.key('room', roomId, 'seats');
  }

  /**
   * Hash: one field per call seated in a room, value = JSON of the member (owner instance, number,
   * role, conference member id, muted...). Expires with the room's seats.
   */
  roomMembers(roomId: number | string): string {
    return this.key('room', roomId, 'members');
  }

  /** Hash: the running conference of a room (session id, locked); gone with its last member. */
  roomState(roomId: number | string): string {
    return this.key('room', roomId, 'state');
  }

  /** Hash: the live state of one call (owner instance, queue, caller, times). */
  call(callId: string): string {
    return this.key('call', callId);
  }

  /** Key with a TTL: the instance that takes a vanished instance's call off the books. */
  orphanClaim(callId: string): string {
    return this.key('call', callId, 'swept');
  }

  /** Set of call ids in progress on the whole switchboard. */
  liveCalls(): string {
    return this.key('calls');
  }

  /**
   * String: a random mark of this Redis dataset, written once (SET NX). An instance that finds
   * it missing or changed knows Redis lost its data and rebuilds what it owns.
   */
  stateEpoch(): string {
    return this.key('epoch');
  }

  /** Key with a TTL that an instance renews while it lives. */
  instanceLease(instanceId: string): string {
    return this.key('instance', instanceId);
  }

  /**
   * Set: the addresses ("host:port") on which an instance's processes listened for FreeSWITCH's
   * outbound connections; every channel it created carries one (X-esl-outbound). Emptied by the
   * instance that ends those channels once the instance is gone.
   */
  instanceOutbound(instanceId: string): string {
    return this.key('instance', instanceId, 'outbound');
  }

  /** Set of the instance ids that have published outbound addresses. */
  outboundOwners(): string {
    return this.key('instances', 'outbound');
  }

  /** Key with a TTL: the instance that ends the channels of a gone instance's outbound address. */
  outboundClaim(address: string): string {
    return this.key('outbound', address, 'swept');
  }

  /** Stream: call records and events on their way to PostgreSQL (the durable outbox). */
  recordOutbox(): string {
    return this.key('outbox', 'records');
  }

  /**
   * Stream: outbox entries the record writer could not store (bad JSON, unknown kind, a row
   * PostgreSQL refuses), each with its original id and the reason, kept for a person to look at.
   */
  recordDeadLetters(): string {
    return this.key('outbox', 'dead');
  }

  /** Pub/sub channel: requests for the instance that owns a call (hang up, move...). */
  instanceCommands(instanceId: string): string {
    return this.key('cmd', instanceId);
  }

  /** Pub/sub channel: live call, queue and operator events for every instance. */
  eventsChannel(): string {
    return this.key('events');
  }

  /** Hash: one callback waiting to be placed (src/callback/store.ts), by its id. */
  callback(callbackId: string): string {
    return this.key('callback', callbackId);
  }

  /** Set of the ids of every callback not yet connected, failed or cancelled. */
  callbacks(): string {
    return this.key('callbacks');
  }
}
