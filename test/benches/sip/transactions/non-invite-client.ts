/**
 * Non-INVITE client transaction, RFC 3261 §17.1.2 (Figure 6).
 *
 *   Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
 *     |  \__________________________200-699____^
 *     Timer E (UDP): resend, interval doubles up to T2 (stays at T2 in Proceeding)
 *     Timer F: inform TU of the timeout -> Terminated
 */
import type { SipRequest, SipResponse } from '../message.js';
import type { ClientTransactionUser } from './invite-client.js';
import { Transaction, type TransactionContext } from './transaction.js';

export type NonInviteClientState = 'trying' | 'proceeding' | 'completed';

export class NonInviteClientTransaction extends Transaction<NonInviteClientState> {
  readonly kind = 'non-invite-client' as const;
  state: NonInviteClientState | 'terminated' = 'trying';
  private intervalE = 0;

  constructor(
    key: string,
    request: SipRequest,
    ctx: TransactionContext,
    protected readonly tu: ClientTransactionUser,
  ) {
    super(key, request, ctx);
  }

  start(): void {
    this.transmit(this.request);
    if (!this.ctx.reliable) {
      this.intervalE = this.initialTimer('E');
      this.startTimer('E', this.intervalE, () => this.fireE());
    }
    this.startTimer('F', this.initialTimer('F'), () => this.fireF());
  }

  private fireE(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.transmit(this.request);
    const T2 = this.ctx.timers.T2;
    this.intervalE = this.state === 'trying' ? Math.min(2 * this.intervalE, T2) : T2;
    this.startTimer('E', this.intervalE, () => this.fireE());
  }

  private fireF(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.setState('terminated');
    this.tu.onTimeout();
  }

  receiveResponse(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return; // Completed absorbs retransmissions
    if (res.status < 200) {
      this.setState('proceeding');
      this.tu.onResponse(res);
      return;
    }
    this.stopTimer('E');
    this.stopTimer('F');
    this.setState('completed');
    this.startTimer('K', this.initialTimer('K'), () => this.setState('terminated'));
    this.tu.onResponse(res);
  }
}
