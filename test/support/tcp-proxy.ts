/**
 * A TCP relay a test puts between the switchboard and a server (FreeSWITCH's event socket,
 * drachtio-server's admin port) to cut the link and bring it back, the same way against a
 * stand-in and against a real server the test cannot restart. sever() resets every relayed
 * connection and stops listening, so the switchboard sees what it sees when the server dies
 * (connection reset, then connection refused); restore() listens again on the same port.
 * hold() keeps new connections waiting, neither relayed nor refused, until release(): a server
 * that is slow to answer.
 */
import net from 'node:net';

export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** While held: the connections accepted and not relayed yet. */
  private held: net.Socket[] | undefined;
  /** Connections relayed so far, including those of earlier sever/restore rounds. */
  accepted = 0;

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
    private readonly host = '127.0.0.1',
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

  /**
   * Listens on `listen` (e.g. another loopback address with the target's own port, for a server
   * that connects back to an advertised address and the listener's port) and relays to host:port.
   */
  static async listenOn(listen: { host: string; port: number }, host: string, port: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(listen.port, { host, port }, listen.host);
    await proxy.restore();
    return proxy;
  }

  /** "host:port", for FREESWITCH_ESL and the like. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Accepts new connections but relays nothing on them until release(). */
  hold(): void {
    this.held ??= [];
  }

  /** Relays the connections held, and new ones at once again. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const client of held) if (!client.destroyed) this.relay(client);
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Cuts every relayed connection (RST on both sides) and refuses new ones. */
  async sever(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of [...this.sockets, ...(this.held ?? [])]) s.resetAndDestroy();
    this.sockets.clear();
    if (this.held) this.held = [];
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Accepts and relays connections again, on the same port. */
  async restore(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => {
      if (this.held) this.held.push(client);
      else this.relay(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
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
