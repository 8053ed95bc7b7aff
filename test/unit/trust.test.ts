import { describe, expect, it } from 'vitest';
import { parseCidr, type Cidr } from '../../src/config.js';
import { isTrusted } from '../../src/sip/trust.js';

const blocks = (...texts: string[]): Cidr[] => texts.map((t) => parseCidr(t) as Cidr);

describe('isTrusted', () => {
  it('matches single addresses and IPv4 blocks', () => {
    const trusted = blocks('192.0.2.10', '10.0.0.0/8');
    expect(isTrusted('192.0.2.10', trusted)).toBe(true);
    expect(isTrusted('192.0.2.11', trusted)).toBe(false);
    expect(isTrusted('10.255.1.2', trusted)).toBe(true);
    expect(isTrusted('11.0.0.1', trusted)).toBe(false);
  });

  it('matches IPv6 blocks, compressed or not', () => {
    const trusted = blocks('2001:db8::/32', '::1');
    expect(isTrusted('2001:db8:0:0:0:0:0:5', trusted)).toBe(true);
    expect(isTrusted('2001:db9::5', trusted)).toBe(false);
    expect(isTrusted('::1', trusted)).toBe(true);
    expect(isTrusted('::2', trusted)).toBe(false);
  });

  it('treats IPv4-mapped IPv6 addresses as IPv4', () => {
    expect(isTrusted('::ffff:10.1.2.3', blocks('10.0.0.0/8'))).toBe(true);
  });

  it('trusts nobody by default, and nothing that is not an address', () => {
    expect(isTrusted('127.0.0.1', [])).toBe(false);
    expect(isTrusted('not-an-ip', blocks('0.0.0.0/0'))).toBe(false);
    expect(isTrusted('203.0.113.9', blocks('0.0.0.0/0'))).toBe(true);
  });
});
