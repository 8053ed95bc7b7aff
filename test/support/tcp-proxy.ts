/**
 * A TCP relay a test puts between the switchboard and a server (FreeSWITCH's event socket,
 * drachtio-server's admin port) to cut the link and bring it back, the same way against a
 * stand-in and against a real server the test cannot restart. sever() resets every relayed
 * connection and stops listening, so the switchboard sees what it sees when the server dies
 * (connection reset, then connection refused); restore() listens again on the same port.
 */
import net from 'node:net';

export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Connections relayed so far, including those of earlier sever/restore rounds. */
  accepted = 0;

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Listens on a free 127.0.0.1 port and relays to host:port. */
  static async start(host: string, port: number): Promise<TcpProxy> {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const free = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const proxy = new TcpProxy(free, { host, port });
    await proxy.restore();
    return proxy;
  }

  /** "127.0.0.1:port", for FREESWITCH_ESL and the like. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Cuts every relayed connection (RST on both sides) and refuses new ones. */
  async sever(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Accepts and relays connections again, on the same port. */
  async restore(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  async close(): Promise<void> {
    await this.sever();
  }

  private relay(client: net.Socket): void {
    this.accepted++;
    const upstream = net.connect(this.target.port, this.target.host);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(a);
      a.pipe(b);
      // A reset or close on one side ends the other: the relay adds no state of its own.
      a.on('error', () => b.destroy());
      a.on('close', () => {
        this.sockets.delete(a);
        b.destroy();
      });
    }
  }
}
