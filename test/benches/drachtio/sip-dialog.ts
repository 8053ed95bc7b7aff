/**
 * The server's view of a dialog (SipDialog in drachtio-server's sip-dialog.cpp) and of an
 * INVITE or SUBSCRIBE still in progress (IIP, invite-in-progress.cpp).
 *
 * The dialog id handed to applications is "<Call-ID>;from-tag=<tag>", where tag is the From
 * tag of the request that created the dialog: the remote tag when we are UAS, ours when UAC
 * (SipDialog::getDialogId).
 */
import type {
  Dialog,
  InviteServerTransaction,
  NonInviteServerTransaction,
  OutgoingRequest,
  Protocol,
  SipRequest,
  SipResponse,
} from '../sip/index.js';

export type DialogType = 'uas' | 'uac';

export function makeDialogId(callId: string, fromTag: string): string {
  return `${callId};from-tag=${fromTag}`;
}

export class SipDialog {
  /** Latest status of the INVITE/SUBSCRIBE that created the dialog (or of a later re-INVITE). */
  sipStatus = 0;
  /** RFC 3261 dialog state: route set, CSeq, remote target. Set once both tags are known. */
  sip?: Dialog;
  localTag?: string;
  remoteTag?: string;
  localContact = '';
  /** A 200 OK to an INVITE we had CANCELed: ACK it, then BYE it ("ACK-BYE"). */
  ackBye = false;
  /** Our INVITE's latest 2xx, which the app's ACK acknowledges. */
  last2xx?: SipResponse;
  /** Requests from the network in this dialog that the app has not answered yet. */
  readonly pendingIncoming = new Set<string>();
  /** In the table of stable dialogs (SD_Insert), as opposed to only an invite in progress. */
  stable = false;
  /** When we sent the 200 OK to the INVITE that created this (UAS) dialog. */
  answeredAt?: number;

  constructor(
    readonly type: DialogType,
    /** The transaction that created the dialog (network txn for UAS, app txn for UAC). */
    readonly transactionId: string,
    readonly callId: string,
    readonly dialogId: string,
    readonly method: 'INVITE' | 'SUBSCRIBE',
    readonly protocol: Protocol,
  ) {}

  get isInviteDialog(): boolean {
    return this.method === 'INVITE';
  }
}

/** An INVITE or SUBSCRIBE from the network that the app has started answering. */
export interface UasIip {
  kind: 'uas';
  transactionId: string;
  dialog: SipDialog;
  request: SipRequest;
  txn: InviteServerTransaction | NonInviteServerTransaction;
}

/** An INVITE (or re-INVITE) or SUBSCRIBE the app sent that has no final response yet. */
export interface UacIip {
  kind: 'uac';
  transactionId: string;
  dialog: SipDialog;
  request: SipRequest;
  out: OutgoingRequest;
  canceled: boolean;
  reinvite: boolean;
  /** A 2xx has been passed up; later ones are retransmissions (or other forks) and are not. */
  got2xx: boolean;
}

export type Iip = UasIip | UacIip;
