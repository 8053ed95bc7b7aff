/** SDP answers/offers of the drachtio_mrf profile, and the conference application's data. */
import { parse } from 'sdp-transform';
import { describe, expect, it } from 'vitest';

import { parseJoinArgs } from '../../../benches/freeswitch/conference/join-args.js';
import { parseInline } from '../../../benches/freeswitch/core/dialplan.js';
import { parseSocketData } from '../../../benches/freeswitch/esl/outbound.js';
import { answer, firstStreamIsSrtp, offer, onTheWire, remoteDirection, remoteMedia } from '../../../benches/freeswitch/sip/sdp.js';

const LOCAL = { ip: '127.0.0.1', port: 25000, owner: 1000, version: 1001 };

function offerOf(payloads: string, extra = ''): string {
  const lines = ['v=0', 'o=- 1 1 IN IP4 10.0.0.9', 's=-', 'c=IN IP4 10.0.0.9', 't=0 0', `m=audio 40000 RTP/AVP ${payloads}`];
  return `${[...lines, extra].filter(Boolean).join('\r\n')}\r\n`;
}

describe('SDP answer (inbound-codec-negotiation greedy, FreeSWITCH’s order PCMU,PCMA,OPUS,G722)', () => {
  it('prefers FreeSWITCH’s first codec over the offerer’s order and keeps telephone-event', () => {
    const negotiated = answer(offerOf('8 0 96', 'a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000'), LOCAL);
    expect(negotiated?.codec).toBe('PCMU');
    const media = parse(negotiated?.sdp ?? '').media[0];
    expect(media?.payloads).toBe('0 96');
    expect(media?.port).toBe(25000);
    expect(media?.direction).toBe('sendrecv');
    expect(negotiated?.sdp).toMatch(/^o=Jambonz-Mediaserver 1000 1001 IN IP4 127\.0\.0\.1\r$/m);
    expect(negotiated?.sdp).toMatch(/^s=Jambonz-Mediaserver\r$/m);
    expect(negotiated?.sdp).toMatch(/^a=fmtp:96 0-15\r$/m);
    expect(negotiated?.sdp).not.toMatch(/a=rtcp/);
  });

  it('answers a static payload without an rtpmap, mirrors hold, refuses what it cannot decode', () => {
    expect(answer(offerOf('8', 'a=sendonly'), LOCAL)?.sdp).toMatch(/a=recvonly/);
    expect(answer(offerOf('18', 'a=rtpmap:18 G729/8000'), LOCAL)).toBeUndefined();
  });

  it('offers every preferred codec for a 3PCC INVITE, SRTP first, and reads the media address back', () => {
    const sdp = offer(LOCAL);
    const [srtp, plain] = parse(sdp).media;
    expect(srtp?.protocol).toBe('RTP/SAVP');
    expect(srtp?.crypto?.[0]?.suite).toBe('AEAD_AES_256_GCM_8');
    expect(plain?.protocol).toBe('RTP/AVP');
    expect(plain?.rtp.map((rtp) => rtp.codec)).toEqual(['PCMU', 'PCMA', 'opus', 'G722', 'telephone-event', 'telephone-event', 'CN', 'CN']);
    expect(remoteMedia(sdp)).toEqual({ ip: '127.0.0.1', port: 25000 });
    expect(firstStreamIsSrtp(sdp)).toBe(true);
  });

  it('puts on the wire what sofia’s SOA does: 192.0.2.2 on the o= line, no a=sendrecv', () => {
    const wire = onTheWire(answer(offerOf('0'), LOCAL)?.sdp ?? '');
    expect(wire).toMatch(/^o=Jambonz-Mediaserver 1000 1001 IN IP4 192\.0\.2\.2\r$/m);
    expect(wire).toMatch(/^c=IN IP4 127\.0\.0\.1\r$/m);
    expect(wire).not.toMatch(/a=sendrecv/);
    expect(remoteDirection(offerOf('0', 'a=sendonly'))).toBe('sendonly');
  });
});

describe('conference application data', () => {
  it('reads drachtio-fsmrf’s control-leg join: no pin, flags endconf|mute|vmute', () => {
    expect(parseJoinArgs('room3000++flags{endconf|mute|vmute}')).toEqual({
      name: 'room3000',
      profile: 'default',
      pin: '',
      flags: expect.objectContaining({ endconf: true, canSpeak: false, canBeSeen: false, canHear: true }),
    });
  });

  it('reads a profile, a pin and comma-separated flags', () => {
    expect(parseJoinArgs('sales@wideband+1234+flags{moderator,deaf}')).toMatchObject({
      name: 'sales',
      profile: 'wideband',
      pin: '1234',
      flags: { moderator: true, canHear: false, canSpeak: true },
    });
    expect(parseJoinArgs('  ')).toBeUndefined();
  });

  it('reads inline dialplans and socket targets', () => {
    expect(parseInline('park')).toEqual([['park', '']]);
    expect(parseInline('answer,park')).toEqual([
      ['answer', ''],
      ['park', ''],
    ]);
    expect(parseInline('m:^:set:a=1^playback:tone_stream://%(100,0,440)')).toEqual([
      ['set', 'a=1'],
      ['playback', 'tone_stream://%(100,0,440)'],
    ]);
    expect(parseSocketData('127.0.0.1:8085 async full')).toEqual({ hosts: [{ host: '127.0.0.1', port: 8085 }], async: true, full: true });
  });
});
