/**
 * Dialog state, RFC 3261 §12: Call-ID, local and remote tags and URIs, CSeq numbers, remote
 * target and route set, and how requests inside the dialog are built from them (§12.2.1.1)
 * and checked on arrival (§12.2.2).
 */
import { SipRequest, type Protocol, type SipResponse } from './message.js';
import { parseNameAddr, parseUri } from './uri.js';
import type { Destination } from './transport/transport.js';

export type DialogRole = 'uac' | 'uas';
export type DialogState = 'early' | 'confirmed' | 'terminated';

export interface InDialogRequestOptions {
  headers?: { name: string; value: string }[] | Record<string, string>;
  body?: string;
  contentType?: string;
  /** CSeq number to use instead of the next one (ACK reuses the INVITE's). */
  cseq?: number;
  /** Contact to send instead of the dialog's local contact; false sends none. */
  contact?: string | false;
}

/** Methods whose requests carry a Contact (§8.1.1.8, RFC 3515, RFC 3265, RFC 3311). */
const NEEDS_CONTACT = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

export class Dialog {
  state: DialogState;
  /** The CSeq of the INVITE that created or last refreshed the session; its ACK reuses it. */
  inviteSeq?: number;
  /** Transport the dialog was established over; in-dialog requests prefer it (and its TCP connection). */
  flow?: { protocol: Protocol; connectionId?: string };

  constructor(
    readonly role: DialogRole,
    readonly callId: string,
    readonly localTag: string,
    public remoteTag: string,
    /** Our From (as UAC) / To (as UAS) value, with our tag. */
    readonly localAddress: string,
    /** Their To (as UAC) / From (as UAS) value, with their tag. */
    public remoteAddress: string,
    public localSeq: number | undefined,
    public remoteSeq: number | undefined,
    public remoteTarget: string,
    public routeSet: string[],
    public localContact: string,
    state: DialogState = 'confirmed',
  ) {
    this.state = state;
  }

  get id(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  /**
   * §12.1.1: UAS side, from the request and the response (which carries our To tag).
   * Route set = Record-Route of the request in order; remote target = its Contact.
   */
  static asUas(req: SipRequest, res: SipResponse, localContact: string): Dialog {
    const localTag = res.toTag;
    if (!localTag) throw new Error('UAS dialog needs a To tag on the response');
    const d = new Dialog(
      'uas',
      req.callId,
      localTag,
      req.fromTag ?? '',
      res.get('To') ?? '',
      req.get('From') ?? '',
      undefined,
      req.cseq.seq,
      contactUri(req.get('Contact')) ?? '',
      req.getAll('Record-Route'),
      localContact,
      res.status < 200 ? 'early' : 'confirmed',
    );
    if (req.method === 'INVITE') d.inviteSeq = req.cseq.seq;
    if (req.wire) d.flow = { protocol: req.wire.protocol, connectionId: req.wire.connectionId };
    return d;
  }

  /**
   * §12.1.2: UAC side, from our request and their response.
   * Route set = Record-Route of the response reversed; remote target = its Contact.
   */
  static asUac(req: SipRequest, res: SipResponse): Dialog {
    const d = new Dialog(
      'uac',
      req.callId,
      req.fromTag ?? '',
      res.toTag ?? '',
      req.get('From') ?? '',
      res.get('To') ?? '',
      req.cseq.seq,
      undefined,
      contactUri(res.get('Contact')) ?? req.uri,
      res.getAll('Record-Route').reverse(),
      req.get('Contact') ?? '',
      res.status < 200 ? 'early' : 'confirmed',
    );
    if (req.method === 'INVITE') d.inviteSeq = req.cseq.seq;
    if (res.wire) d.flow = { protocol: res.wire.protocol, connectionId: res.wire.connectionId };
    return d;
  }

  /** §12.2.1.1: build a request inside the dialog. ACK reuses the INVITE's CSeq number. */
  createRequest(method: string, opts: InDialogRequestOptions = {}): SipRequest {
    const m = method.toUpperCase();
    const seq = opts.cseq ?? (m === 'ACK' ? (this.inviteSeq ?? this.localSeq ?? 1) : this.nextSeq());
    const { uri, routes } = this.requestTarget();
    const req = new SipRequest(m, uri);
    for (const r of routes) req.add('Route', r);
    req.add('Max-Forwards', '70');
    req.add('From', this.localAddress);
    req.add('To', this.remoteAddress);
    req.add('Call-ID', this.callId);
    req.add('CSeq', `${seq} ${m}`);
    const contact = opts.contact ?? (NEEDS_CONTACT.has(m) ? this.localContact : false);
    if (contact) req.add('Contact', contact);
    for (const h of normaliseHeaders(opts.headers)) req.set(h.name, h.value);
    if (opts.body) {
      req.body = opts.body;
      if (!req.has('Content-Type')) req.set('Content-Type', opts.contentType ?? 'application/sdp');
    }
    if (m === 'INVITE') this.inviteSeq = seq;
    return req;
  }

  private nextSeq(): number {
    // §12.2.1.1: the first request picks a number; after that it increments by one.
    this.localSeq = this.localSeq === undefined ? 1 + Math.floor(Math.random() * 10_000) : this.localSeq + 1;
    return this.localSeq;
  }

  /** Request-URI and Route headers: loose routing (lr) or the strict-routing rewrite. */
  private requestTarget(): { uri: string; routes: string[] } {
    const first = this.routeSet[0];
    if (!first || isLooseRoute(first)) return { uri: this.remoteTarget, routes: this.routeSet };
    const firstUri = parseNameAddr(first).uri;
    return { uri: firstUri, routes: [...this.routeSet.slice(1), `<${this.remoteTarget}>`] };
  }

  /**
   * §12.2.2: accept a request in this dialog. Returns false when its CSeq is lower than the
   * last one seen (the UAS then answers 500). Refreshes the remote target on re-INVITE/UPDATE.
   */
  receiveRequest(req: SipRequest): boolean {
    const { seq } = req.cseq;
    if (req.method !== 'ACK' && req.method !== 'CANCEL') {
      if (this.remoteSeq !== undefined && seq < this.remoteSeq) return false;
      this.remoteSeq = seq;
    }
    if (req.method === 'INVITE' || req.method === 'UPDATE') {
      const target = contactUri(req.get('Contact'));
      if (target) this.remoteTarget = target;
    }
    return true;
  }

  /** A 2xx to our re-INVITE or UPDATE refreshes the remote target (§12.2.1.2). */
  receiveResponse(res: SipResponse): void {
    const { method } = res.cseq;
    if (res.status >= 200 && res.status < 300 && (method === 'INVITE' || method === 'UPDATE')) {
      const target = contactUri(res.get('Contact'));
      if (target) this.remoteTarget = target;
    }
    if (this.state === 'early' && res.status >= 200 && res.status < 300 && method === 'INVITE') {
      this.state = 'confirmed';
    }
  }

  /** Where requests in this dialog go: first Route (loose) or the Request-URI (§8.1.2). */
  destination(): Destination {
    const req = this.createProbe();
    return destinationFor(req, this.flow?.protocol);
  }

  private createProbe(): SipRequest {
    const { uri, routes } = this.requestTarget();
    const r = new SipRequest('OPTIONS', uri);
    for (const route of routes) r.add('Route', route);
    return r;
  }
}

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

function isLooseRoute(route: string): boolean {
  try {
    return parseUri(parseNameAddr(route).uri).params.has('lr');
  } catch {
    return true;
  }
}

export function contactUri(contact: string | undefined): string | undefined {
  if (!contact || contact.trim() === '*') return undefined;
  return parseNameAddr(contact).uri;
}

export function normaliseHeaders(
  headers: { name: string; value: string }[] | Record<string, string> | undefined,
): { name: string; value: string }[] {
  if (!headers) return [];
  if (Array.isArray(headers)) return headers;
  return Object.entries(headers).map(([name, value]) => ({ name, value }));
}

/**
 * §8.1.2 and RFC 3263 reduced to literal addresses: the next hop is the first Route when it
 * is a loose router, else the Request-URI; port 5060 unless given; transport from the
 * URI's transport parameter, else the fallback, else UDP.
 */
export function destinationFor(req: SipRequest, fallback?: Protocol): Destination {
  const route = req.getAll('Route')[0];
  const target = route && isLooseRoute(route) ? parseNameAddr(route).uri : req.uri;
  const uri = parseUri(target);
  const tp = uri.params.get('transport')?.toLowerCase();
  const protocol: Protocol = tp === 'tcp' || tp === 'udp' ? tp : (fallback ?? 'udp');
  return { protocol, address: uri.host, port: uri.port ?? 5060 };
}
