import { parse as parseSdp, type MediaDescription } from 'sdp-transform';

/**
 * Is a new INVITE's session description one the media server can answer? Checked before anything
 * is answered, so that a broken or unusable offer gets the status RFC 3261 names for it instead
 * of a media server failure (503) or a call answered with no audio.
 */
export type OfferVerdict =
  | { ok: true }
  | { ok: false; status: 400 | 415 | 488; reason: string; headers: Record<string, string> };

/**
 * The audio codecs of the media server's SIP profile (`codec-prefs` of drachtio's FreeSWITCH
 * image, which docker/ and the tested servers use). telephone-event and comfort noise ride along
 * with a codec but are none.
 */
export const MEDIA_CODECS: readonly string[] = ['PCMU', 'PCMA', 'G722', 'OPUS'];

// RFC 3551 §6: static payload types need no rtpmap line.
const STATIC_PAYLOADS: Readonly<Record<number, string>> = { 0: 'PCMU', 8: 'PCMA', 9: 'G722' };

const warning = (code: number, text: string): Record<string, string> => ({ Warning: `${code} switchboard "${text}"` });

const refused = (status: 400 | 415 | 488, reason: string, headers: Record<string, string>): OfferVerdict => ({ ok: false, status, reason, headers });

/**
 * An INVITE without a body is a legal late offer (RFC 3261 §13.2.1), but the media server is
 * always given the caller's offer to answer, so it is refused with 488 and a Warning saying why
 * (§21.4.26: 488 SHOULD carry a Warning). A body that is not SDP gets 415 with Accept (§21.4.13),
 * an SDP that cannot be read 400, and one whose audio has none of MEDIA_CODECS 488 with warning
 * 305 "Incompatible media format" (§20.43).
 */
export function checkOffer(contentType: string | undefined, body: string | undefined): OfferVerdict {
  if (!body || body.trim() === '') return refused(488, 'Not Acceptable Here', warning(399, 'An SDP offer is required in the INVITE'));
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/sdp') return refused(415, 'Unsupported Media Type', { Accept: 'application/sdp' });
  const audio = audioOf(body);
  if (audio === undefined) return refused(400, 'Malformed SDP', warning(399, 'The SDP offer cannot be read'));
  const usable = audio.some((m) => m.port > 0 && codecsOf(m).some((c) => MEDIA_CODECS.includes(c)));
  if (!usable) return refused(488, 'Not Acceptable Here', warning(305, 'Incompatible media format'));
  return { ok: true };
}

/**
 * The audio streams of a readable SDP (RFC 4566 §5: v=0 first, an origin, a connection address
 * for every stream), or undefined if it is not one. sdp-transform skips lines it does not know
 * without complaint, so the structure is checked here.
 */
function audioOf(body: string): MediaDescription[] | undefined {
  if (!/^v=0\r?\n/.test(body.trimStart())) return undefined;
  const sdp = parseSdp(body);
  if (!sdp.origin || sdp.media.length === 0) return undefined;
  if (sdp.media.some((m) => !m.connection && !sdp.connection)) return undefined;
  if (sdp.media.some((m) => !Number.isInteger(m.port) || m.port > 65_535)) return undefined;
  return sdp.media.filter((m) => m.type === 'audio');
}

/** The codec names a stream offers, upper case: its rtpmap lines, and static payload types. */
function codecsOf(m: MediaDescription): string[] {
  const payloads = String(m.payloads ?? '').split(' ').filter(Boolean).map(Number);
  return payloads.map((pt) => (m.rtp.find((r) => r.payload === pt)?.codec ?? STATIC_PAYLOADS[pt] ?? '').toUpperCase());
}
