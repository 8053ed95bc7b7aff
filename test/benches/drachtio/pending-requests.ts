/**
 * New requests parked until an application answers them: PendingRequestController in
 * drachtio-server's pending-request-controller.cpp.
 *
 * A request from the network that starts something (INVITE, REGISTER, OPTIONS, ...) gets a
 * transaction id and waits here. The app's first response takes it out (setupLegForIncoming-
 * Request). If no response comes within 64 s (CLIENT_TIMEOUT) the request is forgotten
 * without an answer. A CANCEL that arrives while the INVITE is still parked marks it canceled,
 * so a late answer from the app is refused.
 */
import type { ServerTransaction, SipRequest } from '../sip/index.js';
import type { SipMsgMeta } from './meta.js';

export const CLIENT_TIMEOUT_MS = 64_000;

export class PendingRequest {
  canceled = false;
  timer?: NodeJS.Timeout;

  constructor(
    readonly transactionId: string,
    readonly request: SipRequest,
    readonly txn: ServerTransaction,
    readonly meta: SipMsgMeta,
  ) {}

  get callId(): string {
    return this.request.callId;
  }
}

export class PendingRequestController {
  private readonly byTxnId = new Map<string, PendingRequest>();

  constructor(
    private readonly onTimeout: (p: PendingRequest) => void,
    private readonly timeoutMs = CLIENT_TIMEOUT_MS,
  ) {}

  add(p: PendingRequest): void {
    p.timer = setTimeout(() => {
      this.byTxnId.delete(p.transactionId);
      this.onTimeout(p);
    }, this.timeoutMs);
    this.byTxnId.set(p.transactionId, p);
  }

  find(txnId: string): PendingRequest | undefined {
    return this.byTxnId.get(txnId);
  }

  findAndRemove(txnId: string): PendingRequest | undefined {
    const p = this.byTxnId.get(txnId);
    if (!p) return undefined;
    this.byTxnId.delete(txnId);
    clearTimeout(p.timer);
    return p;
  }

  /** findInviteByCallId: the parked INVITE a CANCEL refers to. */
  findInviteByCallId(callId: string): PendingRequest | undefined {
    for (const p of this.byTxnId.values()) {
      if (p.callId === callId && p.request.method === 'INVITE') return p;
    }
    return undefined;
  }

  /** The parked request a server transaction belongs to. */
  findByTransaction(txn: ServerTransaction): PendingRequest | undefined {
    for (const p of this.byTxnId.values()) if (p.txn === txn) return p;
    return undefined;
  }

  get size(): number {
    return this.byTxnId.size;
  }

  clear(): void {
    for (const p of this.byTxnId.values()) clearTimeout(p.timer);
    this.byTxnId.clear();
  }
}
