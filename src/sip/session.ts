import { parse as parseSdp, write as writeSdp } from 'sdp-transform';

// o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address> (RFC 4566 §5.2)
const ORIGIN = /^o=(\S+) (\d+) (\d+) (.*)$/m;

/**
 * A new offer to a phone inside a session it already has with the switchboard: the media of
 * `media` (another phone's or a media server endpoint's description, direction attributes as
 * they are) under the o= line the phone knows from us (`previous`, the last description we sent
 * it), with the version one higher. RFC 3264 §8: a changed description keeps the origin's user
 * name and session id and increments the version, or the phone may take it for another session.
 */
export function reoffer(media: string, previous: string): string {
  const known = ORIGIN.exec(previous);
  // Normalised through sdp-transform (line endings, order), then the o= line is put in as text:
  // sdp-transform makes numbers of the id and version, losing digits past 2^53, and phones use
  // 64-bit NTP times.
  const written = writeSdp(parseSdp(media));
  const current = ORIGIN.exec(written);
  if (!known || !current) return media;
  const [, username, sessionId, version] = known;
  const version1 = (BigInt(version as string) + 1n).toString();
  return written.replace(ORIGIN, `o=${username as string} ${sessionId as string} ${version1} ${current[4] as string}`);
}
