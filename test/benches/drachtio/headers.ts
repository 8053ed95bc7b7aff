/**
 * Headers an application supplies with a request or response: makeTags / makeSafeTags in
 * drachtio-server's drachtio.cpp.
 *
 * - Via, Route, Record-Route, RSeq and Content-Length are the stack's: dropped.
 * - "@localhost" in From, To, Contact and P-Asserted-Identity becomes the SIP address and port
 *   of the transport the message leaves on (drachtio-srf uses sip:user@localhost defaults).
 * - Lines without a colon or with a name that is not an RFC 3261 token are dropped.
 * - For CANCEL (makeSafeTags) From, To, Contact and P-Asserted-Identity cannot be changed.
 */
import { canonicalHeaderName, type Header } from '../sip/index.js';

const IMMUTABLE = new Set(['Via', 'Route', 'Record-Route', 'RSeq', 'Content-Length']);
const LOCALHOST_REWRITE = new Set(['From', 'To', 'Contact', 'P-Asserted-Identity']);
const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;

export function parseAppHeaders(block: string, transport: { host: string; port: number }, safe = false): Header[] {
  const out: Header[] = [];
  for (const line of block.split(/[\r\n]+/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const rawName = line.slice(0, colon).trim();
    if (!TOKEN.test(rawName)) continue;
    const name = canonicalHeaderName(rawName);
    let value = line.slice(colon + 1).trim();
    if (IMMUTABLE.has(name)) continue;
    if (safe && LOCALHOST_REWRITE.has(name)) continue;
    if (LOCALHOST_REWRITE.has(name) && value.includes('@localhost')) value = replaceLocalhost(value, transport);
    out.push({ name, value });
  }
  return out;
}

/** replaceHostInUri: point the URI at our SIP address and port, keeping user and params. */
export function replaceLocalhost(value: string, transport: { host: string; port: number }): string {
  return value.replace(/@localhost(:\d+)?/, `@${transport.host}:${transport.port}`);
}

export function headerValue(headers: Header[], name: string): string | undefined {
  const n = canonicalHeaderName(name);
  return headers.find((h) => h.name === n)?.value;
}

export function withoutHeaders(headers: Header[], names: string[]): Header[] {
  const drop = new Set(names.map(canonicalHeaderName));
  return headers.filter((h) => !drop.has(h.name));
}
