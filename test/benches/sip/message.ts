/**
 * The SIP message model (RFC 3261 §7): a start line, an ordered list of header fields and a
 * body. Header names are stored in their long canonical form whatever form arrived on the wire
 * (compact "v", "i", "m" ... or odd capitalisation), so lookups never depend on the sender.
 */
import { parseNameAddr, splitList, splitHostPort } from './uri.js';

export type Protocol = 'udp' | 'tcp';

/** Where a message came from (or went to) on the wire. */
export interface WireInfo {
  protocol: Protocol;
  /** Remote address and port. */
  address: string;
  port: number;
  /** The local address and port the message arrived on or left from. */
  localAddress: string;
  localPort: number;
  /** Identifies the TCP connection, so responses and in-dialog requests reuse it (§18.2.2). */
  connectionId?: string;
}

/** RFC 3261 §7.3.3 compact forms plus the ones registered later (RFC 3265, 3515, 3841, 4028). */
const COMPACT: Record<string, string> = {
  a: 'Accept-Contact',
  b: 'Referred-By',
  c: 'Content-Type',
  d: 'Request-Disposition',
  e: 'Content-Encoding',
  f: 'From',
  i: 'Call-ID',
  j: 'Reject-Contact',
  k: 'Supported',
  l: 'Content-Length',
  m: 'Contact',
  n: 'Identity-Info',
  o: 'Event',
  r: 'Refer-To',
  s: 'Subject',
  t: 'To',
  u: 'Allow-Events',
  v: 'Via',
  x: 'Session-Expires',
  y: 'Identity',
};

/** Names whose usual capitalisation is not plain Title-Case-With-Dashes. */
const SPECIAL_CASE: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  rseq: 'RSeq',
  rack: 'RAck',
  'mime-version': 'MIME-Version',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
};

/** Canonical header name: expands compact forms and normalises capitalisation. */
export function canonicalHeaderName(name: string): string {
  const n = name.trim();
  const lower = n.toLowerCase();
  if (n.length === 1 && COMPACT[lower]) return COMPACT[lower];
  if (SPECIAL_CASE[lower]) return SPECIAL_CASE[lower];
  return lower.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** Headers that may appear as comma-separated lists (§7.3.1); getAll() splits them. */
const LIST_HEADERS = new Set([
  'Via', 'Route', 'Record-Route', 'Contact', 'Allow', 'Supported', 'Require', 'Proxy-Require',
  'Unsupported', 'Accept', 'Accept-Encoding', 'Accept-Language', 'Allow-Events', 'In-Reply-To',
]);

export interface Header {
  name: string;
  value: string;
}

export interface CSeq {
  seq: number;
  method: string;
}

export interface Via {
  protocol: string; // "SIP/2.0/UDP"
  transport: string; // "UDP"
  host: string;
  port?: number;
  params: Map<string, string | null>;
  branch?: string;
}

export function parseVia(value: string): Via {
  const m = /^\s*(SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+))\s+([^;]+)(.*)$/i.exec(value);
  if (!m) throw new Error(`bad Via: ${value}`);
  const [, protocol = '', transport = '', sentBy = '', rest = ''] = m;
  const { host, port } = splitHostPort(sentBy.trim());
  const params = new Map<string, string | null>();
  for (const p of rest.split(';').slice(1)) {
    const eq = p.indexOf('=');
    if (eq < 0) params.set(p.trim().toLowerCase(), null);
    else params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
  }
  return {
    protocol: protocol.replace(/\s+/g, '').toUpperCase(),
    transport: transport.toUpperCase(),
    host,
    port,
    params,
    branch: params.get('branch') ?? undefined,
  };
}

export abstract class SipMessage {
  headers: Header[];
  body: string;
  /** The bytes as received, for messages that came off the wire. */
  raw?: string;
  /** Transport details for messages that came off the wire. */
  wire?: WireInfo;

  constructor(headers: Header[], body: string) {
    this.headers = headers.map((h) => ({ name: canonicalHeaderName(h.name), value: h.value }));
    this.body = body;
  }

  abstract get startLine(): string;

  get(name: string): string | undefined {
    const n = canonicalHeaderName(name);
    return this.headers.find((h) => h.name === n)?.value;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Every value of a header, list headers split into their elements, in order. */
  getAll(name: string): string[] {
    const n = canonicalHeaderName(name);
    const values = this.headers.filter((h) => h.name === n).map((h) => h.value);
    return LIST_HEADERS.has(n) ? values.flatMap(splitList) : values;
  }

  /** Replace every occurrence of a header with one value (or remove it when undefined). */
  set(name: string, value: string | undefined): this {
    const n = canonicalHeaderName(name);
    const i = this.headers.findIndex((h) => h.name === n);
    this.headers = this.headers.filter((h) => h.name !== n);
    if (value !== undefined) this.headers.splice(i < 0 ? this.headers.length : i, 0, { name: n, value });
    return this;
  }

  add(name: string, value: string): this {
    this.headers.push({ name: canonicalHeaderName(name), value });
    return this;
  }

  /** Insert a header before all others of the same name (a new top Via, Record-Route). */
  prepend(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    const i = this.headers.findIndex((h) => h.name === n);
    this.headers.splice(i < 0 ? 0 : i, 0, { name: n, value });
    return this;
  }

  remove(name: string): this {
    return this.set(name, undefined);
  }

  get callId(): string {
    return this.required('Call-ID');
  }

  get cseq(): CSeq {
    const m = /^\s*(\d+)\s+(\S+)/.exec(this.required('CSeq'));
    if (!m) throw new Error(`bad CSeq: ${this.get('CSeq')}`);
    return { seq: Number(m[1]), method: (m[2] ?? '').toUpperCase() };
  }

  get fromTag(): string | undefined {
    return parseNameAddr(this.required('From')).params.get('tag') ?? undefined;
  }

  get toTag(): string | undefined {
    return parseNameAddr(this.required('To')).params.get('tag') ?? undefined;
  }

  get vias(): Via[] {
    return this.getAll('Via').map(parseVia);
  }

  get topVia(): Via {
    const v = this.vias[0];
    if (!v) throw new Error('message has no Via');
    return v;
  }

  private required(name: string): string {
    const v = this.get(name);
    if (v === undefined) throw new Error(`missing ${name} header`);
    return v;
  }
}

export class SipRequest extends SipMessage {
  /**
   * Set by the receiving stack when it stamped received/rport on the top Via (RFC 3581):
   * the first Via element as it arrived and as it reads now.
   */
  viaStamp?: { original: string; stamped: string };

  constructor(
    public method: string,
    public uri: string,
    headers: Header[] = [],
    body = '',
  ) {
    super(headers, body);
  }

  get startLine(): string {
    return `${this.method} ${this.uri} SIP/2.0`;
  }

  clone(): SipRequest {
    const c = new SipRequest(this.method, this.uri, this.headers.map((h) => ({ ...h })), this.body);
    c.wire = this.wire;
    return c;
  }
}

export class SipResponse extends SipMessage {
  constructor(
    public status: number,
    public reason: string,
    headers: Header[] = [],
    body = '',
  ) {
    super(headers, body);
  }

  get startLine(): string {
    return `SIP/2.0 ${this.status} ${this.reason}`;
  }

  clone(): SipResponse {
    const c = new SipResponse(this.status, this.reason, this.headers.map((h) => ({ ...h })), this.body);
    c.wire = this.wire;
    return c;
  }
}

export function isRequest(m: SipMessage): m is SipRequest {
  return m instanceof SipRequest;
}

/** Reason phrases for the status codes a bench sends (RFC 3261 §21 and friends). */
export const REASON_PHRASES: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  415: 'Unsupported Media Type',
  420: 'Bad Extension',
  422: 'Session Interval Too Small',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  600: 'Busy Everywhere',
  603: 'Decline',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? 'Unknown';
}
