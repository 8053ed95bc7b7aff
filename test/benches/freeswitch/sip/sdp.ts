/**
 * The SDP the stand-in answers and offers with, shaped like switch_core_media_gen_local_sdp()
 * (src/switch_core_media.c) and checked against FreeSWITCH 1.10.12 with drachtio's profile:
 * "o=<profile username> <owner> <version> IN IP4 <ip>", "s=<profile username>", one audio stream,
 * telephone-event at the profile's rfc2833-pt 101 with "0-15", ptime 20, no a=rtcp.
 * A 3PCC offer has two audio streams, RTP/SAVP with a=crypto lines and then RTP/AVP, as
 * FreeSWITCH offers them. On the wire (sofia's SOA) the o= address becomes 192.0.2.2 and the
 * default a=sendrecv is left out; the rtp_local_sdp_str variable keeps the SDP as generated.
 *
 * Codec choice follows the drachtio_mrf profile: inbound-codec-negotiation "greedy" picks the
 * first codec of FreeSWITCH's own list (global_codec_prefs=PCMU,PCMA,OPUS,G722 in drachtio's
 * image) that the offer contains. No RTP flows: the ports are allocated, never bound.
 */
import { randomBytes } from 'node:crypto';

import { parse, write, type MediaAttributes, type SessionDescription } from 'sdp-transform';

interface Codec {
  readonly name: string;
  readonly rate: number;
  readonly channels?: number;
  readonly staticPayload?: number;
}

/** global_codec_prefs of docker-drachtio-freeswitch-mrf, in preference order. */
const CODEC_PREFS: readonly Codec[] = [
  { name: 'PCMU', rate: 8000, staticPayload: 0 },
  { name: 'PCMA', rate: 8000, staticPayload: 8 },
  { name: 'opus', rate: 48000, channels: 2 },
  { name: 'G722', rate: 8000, staticPayload: 9 },
];
const OPUS_OFFER_PAYLOAD = 102;
const TELEPHONE_EVENT_PAYLOAD = 101;
const TELEPHONE_EVENT_48K_PAYLOAD = 103;
const CN_PAYLOAD = 13;
const CN_48K_PAYLOAD = 104;
const PTIME = 20;
/** The drachtio_mrf profile's "username" param in drachtio's image, used for o= and s=. */
export const SDP_USERNAME = 'Jambonz-Mediaserver';
/** The address sofia's SOA writes on the o= line of what goes on the wire. */
const SOA_ORIGIN_ADDRESS = '192.0.2.2';
/** The SRTP suites FreeSWITCH offers in a 3PCC offer, strongest first. */
const CRYPTO_SUITES = [
  'AEAD_AES_256_GCM_8', 'AEAD_AES_256_GCM', 'AEAD_AES_128_GCM_8', 'AEAD_AES_128_GCM', 'AES_256_CM_HMAC_SHA1_80',
  'AES_192_CM_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32', 'AES_192_CM_HMAC_SHA1_32',
  'AES_CM_128_HMAC_SHA1_32', 'AES_CM_128_NULL_AUTH',
];

export interface LocalMedia {
  readonly ip: string;
  readonly port: number;
  /** o= owner id; the version is owner + (number of SDPs sent so far), as FreeSWITCH counts. */
  readonly owner: number;
  readonly version: number;
}

export interface Negotiated {
  readonly sdp: string;
  readonly codec: string;
  readonly rate: number;
  readonly payload: number;
}

type Media = SessionDescription['media'][number];
type Rtp = Media['rtp'][number];

function sessionSkeleton(local: LocalMedia): SessionDescription {
  return {
    version: 0,
    origin: { username: SDP_USERNAME, sessionId: local.owner, sessionVersion: local.version, netType: 'IN', ipVer: 4, address: local.ip },
    name: SDP_USERNAME,
    connection: { version: 4, ip: local.ip },
    timing: { start: 0, stop: 0 },
    media: [],
  };
}

function telephoneEvent(payload: number, rate = 8000): { rtp: Rtp; fmtp: Media['fmtp'][number] } {
  return { rtp: { payload, codec: 'telephone-event', rate }, fmtp: { payload, config: '0-15' } };
}

/** The payload the offer uses for a codec, if it offers it (static ones may lack an rtpmap). */
function offeredPayload(media: Media, codec: Codec): number | undefined {
  const payloads = String(media.payloads ?? '').split(' ').map(Number);
  const mapped = media.rtp.find((rtp) => rtp.codec.toLowerCase() === codec.name.toLowerCase() && rtp.rate === codec.rate);
  if (mapped && payloads.includes(mapped.payload)) return mapped.payload;
  if (codec.staticPayload !== undefined && payloads.includes(codec.staticPayload)) return codec.staticPayload;
  return undefined;
}

/** a=sendonly answers a=recvonly and so on (RFC 3264 §6.1). */
function answerDirection(direction: MediaAttributes['direction'] | undefined): MediaAttributes['direction'] {
  if (direction === 'sendonly') return 'recvonly';
  if (direction === 'recvonly') return 'sendonly';
  if (direction === 'inactive') return 'inactive';
  return 'sendrecv';
}

/** Answers the first audio stream of an offer; undefined when no codec matches (488). */
export function answer(offer: string, local: LocalMedia): Negotiated | undefined {
  const remote = parse(offer);
  const audio = remote.media.find((media) => media.type === 'audio');
  if (!audio) return undefined;
  for (const codec of CODEC_PREFS) {
    const payload = offeredPayload(audio, codec);
    if (payload === undefined) continue;
    const event = audio.rtp.find((rtp) => rtp.codec.toLowerCase() === 'telephone-event' && rtp.rate === 8000);
    const description = sessionSkeleton(local);
    const rtp: Rtp[] = [{ payload, codec: codec.name, rate: codec.rate, ...(codec.channels ? { encoding: codec.channels } : {}) }];
    const fmtp: Media['fmtp'] = [];
    if (event) {
      const te = telephoneEvent(event.payload);
      rtp.push(te.rtp);
      fmtp.push(te.fmtp);
    }
    description.media.push({
      type: 'audio',
      port: local.port,
      protocol: 'RTP/AVP',
      payloads: rtp.map((entry) => entry.payload).join(' '),
      rtp,
      fmtp,
      ptime: PTIME,
      direction: answerDirection(audio.direction ?? remote.direction),
    });
    return { sdp: write(description), codec: codec.name, rate: codec.rate, payload };
  }
  return undefined;
}

/** The 3PCC offer for an INVITE without SDP: every codec FreeSWITCH prefers, SRTP and plain. */
export function offer(local: LocalMedia): string {
  const description = sessionSkeleton(local);
  description.media.push(offerStream(local, 'RTP/SAVP'), offerStream(local, 'RTP/AVP'));
  return write(description);
}

function offerStream(local: LocalMedia, protocol: 'RTP/SAVP' | 'RTP/AVP'): Media {
  const rtp: Rtp[] = CODEC_PREFS.map((codec) => ({
    payload: codec.staticPayload ?? OPUS_OFFER_PAYLOAD,
    codec: codec.name,
    rate: codec.rate,
    ...(codec.channels ? { encoding: codec.channels } : {}),
  }));
  const te = telephoneEvent(TELEPHONE_EVENT_PAYLOAD);
  const te48 = telephoneEvent(TELEPHONE_EVENT_48K_PAYLOAD, 48000);
  rtp.push(te.rtp, te48.rtp, { payload: CN_PAYLOAD, codec: 'CN', rate: 8000 }, { payload: CN_48K_PAYLOAD, codec: 'CN', rate: 48000 });
  const media: Media = {
    type: 'audio',
    port: local.port,
    protocol,
    payloads: rtp.map((entry) => entry.payload).join(' '),
    rtp,
    fmtp: [{ payload: OPUS_OFFER_PAYLOAD, config: 'useinbandfec=1; maxaveragebitrate=30000; maxplaybackrate=48000; ptime=20; minptime=10; maxptime=40' }, te.fmtp, te48.fmtp],
    ptime: PTIME,
    direction: 'sendrecv',
  };
  if (protocol === 'RTP/SAVP') {
    // Keys are random: nothing is ever encrypted with them.
    media.crypto = CRYPTO_SUITES.map((suite, index) => ({ id: index + 1, suite, config: `inline:${randomBytes(30).toString('base64')}` }));
  }
  return media;
}

/** What sofia's SOA puts on the wire for a locally generated SDP. */
export function onTheWire(sdp: string): string {
  return sdp
    .replace(/^(o=\S+ \d+ \d+ IN IP4 )\S+/m, `$1${SOA_ORIGIN_ADDRESS}`)
    .split('\r\n')
    .filter((line) => line !== 'a=sendrecv')
    .join('\r\n');
}

/** Whether the first audio stream is an active SRTP one (a 3PCC offer reflected back starts so). */
export function firstStreamIsSrtp(sdp: string): boolean {
  const first = sdp.split(/\r?\n/).find((line) => line.startsWith('m=audio'));
  return first !== undefined && /^m=audio [1-9]\d* RTP\/SAVP\b/.test(first);
}

/** The far end's direction for its first audio stream (session level if the stream has none). */
export function remoteDirection(sdp: string): MediaAttributes['direction'] {
  try {
    const parsed = parse(sdp);
    const audio = parsed.media.find((media) => media.type === 'audio');
    return audio?.direction ?? parsed.direction ?? 'sendrecv';
  } catch {
    return 'sendrecv';
  }
}

/** c= and m= of the first audio stream: where the far end wants RTP. */
export function remoteMedia(sdp: string): { ip: string; port: number } | undefined {
  try {
    const parsed = parse(sdp);
    const audio = parsed.media.find((media) => media.type === 'audio');
    if (!audio) return undefined;
    const ip = audio.connection?.ip ?? parsed.connection?.ip;
    return ip ? { ip, port: audio.port } : undefined;
  } catch {
    return undefined;
  }
}

/** First codec of an answer (for the rtp_use_codec_* variables after 3PCC or a re-INVITE). */
export function chosenCodec(sdp: string): { codec: string; rate: number } | undefined {
  const audio = parse(sdp).media.find((media) => media.type === 'audio');
  const first = Number(String(audio?.payloads ?? '').split(' ')[0]);
  const rtp = audio?.rtp.find((entry) => entry.payload === first);
  if (rtp) return { codec: rtp.codec, rate: rtp.rate ?? 8000 };
  const known = CODEC_PREFS.find((codec) => codec.staticPayload === first);
  return known ? { codec: known.name, rate: known.rate } : undefined;
}
