/**
 * UDP transport (§18.1.1, §18.2.1): one datagram per message, no connection. Responses go
 * back to the source address and port of the request, which is what rport (RFC 3581) asks
 * for and what every peer on 127.0.0.1 expects.
 */
import dgram from 'node:dgram';
import type { WireInfo } from '../message.js';
import { parseMessage } from '../parser.js';
import type { Destination, Transport, TransportOptions } from './transport.js';

export class UdpTransport implements Transport {
  readonly protocol = 'udp' as const;
  readonly reliable = false;
  private socket?: dgram.Socket;
  private port = 0;

  constructor(private readonly opts: TransportOptions) {}

  get localAddress(): string {
    return this.opts.host;
  }

  get localPort(): number {
    return this.port;
  }

  listen(): Promise<void> {
    const socket = dgram.createSocket('udp4');
    this.socket = socket;
    socket.on('message', (data, rinfo) => this.onDatagram(data, rinfo));
    socket.on('error', (err) => this.opts.onError?.(err));
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.opts.port, this.opts.host, () => {
        socket.off('error', reject);
        this.port = socket.address().port;
        resolve();
      });
    });
  }

  private onDatagram(data: Buffer, rinfo: dgram.RemoteInfo): void {
    // Keep-alive CRLFs and stray bytes are not messages.
    if (data.toString('utf8').trim() === '') return;
    const wire = this.wireInfo(rinfo.address, rinfo.port);
    let msg;
    try {
      msg = parseMessage(data);
    } catch (err) {
      this.opts.onError?.(new Error(`udp: dropping unparseable datagram from ${rinfo.address}:${rinfo.port}: ${String(err)}`));
      return;
    }
    msg.wire = wire;
    this.opts.onTrace?.('in', msg.raw ?? data.toString('utf8'), wire);
    this.opts.onMessage(msg, wire);
  }

  send(text: string, to: Destination): Promise<WireInfo> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error('udp transport is not listening'));
    const wire = this.wireInfo(to.address, to.port);
    this.opts.onTrace?.('out', text, wire);
    return new Promise((resolve, reject) => {
      socket.send(Buffer.from(text, 'utf8'), to.port, to.address, (err) => (err ? reject(err) : resolve(wire)));
    });
  }

  private wireInfo(address: string, port: number): WireInfo {
    return { protocol: 'udp', address, port, localAddress: this.opts.host, localPort: this.port };
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}
