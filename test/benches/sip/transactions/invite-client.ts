/**
 * INVITE client transaction, RFC 3261 §17.1.1 (Figure 5), with the Accepted state of
 * RFC 6026 §7.2 so that retransmitted 2xx responses still reach the TU, which must ACK each.
 *
 *                 |INVITE from TU
 *   Timer A fires |INVITE sent          Timer B fires: inform TU -> Terminated
 *   resend INVITE V
 *            +-----------+  1xx            +------------+
 *            |  Calling  |---------------->| Proceeding |--1xx to TU
 *            +-----------+                 +------------+
 *       300-699 |    | 2xx                  |        | 2xx
 *       ACK, TU |    +--------> Accepted <--+--------+  (Timer M -> Terminated)
 *               V                           | 300-699: ACK, TU
 *            +-----------+ <----------------+
 *            | Completed |  Timer D -> Terminated; 300-699 again: resend ACK
 *            +-----------+
 */
import { SipRequest, type SipResponse } from '../message.js';
import { Transaction, type TransactionContext } from './transaction.js';

export type InviteClientState = 'calling' | 'proceeding' | 'completed' | 'accepted';

export interface ClientTransactionUser {
  /** Every response the TU must see: provisionals, the final, and 2xx retransmissions. */
  onResponse(res: SipResponse): void;
  /** Timer B or F fired without a final response (the TU treats it as a 408). */
  onTimeout(): void;
  onTransportError(err: Error): void;
}

export class InviteClientTransaction extends Transaction<InviteClientState> {
  readonly kind = 'invite-client' as const;
  state: InviteClientState | 'terminated' = 'calling';
  private intervalA = 0;
  private ack?: SipRequest;

  constructor(
    key: string,
    request: SipRequest,
    ctx: TransactionContext,
    protected readonly tu: ClientTransactionUser,
  ) {
    super(key, request, ctx);
  }

  /** §17.1.1.2: send the INVITE; on UDP start Timer A; always start Timer B. */
  start(): void {
    this.transmit(this.request);
    if (!this.ctx.reliable) {
      this.intervalA = this.initialTimer('A');
      this.startTimer('A', this.intervalA, () => this.fireA());
    }
    this.startTimer('B', this.initialTimer('B'), () => this.fireB());
  }

  private fireA(): void {
    if (this.state !== 'calling') return;
    this.transmit(this.request);
    this.intervalA *= 2;
    this.startTimer('A', this.intervalA, () => this.fireA());
  }

  private fireB(): void {
    if (this.state !== 'calling') return;
    this.setState('terminated');
    this.tu.onTimeout();
  }

  receiveResponse(res: SipResponse): void {
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        return this.inCallingOrProceeding(res);
      case 'accepted':
        // RFC 6026: further 2xx (retransmissions or other forks) go to the TU, which re-ACKs.
        if (res.status >= 200 && res.status < 300) this.tu.onResponse(res);
        return;
      case 'completed':
        // The ACK got lost and the server retransmitted its final response.
        if (res.status >= 300 && this.ack) this.transmit(this.ack);
        return;
      case 'terminated':
        return;
    }
  }

  private inCallingOrProceeding(res: SipResponse): void {
    if (res.status < 200) {
      this.stopTimer('A');
      this.setState('proceeding');
      this.tu.onResponse(res);
      return;
    }
    this.stopTimer('A');
    this.stopTimer('B');
    if (res.status < 300) {
      this.setState('accepted');
      this.startTimer('M', this.initialTimer('M'), () => this.setState('terminated'));
      this.tu.onResponse(res);
      return;
    }
    this.ack = buildNon2xxAck(this.request, res);
    this.transmit(this.ack);
    this.setState('completed');
    this.startTimer('D', this.initialTimer('D'), () => this.setState('terminated'));
    this.tu.onResponse(res);
  }
}

/**
 * §17.1.1.3: the ACK for a non-2xx final response belongs to the INVITE transaction. Same
 * Request-URI, Call-ID, From, CSeq number and top Via (so the same branch) as the INVITE, the
 * To of the response (it carries the tag), and the INVITE's Route headers.
 */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  const ack = new SipRequest('ACK', invite.uri);
  const via = invite.get('Via');
  if (via) ack.add('Via', via);
  for (const route of invite.getAll('Route')) ack.add('Route', route);
  ack.add('Max-Forwards', '70');
  ack.add('From', invite.get('From') ?? '');
  ack.add('To', res.get('To') ?? invite.get('To') ?? '');
  ack.add('Call-ID', invite.callId);
  ack.add('CSeq', `${invite.cseq.seq} ACK`);
  return ack;
}

/**
 * §9.1: CANCEL for an INVITE: same Request-URI, Call-ID, From, To (no tag) and CSeq number as
 * the INVITE, one Via equal to the INVITE's top Via, and its Route headers. It is sent in a
 * non-INVITE client transaction of its own.
 */
export function buildCancel(invite: SipRequest, extraHeaders: { name: string; value: string }[] = []): SipRequest {
  const cancel = new SipRequest('CANCEL', invite.uri);
  const via = invite.get('Via');
  if (via) cancel.add('Via', via);
  for (const route of invite.getAll('Route')) cancel.add('Route', route);
  cancel.add('Max-Forwards', '70');
  cancel.add('From', invite.get('From') ?? '');
  cancel.add('To', invite.get('To') ?? '');
  cancel.add('Call-ID', invite.callId);
  cancel.add('CSeq', `${invite.cseq.seq} CANCEL`);
  for (const h of extraHeaders) cancel.add(h.name, h.value);
  return cancel;
}
