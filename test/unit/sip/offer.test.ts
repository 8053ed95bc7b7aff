import { describe, expect, it } from 'vitest';
import { checkOffer } from '../../../src/sip/offer.js';

const SDP = 'application/sdp';
const sdp = (...media: string[]): string =>
  ['v=0', 'o=caller 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', ...media, ''].join('\r\n');

describe('checkOffer', () => {
  it('accepts an audio offer with a codec of the media server, by rtpmap or by static payload type', () => {
    expect(checkOffer(SDP, sdp('m=audio 4000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000'))).toEqual({ ok: true });
    expect(checkOffer('Application/SDP; charset=utf-8', sdp('m=audio 4000 RTP/AVP 8'))).toEqual({ ok: true });
    expect(checkOffer(SDP, sdp('m=audio 4000 RTP/AVP 96 101', 'a=rtpmap:96 opus/48000/2', 'a=rtpmap:101 telephone-event/8000'))).toEqual({ ok: true });
    // One usable stream among others is enough (the media server answers the rest with port 0).
    expect(checkOffer(SDP, sdp('m=video 5000 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'm=audio 4000 RTP/AVP 9'))).toEqual({ ok: true });
  });

  it('refuses a late offer (no body) with 488 and a Warning saying why', () => {
    for (const body of [undefined, '', '\r\n  ']) {
      expect(checkOffer(undefined, body)).toEqual({
        ok: false,
        status: 488,
        reason: 'Not Acceptable Here',
        headers: { Warning: '399 switchboard "An SDP offer is required in the INVITE"' },
      });
    }
  });

  it('refuses a body that is not SDP with 415 and Accept', () => {
    expect(checkOffer('text/plain', 'hello')).toMatchObject({ status: 415, headers: { Accept: 'application/sdp' } });
    expect(checkOffer(undefined, sdp('m=audio 4000 RTP/AVP 0'))).toMatchObject({ status: 415 });
    expect(checkOffer('multipart/mixed;boundary=x', '--x\r\n')).toMatchObject({ status: 415 });
  });

  it('refuses SDP that cannot be read with 400', () => {
    const malformed = [
      'garbage',
      '\u0000\u0001\u0002',
      'v=1\r\no=x 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n',
      'v=0\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n', // no origin
      'v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n', // no connection address
      sdp(), // no stream
      sdp('m=audio 99999 RTP/AVP 0'),
      sdp('m=audio banana RTP/AVP 0'),
      'x'.repeat(100_000),
    ];
    for (const body of malformed) {
      expect(checkOffer(SDP, body), JSON.stringify(body.slice(0, 40))).toEqual({
        ok: false,
        status: 400,
        reason: 'Malformed SDP',
        headers: { Warning: '399 switchboard "The SDP offer cannot be read"' },
      });
    }
  });

  it('refuses an offer with only unknown codecs, only disabled audio or no audio with 488 and warning 305', () => {
    const unusable = [
      sdp('m=audio 4000 RTP/AVP 96', 'a=rtpmap:96 SPEEX/16000'),
      sdp('m=audio 4000 RTP/AVP 18 3', 'a=rtpmap:18 G729/8000'),
      sdp('m=audio 4000 RTP/AVP 101', 'a=rtpmap:101 telephone-event/8000'),
      sdp('m=audio 4000 RTP/AVP 97'), // a dynamic payload type without rtpmap names nothing
      sdp('m=audio 0 RTP/AVP 0'),
      sdp('m=video 5000 RTP/AVP 96', 'a=rtpmap:96 H264/90000'),
    ];
    for (const body of unusable) {
      expect(checkOffer(SDP, body)).toEqual({
        ok: false,
        status: 488,
        reason: 'Not Acceptable Here',
        headers: { Warning: '305 switchboard "Incompatible media format"' },
      });
    }
  });
});
