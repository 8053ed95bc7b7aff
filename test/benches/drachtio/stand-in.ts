/**
 * startDrachtioStandIn: a drachtio-server stand-in for tests. Applications connect with
 * drachtio-srf (srf.connect({ host, port: adminPort, secret })) exactly as to the real server;
 * SIP peers talk to it on sipHost:sipPort over UDP and/or TCP.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Protocol, TimerSettings, TraceHandler } from '../sip/index.js';
import { DrachtioController } from './controller.js';

export interface DrachtioStandInOptions {
  /** SIP address, default 127.0.0.1. */
  sipHost?: string;
  /** SIP port for every transport; 0 picks a free one (the same for UDP and TCP). */
  sipPort?: number;
  /** Default both, like drachtio-server's default contact. */
  transports?: Protocol[];
  /** Address and port apps connect to; 0 picks a free port. Default 127.0.0.1:0. */
  adminHost?: string;
  adminPort?: number;
  secret: string;
  /** RFC 3261 T1/T2/T4; shorten them to make 64*T1 (ACK timeout, transaction timeouts) quick. */
  timers?: Partial<TimerSettings>;
  cdrs?: boolean;
  /** How long a new request waits for an app's first response (64 s by default). */
  clientTimeoutMs?: number;
  log?: (line: string) => void;
  onSipTrace?: TraceHandler;
}

export interface DrachtioStandIn {
  host: string;
  adminPort: number;
  sipHost: string;
  /** The SIP port (the same number on every transport). */
  sipPort: number;
  sipPorts: Partial<Record<Protocol, number>>;
  transports: Protocol[];
  controller: DrachtioController;
  stop(): Promise<void>;
}

export async function startDrachtioStandIn(opts: DrachtioStandInOptions): Promise<DrachtioStandIn> {
  const sipHost = opts.sipHost ?? '127.0.0.1';
  const transports = opts.transports ?? ['udp', 'tcp'];
  for (let attempt = 0; ; attempt++) {
    const port = opts.sipPort || (await freePortForAll(sipHost, transports));
    const sipPorts: Partial<Record<Protocol, number>> = {};
    for (const t of transports) sipPorts[t] = port;
    const controller = new DrachtioController({
      sipHost,
      sipPorts,
      adminHost: opts.adminHost ?? '127.0.0.1',
      adminPort: opts.adminPort ?? 0,
      secret: opts.secret,
      timers: opts.timers,
      cdrs: opts.cdrs,
      clientTimeoutMs: opts.clientTimeoutMs,
      log: opts.log,
      onSipTrace: opts.onSipTrace,
    });
    try {
      await controller.start();
    } catch (err) {
      await controller.stop().catch(() => undefined);
      // Someone took the free port between our probe and our bind: try another, a few times.
      if (!opts.sipPort && attempt < 5 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
      throw err;
    }
    return {
      host: opts.adminHost ?? '127.0.0.1',
      adminPort: controller.adminPort,
      sipHost,
      sipPort: port,
      sipPorts,
      transports,
      controller,
      stop: () => controller.stop(),
    };
  }
}

/** A port free on every requested transport. */
async function freePortForAll(host: string, transports: Protocol[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await probe(host, 'tcp', 0);
    const ok = await Promise.all(transports.map((t) => probe(host, t, port).then(() => true, () => false)));
    if (ok.every(Boolean)) return port;
  }
  throw new Error('no free SIP port');
}

function probe(host: string, protocol: Protocol, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(port, host, () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
      return;
    }
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(port, host, () => {
      const addr = srv.address();
      const p = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(p));
    });
  });
}
