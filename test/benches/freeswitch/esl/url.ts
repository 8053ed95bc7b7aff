/**
 * URL encoding of event header values, byte for byte as FreeSWITCH's switch_url_encode_opt()
 * (src/switch_utils.c, double_encode = false) does it: every byte below ' ' or above '~' and every
 * byte in SWITCH_URL_UNSAFE becomes %XX with upper-case hex, except a '%' already followed by two
 * upper-case hex digits, which is left alone. `text/event-plain` events and the outbound `connect`
 * reply carry their header values this way; drachtio-modesl decodes them with decodeURIComponent.
 */

/** SWITCH_URL_UNSAFE from src/include/switch_utils.h. */
const URL_UNSAFE = '\r\n #%&+:;<=>?@[\\]^`{|}"';
const HEX = '0123456789ABCDEF';

function isUpperHex(byte: number | undefined): boolean {
  return byte !== undefined && HEX.includes(String.fromCharCode(byte));
}

function isUnsafe(byte: number): boolean {
  return byte < 0x20 || byte > 0x7e || URL_UNSAFE.includes(String.fromCharCode(byte));
}

export function switchUrlEncode(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    const alreadyEncoded = byte === 0x25 && isUpperHex(bytes[i + 1]) && isUpperHex(bytes[i + 2]);
    if (!alreadyEncoded && isUnsafe(byte)) {
      out += `%${HEX[byte >> 4]}${HEX[byte & 0x0f]}`;
      continue;
    }
    out += String.fromCharCode(byte);
  }
  return out;
}
