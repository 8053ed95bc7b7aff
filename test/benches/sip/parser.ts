/**
 * Parse and serialise SIP messages (RFC 3261 §7, §25). Accepts compact header forms, folded
 * header lines, several headers of one name and comma-joined lists; on serialisation always
 * writes a correct Content-Length (§20.14) computed in bytes, not characters.
 */
import { SipRequest, SipResponse, canonicalHeaderName, type Header, type SipMessage } from './message.js';

const CRLF = '\r\n';

export class SipParseError extends Error {}

/**
 * Parse one complete message. For datagrams the body is whatever follows the blank line,
 * truncated to Content-Length when that header is present (§18.3).
 */
export function parseMessage(input: Buffer | string): SipRequest | SipResponse {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const headerEnd = buf.indexOf('\r\n\r\n');
  // Tolerate bare-LF senders; SIPp and real phones use CRLF, hand-written tests sometimes don't.
  const lfEnd = headerEnd < 0 ? buf.indexOf('\n\n') : -1;
  if (headerEnd < 0 && lfEnd < 0) throw new SipParseError('no end of headers');
  const sepLen = headerEnd >= 0 ? 4 : 2;
  const end = headerEnd >= 0 ? headerEnd : lfEnd;

  const head = buf.subarray(0, end).toString('utf8');
  let body = buf.subarray(end + sepLen);

  const lines = unfold(head.split(/\r?\n/));
  const startLine = lines.shift();
  if (!startLine) throw new SipParseError('empty message');
  const headers = lines.map(parseHeaderLine);

  const cl = headers.find((h) => h.name === 'Content-Length');
  if (cl) {
    const len = Number(cl.value);
    if (!Number.isInteger(len) || len < 0) throw new SipParseError(`bad Content-Length: ${cl.value}`);
    if (body.length < len) throw new SipParseError('body shorter than Content-Length');
    body = body.subarray(0, len);
  }

  const msg = makeMessage(startLine, headers, body.toString('utf8'));
  msg.raw = buf.subarray(0, end + sepLen + body.length).toString('utf8');
  return msg;
}

function makeMessage(startLine: string, headers: Header[], body: string): SipRequest | SipResponse {
  if (startLine.startsWith('SIP/')) {
    const m = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/.exec(startLine);
    if (!m) throw new SipParseError(`bad status line: ${startLine}`);
    return new SipResponse(Number(m[1]), m[2] ?? '', headers, body);
  }
  const m = /^([A-Za-z][A-Za-z0-9.!%*_+`'~-]*)\s+(\S+)\s+SIP\/2\.0$/.exec(startLine);
  if (!m) throw new SipParseError(`bad request line: ${startLine}`);
  return new SipRequest((m[1] ?? '').toUpperCase(), m[2] ?? '', headers, body);
}

/** Join continuation lines (leading SP or HT) onto the header they continue (§7.3.1). */
function unfold(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && out.length > 0) out[out.length - 1] += ' ' + line.trim();
    else if (line.length > 0) out.push(line);
  }
  return out;
}

function parseHeaderLine(line: string): Header {
  const colon = line.indexOf(':');
  if (colon <= 0) throw new SipParseError(`bad header line: ${line}`);
  return { name: canonicalHeaderName(line.slice(0, colon)), value: line.slice(colon + 1).trim() };
}

/** Serialise with a Content-Length that matches the body's byte length. */
export function serializeMessage(msg: SipMessage): string {
  const lines = [msg.startLine];
  for (const h of msg.headers) {
    if (h.name === 'Content-Length') continue;
    lines.push(`${h.name}: ${h.value}`);
  }
  lines.push(`Content-Length: ${Buffer.byteLength(msg.body, 'utf8')}`);
  return lines.join(CRLF) + CRLF + CRLF + msg.body;
}

/**
 * Stream framing for connection-oriented transports (§18.3): a message ends Content-Length
 * bytes after the blank line. Returns the length in bytes of the first complete message in
 * buf, 0 if more bytes are needed, or -1 for the CRLF keep-alives of RFC 5626 §3.5.1.
 */
export function frameLength(buf: Buffer): number {
  if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) return -1;
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return 0;
  const head = buf.subarray(0, end).toString('utf8');
  const m = /^(?:content-length|l)[ \t]*:[ \t]*(\d+)/im.exec(head);
  // A stream message without Content-Length is malformed (§18.3); treat the body as empty.
  const bodyLen = m ? Number(m[1]) : 0;
  const total = end + 4 + bodyLen;
  return buf.length >= total ? total : 0;
}
