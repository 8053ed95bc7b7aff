import { describe, expect, it } from 'vitest';
import { contactKey, parseContactHeader, parseNameAddr, uriUser } from '../../../src/registrar/contact.js';
import { contactList, type Binding } from '../../../src/registrar/registrar.js';
import { planRegister, type ExpiryLimits } from '../../../src/registrar/rules.js';

const limits: ExpiryLimits = { min: 60, max: 3600, default: 1800 };

describe('parseContactHeader', () => {
  it('reads name-addr with display name, parameters and quoted values', () => {
    const parsed = parseContactHeader('"Alice, Desk" <sip:alice@10.0.0.5:5062;transport=tcp;ob>;expires=120;q=0.5;+sip.instance="<urn:uuid:1;2>"');
    expect(parsed).toEqual([
      { uri: 'sip:alice@10.0.0.5:5062;transport=tcp;ob', params: { expires: '120', q: '0.5', '+sip.instance': '<urn:uuid:1;2>' } },
    ]);
  });

  it('gives the parameters of a bare addr-spec to the header, not the URI (§20.10)', () => {
    expect(parseContactHeader('sip:alice@10.0.0.5;expires=0')).toEqual([{ uri: 'sip:alice@10.0.0.5', params: { expires: '0' } }]);
  });

  it('splits several contacts (and several headers joined by commas)', () => {
    const parsed = parseContactHeader('<sip:a@h1>;expires=60, sip:b@h2 ,<sip:c@h3>');
    expect(parsed).not.toBe('*');
    expect((parsed as { uri: string }[]).map((c) => c.uri)).toEqual(['sip:a@h1', 'sip:b@h2', 'sip:c@h3']);
  });

  it('knows the star and refuses it among other contacts', () => {
    expect(parseContactHeader(' * ')).toBe('*');
    expect(parseContactHeader('*, <sip:a@h>')).toBeUndefined();
  });

  it('refuses what is not a contact', () => {
    expect(parseContactHeader('<sip:a@h')).toBeUndefined();
    expect(parseContactHeader('alice')).toBeUndefined();
    expect(parseContactHeader('<http://x>')).toBeUndefined();
    expect(parseContactHeader('<sip:a@h> junk')).toBeUndefined();
  });
});

describe('uriUser and contactKey', () => {
  it('takes the user of To/From URIs', () => {
    expect(uriUser(parseNameAddr('"Al" <sip:alice@sb.example.com>;tag=1')?.uri ?? '')).toBe('alice');
    expect(uriUser('sip:alice:pw@h')).toBe('alice');
    expect(uriUser('sip:al%69ce@h')).toBe('alice');
    expect(uriUser('sip:sb.example.com')).toBeUndefined();
  });

  it('matches URIs that differ only in host case and parameter order', () => {
    expect(contactKey('SIP:alice@HOST.example:5060;transport=TCP;ob')).toBe(contactKey('sip:alice@host.example:5060;ob;transport=tcp'));
    expect(contactKey('sip:Alice@h')).not.toBe(contactKey('sip:alice@h')); // the user part is case-sensitive
    expect(contactKey('sip:alice@h:5060')).not.toBe(contactKey('sip:alice@h:5070'));
  });
});

describe('planRegister (§10.3 steps 6 and 8)', () => {
  it('is a query without Contact', () => {
    expect(planRegister(undefined, undefined, limits)).toEqual({ kind: 'query' });
    expect(planRegister('', '300', limits)).toEqual({ kind: 'query' });
  });

  it('prefers the contact expires parameter, then the Expires header, then the default', () => {
    const plan = planRegister('<sip:a@h1>;expires=120, <sip:b@h2>', '300', limits);
    expect(plan).toMatchObject({ kind: 'update', contacts: [{ uri: 'sip:a@h1', expires: 120 }, { uri: 'sip:b@h2', expires: 300 }] });
    expect(planRegister('<sip:a@h1>', undefined, limits)).toMatchObject({ contacts: [{ expires: 1800 }] });
  });

  it('keeps contact parameters other than expires', () => {
    expect(planRegister('<sip:a@h1>;expires=120;q=0.7', undefined, limits)).toMatchObject({ contacts: [{ params: { q: '0.7' } }] });
  });

  it('shortens long durations to the maximum', () => {
    expect(planRegister('<sip:a@h1>', '999999', limits)).toMatchObject({ contacts: [{ expires: 3600 }] });
  });

  it('answers 423 with Min-Expires for a non-zero duration under the minimum', () => {
    expect(planRegister('<sip:a@h1>;expires=10', undefined, limits)).toEqual({
      kind: 'reject',
      status: 423,
      reason: 'Interval Too Brief',
      minExpires: 60,
    });
    expect(planRegister('<sip:a@h1>', '59', limits)).toMatchObject({ status: 423 });
  });

  it('lets expires=0 through whatever the minimum: it removes the binding', () => {
    expect(planRegister('<sip:a@h1>;expires=0', undefined, limits)).toMatchObject({ kind: 'update', contacts: [{ expires: 0 }] });
    expect(planRegister('<sip:a@h1>', '0', limits)).toMatchObject({ kind: 'update', contacts: [{ expires: 0 }] });
  });

  it('removes everything for Contact: * with Expires: 0, and refuses * otherwise', () => {
    expect(planRegister('*', '0', limits)).toEqual({ kind: 'remove-all' });
    expect(planRegister('*', undefined, limits)).toMatchObject({ kind: 'reject', status: 400 });
    expect(planRegister('*', '60', limits)).toMatchObject({ kind: 'reject', status: 400 });
    expect(planRegister('*, <sip:a@h>', '0', limits)).toMatchObject({ kind: 'reject', status: 400 });
  });

  it('refuses malformed Expires values', () => {
    expect(planRegister('<sip:a@h1>', 'soon', limits)).toMatchObject({ status: 400 });
    expect(planRegister('<sip:a@h1>;expires=-5', undefined, limits)).toMatchObject({ status: 400 });
  });
});

describe('contactList (the 200 OK Contact)', () => {
  const binding = (contact: string, expiresAt: number, q?: string): Binding => ({
    contact,
    params: q ? { q } : {},
    expiresAt,
    source: { address: '127.0.0.1', port: 5060, protocol: 'udp' },
    callId: 'c',
    cseq: 1,
    registeredAt: 0,
  });

  it('lists every binding with the seconds it has left', () => {
    const now = 1_000_000;
    expect(contactList([binding('sip:a@h1', now + 120_000), binding('sip:b@h2', now + 59_500, '0.5')], now)).toBe(
      '<sip:a@h1>;expires=120, <sip:b@h2>;expires=60;q=0.5',
    );
  });
});
