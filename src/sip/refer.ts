import { parse as parseSdp } from 'sdp-transform';

/** The dialog a Replaces parameter names (RFC 3891 §6.1), as the sender of the REFER sees it. */
export interface Replaces {
  callId: string;
  toTag: string;
  fromTag: string;
}

export interface ReferTarget {
  /** The URI inside the Refer-To header, without its angle brackets and header parameters. */
  uri: string;
  /** The user part (sip:) or the number (tel:), what the switchboard routes on; '' if none. */
  number: string;
  replaces?: Replaces;
}

/**
 * Reads Refer-To (RFC 3515 §2.1): `<sip:8001@pbx;transport=udp?Replaces=...>`, a bare URI, a
 * tel: URI, or a plain number as some phones send. Returns undefined for anything else.
 */
export function parseReferTo(header: string | undefined): ReferTarget | undefined {
  if (!header) return undefined;
  const text = header.trim();
  const inner = /<([^>]*)>/.exec(text)?.[1] ?? text.split(';')[0] ?? '';
  if (/^\+?[0-9*#]+$/.test(inner)) return { uri: `tel:${inner}`, number: inner };
  const [address = '', query = ''] = inner.split('?');
  const scheme = /^(sips?|tel):/i.exec(address)?.[1]?.toLowerCase();
  if (!scheme) return undefined;
  const rest = address.slice(scheme.length + 1);
  const number = scheme === 'tel' ? (rest.split(';')[0] ?? '') : (/^([^@;]+)@/.exec(rest)?.[1] ?? '');
  const decoded = decode(number);
  if (decoded === undefined) return undefined;
  const target: ReferTarget = { uri: address, number: decoded };
  const replaces = parseReplaces(query);
  if (replaces) target.replaces = replaces;
  return target;
}

/** The Replaces header embedded in a Refer-To URI's headers part (escaped, RFC 3261 §19.1.1). */
function parseReplaces(query: string): Replaces | undefined {
  for (const pair of query.split('&')) {
    const [name = '', value = ''] = pair.split('=');
    if (name.toLowerCase() !== 'replaces') continue;
    const decoded = decode(value) ?? '';
    const [callId = '', ...params] = decoded.split(';');
    const param = (key: string): string => params.find((p) => p.trim().toLowerCase().startsWith(`${key}=`))?.split('=')[1]?.trim() ?? '';
    const replaces = { callId: callId.trim(), toTag: param('to-tag'), fromTag: param('from-tag') };
    return replaces.callId && replaces.toTag && replaces.fromTag ? replaces : undefined;
  }
  return undefined;
}

/** %-decoding that answers undefined for a broken escape (junk from the wire) instead of throwing. */
function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** The body of a NOTIFY reporting a REFER's progress (RFC 3515 §2.4.5): a status line. */
export function sipfrag(status: number, reason: string): string {
  return `SIP/2.0 ${status} ${reason}\r\n`;
}

/**
 * Is this SDP putting the call on hold (RFC 3264 §8.4: sendonly or inactive; or the old
 * RFC 2543 way, a connection address of 0.0.0.0)?
 */
export function isHoldSdp(sdp: string | undefined): boolean {
  if (!sdp) return false;
  try {
    const parsed = parseSdp(sdp);
    const audio = parsed.media.find((m) => m.type === 'audio') ?? parsed.media[0];
    const direction = audio?.direction ?? parsed.direction;
    if (direction === 'sendonly' || direction === 'inactive') return true;
    const address = audio?.connection?.ip ?? parsed.connection?.ip;
    return address === '0.0.0.0';
  } catch {
    return false;
  }
}
