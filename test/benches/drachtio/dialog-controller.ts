/**
 * Dialogs, invites in progress and the requests and responses between apps and the network:
 * SipDialogController in drachtio-server's sip-dialog-controller.cpp. Method names follow the
 * C++ so the two can be read side by side.
 *
 * App -> network
 *   respondToSipRequest      an app's response to a request from the network
 *   sendRequestOutsideDialog a new request from an app (INVITE and SUBSCRIBE start a dialog)
 *   sendRequestInsideDialog  BYE, re-INVITE, REFER, NOTIFY, INFO, ACK ... in a dialog
 *   sendCancelRequest        CANCEL for an INVITE the app sent
 * Each is answered to the app with "OK|<meta>|<txnId>|...|Msg sent:|\r\n<what went out>" or
 * "NOK|<reason>".
 *
 * Network -> app
 *   processRequestInsideDialog  requests matching a dialog ("leg" in sofia terms)
 *   processAck                  ACK for a 2xx
 *   processCancel               CANCEL for an INVITE in progress, or after the 200 OK
 *   responses to app requests   (processResponseOutsideDialog / processResponseInsideDialog)
 *
 * And on its own: retransmitting a 200 OK until the ACK and, if none comes within 64*T1,
 * sending BYE and telling the app with an "unsolicited" BYE (endRetransmitFinalResponse).
 */
import {
  AckTimeoutError,
  Dialog,
  InviteServerTransaction,
  SipRequest,
  SipResponse,
  destinationFor,
  newCallId,
  newTag,
  parseNameAddr,
  parseUri,
  reasonPhrase,
  serializeMessage,
  withTag,
  type Header,
  type OutgoingRequest,
  type Protocol,
  type SendOptions,
  type ServerTransaction,
  type SipStack,
} from '../sip/index.js';
import type { AppConnection, ClientMessage } from './app-connection.js';
import { uuid } from './app-connection.js';
import type { CdrPoster } from './cdr.js';
import type { ClientController } from './client-controller.js';
import { headerValue, parseAppHeaders, replaceLocalhost, withoutHeaders } from './headers.js';
import { byteLength, formatMeta, makeMeta, type SipMsgMeta } from './meta.js';
import { encodeStackMessage } from './encoding.js';
import type { PendingRequestController } from './pending-requests.js';
import type { TportCache } from './tport-cache.js';
import { SipDialog, makeDialogId, type Iip, type UacIip, type UasIip } from './sip-dialog.js';

const CRLF = '\r\n';
const BYE_CLEANUP_MS = 32_000;

export interface LocalTransport {
  protocol: Protocol;
  host: string;
  port: number;
}

export interface DialogControllerDeps {
  stack: SipStack;
  clients: ClientController;
  pending: PendingRequestController;
  cdr: CdrPoster;
  transports: LocalTransport[];
  tports: TportCache;
  /** processMessageStatelessly, for requests that arrive in an early dialog no app owns. */
  processNewRequest: (req: SipRequest, txn: ServerTransaction) => void;
  log: (line: string) => void;
}

/** A request from the network handed to an app and not yet answered (m_mapTransactionId2Irq). */
interface IncomingRequest {
  request: SipRequest;
  txn: ServerTransaction;
  dialog?: SipDialog;
}

/** A request an app sent, awaiting responses (RIP, "request in progress"). */
interface Rip {
  transactionId: string;
  dialogId: string;
  clearDialogOnResponse: boolean;
  /** The C++ forgets the RIP after the first response it passes up; later ones are dropped. */
  done: boolean;
}

export class SipDialogController {
  private readonly iips = new Map<string, Iip>();
  /** Stable dialogs by dialog id (SD_Insert / SD_FindByDialogId). */
  private readonly dialogs = new Map<string, SipDialog>();
  /** Dialogs and UAS invites in progress by Call-ID|local tag|remote tag (sofia's legs). */
  private readonly legs = new Map<string, SipDialog>();
  private readonly incoming = new Map<string, IncomingRequest>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly d: DialogControllerDeps) {}

  // ======================================================================================
  // App -> network
  // ======================================================================================

  /** Client::processClientMessage, "sip" branch. */
  handleClientSip(conn: AppConnection, msg: ClientMessage): void {
    const [msgId = '', , txnId = '', dialogId = '', routeUrl = ''] = msg.tokens;
    if (msg.startLine.startsWith('SIP/')) {
      if (!txnId) {
        conn.respond(msgId, false, 'transaction id missing');
        conn.close();
        return;
      }
      this.d.clients.addApiRequest(conn, msgId);
      this.respondToSipRequest(msgId, txnId, msg.startLine, msg.headers, msg.body);
      return;
    }
    if (dialogId) return this.sendRequestInsideDialog(conn, msgId, dialogId, msg.startLine, msg.headers, msg.body);
    if (txnId) {
      this.d.clients.addApiRequest(conn, msgId);
      if (msg.startLine.startsWith('CANCEL')) return this.sendCancelRequest(msgId, txnId, msg.headers);
      // The C++ asserts here: CANCEL is the only request sent inside a transaction.
      this.apiFail(msgId, `only CANCEL may name a transaction id`);
      return;
    }
    this.sendRequestOutsideDialog(conn, msgId, msg.startLine, msg.headers, msg.body, routeUrl);
  }

  private apiOk(clientMsgId: string, data: string): void {
    this.d.clients.routeApiResponse(clientMsgId, 'OK', data);
  }

  private apiFail(clientMsgId: string, reason: string): void {
    this.d.clients.routeApiResponse(clientMsgId, 'NOK', reason);
  }

  // ---- responses from apps --------------------------------------------------------------

  /** doRespondToSipRequest */
  respondToSipRequest(clientMsgId: string, txnId: string, startLine: string, headers: string, body: string): void {
    const status = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/.exec(startLine);
    const code = Number(status?.[1] ?? 0);
    const reason = status?.[2] || reasonPhrase(code);

    let irq = this.takeIncoming(txnId);
    const existingDialog = !!irq;
    let iip: Iip | undefined;
    if (!irq) {
      iip = this.iips.get(txnId);
      if (!iip && this.setupLegForIncomingRequest(txnId, toTagIn(headers))) {
        iip = this.iips.get(txnId);
        if (!iip) irq = this.takeIncoming(txnId);
      }
    }

    if (irq) this.respondOnIncoming(clientMsgId, txnId, irq, existingDialog, code, reason, headers, body);
    else if (iip?.kind === 'uas') this.respondOnIip(clientMsgId, iip, code, reason, headers, body);
    else this.apiFail(clientMsgId, 'Response not sent due to unknown transaction');

    const method = irq?.request.method ?? iip?.request.method;
    if (!method) return;
    const isInvite = method === 'INVITE';
    if ((!isInvite && code >= 200) || (isInvite && code > 200) || (isInvite && code === 200 && existingDialog)) {
      this.d.clients.removeNetTransaction(txnId);
    }
  }

  /**
   * setupLegForIncomingRequest (controller.cpp): the app's first response to a parked request.
   * INVITE and SUBSCRIBE become invites in progress with a local tag (the app may pick it in
   * its To header); other requests become plain incoming transactions.
   */
  private setupLegForIncomingRequest(txnId: string, tag: string | undefined): boolean {
    const p = this.d.pending.findAndRemove(txnId);
    if (!p || p.canceled) return false;
    const req = p.request;
    if (req.method === 'INVITE' || req.method === 'SUBSCRIBE') {
      const remoteTag = req.fromTag ?? '';
      const dialog = new SipDialog('uas', txnId, req.callId, makeDialogId(req.callId, remoteTag), req.method, req.wire?.protocol ?? 'udp');
      dialog.localTag = tag || newTag();
      dialog.remoteTag = remoteTag;
      const iip: UasIip = { kind: 'uas', transactionId: txnId, dialog, request: req, txn: p.txn };
      this.iips.set(txnId, iip);
      this.indexLeg(dialog);
      // A non-2xx final leaves the invite in progress until its ACK; forget it with the transaction.
      p.txn.onStateChange((state) => {
        if (state === 'terminated' && dialog.sipStatus >= 300) this.clearIip(iip);
      });
      return true;
    }
    this.incoming.set(txnId, { request: req, txn: p.txn });
    return true;
  }

  /** Response on a plain incoming transaction: a non-INVITE, or any request inside a dialog. */
  private respondOnIncoming(
    clientMsgId: string,
    txnId: string,
    irq: IncomingRequest,
    existingDialog: boolean,
    code: number,
    reason: string,
    headers: string,
    body: string,
  ): void {
    const req = irq.request;
    const transport = this.localTransport(req.wire?.protocol ?? 'udp');
    const appHeaders = parseAppHeaders(headers, transport);
    const res = this.d.stack.createResponse(req, code, reason, { toTag: req.toTag });
    this.applyAppHeaders(res, appHeaders);
    if ((req.method === 'INVITE' || req.method === 'SUBSCRIBE') && !headerValue(appHeaders, 'Contact')) {
      res.set('Contact', this.contactFor(transport.protocol));
    }
    setBody(res, body, appHeaders, false);
    if (!irq.txn.respond(res)) return this.apiFail(clientMsgId, 'transport for response has been shutdown or closed');
    this.rememberClientTport(req, res);

    let dialogId = '';
    if (existingDialog && irq.dialog) {
      dialogId = irq.dialog.dialogId;
      irq.dialog.pendingIncoming.delete(txnId);
    }
    this.apiOk(clientMsgId, this.responseEcho(res, req, txnId, dialogId));
  }

  /** Response to an INVITE or SUBSCRIBE from the network (the invite-in-progress branch). */
  private respondOnIip(clientMsgId: string, iip: UasIip, code: number, reason: string, headers: string, body: string): void {
    const dlg = iip.dialog;
    const req = iip.request;
    if (dlg.sipStatus >= 200) {
      // The C++ discards a second final response but still answers OK with the one it sent.
      const last = iip.txn.response;
      if (last) this.apiOk(clientMsgId, this.responseEcho(last, req, iip.transactionId, dlg.dialogId));
      else this.apiFail(clientMsgId, 'final response already sent');
      return;
    }
    const transport = this.localTransport(dlg.protocol);
    const appHeaders = parseAppHeaders(headers, transport);
    const customContact = headerValue(appHeaders, 'Contact');
    const contact = this.contactFor(transport.protocol);
    dlg.localContact = customContact ?? contact;
    dlg.sipStatus = code;

    const res = this.d.stack.createResponse(req, code, reason, { toTag: dlg.localTag });
    this.applyAppHeaders(res, appHeaders);
    if (code >= 200 && code < 300 && !customContact) res.set('Contact', contact);
    setBody(res, body, appHeaders, false);

    if (req.method === 'INVITE' && code === 200) this.sendInvite200(iip, res);
    else if (!iip.txn.respond(res)) return this.apiFail(clientMsgId, 'transport for response has been shutdown or closed');

    if (req.method === 'SUBSCRIBE' && code >= 200) {
      if (code === 200 || code === 202) this.addDialog(dlg, Dialog.asUas(req, res, dlg.localContact));
      this.clearIip(iip);
    }
    this.apiOk(clientMsgId, this.responseEcho(res, req, iip.transactionId, dlg.dialogId));
    if (req.method === 'INVITE' && code >= 300) this.d.cdr.stop('application', 'call-rejected', serializeMessage(res));
    else if (req.method === 'INVITE' && code === 200) this.d.cdr.start('application', 'uas', serializeMessage(res));
  }

  /**
   * 200 OK to an INVITE: the dialog is established now, not at the ACK. On UDP the 200 is
   * retransmitted (the C++ "timerG", T1 doubling to T2); on any transport, no ACK within 64*T1
   * ("timerH") ends the call with a BYE (endRetransmitFinalResponse).
   */
  private sendInvite200(iip: UasIip, res: SipResponse): void {
    const dlg = iip.dialog;
    dlg.answeredAt = Date.now();
    this.addDialog(dlg, Dialog.asUas(iip.request, res, dlg.localContact));
    if (!(iip.txn instanceof InviteServerTransaction)) return;
    this.d.stack.sendInvite2xx(iip.txn, res).then(
      () => undefined, // the ACK itself is handled by processAck
      (err: unknown) => {
        if (err instanceof AckTimeoutError && this.iips.get(iip.transactionId) === iip) this.endRetransmitFinalResponse(iip);
      },
    );
  }

  private responseEcho(res: SipResponse, req: SipRequest, txnId: string, dialogId: string): string {
    const text = serializeMessage(res);
    const wire = req.wire;
    // The real server leaves the protocol of this echo empty (see meta.ts).
    const meta = makeMeta('application', byteLength(text), '', wire?.address ?? '', wire?.port ?? 0);
    return `${formatMeta(meta)}|${txnId}|${dialogId}||Msg sent:|${CRLF}${text}`;
  }

  // ---- requests from apps outside a dialog -------------------------------------------------

  /** doSendRequestOutsideDialog */
  private sendRequestOutsideDialog(
    conn: AppConnection,
    clientMsgId: string,
    startLine: string,
    headers: string,
    body: string,
    routeUrl: string,
  ): void {
    const txnId = uuid();
    const line = /^([A-Z]+)\s+(\S+)\s+SIP\/2\.0$/.exec(startLine.trim());
    const method = line?.[1] ?? '';
    if (method !== 'ACK') this.d.clients.addAppTransaction(conn, txnId);
    this.d.clients.addApiRequest(conn, clientMsgId);
    const fail = (reason: string): void => {
      this.apiFail(clientMsgId, reason);
      this.d.clients.removeAppTransaction(txnId);
    };

    const requestUri = line?.[2] ?? '';
    if (!line || !isSipUri(requestUri)) return fail(`invalid request-uri: ${startLine}`);
    const cachedTport = ['INVITE', 'OPTIONS', 'NOTIFY', 'MESSAGE'].includes(method) ? this.d.tports.find(requestUri) : undefined;
    const transport = cachedTport ? this.localTransport(cachedTport.protocol) : this.selectTransport(routeUrl || requestUri);
    if (!transport) return fail('requested protocol/transport not available');
    const contact = this.contactFor(transport.protocol);
    const appHeaders = parseAppHeaders(headers, transport);
    if (this.isLocalSipUri(requestUri)) return fail('can not send request to myself');

    const req = this.buildRequestOutsideDialog(method, requestUri, appHeaders, contact, transport);
    if (!setBody(req, body, appHeaders)) return fail('missing content-type');

    const cached = cachedTport;
    const destination = cached
      ? { protocol: cached.protocol, address: cached.address, port: cached.port, connectionId: cached.connectionId, strict: true }
      : routeUrl
        ? destinationFor(new SipRequest('OPTIONS', routeUrl), transport.protocol)
        : undefined;
    const isDialogCreating = method === 'INVITE' || method === 'SUBSCRIBE';
    const dialog = isDialogCreating
      ? new SipDialog('uac', txnId, req.callId, makeDialogId(req.callId, req.fromTag ?? ''), method, transport.protocol)
      : undefined;
    const rip: Rip = { transactionId: txnId, dialogId: '', clearDialogOnResponse: false, done: false };

    let iip: UacIip | undefined;
    const out = this.d.stack.sendRequest(req, {
      destination: destination ?? destinationFor(req, transport.protocol),
      onResponse: (res) => (iip ? this.processResponseOutsideDialog(iip, res) : this.processResponseToRip(rip, res, out)),
    });
    if (dialog) {
      dialog.localTag = req.fromTag;
      dialog.localContact = headerValue(appHeaders, 'Contact') ?? contact;
      iip = { kind: 'uac', transactionId: txnId, dialog, request: req, out, canceled: false, reinvite: false, got2xx: false };
      this.iips.set(txnId, iip);
      if (method === 'INVITE') this.d.cdr.attempt('application', serializeMessage(req));
    }
    this.apiOk(clientMsgId, this.requestEcho(req, out, txnId));
  }

  private buildRequestOutsideDialog(
    method: string,
    uri: string,
    appHeaders: Header[],
    contact: string,
    transport: LocalTransport,
  ): SipRequest {
    const from = headerValue(appHeaders, 'From');
    const req = new SipRequest(method, uri);
    req.add('Max-Forwards', '70');
    req.add('From', withTag(from ? replaceLocalhost(from, transport) : contact, newTag()));
    // sofia writes the Request-URI as given, parameters and all, when the app names no To.
    req.add('To', headerValue(appHeaders, 'To') ?? uri);
    req.add('Call-ID', headerValue(appHeaders, 'Call-ID') ?? newCallId(transport.host));
    req.add('CSeq', headerValue(appHeaders, 'CSeq') ?? `${1 + Math.floor(Math.random() * 30_000)} ${method}`);
    if ((method === 'INVITE' || method === 'SUBSCRIBE') && !headerValue(appHeaders, 'Contact')) req.add('Contact', contact);
    this.applyAppHeaders(req, withoutHeaders(appHeaders, ['From', 'To', 'Call-ID', 'CSeq']));
    return req;
  }

  /** processResponseOutsideDialog, INVITE/SUBSCRIBE branch. */
  private processResponseOutsideDialog(iip: UacIip, res: SipResponse): void {
    if (res.status === 100) return; // sofia never passes 100 Trying up
    const dlg = iip.dialog;
    const isInvite = res.cseq.method === 'INVITE';
    const is2xx = res.status >= 200 && res.status < 300;
    // A retransmitted 2xx: the stack re-sends the app's ACK (TimerDHandler::resendIfNeeded).
    if (isInvite && is2xx && iip.got2xx) return;
    if (is2xx) iip.got2xx = true;
    if (iip.reinvite) return this.processResponseInsideDialog(iip, res);

    dlg.sipStatus = res.status;
    const establishes =
      (isInvite && (res.status === 200 || (res.status > 100 && res.status < 200 && res.has('RSeq')))) ||
      (!isInvite && (res.status === 200 || res.status === 202));
    if (establishes && !dlg.stable) {
      dlg.remoteTag = res.toTag;
      if (iip.canceled) dlg.ackBye = true; // 200 OK crossed our CANCEL
      this.addDialog(dlg, Dialog.asUac(iip.request, res));
    }
    if (isInvite && res.status >= 200 && res.status < 300) dlg.last2xx = res;
    if (res.status > 200) this.clearIip(iip);
    else if (!isInvite && res.status >= 200) this.clearIip(iip);

    this.relayResponse(res, iip.out, iip.transactionId, dlg.dialogId);
    if (isInvite && res.status >= 300) {
      this.d.cdr.stop('network', res.status === 487 ? 'call-canceled' : 'call-rejected', res.raw ?? '');
    } else if (isInvite && res.status === 200) {
      this.d.cdr.start('network', 'uac', res.raw ?? '');
    }
    if (isInvite && res.status > 200) this.d.clients.removeDialog(dlg.dialogId);
  }

  /** processResponseOutsideDialog (non-INVITE) and processResponseInsideDialog share this. */
  private processResponseToRip(rip: Rip, res: SipResponse, out: OutgoingRequest): void {
    if (res.status === 100 || rip.done) return;
    rip.done = true;
    this.relayResponse(res, out, rip.transactionId, rip.dialogId);
    if (!rip.clearDialogOnResponse) return;
    const challenged = res.cseq.method === 'BYE' && (res.status === 401 || res.status === 407);
    const dlg = this.dialogs.get(rip.dialogId);
    if (!challenged && dlg) this.clearDialog(dlg);
  }

  // ---- requests from apps inside a dialog --------------------------------------------------

  /** doSendRequestInsideDialog */
  private sendRequestInsideDialog(
    conn: AppConnection,
    clientMsgId: string,
    dialogId: string,
    startLine: string,
    headers: string,
    body: string,
  ): void {
    const txnId = uuid();
    const line = /^([A-Za-z]+)\s+(\S+)/.exec(startLine.trim());
    const method = (line?.[1] ?? '').toUpperCase();
    if (method !== 'ACK') this.d.clients.addAppTransaction(conn, txnId);
    this.d.clients.addApiRequest(conn, clientMsgId);
    const fail = (reason: string): void => {
      this.apiFail(clientMsgId, `Server error: ${reason}`);
      this.d.clients.removeAppTransaction(txnId);
    };

    const dlg = this.dialogs.get(dialogId);
    if (!dlg?.sip) {
      return fail(
        method === 'ACK'
          ? 'ACK for non-success final response is automatically generated by server'
          : 'unable to find dialog for dialog id provided',
      );
    }
    if (!isKnownMethod(method)) return fail(`invalid or missing method supplied on start line: ${startLine}`);
    if (method === 'BYE') this.cancelReinviteInProgress(dlg);

    const transport = this.localTransport(dlg.protocol);
    const appHeaders = parseAppHeaders(headers, transport);
    if (body && !headerValue(appHeaders, 'Content-Type') && !body.startsWith('v=0')) return fail('missing content-type');

    if (method === 'ACK') return this.sendAck(clientMsgId, txnId, dlg, appHeaders, body);
    if (method === 'PRACK') return fail('PRACK is not supported by the stand-in');

    const requestUri = line?.[2] ?? '';
    const req = dlg.sip.createRequest(method, {
      headers: withoutHeaders(appHeaders, ['From', 'To', 'Call-ID', 'CSeq', 'Contact']),
      body,
      contentType: headerValue(appHeaders, 'Content-Type') ?? 'application/sdp',
      contact: headerValue(appHeaders, 'Contact') ?? (['INVITE', 'SUBSCRIBE', 'REFER'].includes(method) ? dlg.localContact : false),
    });
    const toTarget = requestUri.includes('placeholder');
    if (!toTarget) req.uri = requestUri;

    const endsSubscription = method === 'NOTIFY' && !dlg.isInviteDialog && /terminated/.test(req.get('Subscription-State') ?? '');
    const rip: Rip = { transactionId: txnId, dialogId, clearDialogOnResponse: method === 'BYE' || endsSubscription, done: false };
    let iip: UacIip | undefined;
    const out = this.d.stack.sendRequest(req, {
      ...this.inDialogSendOptions(dlg, req, toTarget),
      onResponse: (res) => (iip ? this.processResponseOutsideDialog(iip, res) : this.processResponseToRip(rip, res, out)),
    });
    if (method === 'INVITE') {
      iip = { kind: 'uac', transactionId: txnId, dialog: dlg, request: req, out, canceled: false, reinvite: true, got2xx: false };
      this.iips.set(txnId, iip);
    }
    if (method === 'BYE') this.d.cdr.stop('application', 'normal-release', serializeMessage(req));
    this.apiOk(clientMsgId, this.requestEcho(req, out, txnId));
  }

  /** Responses to a re-INVITE the app sent (processResponseInsideDialog). */
  private processResponseInsideDialog(iip: UacIip, res: SipResponse): void {
    const dlg = iip.dialog;
    if (res.status >= 200 && res.status < 300) {
      dlg.last2xx = res;
      dlg.sip?.receiveResponse(res);
    }
    if (res.status >= 300) this.clearIip(iip);
    this.relayResponse(res, iip.out, iip.transactionId, dlg.dialogId);
  }

  /** ACK from the app for a 2xx to its INVITE or re-INVITE. */
  private sendAck(clientMsgId: string, txnId: string, dlg: SipDialog, appHeaders: Header[], body: string): void {
    if (dlg.sipStatus !== 200 || !dlg.last2xx || !dlg.sip) {
      this.clearDialog(dlg);
      this.apiFail(clientMsgId, 'ACK for non-success responses is automatically generated by the stack');
      return;
    }
    for (const iip of this.iipsForDialog(dlg)) if (iip.kind === 'uac') this.clearIip(iip);
    const res2xx = dlg.last2xx;
    const headers = withoutHeaders(appHeaders, ['From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Content-Type']);
    const contentType = headerValue(appHeaders, 'Content-Type') ?? 'application/sdp';
    this.d.stack.sendAck(dlg.sip, res2xx, { headers, body, contentType }).then(
      (ack) => {
        const text = serializeMessage(ack);
        const meta = this.sentRequestMeta(text, dlg.sip?.destination() ?? destinationFor(ack, dlg.protocol));
        this.apiOk(clientMsgId, `${formatMeta(meta)}|${txnId}|Msg sent:|${CRLF}${text}`);
        if (dlg.ackBye) this.notifyTerminateStaleDialog(dlg, 'SIP ;cause=200 ;text="ACK-BYE due to cancel race condition"');
      },
      (err: unknown) => this.apiFail(clientMsgId, `Server error: ${String(err)}`),
    );
  }

  /**
   * How a request in a dialog goes out: on the dialog's own connection (sofia forces the
   * dialog's tport; a closed one is an error, not a reconnect), or, when it is sent to the
   * remote target, on the connection cached for that target's user@host if that differs.
   */
  private inDialogSendOptions(dlg: SipDialog, req: SipRequest, toTarget = true): SendOptions {
    const cached = toTarget ? this.d.tports.find(req.uri) : undefined;
    const sip = dlg.sip;
    if (cached && cached.connectionId !== sip?.flow?.connectionId) {
      return { destination: { protocol: cached.protocol, address: cached.address, port: cached.port, connectionId: cached.connectionId, strict: true } };
    }
    return { dialog: sip, strictFlow: true };
  }

  /**
   * The irq branch of doRespondToSipRequest: a 200 to a REGISTER (or 2xx to a SUBSCRIBE)
   * over a connection caches that connection for the Contact's user@host (see tport-cache.ts).
   */
  private rememberClientTport(req: SipRequest, res: SipResponse): void {
    const wire = req.wire;
    const isRegister = req.method === 'REGISTER' && res.status === 200;
    const isSubscribe = req.method === 'SUBSCRIBE' && (res.status === 200 || res.status === 202);
    if (!wire || wire.protocol === 'udp' || !wire.connectionId || !(isRegister || isSubscribe)) return;
    const contact = req.get('Contact');
    if (!contact || contact.trim() === '*') return;
    let user: string | undefined;
    let host: string;
    try {
      const u = parseUri(parseNameAddr(contact).uri);
      user = u.user;
      host = u.host;
    } catch {
      return;
    }
    const expires = isRegister
      ? Number(parseNameAddr(res.get('Contact') ?? '<sip:x>').params.get('expires') ?? res.get('Expires') ?? 0)
      : Number(res.get('Expires') ?? 0);
    if (expires > 0) {
      this.d.tports.cache(user, host, expires, { protocol: wire.protocol, address: wire.address, port: wire.port, connectionId: wire.connectionId });
    } else {
      this.d.tports.flush(user, host);
    }
  }

  /** A BYE while our re-INVITE is outstanding: CANCEL the re-INVITE first. */
  private cancelReinviteInProgress(dlg: SipDialog): void {
    for (const iip of this.iipsForDialog(dlg)) {
      if (iip.kind !== 'uac' || !iip.reinvite) continue;
      iip.out.cancel();
      this.clearIip(iip);
    }
  }

  /** doSendCancelRequest */
  private sendCancelRequest(clientMsgId: string, txnId: string, headers: string): void {
    const iip = this.iips.get(txnId);
    if (!iip || iip.kind !== 'uac') {
      this.apiFail(clientMsgId, `unable to cancel unknown transaction id: ${txnId}`);
      return;
    }
    iip.canceled = true;
    const transport = this.localTransport(iip.dialog.protocol);
    const cancel = iip.out.cancel(parseAppHeaders(headers, transport, true));
    if (!cancel) {
      this.apiFail(clientMsgId, `internal server error canceling transaction id: ${txnId}`);
      return;
    }
    // Not tracked further: sofia does not pass the 200 OK to a CANCEL up.
    const text = serializeMessage(cancel.request);
    const meta = this.sentRequestMeta(text, iip.out.transaction.destination);
    this.apiOk(clientMsgId, `${formatMeta(meta)}|${uuid()}|Msg sent:|${CRLF}${text}`);
  }

  private requestEcho(req: SipRequest, out: OutgoingRequest, txnId: string): string {
    const text = serializeMessage(req);
    const meta = this.sentRequestMeta(text, out.transaction.destination);
    return `${formatMeta(meta)}|${txnId}|Msg sent:|${CRLF}${text}`;
  }

  /**
   * SipMsgData_t(msg, orq, "application"): the address is sofia's transport name, which is
   * our own address for UDP and the peer's for a TCP connection.
   */
  private sentRequestMeta(text: string, to: { protocol: Protocol; address: string; port: number }): SipMsgMeta {
    if (to.protocol === 'udp') {
      const local = this.localTransport('udp');
      return makeMeta('application', byteLength(text), 'udp', local.host, local.port);
    }
    return makeMeta('application', byteLength(text), to.protocol, to.address, to.port);
  }

  /** Hands a response from the wire to the app that sent the request. */
  private relayResponse(res: SipResponse, out: OutgoingRequest, transactionId: string, dialogId: string): void {
    this.d.clients.routeResponseInsideTransaction(
      res.raw ?? serializeMessage(res),
      this.networkMeta(res, out),
      { status: res.status, method: res.cseq.method },
      transactionId,
      dialogId,
    );
  }

  private networkMeta(res: SipResponse, out: OutgoingRequest): SipMsgMeta {
    const bytes = byteLength(res.raw ?? serializeMessage(res));
    const wire = res.wire;
    if (wire) return makeMeta('network', bytes, wire.protocol, wire.address, wire.port);
    const to = out.transaction.destination; // a response the stack made up (408, 503)
    return makeMeta('network', bytes, to.protocol, to.address, to.port);
  }

  // ======================================================================================
  // Network -> app
  // ======================================================================================

  /** The dialog (or UAS invite in progress) a request from the network belongs to. */
  findLeg(req: SipRequest): SipDialog | undefined {
    const local = req.toTag;
    const remote = req.fromTag;
    if (!local || remote === undefined) return undefined;
    return this.legs.get(legKey(req.callId, local, remote));
  }

  /** processRequestInsideDialog (non-ACK, non-CANCEL) */
  processRequestInsideDialog(req: SipRequest, txn: ServerTransaction, dlg: SipDialog): void {
    const txnId = uuid();
    const reply = (status: number): void => void txn.respond(this.d.stack.createResponse(req, status));
    const invalid = validateInDialogRequest(req);
    if (invalid) return reply(invalid);
    if (dlg.sip && !dlg.sip.receiveRequest(req)) return reply(500);
    if (req.method === 'INVITE') reply(100);
    if (req.method !== 'BYE') dlg.pendingIncoming.add(txnId);

    const endsSubscription =
      req.method === 'NOTIFY' && !dlg.isInviteDialog && /terminated/.test(req.get('Subscription-State') ?? '');
    const routed = this.d.clients.routeRequestInsideDialog(
      encodeStackMessage(req),
      this.incomingMeta(req),
      { method: req.method, endsSubscription },
      txnId,
      dlg.dialogId,
    );

    if (!routed && dlg.sipStatus < 200 && ['NOTIFY', 'OPTIONS', 'INFO', 'MESSAGE', 'PUBLISH', 'SUBSCRIBE'].includes(req.method)) {
      dlg.pendingIncoming.delete(txnId);
      this.d.processNewRequest(req, txn);
      return;
    }
    if (!routed && dlg.sipStatus >= 200 && req.method !== 'BYE') {
      dlg.pendingIncoming.delete(txnId);
      return reply(481);
    }
    this.incoming.set(txnId, { request: req, txn, dialog: dlg });
    if (req.method !== 'BYE' && !endsSubscription) return;

    // BYE (or the NOTIFY ending a subscription) clears the dialog on arrival.
    this.clearSipTimers(dlg);
    this.clearDialog(dlg);
    if (!routed) {
      this.incoming.delete(txnId);
      return reply(481);
    }
    if (req.method === 'BYE') {
      this.later(BYE_CLEANUP_MS, () => {
        // timeoutBye: an app that never answers the BYE gets it answered for it (sofia: 500).
        const stale = this.takeIncoming(txnId);
        if (!stale) return;
        this.d.clients.removeNetTransaction(txnId);
        stale.txn.respond(this.d.stack.createResponse(stale.request, 500));
      });
      for (const iip of this.iipsForDialog(dlg)) {
        if (iip.kind !== 'uac' || !iip.reinvite) continue;
        this.d.clients.removeAppTransaction(iip.transactionId);
        this.clearIip(iip);
      }
      this.d.cdr.stop('network', 'normal-release', encodeStackMessage(req));
    }
  }

  /** ACK for a 2xx (processRequestInsideDialog, ACK case). */
  processAck(ack: SipRequest): void {
    const dlg = this.findLeg(ack);
    if (!dlg) return; // "stale or invalid ACK"
    const iip = this.iipsForDialog(dlg).find((i) => i.kind === 'uas');
    const txnId = iip ? iip.transactionId : uuid();
    if (iip) this.clearIip(iip);
    this.clearSipTimers(dlg);
    this.d.clients.routeAckRequestInsideDialog(encodeStackMessage(ack), this.incomingMeta(ack), txnId, dlg.transactionId, dlg.dialogId);
  }

  /**
   * A CANCEL from the network for an INVITE the app has started answering (processCancelOrAck,
   * reached through sofia's incoming_cancel) or, after the 200 OK, for a confirmed dialog.
   * Returns false when it matches neither, so the caller treats it statelessly.
   */
  processCancel(cancel: SipRequest, txn: ServerTransaction, invite: InviteServerTransaction | undefined): boolean {
    const iip = invite ? this.uasIipFor(invite) : undefined;
    if (iip) {
      this.cancelInviteInProgress(cancel, txn, iip);
      return true;
    }
    const dlg = this.findLegForCancel(cancel);
    if (!dlg) return false;
    // sofia keeps an INVITE transaction answered 2xx for T4 (its inv_confirmed queue) after the
    // 200 OK, ACK or not; a CANCEL that finds it gets 481 there and nothing else happens.
    if (dlg.answeredAt !== undefined && Date.now() - dlg.answeredAt < this.d.stack.timers.T4) {
      txn.respond(this.d.stack.createResponse(cancel, 481));
      return true;
    }
    // Later the CANCEL reaches the dialog ("CANCEL after 200 OK"): 481, a BYE to the caller,
    // and an unsolicited BYE to the app.
    txn.respond(this.d.stack.createResponse(cancel, 481));
    this.clearSipTimers(dlg);
    this.notifyTerminateStaleDialog(dlg, 'SIP ;cause=200 ;text="CANCEL after 200 OK"');
    return true;
  }

  /** sofia's incoming_cancel, then processCancelOrAck. */
  private cancelInviteInProgress(cancel: SipRequest, txn: ServerTransaction, iip: UasIip): void {
    const dlg = iip.dialog;
    if (dlg.sipStatus >= 200 && dlg.sipStatus < 300) {
      txn.respond(this.d.stack.createResponse(cancel, 481)); // the INVITE is answered: RFC 3261 §9.2
      return;
    }
    txn.respond(this.d.stack.createResponse(cancel, 200, undefined, { toTag: dlg.localTag }));
    if (dlg.sipStatus >= 300) return; // final response already sent
    this.d.clients.routeRequestInsideInvite(encodeStackMessage(cancel), this.incomingMeta(cancel), iip.transactionId, dlg.dialogId);
    this.d.cdr.stop('network', 'call-canceled', encodeStackMessage(cancel));
    this.d.clients.removeNetTransaction(iip.transactionId);
    this.clearIip(iip);
    iip.txn.respond(this.d.stack.createResponse(iip.request, 487, undefined, { toTag: dlg.localTag }));
  }

  private uasIipFor(invite: InviteServerTransaction): UasIip | undefined {
    for (const iip of this.iips.values()) if (iip.kind === 'uas' && iip.txn === invite) return iip;
    return undefined;
  }

  /** sofia's leg_find for a CANCEL (no To tag): a UAS dialog with this Call-ID and From tag. */
  private findLegForCancel(cancel: SipRequest): SipDialog | undefined {
    for (const dlg of this.dialogs.values()) {
      if (dlg.type === 'uas' && dlg.callId === cancel.callId && dlg.remoteTag === cancel.fromTag) return dlg;
    }
    return undefined;
  }

  /** No ACK for our 200 OK within 64*T1: BYE with "ACK timeout" (endRetransmitFinalResponse). */
  private endRetransmitFinalResponse(iip: UasIip): void {
    this.clearIip(iip);
    this.d.log(`no ACK for 200 OK to ${iip.request.callId}; sending BYE`);
    this.notifyTerminateStaleDialog(iip.dialog, 'SIP ;cause=200 ;text="ACK timeout"');
  }

  /**
   * notifyTerminateStaleDialog: the server ends a dialog on its own. It sends a BYE with a
   * Reason header and hands the app the BYE as if it had been received, with transaction id
   * "unsolicited" and source "application" (drachtio-srf then emits 'destroy' with the
   * Reason's text).
   */
  private notifyTerminateStaleDialog(dlg: SipDialog, reason: string): void {
    const sip = dlg.sip;
    if (!sip) return this.clearDialog(dlg);
    // sofia parses SIPTAG_REASON_STR and writes it back without the spaces.
    const bye = sip.createRequest('BYE', { headers: [{ name: 'Reason', value: reason.replace(/\s*;\s*/g, ';') }] });
    const out = this.d.stack.sendRequest(bye, this.inDialogSendOptions(dlg, bye));
    const text = serializeMessage(bye);
    this.d.clients.routeRequestInsideDialog(
      text,
      this.sentRequestMeta(text, out.transaction.destination),
      { method: 'BYE', endsSubscription: false },
      'unsolicited',
      dlg.dialogId,
    );
    this.d.cdr.stop('application', 'system-initiated-termination', text);
    this.clearDialog(dlg);
  }

  // ======================================================================================
  // Bookkeeping
  // ======================================================================================

  /** addDialog: SD_Insert plus ClientController::addDialogForTransaction. */
  private addDialog(dlg: SipDialog, sip: Dialog): void {
    dlg.sip = sip;
    dlg.localTag = sip.localTag;
    dlg.remoteTag = sip.remoteTag;
    dlg.stable = true;
    this.dialogs.set(dlg.dialogId, dlg);
    this.indexLeg(dlg);
    this.d.clients.addDialogForTransaction(dlg.transactionId, dlg.dialogId);
  }

  /** SD_Clear: the dialog is gone; requests for it now get 481. */
  private clearDialog(dlg: SipDialog): void {
    dlg.stable = false;
    if (this.dialogs.get(dlg.dialogId) === dlg) this.dialogs.delete(dlg.dialogId);
    if (this.iipsForDialog(dlg).length === 0) this.unindexLeg(dlg);
    for (const txnId of dlg.pendingIncoming) {
      // clearDanglingIncomingRequests: unanswered requests in a dead dialog are dropped.
      const irq = this.takeIncoming(txnId);
      this.d.clients.removeNetTransaction(txnId);
      irq?.txn.respond(this.d.stack.createResponse(irq.request, 500));
    }
    dlg.pendingIncoming.clear();
  }

  private clearIip(iip: Iip): void {
    if (this.iips.get(iip.transactionId) !== iip) return;
    this.iips.delete(iip.transactionId);
    if (!iip.dialog.stable && this.iipsForDialog(iip.dialog).length === 0) this.unindexLeg(iip.dialog);
  }

  /** Stop retransmitting our 200 OK (the C++ timers G and H on the dialog). */
  private clearSipTimers(dlg: SipDialog): void {
    const sip = dlg.sip;
    if (sip?.role === 'uas' && sip.inviteSeq !== undefined) this.d.stack.abandon2xx(dlg.callId, sip.inviteSeq, dlg.localTag);
  }

  private iipsForDialog(dlg: SipDialog): Iip[] {
    return [...this.iips.values()].filter((i) => i.dialog === dlg);
  }

  private indexLeg(dlg: SipDialog): void {
    if (dlg.localTag && dlg.remoteTag !== undefined) this.legs.set(legKey(dlg.callId, dlg.localTag, dlg.remoteTag), dlg);
  }

  private unindexLeg(dlg: SipDialog): void {
    if (!dlg.localTag || dlg.remoteTag === undefined) return;
    const key = legKey(dlg.callId, dlg.localTag, dlg.remoteTag);
    if (this.legs.get(key) === dlg) this.legs.delete(key);
  }

  private takeIncoming(txnId: string): IncomingRequest | undefined {
    const irq = this.incoming.get(txnId);
    this.incoming.delete(txnId);
    return irq;
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  incomingMeta(req: SipRequest): SipMsgMeta {
    const wire = req.wire;
    return makeMeta('network', byteLength(req.raw ?? serializeMessage(req)), wire?.protocol ?? 'udp', wire?.address ?? '', wire?.port ?? 0);
  }

  private applyAppHeaders(msg: SipRequest | SipResponse, headers: Header[]): void {
    // Dialog-level headers of a response are the request's; the app's copies are ignored.
    const skip = msg instanceof SipResponse ? new Set(['From', 'To', 'Call-ID', 'CSeq']) : new Set<string>();
    const seen = new Set<string>();
    for (const h of headers) {
      if (skip.has(h.name)) continue;
      // The first occurrence replaces what the stack put there; further ones add (e.g. two Contacts).
      if (seen.has(h.name)) msg.add(h.name, h.value);
      else msg.set(h.name, h.value);
      seen.add(h.name);
    }
  }

  localTransport(protocol: Protocol): LocalTransport {
    const t = this.d.transports.find((x) => x.protocol === protocol) ?? this.d.transports[0];
    if (!t) throw new Error('no SIP transport');
    return t;
  }

  /** SipTransport::getContactUri: "<sip:host:port>" plus ";transport=tcp" when not UDP. */
  contactFor(protocol: Protocol): string {
    const t = this.localTransport(protocol);
    return `<sip:${t.host}:${t.port}${t.protocol === 'udp' ? '' : `;transport=${t.protocol}`}>`;
  }

  /** SipTransport::findAppropriateTransport: the URI's transport parameter, else the first. */
  private selectTransport(uri: string): LocalTransport | undefined {
    let tp: string | undefined;
    try {
      const bare = uri.trim().replace(/^<(.*)>$/, '$1');
      tp = parseUri(bare).params.get('transport')?.toLowerCase() ?? undefined;
    } catch {
      tp = undefined;
    }
    if (!tp) return this.d.transports[0];
    return this.d.transports.find((t) => t.protocol === tp);
  }

  private isLocalSipUri(uri: string): boolean {
    try {
      const u = parseUri(uri);
      return this.d.transports.some((t) => t.host === u.host && t.port === (u.port ?? 5060));
    } catch {
      return false;
    }
  }

  counts(): Record<string, number> {
    return { iips: this.iips.size, dialogs: this.dialogs.size, legs: this.legs.size, incoming: this.incoming.size };
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

function legKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

function toTagIn(headers: string): string | undefined {
  const to = /^(?:to|t)\s*:(.*)$/im.exec(headers)?.[1];
  return to ? /tag=([^;>\s]+)/.exec(to)?.[1] : undefined;
}

function isSipUri(uri: string): boolean {
  try {
    const u = parseUri(uri);
    return (u.scheme === 'sip' || u.scheme === 'sips') && !!u.host;
  } catch {
    return false;
  }
}

const KNOWN_METHODS = new Set([
  'INVITE', 'ACK', 'PRACK', 'CANCEL', 'BYE', 'OPTIONS', 'REGISTER', 'INFO', 'UPDATE', 'MESSAGE', 'SUBSCRIBE',
  'NOTIFY', 'REFER', 'PUBLISH',
]);

function isKnownMethod(m: string): boolean {
  return KNOWN_METHODS.has(m);
}

/** controller.cpp validateSipMessage */
function validateInDialogRequest(req: SipRequest): number | undefined {
  if (req.method === 'INVITE' && !req.get('Contact')) return 400;
  if (req.method === 'INVITE' && !req.fromTag) return 400;
  return undefined;
}

/**
 * Body and Content-Type: the app's Content-Type, or application/sdp for a body starting
 * "v=0"; any other request body without a Content-Type is refused ("missing content-type").
 */
function setBody(msg: SipRequest | SipResponse, body: string, appHeaders: Header[], strict = true): boolean {
  if (!body) return true;
  const ct = headerValue(appHeaders, 'Content-Type') ?? (body.startsWith('v=0') ? 'application/sdp' : undefined);
  if (!ct && strict) return false;
  msg.body = body;
  // A response body of unknown type goes out without Content-Type, as sofia sends it.
  msg.set('Content-Type', ct);
  return true;
}
