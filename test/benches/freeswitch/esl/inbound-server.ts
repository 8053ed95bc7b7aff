/**
 * The inbound event socket (mod_event_socket's listen-ip/listen-port/password): every client
 * gets "Content-Type: auth/request" and must `auth <password>` before anything else.
 */
import { createServer, type Server, type Socket } from 'node:net';

import type { Switch } from '../core/switch.js';
import { EslListener } from './listener.js';

export interface InboundOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly password: string;
}

export class InboundServer {
  private readonly listeners = new Set<EslListener>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async listen(sw: Switch, options: InboundOptions): Promise<InboundServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const inbound = new InboundServer(server, options.host, port);
    server.on('connection', (socket) => inbound.accept(sw, socket, options.password));
    return inbound;
  }

  private accept(sw: Switch, socket: Socket, password: string): void {
    this.sockets.add(socket);
    const listener = new EslListener(sw, socket, { kind: 'inbound', password });
    this.listeners.add(listener);
    void listener.closed.then(() => {
      this.listeners.delete(listener);
      this.sockets.delete(socket);
    });
  }

  /** Stops accepting, says goodbye to every client and waits for the sockets to close. */
  async close(): Promise<void> {
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const listener of this.listeners) listener.close();
    const deadline = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, 1_000);
    await Promise.all([...this.listeners].map((listener) => listener.closed));
    clearTimeout(deadline);
    await closing;
  }
}
