import { describe, expect, it } from 'vitest';
import { isHoldSdp, parseReferTo, sipfrag } from '../../../src/sip/refer.js';

describe('parseReferTo', () => {
  it('reads a SIP URI in angle brackets, with parameters', () => {
    expect(parseReferTo('<sip:8001@pbx.example.com;transport=udp>')).toEqual({ uri: 'sip:8001@pbx.example.com;transport=udp', number: '8001' });
  });

  it('reads a bare SIP URI, a tel: URI and a plain number', () => {
    expect(parseReferTo('sip:alice@10.0.0.1')?.number).toBe('alice');
    expect(parseReferTo('<tel:+4930123;phone-context=x>')?.number).toBe('+4930123');
    expect(parseReferTo('8002')).toEqual({ uri: 'tel:8002', number: '8002' });
  });

  it('reads Replaces from the URI headers (RFC 3891)', () => {
    const header = '<sip:bob@pbx?Replaces=abc%40host%3Bto-tag%3D111%3Bfrom-tag%3D222>';
    expect(parseReferTo(header)).toEqual({
      uri: 'sip:bob@pbx',
      number: 'bob',
      replaces: { callId: 'abc@host', toTag: '111', fromTag: '222' },
    });
  });

  it('ignores an incomplete Replaces, and refuses junk', () => {
    expect(parseReferTo('<sip:bob@pbx?Replaces=abc%3Bto-tag%3D1>')?.replaces).toBeUndefined();
    expect(parseReferTo('<http://example.com>')).toBeUndefined();
    expect(parseReferTo('')).toBeUndefined();
    expect(parseReferTo(undefined)).toBeUndefined();
    expect(parseReferTo('<sip:@pbx>')?.number).toBe('');
  });
});

describe('isHoldSdp', () => {
  const sdp = (extra: string, c = '192.0.2.1'): string =>
    `v=0\r\no=- 1 2 IN IP4 ${c}\r\ns=-\r\nc=IN IP4 ${c}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n${extra}`;

  it('sees sendonly, inactive and 0.0.0.0 as hold, sendrecv as not', () => {
    expect(isHoldSdp(sdp('a=sendonly\r\n'))).toBe(true);
    expect(isHoldSdp(sdp('a=inactive\r\n'))).toBe(true);
    expect(isHoldSdp(sdp('', '0.0.0.0'))).toBe(true);
    expect(isHoldSdp(sdp('a=sendrecv\r\n'))).toBe(false);
    expect(isHoldSdp(sdp(''))).toBe(false);
    expect(isHoldSdp(undefined)).toBe(false);
  });
});

describe('sipfrag', () => {
  it('is a status line', () => {
    expect(sipfrag(100, 'Trying')).toBe('SIP/2.0 100 Trying\r\n');
  });
});

describe('parseReferTo on hostile input', () => {
  it('refuses broken %-escapes instead of throwing', () => {
    expect(parseReferTo('<sip:%zz@pbx>')).toBeUndefined();
    expect(parseReferTo('<sip:%E0%A4%A@pbx>')).toBeUndefined();
    expect(parseReferTo('<sip:bob@pbx?Replaces=%zz%3Bto-tag%3D1%3Bfrom-tag%3D2>')).toEqual({ uri: 'sip:bob@pbx', number: 'bob' });
  });

  it('refuses junk of every shape', () => {
    for (const junk of ['<', '>', '<>', '<<sip:>>', ';;;', 'sip', 'mailto:x@y', '"Bob" <>', '\u0000\u0001', 'x'.repeat(10_000)]) {
      expect(parseReferTo(junk)?.number ?? '', junk.slice(0, 20)).toBe('');
    }
  });
});
