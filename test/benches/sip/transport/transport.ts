/**
 * The transport layer (RFC 3261 §18): moves serialised messages between this host and a
 * remote address over UDP or TCP, and hands parsed messages up. It knows nothing of
 * transactions; the transaction layer above decides what to send and when to retransmit.
 */
import type { Protocol, SipRequest, SipResponse, WireInfo } from '../message.js';

export interface Destination {
  protocol: Protocol;
  address: string;
  port: number;
  /** Reuse this TCP connection if it is still open (responses, in-dialog requests). */
  connectionId?: string;
  /** With connectionId: fail if that connection is gone instead of opening a new one. */
  strict?: boolean;
}

export type MessageHandler = (msg: SipRequest | SipResponse, wire: WireInfo) => void;

/** A wire tap: every message in or out, as text, for logs and for tests that read the wire. */
export type TraceHandler = (direction: 'in' | 'out', text: string, wire: WireInfo) => void;

export interface Transport {
  readonly protocol: Protocol;
  /** UDP is unreliable: the transaction layer retransmits on it and not on TCP (§17.1.1.2). */
  readonly reliable: boolean;
  readonly localAddress: string;
  readonly localPort: number;
  listen(): Promise<void>;
  /** Send one serialised message; resolves with how it went out (TCP: which connection). */
  send(text: string, to: Destination): Promise<WireInfo>;
  close(): Promise<void>;
}

export interface TransportOptions {
  host: string;
  port: number;
  onMessage: MessageHandler;
  onTrace?: TraceHandler;
  onError?: (err: Error) => void;
}
