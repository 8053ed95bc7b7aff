/**
 * Which application gets what: ClientController in drachtio-server's client-controller.cpp.
 *
 * - Routes: each app registers the verbs it wants ("invite", "register", "cdr:stop" ...). A new
 *   request goes to one of the apps registered for its method, round-robin per verb.
 * - Transactions and dialogs remember their app: network transactions (requests from the wire
 *   waiting for the app's response), app transactions (requests the app sent, waiting for
 *   responses from the wire), dialogs, and API requests (app messages awaiting the server's
 *   "response|..." reply).
 */
import type { AppConnection } from './app-connection.js';
import type { SipMsgMeta } from './meta.js';

export class ClientController {
  readonly clients = new Set<AppConnection>();
  /** verb -> apps in registration order (a std::multimap in the C++). */
  private readonly routes = new Map<string, AppConnection[]>();
  private readonly offsets = new Map<string, number>();
  private readonly netTransactions = new Map<string, AppConnection>();
  private readonly appTransactions = new Map<string, AppConnection>();
  private readonly dialogs = new Map<string, AppConnection>();
  private readonly apiRequests = new Map<string, AppConnection>();

  join(conn: AppConnection): void {
    this.clients.add(conn);
  }

  /** The C++ keeps weak pointers and skips dead apps lazily; dropping them at once is equivalent. */
  leave(conn: AppConnection): void {
    this.clients.delete(conn);
    for (const [verb, list] of this.routes) {
      this.routes.set(
        verb,
        list.filter((c) => c !== conn),
      );
    }
    for (const map of [this.netTransactions, this.appTransactions, this.dialogs, this.apiRequests]) {
      for (const [k, c] of map) if (c === conn) map.delete(k);
    }
  }

  wantsRequests(conn: AppConnection, verb: string): void {
    const list = this.routes.get(verb) ?? [];
    list.push(conn);
    this.routes.set(verb, list);
    if (!this.offsets.has(verb)) this.offsets.set(verb, 0);
  }

  /**
   * no_longer_wants_requests: the C++ loop removes this app from every verb, not only the one
   * named (it never compares the verb). Reproduced as is.
   */
  noLongerWantsRequests(conn: AppConnection, _verb: string): void {
    for (const [verb, list] of this.routes) {
      this.routes.set(
        verb,
        list.filter((c) => c !== conn),
      );
    }
  }

  /** selectClientForRequestOutsideDialog: round-robin over the apps routed for a method. */
  selectClientForRequestOutsideDialog(method: string, tag?: string): AppConnection | undefined {
    const verb = method.toLowerCase();
    const candidates = this.routes.get(verb) ?? [];
    if (candidates.length === 0) return undefined;
    const stored = this.offsets.get(verb) ?? 0;
    const offset = stored < candidates.length ? stored : 0;
    this.offsets.set(verb, offset + 1);
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[(offset + i) % candidates.length];
      if (c && (!tag || c.hasTag(tag))) return c;
    }
    return undefined;
  }

  // ---- bookkeeping ------------------------------------------------------------------------

  addNetTransaction(conn: AppConnection, txnId: string): void {
    this.netTransactions.set(txnId, conn);
  }
  removeNetTransaction(txnId: string): void {
    this.netTransactions.delete(txnId);
  }
  findClientForNetTransaction(txnId: string): AppConnection | undefined {
    return this.netTransactions.get(txnId);
  }

  addAppTransaction(conn: AppConnection, txnId: string): void {
    this.appTransactions.set(txnId, conn);
  }
  removeAppTransaction(txnId: string): void {
    this.appTransactions.delete(txnId);
  }
  findClientForAppTransaction(txnId: string): AppConnection | undefined {
    return this.appTransactions.get(txnId);
  }

  addApiRequest(conn: AppConnection, clientMsgId: string): void {
    this.apiRequests.set(clientMsgId, conn);
  }

  findClientForDialog(dialogId: string): AppConnection | undefined {
    return this.dialogs.get(dialogId);
  }

  removeDialog(dialogId: string): void {
    this.dialogs.delete(dialogId);
  }

  /**
   * addDialogForTransaction: a dialog belongs to the app that owns the transaction creating it
   * (the network transaction for UAS dialogs, the app transaction for UAC dialogs).
   */
  addDialogForTransaction(txnId: string, dialogId: string): void {
    const conn = this.netTransactions.get(txnId) ?? this.appTransactions.get(txnId);
    if (conn) this.dialogs.set(dialogId, conn);
  }

  // ---- delivering to apps --------------------------------------------------------------

  /** route_api_response: the "response|<msgId>|OK|..." answer to an app's sip message. */
  routeApiResponse(clientMsgId: string, responseText: 'OK' | 'NOK', data: string): boolean {
    if (!clientMsgId) return true;
    const conn = this.apiRequests.get(clientMsgId);
    if (!conn) return false;
    if (!data.includes('|continue')) this.apiRequests.delete(clientMsgId);
    conn.sendApiResponse(clientMsgId, responseText, data);
    return true;
  }

  /**
   * route_request_inside_dialog. A BYE, or a NOTIFY ending a subscription, ends the dialog's
   * routing. Returns false when no app owns the dialog.
   */
  routeRequestInsideDialog(
    raw: string,
    meta: SipMsgMeta,
    request: { method: string; endsSubscription: boolean },
    txnId: string,
    dialogId: string,
  ): boolean {
    const isBye = request.method === 'BYE';
    let conn = this.findClientForDialog(dialogId);
    if (!conn && request.method === 'UPDATE') conn = this.findClientForNetTransaction(txnId);
    if (!conn) {
      if (isBye || request.endsSubscription) this.removeDialog(dialogId);
      return false;
    }
    if (!txnId.includes('unsolicited')) this.addNetTransaction(conn, txnId);
    conn.sendSipMessage(txnId, dialogId, raw, meta);
    if (isBye || request.endsSubscription) this.removeDialog(dialogId);
    return true;
  }

  /** route_ack_request_inside_dialog: the ACK for a 2xx, to the dialog's app. */
  routeAckRequestInsideDialog(raw: string, meta: SipMsgMeta, txnId: string, inviteTxnId: string, dialogId: string): boolean {
    const conn = this.findClientForDialog(dialogId) ?? this.findClientForNetTransaction(inviteTxnId);
    if (!conn) return false;
    conn.sendSipMessage(txnId, dialogId, raw, meta);
    this.removeNetTransaction(inviteTxnId);
    return true;
  }

  /** route_request_inside_invite: a CANCEL (or PRACK/UPDATE) for an INVITE in progress. */
  routeRequestInsideInvite(raw: string, meta: SipMsgMeta, txnId: string, dialogId: string): boolean {
    const conn =
      this.findClientForDialog(dialogId) ?? this.findClientForNetTransaction(txnId) ?? this.findClientForAppTransaction(txnId);
    if (!conn) return false;
    conn.sendSipMessage(txnId, dialogId, raw, meta);
    return true;
  }

  /** route_response_inside_transaction: a response from the wire to a request the app sent. */
  routeResponseInsideTransaction(
    raw: string,
    meta: SipMsgMeta,
    response: { status: number; method: string },
    txnId: string,
    dialogId = '',
  ): boolean {
    const conn = this.findClientForAppTransaction(txnId);
    if (!conn) {
      this.removeAppTransaction(txnId);
      return false;
    }
    conn.sendSipMessage(txnId, dialogId, raw, meta);
    if (response.status >= 200) this.removeAppTransaction(txnId);
    if (response.method === 'BYE') this.removeDialog(dialogId);
    return true;
  }

  counts(): Record<string, number> {
    return {
      clients: this.clients.size,
      netTransactions: this.netTransactions.size,
      appTransactions: this.appTransactions.size,
      dialogs: this.dialogs.size,
      apiRequests: this.apiRequests.size,
    };
  }
}
