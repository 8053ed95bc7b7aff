import { parse } from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { reoffer } from '../../../src/sip/session.js';

const sdp = (origin: string, ip: string, port: number, direction: string): string =>
  ['v=0', `o=${origin} IN IP4 ${ip}`, 's=-', `c=IN IP4 ${ip}`, 't=0 0', `m=audio ${port} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', `a=${direction}`, ''].join('\r\n');

describe('reoffer: an offer inside an existing session (RFC 3264 §8)', () => {
  const fromMediaServer = sdp('FreeSWITCH 1700000000 1700000001', '10.0.0.1', 20000, 'sendrecv');
  const operatorAnswer = sdp('operator 777 5', '10.0.0.9', 40000, 'sendrecv');

  it('keeps the user name and session id the phone saw, one version higher, with the other party\'s media', () => {
    const text = reoffer(operatorAnswer, fromMediaServer);
    expect(text).toContain('\r\no=FreeSWITCH 1700000000 1700000002 IN IP4 10.0.0.9\r\n');
    const offer = parse(text);
    expect(offer.connection?.ip).toBe('10.0.0.9');
    expect(offer.media[0]?.port).toBe(40000);
  });

  it('keeps the direction attributes of the media it carries', () => {
    const held = sdp('operator 777 6', '10.0.0.9', 40000, 'sendonly');
    expect(parse(reoffer(held, fromMediaServer)).media[0]?.direction).toBe('sendonly');
  });

  it('counts on from the last offer, not from the first', () => {
    const once = reoffer(operatorAnswer, fromMediaServer);
    const twice = reoffer(operatorAnswer, once);
    expect(twice).toContain('o=FreeSWITCH 1700000000 1700000003 ');
  });

  it('does not lose digits of a version past 2^53', () => {
    const big = sdp('caller 1 18446744073709551000', '10.0.0.2', 30000, 'sendrecv');
    expect(reoffer(operatorAnswer, big)).toContain('o=caller 1 18446744073709551001 IN IP4');
  });
});
