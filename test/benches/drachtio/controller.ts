/**
 * The server itself: DrachtioController in drachtio-server's controller.cpp. It owns the SIP
 * stack, the socket applications connect to, and the controllers above, and it decides what
 * to do with a request from the network that no transaction or dialog claims
 * (processMessageStatelessly):
 *
 *   INVITE, REGISTER, MESSAGE, OPTIONS, INFO, NOTIFY, SUBSCRIBE, PUBLISH
 *       -> park it and hand it to an app routed for the method (INVITE: 100 Trying first);
 *          503 when no app is routed, 481 for an INVITE with a To tag we do not know
 *   CANCEL for a parked INVITE -> tell the app, 200 to the CANCEL, 487 to the INVITE
 *   CANCEL otherwise, BYE, UPDATE -> 481
 *   anything else (REFER, ACK, PRACK, unknown methods) -> dropped without a response
 */
import net from 'node:net';
import {
  InviteServerTransaction,
  SipStack,
  type Protocol,
  type ServerTransaction,
  type SipRequest,
  type TimerSettings,
  type TraceHandler,
} from '../sip/index.js';
import { AppConnection, uuid, type ClientMessage, type ClientMessageHandler } from './app-connection.js';
import { CdrPoster } from './cdr.js';
import { encodeStackMessage } from './encoding.js';
import { ClientController } from './client-controller.js';
import { SipDialogController, type LocalTransport } from './dialog-controller.js';
import { PendingRequest, PendingRequestController } from './pending-requests.js';
import { TportCache } from './tport-cache.js';

/** Version reported to apps at authentication; drachtio-srf only checks it is >= v0.8.2. */
export const STAND_IN_VERSION = 'v1.2.0-stand-in';

const NEW_REQUEST_METHODS = new Set(['INVITE', 'REGISTER', 'MESSAGE', 'OPTIONS', 'INFO', 'NOTIFY', 'SUBSCRIBE', 'PUBLISH']);

export interface ControllerOptions {
  sipHost: string;
  sipPorts: Partial<Record<Protocol, number>>;
  adminHost: string;
  adminPort: number;
  secret: string;
  timers?: Partial<TimerSettings>;
  /** Post cdr:attempt/start/stop to apps that route them (drachtio's <cdrs>true</cdrs>). */
  cdrs?: boolean;
  /** How long a new request waits for an app's answer (64 s in drachtio-server). */
  clientTimeoutMs?: number;
  log?: (line: string) => void;
  onSipTrace?: TraceHandler;
}

export class DrachtioController implements ClientMessageHandler {
  readonly stack: SipStack;
  readonly clients = new ClientController();
  readonly pending: PendingRequestController;
  readonly dialogs: SipDialogController;
  readonly tports = new TportCache();
  private readonly cdr: CdrPoster;
  private admin?: net.Server;
  private adminPortBound = 0;
  private transports: LocalTransport[] = [];
  private readonly log: (line: string) => void;

  constructor(private readonly opts: ControllerOptions) {
    this.log = opts.log ?? (() => undefined);
    this.stack = new SipStack({
      host: opts.sipHost,
      transports: { udp: opts.sipPorts.udp, tcp: opts.sipPorts.tcp },
      timers: opts.timers,
      onTrace: opts.onSipTrace,
      onError: (err) => this.log(`sip: ${err.message}`),
      rport: 'always', // NTATAG_SERVER_RPORT(2) in controller.cpp
    });
    this.pending = new PendingRequestController((p) => this.pendingTimedOut(p), opts.clientTimeoutMs);
    this.cdr = new CdrPoster(!!opts.cdrs, this.clients);
    this.dialogs = new SipDialogController({
      stack: this.stack,
      clients: this.clients,
      pending: this.pending,
      cdr: this.cdr,
      transports: this.transports,
      tports: this.tports,
      processNewRequest: (req, txn) => this.processNewRequestStatelessly(req, txn),
      log: this.log,
    });
    this.stack.onRequest((req, txn) => this.onSipRequest(req, txn));
    this.stack.onAck((ack) => this.dialogs.processAck(ack));
  }

  async start(): Promise<void> {
    await this.stack.listen();
    for (const protocol of this.stack.protocols) {
      this.transports.push({ protocol, host: this.stack.host, port: this.stack.port(protocol) });
    }
    const admin = net.createServer((socket) => this.clients.join(new AppConnection(socket, this, this.log)));
    this.admin = admin;
    await new Promise<void>((resolve, reject) => {
      admin.once('error', reject);
      admin.listen(this.opts.adminPort, this.opts.adminHost, () => {
        admin.off('error', reject);
        const addr = admin.address();
        this.adminPortBound = typeof addr === 'object' && addr ? addr.port : 0;
        resolve();
      });
    });
  }

  get adminPort(): number {
    return this.adminPortBound;
  }

  get sipTransports(): LocalTransport[] {
    return [...this.transports];
  }

  async stop(): Promise<void> {
    for (const c of [...this.clients.clients]) c.close();
    this.pending.clear();
    this.dialogs.stop();
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await new Promise<void>((resolve) => admin.close(() => resolve()));
    await this.stack.close();
  }

  // ---- the application side (ClientMessageHandler) -------------------------------------

  authenticate(_conn: AppConnection, secret: string): string | undefined {
    if (secret !== this.opts.secret) return undefined;
    const hostports = this.transports.map((t) => `${t.protocol}/${t.host}:${t.port}`).join(',');
    return `${hostports}|${STAND_IN_VERSION}|${hostports}`;
  }

  route(conn: AppConnection, verb: string): void {
    this.clients.wantsRequests(conn, verb);
  }

  removeRoute(conn: AppConnection, verb: string): void {
    this.clients.noLongerWantsRequests(conn, verb);
  }

  sip(conn: AppConnection, msg: ClientMessage): void {
    this.dialogs.handleClientSip(conn, msg);
  }

  closed(conn: AppConnection): void {
    this.clients.leave(conn);
  }

  // ---- the network side ----------------------------------------------------------------

  private onSipRequest(req: SipRequest, txn: ServerTransaction): void {
    if (req.method === 'CANCEL') return this.onCancel(req, txn);
    const leg = this.dialogs.findLeg(req);
    if (leg) return this.dialogs.processRequestInsideDialog(req, txn, leg);
    this.processNewRequestStatelessly(req, txn);
  }

  /** processMessageStatelessly: a request that matches no dialog. */
  processNewRequestStatelessly(req: SipRequest, txn: ServerTransaction): void {
    const reply = (status: number): void => void txn.respond(this.stack.createResponse(req, status));
    if (NEW_REQUEST_METHODS.has(req.method)) {
      const invalid = this.checkRegister(req);
      if (invalid) return reply(invalid);
      if (req.method === 'INVITE') reply(100);
      const status = this.processNewRequest(req, txn);
      if (status >= 0 && req.method === 'INVITE') this.cdr.attempt('network', encodeStackMessage(req));
      if (status > 0) {
        reply(status);
        if (req.method === 'INVITE') this.cdr.stop('application', 'call-rejected', encodeStackMessage(req));
      }
      return;
    }
    if (req.method === 'BYE' || req.method === 'UPDATE' || req.method === 'CANCEL') return reply(481);
    // REFER outside a dialog, stray ACK/PRACK, unknown methods: nta_msg_discard, no response.
    this.log(`discarding ${req.method} ${req.callId} that matches no dialog`);
    txn.destroy();
  }

  /** REGISTER sanity checks of processMessageStatelessly. */
  private checkRegister(req: SipRequest): number | undefined {
    if (req.method !== 'REGISTER') return undefined;
    const contact = req.get('Contact');
    if (!contact) return undefined;
    if (contact.trim() === '*') {
      const expires = Number(req.get('Expires') ?? '0');
      return expires !== 0 ? 400 : undefined;
    }
    return /(sips?|tel):/i.test(contact) ? undefined : 400;
  }

  /** PendingRequestController::processNewRequest: 0 = handed to an app, else a status to send. */
  private processNewRequest(req: SipRequest, txn: ServerTransaction): number {
    if (req.method === 'INVITE' && req.toTag) return 481; // "a to tag that we are not tracking"
    const client = this.clients.selectClientForRequestOutsideDialog(req.method);
    if (!client) {
      this.log(`no app routed for ${req.method}: 503`);
      return 503;
    }
    const txnId = uuid();
    const meta = this.dialogs.incomingMeta(req);
    this.pending.add(new PendingRequest(txnId, req, txn, meta));
    this.clients.addNetTransaction(client, txnId);
    const local = this.dialogs.localTransport(req.wire?.protocol ?? 'udp');
    client.sendNewRequest(txnId, encodeStackMessage(req), meta, { address: local.host, port: local.port });
    return 0;
  }

  private onCancel(cancel: SipRequest, txn: ServerTransaction): void {
    const invite = this.stack.layer.findInviteServer(cancel);
    const parked = this.pending.findInviteByCallId(cancel.callId);
    if (parked && !parked.canceled && (!invite || parked.txn === invite)) return this.cancelParkedInvite(cancel, txn, parked);
    if (this.dialogs.processCancel(cancel, txn, invite)) return;
    txn.respond(this.stack.createResponse(cancel, 481));
  }

  /**
   * "quick cancel for invite that is out to client for disposition": the app has not answered
   * yet. It gets the CANCEL under the INVITE's transaction id; the caller gets 200 and 487.
   */
  private cancelParkedInvite(cancel: SipRequest, txn: ServerTransaction, p: PendingRequest): void {
    const client = this.clients.findClientForNetTransaction(p.transactionId);
    client?.sendNewRequest(p.transactionId, encodeStackMessage(cancel), this.dialogs.incomingMeta(cancel));
    txn.respond(this.stack.createResponse(cancel, 200));
    p.canceled = true;
    if (p.txn instanceof InviteServerTransaction) p.txn.respond(this.stack.createResponse(p.request, 487));
  }

  /** The app never answered within 64 s: forget the request, without a response. */
  private pendingTimedOut(p: PendingRequest): void {
    this.log(`no app response for ${p.request.method} ${p.request.callId}; forgetting it`);
    this.clients.removeNetTransaction(p.transactionId);
    p.txn.destroy();
  }
}
