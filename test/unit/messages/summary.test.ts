import { describe, expect, it } from 'vitest';
import { contactAddress } from '../../../src/messages/mwi.js';
import { messageAccount, messageSummary } from '../../../src/messages/summary.js';
import { subscriptionExpiry, subscriptionState } from '../../../src/messages/subscription.js';

describe('the message-summary body (RFC 3842)', () => {
  it('says yes with new messages, and counts new/old with no urgent ones', () => {
    expect(messageSummary(messageAccount('7001', 'hotel.test'), { newCount: 1, savedCount: 2 })).toBe(
      'Messages-Waiting: yes\r\nMessage-Account: sip:7001@hotel.test\r\nVoice-Message: 1/2 (0/0)\r\n',
    );
  });

  it('says no when only saved messages (or none) are left', () => {
    expect(messageSummary('sip:7001@h', { newCount: 0, savedCount: 3 })).toBe('Messages-Waiting: no\r\nMessage-Account: sip:7001@h\r\nVoice-Message: 0/3 (0/0)\r\n');
    expect(messageSummary('sip:7001@h', { newCount: 0, savedCount: 0 })).toContain('Voice-Message: 0/0 (0/0)\r\n');
  });
});

describe('subscription expiry (RFC 6665 §4.2.1)', () => {
  const limits = { minS: 60, maxS: 3600, defaultS: 1800 };

  it('takes the Expires asked for within the limits, the default without one', () => {
    expect(subscriptionExpiry('600', limits)).toEqual({ kind: 'active', expiresS: 600 });
    expect(subscriptionExpiry(undefined, limits)).toEqual({ kind: 'active', expiresS: 1800 });
    expect(subscriptionExpiry(' ', limits)).toEqual({ kind: 'active', expiresS: 1800 });
  });

  it('shortens a request above the ceiling and refuses one below the floor with Min-Expires', () => {
    expect(subscriptionExpiry('86400', limits)).toEqual({ kind: 'active', expiresS: 3600 });
    expect(subscriptionExpiry('59', limits)).toEqual({ kind: 'too-brief', minExpiresS: 60 });
    expect(subscriptionExpiry('60', limits)).toEqual({ kind: 'active', expiresS: 60 });
  });

  it('ends the subscription on Expires: 0 and refuses nonsense', () => {
    expect(subscriptionExpiry('0', limits)).toEqual({ kind: 'unsubscribe' });
    expect(subscriptionExpiry('-5', limits).kind).toBe('bad');
    expect(subscriptionExpiry('soon', limits).kind).toBe('bad');
  });

  it('gives the seconds left in Subscription-State, and terminated once they are over', () => {
    expect(subscriptionState(10_000 + 3_600_000, 10_000)).toBe('active;expires=3600');
    expect(subscriptionState(10_000 + 1_500, 10_000)).toBe('active;expires=1');
    expect(subscriptionState(10_000, 10_000)).toBe('terminated;reason=timeout');
  });
});

describe('phones compared by where they listen', () => {
  it('takes host and port of a contact, whatever its user, brackets and parameters', () => {
    expect(contactAddress('<sip:7001@10.0.0.5:5062;transport=udp>')).toBe('10.0.0.5:5062');
    expect(contactAddress('sip:10.0.0.5:5062')).toBe('10.0.0.5:5062');
    expect(contactAddress('sips:7001@Phone.Example.com;ob')).toBe('phone.example.com');
  });
});
