import { describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/redis/keys.js';

describe('RedisKeys', () => {
  it('puts every key under the prefix, so deployments sharing a Redis never collide', () => {
    const keys = new RedisKeys('hotel1:');
    const all = [
      keys.registrations('alice'),
      keys.operator(7),
      keys.operatorIndex(),
      keys.queueCursor(3),
      keys.roomSeats(3),
      keys.instanceCommands('i1'),
      keys.recordDeadLetters(),
      keys.orphanClaim('c1'),
      keys.roomMembers(1),
      keys.roomState(1),
      keys.digestNonceSecret(),
      keys.digestNonceCounts('n'),
      keys.authFailures('192.0.2.1'),
      keys.queueWaiting(3),
      keys.queueNeeds(3),
      keys.call('c1'),
      keys.liveCalls(),
      keys.instanceLease('i1'),
      keys.instanceOutbound('i1'),
      keys.outboundOwners(),
      keys.outboundClaim('127.0.0.1:8085'),
      keys.stateEpoch(),
      keys.recordOutbox(),
      keys.eventsChannel(),
    ];
    expect(all.every((k) => k.startsWith('hotel1:'))).toBe(true);
    expect(new Set(all).size).toBe(all.length);
    expect(keys.operator(7)).toBe('hotel1:op:7');
    expect(keys.queueWaiting(3)).toBe('hotel1:q:3:waiting');
    expect(keys.roomSeats(3)).toBe('hotel1:room:3:seats');
  });
});
