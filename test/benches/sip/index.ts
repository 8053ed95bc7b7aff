/**
 * Public API of the bench SIP stack. Import from here, not from the files behind it.
 */
export { SipStack, AckTimeoutError, localResponse, newBranch, newCallId, newTag, withTag } from './stack.js';
export type {
  AckHandler,
  HeaderInput,
  OutgoingCancel,
  OutgoingRequest,
  RequestHandler,
  RequestOptions,
  ResponseOptions,
  SendOptions,
  SipStackOptions,
} from './stack.js';
export { SipMessage, SipRequest, SipResponse, canonicalHeaderName, parseVia, reasonPhrase } from './message.js';
export type { CSeq, Header, Protocol, Via, WireInfo } from './message.js';
export { parseMessage, serializeMessage, frameLength, SipParseError } from './parser.js';
export { parseUri, formatUri, parseNameAddr, formatNameAddr, splitList } from './uri.js';
export type { NameAddr, SipUri } from './uri.js';
export { Dialog, contactUri, destinationFor, dialogKey } from './dialog.js';
export type { DialogRole, DialogState, InDialogRequestOptions } from './dialog.js';
export { DEFAULT_TIMERS, resolveTimers, timerValue } from './transactions/timers.js';
export type { TimerName, TimerSettings } from './transactions/timers.js';
export { TransactionLayer, serverKey, clientKey, MAGIC_COOKIE } from './transactions/layer.js';
export type { ClientTransaction, ServerTransaction } from './transactions/layer.js';
export { InviteClientTransaction, buildCancel, buildNon2xxAck } from './transactions/invite-client.js';
export type { ClientTransactionUser, InviteClientState } from './transactions/invite-client.js';
export { NonInviteClientTransaction } from './transactions/non-invite-client.js';
export { InviteServerTransaction } from './transactions/invite-server.js';
export type { InviteServerState, ServerTransactionUser } from './transactions/invite-server.js';
export { NonInviteServerTransaction } from './transactions/non-invite-server.js';
export type { Transaction, TransactionContext, TransactionKind } from './transactions/transaction.js';
export { UdpTransport } from './transport/udp.js';
export { TcpTransport } from './transport/tcp.js';
export type { Destination, TraceHandler, Transport } from './transport/transport.js';
