/**
 * Free ports on 127.0.0.1 for servers under test, and a bounded wait for a port to be bound
 * by another process (SIPp) without sending it anything.
 */
import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import net from 'node:net';

export type PortProtocol = 'udp' | 'tcp' | 'both';

const HOST = '127.0.0.1';

function bindTcp(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, HOST, () => resolve(server));
  });
}

function bindUdp(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(port, HOST, () => resolve(socket));
  });
}

function closeAll(tcp?: net.Server, udp?: dgram.Socket): Promise<void> {
  return Promise.all([
    tcp ? new Promise<void>((r) => tcp.close(() => r())) : undefined,
    udp ? new Promise<void>((r) => udp.close(() => r())) : undefined,
  ]).then(() => undefined);
}

/**
 * A port that is free right now for the given protocol(s). With 'both' the same number is free
 * for UDP and TCP (SIP servers usually listen on both). Bounded: gives up after 50 tries.
 */
export async function getFreePort(protocol: PortProtocol = 'both'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    let tcp: net.Server | undefined;
    let udp: dgram.Socket | undefined;
    try {
      if (protocol === 'udp') {
        udp = await bindUdp(0);
        return udp.address().port;
      }
      tcp = await bindTcp(0);
      const addr = tcp.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      if (protocol === 'both') udp = await bindUdp(port);
      return port;
    } catch {
      // taken on the other protocol: try another
    } finally {
      await closeAll(tcp, udp);
    }
  }
  throw new Error('no free port found on 127.0.0.1');
}

export async function getFreePorts(count: number, protocol: PortProtocol = 'both'): Promise<number[]> {
  const ports = new Set<number>();
  for (let i = 0; ports.size < count && i < count * 10; i++) ports.add(await getFreePort(protocol));
  if (ports.size < count) throw new Error(`could not find ${count} distinct free ports`);
  return [...ports];
}

/** Is something bound to 127.0.0.1:port (or 0.0.0.0:port)? Reads /proc/net, sends nothing. */
export async function isBound(port: number, protocol: 'udp' | 'tcp'): Promise<boolean> {
  const table = await readFile(`/proc/net/${protocol}`, 'utf8').catch(() => '');
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return table.split('\n').some((line) => {
    const cols = line.trim().split(/\s+/);
    const local = cols[1] ?? '';
    const state = cols[3] ?? '';
    const [addr, p] = local.split(':');
    const listening = protocol === 'udp' ? state === '07' : state === '0A';
    return p === hexPort && listening && (addr === '0100007F' || addr === '00000000');
  });
}

/** Wait (polling every 20 ms, at most timeoutMs) until a port is bound. */
export async function waitForBound(port: number, protocol: 'udp' | 'tcp', timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isBound(port, protocol)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nothing bound to ${protocol} port ${port} after ${timeoutMs} ms`);
}
