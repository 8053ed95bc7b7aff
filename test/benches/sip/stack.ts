/**
 * SipStack: a small SIP user agent built from the layers of RFC 3261 — transport (§18),
 * transactions (§17), dialogs (§12) — plus the pieces of the UA core (§8, §13) that every
 * user of the stack would otherwise write again:
 *
 * - building out-of-dialog requests and responses (§8.1.1, §8.2.6);
 * - retransmitting a 2xx to INVITE until its ACK arrives (§13.3.1.4), since after a 2xx the
 *   INVITE server transaction is no longer responsible for it;
 * - re-sending the ACK when a 2xx is retransmitted (§13.2.2.4);
 * - CANCEL (§9.1), held back until a provisional response has arrived;
 * - a dialog table.
 *
 * Policy (who answers what, with which body) stays with the caller: see onRequest().
 */
import crypto from 'node:crypto';
import { Dialog, destinationFor, dialogKey, normaliseHeaders } from './dialog.js';
import { SipRequest, SipResponse, parseVia, reasonPhrase, type Protocol, type WireInfo } from './message.js';
import { formatParams, splitList } from './uri.js';
import { serializeMessage } from './parser.js';
import { buildCancel, type ClientTransactionUser } from './transactions/invite-client.js';
import type { InviteServerTransaction } from './transactions/invite-server.js';
import {
  MAGIC_COOKIE,
  TransactionLayer,
  type ClientTransaction,
  type ServerTransaction,
} from './transactions/layer.js';
import { resolveTimers, timerValue, type TimerSettings } from './transactions/timers.js';
import { TcpTransport } from './transport/tcp.js';
import type { Destination, TraceHandler, Transport } from './transport/transport.js';
import { UdpTransport } from './transport/udp.js';

export interface SipStackOptions {
  /** Address to bind; 127.0.0.1 unless told otherwise. */
  host?: string;
  /** Which transports to open and on which port (0 = ephemeral). */
  transports: { udp?: number; tcp?: number };
  timers?: Partial<TimerSettings>;
  /** Added to requests and responses this stack builds, when set. */
  userAgent?: string;
  onTrace?: TraceHandler;
  onError?: (err: Error) => void;
  /**
   * RFC 3581 on incoming requests: 'rfc3581' fills in rport only when the client asked for
   * it (and always on TCP, as sofia does); 'always' fills it in regardless (sofia's
   * NTATAG_SERVER_RPORT(2), which drachtio-server sets). received= is added whenever the
   * Via host is not the source address (§18.2.1).
   */
  rport?: 'rfc3581' | 'always';
}

export type RequestHandler = (req: SipRequest, txn: ServerTransaction) => void;
export type AckHandler = (ack: SipRequest, dialog: Dialog | undefined) => void;

export interface HeaderInput {
  headers?: { name: string; value: string }[] | Record<string, string>;
  body?: string;
  contentType?: string;
}

export interface ResponseOptions extends HeaderInput {
  /** Tag for the To header; generated for responses above 100 when the request has none. */
  toTag?: string;
  contact?: string;
}

export interface RequestOptions extends HeaderInput {
  from?: string;
  to?: string;
  callId?: string;
  cseq?: number;
  contact?: string;
}

export interface SendOptions {
  /** Override where the request goes (otherwise §8.1.2: first loose Route or Request-URI). */
  destination?: Destination;
  /** Send in this dialog's flow (same transport and, on TCP, the same connection if open). */
  dialog?: Dialog;
  /** With dialog: fail rather than open a new connection when the dialog's one has closed. */
  strictFlow?: boolean;
  /** Every provisional response. */
  onProvisional?: (res: SipResponse) => void;
  /** Every response, including retransmitted 2xx to INVITE (the stack re-ACKs those itself). */
  onResponse?: (res: SipResponse) => void;
}

/** A request on its way: its client transaction and a promise of the final response. */
export interface OutgoingRequest {
  request: SipRequest;
  transaction: ClientTransaction;
  /** Resolves with the first final response (an internal 408 on timeout, 503 on transport error). */
  final: Promise<SipResponse>;
  /** A final response has arrived (or been made up locally). */
  readonly completed: boolean;
  /**
   * CANCEL an INVITE (§9.1). Builds the CANCEL at once; sends it when a provisional response
   * has arrived (at once if one has). Returns undefined when a final response already came.
   */
  cancel(extraHeaders?: { name: string; value: string }[]): OutgoingCancel | undefined;
}

export interface OutgoingCancel {
  request: SipRequest;
  /** The response to the CANCEL; undefined if a final response to the INVITE made it moot. */
  final: Promise<SipResponse | undefined>;
}

export class AckTimeoutError extends Error {
  constructor() {
    super('no ACK for 2xx within 64*T1');
  }
}

interface Pending2xx {
  resolve: (ack: SipRequest) => void;
  reject: (err: Error) => void;
  stop: () => void;
}

export class SipStack {
  readonly host: string;
  readonly timers: TimerSettings;
  readonly layer = new TransactionLayer();
  readonly dialogs = new Map<string, Dialog>();
  private readonly transports = new Map<Protocol, Transport>();
  private requestHandler: RequestHandler = (req, txn) => {
    // Without a handler, refuse everything politely rather than leave transactions hanging.
    if (req.method !== 'ACK') txn.respond(this.createResponse(req, 501));
  };
  private readonly ackHandlers: AckHandler[] = [];
  /** 2xx responses we sent and are retransmitting until the ACK (key: Call-ID|CSeq|To tag). */
  private readonly pending2xx = new Map<string, Pending2xx>();
  /** ACKs we sent for 2xx, re-sent when the 2xx is retransmitted (key: Call-ID|CSeq). */
  private readonly sentAcks = new Map<string, { text: string; to: Destination; timer: NodeJS.Timeout }>();

  constructor(private readonly opts: SipStackOptions) {
    this.host = opts.host ?? '127.0.0.1';
    this.timers = resolveTimers(opts.timers);
    const common = {
      host: this.host,
      onMessage: (msg: SipRequest | SipResponse) => this.receive(msg),
      onTrace: opts.onTrace,
      onError: opts.onError,
    };
    if (opts.transports.udp !== undefined) this.transports.set('udp', new UdpTransport({ ...common, port: opts.transports.udp }));
    if (opts.transports.tcp !== undefined) this.transports.set('tcp', new TcpTransport({ ...common, port: opts.transports.tcp }));
    if (this.transports.size === 0) throw new Error('SipStack needs at least one transport');
  }

  async listen(): Promise<void> {
    for (const t of this.transports.values()) await t.listen();
  }

  async close(): Promise<void> {
    for (const p of this.pending2xx.values()) p.stop();
    this.pending2xx.clear();
    for (const a of this.sentAcks.values()) clearTimeout(a.timer);
    this.sentAcks.clear();
    this.layer.destroyAll();
    for (const t of this.transports.values()) await t.close();
  }

  get protocols(): Protocol[] {
    return [...this.transports.keys()];
  }

  port(protocol: Protocol): number {
    const t = this.transports.get(protocol);
    if (!t) throw new Error(`no ${protocol} transport`);
    return t.localPort;
  }

  /** A Contact URI for this stack on a transport, e.g. sip:fs@127.0.0.1:5080;transport=tcp. */
  contactUri(protocol: Protocol, user?: string): string {
    const tp = protocol === 'udp' ? '' : `;transport=${protocol}`;
    return `sip:${user ? `${user}@` : ''}${this.host}:${this.port(protocol)}${tp}`;
  }

  /** Handle every incoming request except ACK for 2xx; respond through txn.respond(). */
  onRequest(handler: RequestHandler): void {
    this.requestHandler = handler;
  }

  /** ACKs for 2xx responses (they belong to no transaction, §17.1.1.3). */
  onAck(handler: AckHandler): void {
    this.ackHandlers.push(handler);
  }

  // ---- incoming ---------------------------------------------------------------------

  private receive(msg: SipRequest | SipResponse): void {
    try {
      if (msg instanceof SipResponse) this.receiveResponse(msg);
      else this.receiveRequest(msg);
    } catch (err) {
      this.opts.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private receiveRequest(req: SipRequest): void {
    if (!isWellFormed(req)) return this.rejectMalformed(req);
    this.stampVia(req);
    if (this.layer.matchRequest(req)) return;
    if (req.method === 'ACK') return this.receiveAckFor2xx(req);
    const txn = this.layer.createServer(req, this.serverContext(req));
    this.requestHandler(req, txn);
  }

  /** §18.2.1 and RFC 3581: note on the top Via where the request really came from. */
  private stampVia(req: SipRequest): void {
    const wire = req.wire;
    const first = req.headers.find((h) => h.name === 'Via');
    if (!wire || !first) return;
    const elements = splitList(first.value);
    const original = elements[0];
    if (!original) return;
    const via = parseVia(original);
    via.params.delete('received');
    if (via.host !== wire.address) via.params.set('received', wire.address);
    const wantsRport = via.params.has('rport') || wire.protocol === 'tcp' || this.opts.rport === 'always';
    if (wantsRport) via.params.set('rport', String(wire.port));
    const stamped = `${via.protocol} ${via.host}${via.port !== undefined ? `:${via.port}` : ''}${formatParams(via.params)}`;
    if (stamped === original) return;
    elements[0] = stamped;
    first.value = elements.join(', ');
    req.viaStamp = { original, stamped };
  }

  /** §8.2 basics: without Via, Call-ID, CSeq, From and To no transaction can even be built. */
  private rejectMalformed(req: SipRequest): void {
    if (req.method === 'ACK' || !req.wire) return;
    const vias = req.getAll('Via');
    if (vias.length === 0) return;
    const res = new SipResponse(400, 'Bad Request');
    for (const v of vias) res.add('Via', v);
    for (const name of ['From', 'To', 'Call-ID', 'CSeq']) {
      const v = req.get(name);
      if (v) res.add(name, v);
    }
    void this.sendRaw(serializeMessage(res), this.responseDestination(req));
  }

  private receiveAckFor2xx(ack: SipRequest): void {
    const key = pendingKey(ack.callId, ack.cseq.seq, ack.toTag);
    const pending = this.pending2xx.get(key);
    if (pending) {
      this.pending2xx.delete(key);
      pending.stop();
      pending.resolve(ack);
    }
    const dialog = this.findDialog(ack);
    for (const h of this.ackHandlers) h(ack, dialog);
  }

  private receiveResponse(res: SipResponse): void {
    if (this.layer.matchResponse(res)) return;
    // A 2xx to INVITE after its transaction is gone: re-send our ACK if we have one (§13.2.2.4).
    if (res.cseq.method === 'INVITE' && res.status >= 200 && res.status < 300) {
      const sent = this.sentAcks.get(`${res.callId}|${res.cseq.seq}`);
      if (sent) void this.sendRaw(sent.text, sent.to);
    }
  }

  // ---- building messages --------------------------------------------------------------

  /** §8.2.6: a response copying Via, From, To (adding our tag), Call-ID and CSeq. */
  createResponse(req: SipRequest, status: number, reason?: string, opts: ResponseOptions = {}): SipResponse {
    const res = new SipResponse(status, reason ?? reasonPhrase(status));
    for (const v of req.getAll('Via')) res.add('Via', v);
    res.add('From', req.get('From') ?? '');
    res.add('To', withTag(req.get('To') ?? '', status > 100 ? (opts.toTag ?? req.toTag ?? newTag()) : req.toTag));
    res.add('Call-ID', req.callId);
    res.add('CSeq', req.get('CSeq') ?? '');
    if (opts.contact) res.add('Contact', `<${opts.contact}>`);
    if (this.opts.userAgent) res.add('Server', this.opts.userAgent);
    for (const h of normaliseHeaders(opts.headers)) res.set(h.name, h.value);
    if (opts.body) {
      res.body = opts.body;
      if (!res.has('Content-Type')) res.set('Content-Type', opts.contentType ?? 'application/sdp');
    }
    return res;
  }

  /** §8.1.1: an out-of-dialog request with a fresh Call-ID, From tag and CSeq. */
  createRequest(method: string, uri: string, opts: RequestOptions = {}): SipRequest {
    const m = method.toUpperCase();
    const req = new SipRequest(m, uri);
    req.add('Max-Forwards', '70');
    req.add('From', withTag(opts.from ?? `<sip:bench@${this.host}>`, newTag()));
    req.add('To', opts.to ?? `<${uri}>`);
    req.add('Call-ID', opts.callId ?? newCallId(this.host));
    req.add('CSeq', `${opts.cseq ?? 1} ${m}`);
    if (opts.contact) req.add('Contact', `<${opts.contact}>`);
    if (this.opts.userAgent) req.add('User-Agent', this.opts.userAgent);
    for (const h of normaliseHeaders(opts.headers)) req.set(h.name, h.value);
    if (opts.body) {
      req.body = opts.body;
      if (!req.has('Content-Type')) req.set('Content-Type', opts.contentType ?? 'application/sdp');
    }
    return req;
  }

  // ---- sending ------------------------------------------------------------------------

  /**
   * Send a request in a new client transaction. Adds the top Via (with a new branch and
   * rport). For ACK (which has no transaction) use sendAck(); for CANCEL use the cancel()
   * of the INVITE's OutgoingRequest.
   */
  sendRequest(req: SipRequest, opts: SendOptions = {}): OutgoingRequest {
    if (req.method === 'ACK') throw new Error('use sendAck() for ACK');
    const to = this.requestDestination(req, opts);
    const transport = this.transportFor(to.protocol);
    req.prepend('Via', `SIP/2.0/${to.protocol.toUpperCase()} ${this.host}:${transport.localPort};branch=${newBranch()};rport`);

    let settle!: (res: SipResponse) => void;
    const final = new Promise<SipResponse>((resolve) => (settle = resolve));
    let provisionalSeen = false;
    const provisional = deferred<boolean>();
    let done = false;

    // Timer B/F or a transport error: the TU still gets a final response (§8.1.3.1).
    const failLocally = (status: number): void => {
      if (done) return;
      done = true;
      provisional.resolve(true);
      const res = localResponse(req, status);
      opts.onResponse?.(res);
      settle(res);
    };
    const tu: ClientTransactionUser = {
      onResponse: (res) => {
        opts.onResponse?.(res);
        if (res.status < 200) {
          provisionalSeen = true;
          provisional.resolve(true);
          opts.onProvisional?.(res);
          return;
        }
        if (done) {
          this.resendAckFor(res);
          return;
        }
        done = true;
        provisional.resolve(true);
        settle(res);
      },
      onTimeout: () => failLocally(408),
      // A connection that is gone is 410 Gone, other transport failures 503 (as sofia's nta does).
      onTransportError: (err) => failLocally(isBrokenConnection(err, to) ? 410 : 503),
    };
    const transaction = this.layer.createClient(req, this.clientContext(to, transport), tu);
    transaction.start();

    const cancel = (extraHeaders: { name: string; value: string }[] = []): OutgoingCancel | undefined => {
      if (req.method !== 'INVITE') throw new Error('only INVITE can be cancelled');
      if (done) return undefined;
      const request = buildCancel(req, extraHeaders);
      const sent = provisional.promise.then(() =>
        // A final response that beats the first provisional makes the CANCEL moot (§9.1).
        done && !provisionalSeen ? undefined : this.sendRequestRaw(request, to).final,
      );
      return { request, final: sent };
    };
    return {
      request: req,
      transaction,
      final,
      cancel,
      get completed() {
        return done;
      },
    };
  }

  /** sendRequest for a message whose Via is already set (CANCEL reuses the INVITE's). */
  private sendRequestRaw(req: SipRequest, to: Destination): { final: Promise<SipResponse> } {
    const transport = this.transportFor(to.protocol);
    let settle!: (res: SipResponse) => void;
    const final = new Promise<SipResponse>((resolve) => (settle = resolve));
    const tu: ClientTransactionUser = {
      onResponse: (res) => res.status >= 200 && settle(res),
      onTimeout: () => settle(localResponse(req, 408)),
      onTransportError: () => settle(localResponse(req, 503)),
    };
    this.layer.createClient(req, this.clientContext(to, transport), tu).start();
    return { final };
  }

  /**
   * ACK a 2xx to INVITE (§13.2.2.4): a request of its own with a new branch, sent in the
   * dialog. Kept for 64*T1 so that retransmissions of the 2xx get it again.
   */
  async sendAck(dialog: Dialog, res: SipResponse, opts: HeaderInput = {}): Promise<SipRequest> {
    const ack = dialog.createRequest('ACK', { ...opts, cseq: res.cseq.seq });
    const to = this.requestDestination(ack, { dialog });
    const transport = this.transportFor(to.protocol);
    ack.prepend('Via', `SIP/2.0/${to.protocol.toUpperCase()} ${this.host}:${transport.localPort};branch=${newBranch()};rport`);
    const text = serializeMessage(ack);
    const key = `${res.callId}|${res.cseq.seq}`;
    const old = this.sentAcks.get(key);
    if (old) clearTimeout(old.timer);
    const timer = setTimeout(() => this.sentAcks.delete(key), timerValue('M', this.timers, false));
    this.sentAcks.set(key, { text, to, timer });
    await this.sendRaw(text, to);
    return ack;
  }

  private resendAckFor(res: SipResponse): void {
    if (res.status < 200 || res.status >= 300) return;
    const sent = this.sentAcks.get(`${res.callId}|${res.cseq.seq}`);
    if (sent) void this.sendRaw(sent.text, sent.to);
  }

  /**
   * Send a 2xx to an INVITE and keep retransmitting it until the ACK arrives (§13.3.1.4):
   * on UDP at T1, 2*T1, ... capped at T2; on TCP only once. Resolves with the ACK; rejects
   * with AckTimeoutError after 64*T1, when the caller should end the session with a BYE.
   */
  sendInvite2xx(txn: InviteServerTransaction, res: SipResponse): Promise<SipRequest> {
    const key = pendingKey(res.callId, res.cseq.seq, res.toTag);
    const reliable = this.transportFor(txn.destination.protocol).reliable;
    return new Promise<SipRequest>((resolve, reject) => {
      let interval = this.timers.T1;
      let retransmit: NodeJS.Timeout | undefined;
      const schedule = (): void => {
        if (reliable) return;
        retransmit = setTimeout(() => {
          txn.respond(res);
          interval = Math.min(2 * interval, this.timers.T2);
          schedule();
        }, interval);
      };
      const giveUp = setTimeout(() => {
        this.pending2xx.delete(key);
        stop();
        reject(new AckTimeoutError());
      }, 64 * this.timers.T1);
      const stop = (): void => {
        if (retransmit) clearTimeout(retransmit);
        clearTimeout(giveUp);
      };
      this.pending2xx.set(key, { resolve, reject, stop });
      if (!txn.respond(res)) {
        this.pending2xx.delete(key);
        stop();
        reject(new Error(`INVITE transaction is ${txn.state}; cannot send ${res.status}`));
        return;
      }
      schedule();
    });
  }

  /** Is a 2xx with this Call-ID, CSeq and To tag still waiting for its ACK? */
  isAwaitingAck(callId: string, cseq: number, toTag: string | undefined): boolean {
    return this.pending2xx.has(pendingKey(callId, cseq, toTag));
  }

  /** Stop retransmitting a 2xx without waiting for its ACK (e.g. the session was torn down). */
  abandon2xx(callId: string, cseq: number, toTag: string | undefined): void {
    const key = pendingKey(callId, cseq, toTag);
    const p = this.pending2xx.get(key);
    if (!p) return;
    this.pending2xx.delete(key);
    p.stop();
    p.reject(new Error('abandoned'));
  }

  /** Send pre-built bytes (stateless forwarding, keep-alives, tests of odd messages). */
  async sendRaw(text: string, to: Destination): Promise<WireInfo> {
    return this.transportFor(to.protocol).send(text, to);
  }

  // ---- dialogs ------------------------------------------------------------------------

  createUasDialog(req: SipRequest, res: SipResponse, localContact?: string): Dialog {
    const contact = localContact ?? res.get('Contact') ?? `<${this.contactUri(req.wire?.protocol ?? 'udp')}>`;
    const d = Dialog.asUas(req, res, contact);
    this.dialogs.set(d.id, d);
    return d;
  }

  createUacDialog(req: SipRequest, res: SipResponse): Dialog {
    const d = Dialog.asUac(req, res);
    this.dialogs.set(d.id, d);
    return d;
  }

  /** The dialog an incoming request belongs to: Call-ID, To tag (ours), From tag (theirs). */
  findDialog(req: SipRequest): Dialog | undefined {
    const local = req.toTag;
    const remote = req.fromTag;
    if (!local || remote === undefined) return undefined;
    return this.dialogs.get(dialogKey(req.callId, local, remote));
  }

  removeDialog(dialog: Dialog): void {
    dialog.state = 'terminated';
    this.dialogs.delete(dialog.id);
  }

  // ---- plumbing -----------------------------------------------------------------------

  private transportFor(protocol: Protocol): Transport {
    const t = this.transports.get(protocol) ?? this.transports.values().next().value;
    if (!t) throw new Error(`no transport for ${protocol}`);
    return t;
  }

  private requestDestination(req: SipRequest, opts: SendOptions): Destination {
    if (opts.destination) return opts.destination;
    const flow = opts.dialog?.flow;
    const to = destinationFor(req, flow?.protocol);
    if (flow?.connectionId && to.protocol === flow.protocol) {
      to.connectionId = flow.connectionId;
      to.strict = opts.strictFlow;
    }
    return to;
  }

  /** §18.2.2: back where the request came from; on TCP the same connection while it lasts. */
  responseDestination(req: SipRequest): Destination {
    const wire = req.wire;
    if (!wire) throw new Error('request did not come from the network');
    if (wire.protocol === 'udp') return { protocol: 'udp', address: wire.address, port: wire.port };
    const tcp = this.transports.get('tcp');
    const open = tcp instanceof TcpTransport && wire.connectionId ? tcp.isOpen(wire.connectionId) : false;
    if (open) return { protocol: 'tcp', address: wire.address, port: wire.port, connectionId: wire.connectionId };
    const via = req.topVia;
    return { protocol: 'tcp', address: via.params.get('received') ?? via.host, port: via.port ?? 5060 };
  }

  private serverContext(req: SipRequest) {
    const to = this.responseDestination(req);
    const transport = this.transportFor(to.protocol);
    return {
      timers: this.timers,
      reliable: transport.reliable,
      destination: to,
      send: (text: string, dest: Destination) => this.transportFor(dest.protocol).send(text, this.refreshResponseDestination(req, dest)),
    };
  }

  /** The connection a response should use may have closed since the transaction began. */
  private refreshResponseDestination(req: SipRequest, dest: Destination): Destination {
    return dest.protocol === 'tcp' ? this.responseDestination(req) : dest;
  }

  private clientContext(to: Destination, transport: Transport) {
    return {
      timers: this.timers,
      reliable: transport.reliable,
      destination: to,
      send: (text: string, dest: Destination) => this.transportFor(dest.protocol).send(text, dest),
    };
  }
}

function isWellFormed(req: SipRequest): boolean {
  try {
    return req.vias.length > 0 && !!req.callId && !!req.cseq && req.fromTag !== null && !!req.get('To');
  } catch {
    return false;
  }
}

function isBrokenConnection(err: Error, to: Destination): boolean {
  return to.protocol === 'tcp' && (err as NodeJS.ErrnoException).code === 'EPIPE';
}

function pendingKey(callId: string, cseq: number, toTag: string | undefined): string {
  return `${callId}|${cseq}|${toTag ?? ''}`;
}

/** A response the stack makes up itself when the network gave none (timeout, transport error). */
export function localResponse(req: SipRequest, status: number): SipResponse {
  const res = new SipResponse(status, reasonPhrase(status));
  for (const v of req.getAll('Via')) res.add('Via', v);
  res.add('From', req.get('From') ?? '');
  res.add('To', req.get('To') ?? '');
  res.add('Call-ID', req.callId);
  res.add('CSeq', req.get('CSeq') ?? '');
  return res;
}

export function withTag(nameAddr: string, tag: string | undefined): string {
  if (!tag || /;\s*tag=/i.test(nameAddr)) return nameAddr;
  return `${nameAddr};tag=${tag}`;
}

export function newTag(): string {
  return crypto.randomBytes(6).toString('hex');
}

export function newBranch(): string {
  return `${MAGIC_COOKIE}${crypto.randomBytes(8).toString('hex')}`;
}

export function newCallId(host: string): string {
  return `${crypto.randomUUID()}@${host}`;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
