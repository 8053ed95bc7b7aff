/**
 * Non-INVITE server transaction, RFC 3261 §17.2.2 (Figure 8).
 *
 *   Trying --1xx from TU--> Proceeding --200-699 from TU--> Completed --Timer J--> Terminated
 *     \_______________________200-699 from TU___________________^
 *   Request retransmissions: absorbed in Trying, answered with the last response afterwards.
 */
import type { SipRequest, SipResponse } from '../message.js';
import type { ServerTransactionUser } from './invite-server.js';
import { Transaction } from './transaction.js';

export type NonInviteServerState = 'trying' | 'proceeding' | 'completed';

export class NonInviteServerTransaction extends Transaction<NonInviteServerState> {
  readonly kind = 'non-invite-server' as const;
  state: NonInviteServerState | 'terminated' = 'trying';
  private lastResponse?: SipResponse;
  tu: ServerTransactionUser = {};


  get response(): SipResponse | undefined {
    return this.lastResponse;
  }

  respond(res: SipResponse): boolean {
    if (this.state !== 'trying' && this.state !== 'proceeding') return false;
    this.lastResponse = res;
    this.transmit(res);
    if (res.status < 200) {
      this.setState('proceeding');
      return true;
    }
    this.setState('completed');
    this.startTimer('J', this.initialTimer('J'), () => this.setState('terminated'));
    return true;
  }

  receiveRequest(_req: SipRequest): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) {
      this.transmit(this.lastResponse);
    }
  }
}
