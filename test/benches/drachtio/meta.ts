/**
 * SipMsgData_t (drachtio.h / drachtio.cpp): the "source|bytes|protocol|address|port|time"
 * prefix the server puts in front of every SIP message it passes to an application, and in
 * the "Msg sent" echoes of what it sent on the application's behalf.
 *
 * - source: "network" for what arrived from the wire, "application" for what the server sent.
 * - address/port: for messages from the network, the sender. For responses the server sent,
 *   the destination. For requests the server sent (SipMsgData_t(msg, orq, "application")),
 *   sofia's transport name: the local address on UDP, the peer on a TCP connection.
 * - time: UTC "HH:MM:SS.uuuuuu".
 * - protocol: "udp"/"tcp", except in the echo of a response the app sent, where the real
 *   server leaves it empty (observed against drachtio-server v0.9.10).
 */
import type { Protocol } from '../sip/index.js';

export type MetaSource = 'network' | 'application';

export interface SipMsgMeta {
  source: MetaSource;
  bytes: number;
  /** Empty in the echo of a response the server sent: sofia's transport lookup finds none there. */
  protocol: Protocol | '';
  address: string;
  port: number;
  time: string;
}

export function stackTime(now: Date = new Date(), micros?: number): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const us = micros ?? Math.floor((performance.timeOrigin * 1000 + performance.now() * 1000) % 1_000_000);
  return `${p(now.getUTCHours())}:${p(now.getUTCMinutes())}:${p(now.getUTCSeconds())}.${p(us, 6)}`;
}

export function formatMeta(m: SipMsgMeta): string {
  return `${m.source}|${m.bytes}|${m.protocol}|${m.address}|${m.port}|${m.time}`;
}

/**
 * bytes is msg_size(): for a message from the network, its size as received, even when the
 * text handed to the app differs (the stack stamps rport/received on the top Via).
 */
export function makeMeta(source: MetaSource, bytes: number, protocol: Protocol | '', address: string, port: number): SipMsgMeta {
  return { source, bytes, protocol, address, port, time: stackTime() };
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
