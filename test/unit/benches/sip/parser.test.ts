import { describe, expect, it } from 'vitest';
import {
  SipRequest,
  SipResponse,
  frameLength,
  parseMessage,
  parseNameAddr,
  parseUri,
  serializeMessage,
  splitList,
} from '../../../benches/sip/index.js';

const CRLF = '\r\n';
const lines = (...l: string[]): string => l.join(CRLF);

describe('SIP parser', () => {
  it('expands compact header names and reads every Via, comma-joined or not', () => {
    const msg = parseMessage(
      lines(
        'INVITE sip:bob@example.com SIP/2.0',
        'v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2',
        'Via: SIP/2.0/UDP c.example.com;branch=z9hG4bK3;received=10.0.0.1',
        'f: <sip:alice@example.com>;tag=abc',
        't: Bob <sip:bob@example.com>',
        'i: call-1@example.com',
        'CSeq: 7 INVITE',
        'm: <sip:alice@10.0.0.2:5062;transport=tcp>',
        'c: application/sdp',
        'l: 4',
        '',
        'v=0\r\n',
      ),
    );
    expect(msg).toBeInstanceOf(SipRequest);
    expect(msg.get('Call-ID')).toBe('call-1@example.com');
    expect(msg.get('content-type')).toBe('application/sdp');
    expect(msg.vias.map((v) => [v.transport, v.host, v.port, v.branch])).toEqual([
      ['UDP', 'a.example.com', undefined, 'z9hG4bK1'],
      ['TCP', 'b.example.com', 5070, 'z9hG4bK2'],
      ['UDP', 'c.example.com', undefined, 'z9hG4bK3'],
    ]);
    expect(msg.fromTag).toBe('abc');
    expect(msg.toTag).toBeUndefined();
    expect(msg.cseq).toEqual({ seq: 7, method: 'INVITE' });
    expect(msg.body).toBe('v=0\r\n'.slice(0, 4)); // Content-Length wins over trailing bytes
  });

  it('counts Content-Length in bytes, not characters', () => {
    const res = new SipResponse(200, 'OK', [{ name: 'Call-ID', value: 'x' }], 'héllo');
    const text = serializeMessage(res);
    expect(text).toContain('Content-Length: 6');
    expect(parseMessage(text).body).toBe('héllo');
  });

  it('unfolds continuation lines and keeps header order on serialisation', () => {
    const msg = parseMessage(lines('SIP/2.0 180 Ringing', 'Subject: first', '  second', 'X-A: 1', 'X-A: 2', '', ''));
    expect(msg.get('Subject')).toBe('first second');
    expect(msg.getAll('X-A')).toEqual(['1', '2']);
    expect(serializeMessage(msg)).toBe(lines('SIP/2.0 180 Ringing', 'Subject: first second', 'X-A: 1', 'X-A: 2', 'Content-Length: 0', '', ''));
  });

  it('rejects garbage start lines', () => {
    expect(() => parseMessage('HELLO\r\n\r\n')).toThrow();
    expect(() => parseMessage('INVITE sip:x SIP/3.0\r\nVia: x\r\n\r\n')).toThrow();
  });

  it('frames messages on a stream by Content-Length and skips CRLF keep-alives', () => {
    const a = serializeMessage(new SipRequest('OPTIONS', 'sip:a@b', [{ name: 'Call-ID', value: '1' }], 'abc'));
    const buf = Buffer.from(a + a.slice(0, 10));
    expect(frameLength(buf)).toBe(Buffer.byteLength(a));
    expect(frameLength(Buffer.from(a.slice(0, a.length - 1)))).toBe(0);
    expect(frameLength(Buffer.from('\r\n\r\n'))).toBe(-1);
    expect(frameLength(Buffer.from('OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nab'))).toBe(0);
  });
});

describe('URIs and name-addr', () => {
  it('parses SIP URIs with user, port and parameters', () => {
    const u = parseUri('sip:alice:pw@10.0.0.1:5062;transport=tcp;lr?Replaces=abc');
    expect(u).toMatchObject({ scheme: 'sip', user: 'alice', password: 'pw', host: '10.0.0.1', port: 5062, headers: 'Replaces=abc' });
    expect(u.params.get('transport')).toBe('tcp');
    expect(u.params.has('lr')).toBe(true);
  });

  it('puts parameters after a bare URI on the header, inside <> on the URI (RFC 3261 20.10)', () => {
    expect(parseNameAddr('sip:bob@x;tag=1').params.get('tag')).toBe('1');
    const na = parseNameAddr('"Bob, Jr." <sip:bob@x;transport=tcp>;tag=2');
    expect(na).toMatchObject({ displayName: 'Bob, Jr.', uri: 'sip:bob@x;transport=tcp' });
    expect(na.params.get('tag')).toBe('2');
  });

  it('splits lists on commas outside quotes and brackets', () => {
    expect(splitList('"A, B" <sip:a@x>, <sip:b@x;p=1,2>, sip:c@x')).toEqual(['"A, B" <sip:a@x>', '<sip:b@x;p=1,2>', 'sip:c@x']);
  });
});
