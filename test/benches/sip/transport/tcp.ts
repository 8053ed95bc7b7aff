/**
 * TCP transport (§18.1.1, §18.2.2, §18.3). Messages on a stream are framed by Content-Length.
 * Connections are kept and reused in both directions: a response goes back on the connection
 * its request came in on, and a request to an address we already have a connection to (made
 * by either side) reuses it, as sofia-sip's tport layer does.
 */
import net from 'node:net';
import type { WireInfo } from '../message.js';
import { frameLength, parseMessage } from '../parser.js';
import type { Destination, Transport, TransportOptions } from './transport.js';

interface Connection {
  id: string;
  socket: net.Socket;
  buffer: Buffer;
  /** Remote address:port as seen on the socket. */
  remote: string;
}

export class TcpTransport implements Transport {
  readonly protocol = 'tcp' as const;
  readonly reliable = true;
  private server?: net.Server;
  private port = 0;
  private nextId = 1;
  private readonly connections = new Map<string, Connection>();
  /** remote "address:port" -> connection id */
  private readonly byRemote = new Map<string, string>();

  constructor(private readonly opts: TransportOptions) {}

  get localAddress(): string {
    return this.opts.host;
  }

  get localPort(): number {
    return this.port;
  }

  listen(): Promise<void> {
    const server = net.createServer((socket) => this.adopt(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        const addr = server.address();
        this.port = typeof addr === 'object' && addr ? addr.port : 0;
        resolve();
      });
    });
  }

  private adopt(socket: net.Socket): Connection {
    socket.setNoDelay(true);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const conn: Connection = { id: `tcp-${this.nextId++}`, socket, buffer: Buffer.alloc(0), remote };
    this.connections.set(conn.id, conn);
    this.byRemote.set(remote, conn.id);
    socket.on('data', (data) => this.onData(conn, data));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.forget(conn));
    return conn;
  }

  private forget(conn: Connection): void {
    this.connections.delete(conn.id);
    if (this.byRemote.get(conn.remote) === conn.id) this.byRemote.delete(conn.remote);
  }

  private onData(conn: Connection, data: Buffer): void {
    conn.buffer = Buffer.concat([conn.buffer, data]);
    for (;;) {
      const len = frameLength(conn.buffer);
      if (len === 0) return;
      if (len < 0) {
        conn.buffer = conn.buffer.subarray(2);
        continue;
      }
      const frame = conn.buffer.subarray(0, len);
      conn.buffer = conn.buffer.subarray(len);
      this.deliver(conn, frame);
    }
  }

  private deliver(conn: Connection, frame: Buffer): void {
    const wire = this.wireInfo(conn);
    let msg;
    try {
      msg = parseMessage(frame);
    } catch (err) {
      this.opts.onError?.(new Error(`tcp: dropping unparseable message on ${conn.id}: ${String(err)}`));
      return;
    }
    msg.wire = wire;
    this.opts.onTrace?.('in', msg.raw ?? frame.toString('utf8'), wire);
    this.opts.onMessage(msg, wire);
  }

  private wireInfo(conn: Connection): WireInfo {
    const s = conn.socket;
    return {
      protocol: 'tcp',
      address: s.remoteAddress ?? '',
      port: s.remotePort ?? 0,
      localAddress: s.localAddress ?? this.opts.host,
      localPort: s.localPort ?? 0,
      connectionId: conn.id,
    };
  }

  async send(text: string, to: Destination): Promise<WireInfo> {
    const conn = await this.connectionFor(to);
    const wire = this.wireInfo(conn);
    this.opts.onTrace?.('out', text, wire);
    await new Promise<void>((resolve, reject) => {
      conn.socket.write(text, 'utf8', (err) => (err ? reject(err) : resolve()));
    });
    return wire;
  }

  private async connectionFor(to: Destination): Promise<Connection> {
    const forced = to.connectionId ? this.connections.get(to.connectionId) : undefined;
    if (forced && !forced.socket.destroyed) return forced;
    if (to.connectionId && to.strict) {
      throw Object.assign(new Error(`tcp connection ${to.connectionId} is closed`), { code: 'EPIPE' });
    }
    const existingId = this.byRemote.get(`${to.address}:${to.port}`);
    const existing = existingId ? this.connections.get(existingId) : undefined;
    if (existing && !existing.socket.destroyed) return existing;
    return this.connect(to.address, to.port);
  }

  private connect(address: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: address, port, localAddress: this.opts.host });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(this.adopt(socket));
      });
    });
  }

  /** True while the connection is open; dialogs use it to decide whether to reuse it. */
  isOpen(connectionId: string): boolean {
    const c = this.connections.get(connectionId);
    return !!c && !c.socket.destroyed;
  }

  close(): Promise<void> {
    for (const c of this.connections.values()) c.socket.destroy();
    this.connections.clear();
    this.byRemote.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
