/**
 * The transaction layer: creates transactions and matches incoming messages to them.
 *
 * - Responses match a client transaction by the branch of their top Via and the CSeq method
 *   (§17.1.3).
 * - Requests match a server transaction by branch, sent-by and method, where ACK matches the
 *   INVITE it acknowledges (§17.2.3). An ACK for a 2xx carries a new branch, so it matches no
 *   transaction and goes to the UA core. CANCEL has the INVITE's branch but its own method,
 *   so it gets a transaction of its own; the core finds the INVITE it cancels with
 *   findInviteServer().
 * - Requests without the RFC 3261 magic cookie are matched the RFC 2543 way (§17.2.3, second
 *   half), reduced to Call-ID, CSeq, From tag, top Via and Request-URI.
 */
import type { SipRequest, SipResponse } from '../message.js';
import type { ClientTransactionUser } from './invite-client.js';
import { InviteClientTransaction } from './invite-client.js';
import { InviteServerTransaction } from './invite-server.js';
import { NonInviteClientTransaction } from './non-invite-client.js';
import { NonInviteServerTransaction } from './non-invite-server.js';
import type { Transaction, TransactionContext } from './transaction.js';

export const MAGIC_COOKIE = 'z9hG4bK';

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

export function clientKey(branch: string, method: string): string {
  return `${branch}|${method}`;
}

/** §17.2.3 key; method ACK is folded into INVITE. */
export function serverKey(req: SipRequest, methodOverride?: string): string {
  const via = req.topVia;
  const method = methodOverride ?? (req.method === 'ACK' ? 'INVITE' : req.method);
  const sentBy = `${via.host.toLowerCase()}:${via.port ?? ''}`;
  if (via.branch?.startsWith(MAGIC_COOKIE)) return `${via.branch}|${sentBy}|${method}`;
  const { seq } = req.cseq;
  return `2543|${req.callId}|${seq}|${req.fromTag ?? ''}|${via.branch ?? ''}|${sentBy}|${req.uri}|${method}`;
}

export class TransactionLayer {
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly servers = new Map<string, ServerTransaction>();

  createClient(request: SipRequest, ctx: Omit<TransactionContext, 'terminated'>, tu: ClientTransactionUser): ClientTransaction {
    const branch = request.topVia.branch;
    if (!branch) throw new Error('client transaction needs a branch');
    const key = clientKey(branch, request.method);
    const full: TransactionContext = { ...ctx, terminated: (t) => this.forget(this.clients, t) };
    const txn =
      request.method === 'INVITE'
        ? new InviteClientTransaction(key, request, full, tu)
        : new NonInviteClientTransaction(key, request, full, tu);
    this.clients.set(key, txn);
    return txn;
  }

  createServer(request: SipRequest, ctx: Omit<TransactionContext, 'terminated'>): ServerTransaction {
    const key = serverKey(request);
    const full: TransactionContext = { ...ctx, terminated: (t) => this.forget(this.servers, t) };
    const txn =
      request.method === 'INVITE'
        ? new InviteServerTransaction(key, request, full)
        : new NonInviteServerTransaction(key, request, full);
    this.servers.set(key, txn);
    return txn;
  }

  private forget<T extends Transaction>(map: Map<string, T>, txn: Transaction): void {
    if (map.get(txn.key) === (txn as unknown)) map.delete(txn.key);
  }

  /** Deliver a response to its client transaction; false when none matches. */
  matchResponse(res: SipResponse): boolean {
    const branch = res.vias[0]?.branch;
    if (!branch) return false;
    const txn = this.clients.get(clientKey(branch, res.cseq.method));
    if (!txn) return false;
    txn.receiveResponse(res);
    return true;
  }

  /** Deliver a request to its server transaction (a retransmission, or the non-2xx ACK). */
  matchRequest(req: SipRequest): boolean {
    const txn = this.servers.get(serverKey(req));
    if (!txn) return false;
    // An ACK only belongs to an INVITE transaction that sent a non-2xx final response; an ACK
    // reusing the branch of an INVITE answered with 2xx (RFC 2543 style) is the core's.
    if (req.method === 'ACK' && (txn.kind !== 'invite-server' || (txn.state !== 'completed' && txn.state !== 'confirmed'))) {
      return false;
    }
    txn.receiveRequest(req);
    return true;
  }

  /** §9.2: the INVITE server transaction a CANCEL refers to. */
  findInviteServer(cancel: SipRequest): InviteServerTransaction | undefined {
    const txn = this.servers.get(serverKey(cancel, 'INVITE'));
    return txn?.kind === 'invite-server' ? txn : undefined;
  }

  /** The INVITE client transaction a CANCEL we are about to send refers to. */
  findInviteClient(branch: string): InviteClientTransaction | undefined {
    const txn = this.clients.get(clientKey(branch, 'INVITE'));
    return txn?.kind === 'invite-client' ? txn : undefined;
  }

  get counts(): { clients: number; servers: number } {
    return { clients: this.clients.size, servers: this.servers.size };
  }

  destroyAll(): void {
    for (const t of [...this.clients.values(), ...this.servers.values()]) t.destroy();
    this.clients.clear();
    this.servers.clear();
  }
}
