/**
 * INVITE server transaction, RFC 3261 §17.2.1 (Figure 7), with the Accepted state of
 * RFC 6026 §7.1: after a 2xx the transaction absorbs INVITE retransmissions for Timer L while
 * the UAS core (not this transaction) retransmits the 2xx until the ACK arrives (§13.3.1.4).
 * The ACK for a 2xx has its own branch and never matches this transaction.
 *
 *            Proceeding --1xx from TU: send; INVITE again: resend last 1xx
 *              |       \--2xx from TU: send --> Accepted (Timer L -> Terminated)
 *   300-699 from TU: send
 *              V
 *            Completed  --Timer G (UDP): resend final, interval doubles up to T2
 *              |        --Timer H: no ACK, inform TU -> Terminated
 *              | ACK
 *              V
 *            Confirmed  --Timer I -> Terminated
 */
import type { SipRequest, SipResponse } from '../message.js';
import { Transaction } from './transaction.js';

export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted';

export interface ServerTransactionUser {
  /** Timer H fired: the ACK for our non-2xx final response never came. */
  onTimeout?(): void;
  onTransportError?(err: Error): void;
}

export class InviteServerTransaction extends Transaction<InviteServerState> {
  readonly kind = 'invite-server' as const;
  state: InviteServerState | 'terminated' = 'proceeding';
  private lastResponse?: SipResponse;
  private intervalG = 0;
  tu: ServerTransactionUser = {};


  /** The last response sent, provisional or final. */
  get response(): SipResponse | undefined {
    return this.lastResponse;
  }

  /** Send a response from the TU. Returns false when the state no longer allows it. */
  respond(res: SipResponse): boolean {
    if (this.state === 'accepted' && res.status >= 200 && res.status < 300) {
      // The UAS core retransmitting its 2xx (§13.3.1.4) goes straight to the transport.
      this.transmit(res);
      return true;
    }
    if (this.state !== 'proceeding') return false;
    this.lastResponse = res;
    this.transmit(res);
    if (res.status < 200) return true;
    if (res.status < 300) {
      this.setState('accepted');
      this.startTimer('L', this.initialTimer('L'), () => this.setState('terminated'));
      return true;
    }
    this.setState('completed');
    if (!this.ctx.reliable) {
      this.intervalG = this.initialTimer('G');
      this.startTimer('G', this.intervalG, () => this.fireG());
    }
    this.startTimer('H', this.initialTimer('H'), () => this.fireH());
    return true;
  }

  private fireG(): void {
    if (this.state !== 'completed' || !this.lastResponse) return;
    this.transmit(this.lastResponse);
    this.intervalG = Math.min(2 * this.intervalG, this.ctx.timers.T2);
    this.startTimer('G', this.intervalG, () => this.fireG());
  }

  private fireH(): void {
    if (this.state !== 'completed') return;
    this.setState('terminated');
    this.tu.onTimeout?.();
  }

  /** A request that matched this transaction: an INVITE retransmission or the non-2xx ACK. */
  receiveRequest(req: SipRequest): void {
    if (req.method === 'ACK') {
      if (this.state !== 'completed') return;
      this.stopTimer('G');
      this.stopTimer('H');
      this.setState('confirmed');
      this.startTimer('I', this.initialTimer('I'), () => this.setState('terminated'));
      return;
    }
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) {
      this.transmit(this.lastResponse);
    }
  }
}
