/**
 * Which drachtio-server a test talks to.
 *
 * With DRACHTIO_HOST, DRACHTIO_PORT, DRACHTIO_SECRET and DRACHTIO_SIP_ADDRESS set, tests use
 * that real server and start nothing. Otherwise they get a fresh stand-in
 * (test/benches/drachtio) on ephemeral ports with shortened SIP timers.
 *
 *   DRACHTIO_HOST / DRACHTIO_PORT   where apps connect (drachtio's admin address, 9022 by default)
 *   DRACHTIO_SECRET                 the shared secret
 *   DRACHTIO_SIP_ADDRESS            host:port of its SIP contact (e.g. 127.0.0.1:5060)
 *   DRACHTIO_TRANSPORTS             transports that contact serves: "udp,tcp" (default)
 *   DRACHTIO_T1_MS                  its SIP T1 (default 500), for tests that wait on 64*T1
 */
import Srf from 'drachtio-srf';
import { startDrachtioStandIn, type DrachtioStandIn } from '../benches/drachtio/stand-in.js';
import { resolveTimers, type Protocol, type TimerSettings } from '../benches/sip/index.js';

export interface DrachtioTarget {
  host: string;
  port: number;
  secret: string;
  /** "host:port" to send SIP to. */
  sipAddress: string;
  sipHost: string;
  sipPort: number;
  transports: Protocol[];
  timers: TimerSettings;
  /** True for a real server from the environment. */
  external: boolean;
  standIn?: DrachtioStandIn;
  stop(): Promise<void>;
}

export interface UseDrachtioOptions {
  /** Stand-in only: SIP timers (default T1 = 100 ms, so 64*T1 = 6.4 s). */
  timers?: Partial<TimerSettings>;
  transports?: Protocol[];
  cdrs?: boolean;
  log?: (line: string) => void;
}

export const DEFAULT_STAND_IN_TIMERS: Partial<TimerSettings> = { T1: 100, T2: 800, T4: 1000 };

export function externalDrachtioConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!(env.DRACHTIO_HOST && env.DRACHTIO_PORT && env.DRACHTIO_SECRET && env.DRACHTIO_SIP_ADDRESS);
}

export async function useDrachtio(opts: UseDrachtioOptions = {}): Promise<DrachtioTarget> {
  if (externalDrachtioConfigured()) return fromEnvironment(process.env);
  const secret = 'stand-in-secret';
  const standIn = await startDrachtioStandIn({
    secret,
    sipPort: 0,
    adminPort: 0,
    transports: opts.transports,
    timers: opts.timers ?? DEFAULT_STAND_IN_TIMERS,
    cdrs: opts.cdrs,
    log: opts.log ?? (process.env.DRACHTIO_STAND_IN_LOG ? (l) => console.log(`[drachtio] ${l}`) : undefined),
  });
  return {
    host: standIn.host,
    port: standIn.adminPort,
    secret,
    sipAddress: `${standIn.sipHost}:${standIn.sipPort}`,
    sipHost: standIn.sipHost,
    sipPort: standIn.sipPort,
    transports: standIn.transports,
    timers: resolveTimers(opts.timers ?? DEFAULT_STAND_IN_TIMERS),
    external: false,
    standIn,
    stop: () => standIn.stop(),
  };
}

function fromEnvironment(env: NodeJS.ProcessEnv): DrachtioTarget {
  const [sipHost = '127.0.0.1', sipPort = '5060'] = (env.DRACHTIO_SIP_ADDRESS ?? '').split(':');
  const transports = (env.DRACHTIO_TRANSPORTS ?? 'udp,tcp')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t): t is Protocol => t === 'udp' || t === 'tcp');
  return {
    host: env.DRACHTIO_HOST ?? '127.0.0.1',
    port: Number(env.DRACHTIO_PORT),
    secret: env.DRACHTIO_SECRET ?? '',
    sipAddress: `${sipHost}:${sipPort}`,
    sipHost,
    sipPort: Number(sipPort),
    transports,
    timers: resolveTimers(env.DRACHTIO_T1_MS ? { T1: Number(env.DRACHTIO_T1_MS) } : undefined),
    external: true,
    stop: () => Promise.resolve(),
  };
}

/**
 * Connect a drachtio-srf app to the target and wait until it is authenticated and every
 * route registered so far has been processed by the server (see barrier()).
 */
export async function connectSrf(
  target: DrachtioTarget,
  opts: { tags?: string[]; timeoutMs?: number; /** an app already set up with its routes */ srf?: Srf } = {},
): Promise<Srf> {
  const srf = opts.srf ?? (opts.tags ? new Srf(opts.tags) : new Srf());
  // Without an error listener drachtio-srf throws on connection errors (SIP-NOTES).
  srf.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection to drachtio at ${target.host}:${target.port}`)), opts.timeoutMs ?? 5000);
    srf.on('connect', (err: Error | null) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    });
    void srf.connect({ host: target.host, port: target.port, secret: target.secret });
  });
  await barrier(srf, target);
  return srf;
}

/**
 * Wait until the server has processed everything this app sent so far (route registrations
 * in particular). The server handles one connection's messages in order, so the answer to a
 * request it refuses without sending anything — a request to its own SIP address ("can not
 * send request to myself") — comes after them.
 */
export async function barrier(srf: Srf, target: DrachtioTarget): Promise<void> {
  await new Promise<void>((resolve) => {
    verbs(srf).request(`sip:barrier@${target.sipAddress}`, { method: 'OPTIONS' }, () => resolve());
  });
}

export type SrfHandler = (req: Srf.SrfRequest, res: Srf.SrfResponse) => void;

export interface SrfRequestOptions {
  method: string;
  headers?: Record<string, string>;
  body?: string;
  auth?: { username: string; password: string };
}

/**
 * drachtio-srf's per-method registration (srf.register(fn), srf.options(fn) ...) and
 * srf.request(uri, opts, cb), which its bundled typings leave out or get wrong.
 */
export interface SrfVerbs {
  invite(handler: SrfHandler): void;
  register(handler: SrfHandler): void;
  options(handler: SrfHandler): void;
  message(handler: SrfHandler): void;
  subscribe(handler: SrfHandler): void;
  info(handler: SrfHandler): void;
  notify(handler: SrfHandler): void;
  publish(handler: SrfHandler): void;
  refer(handler: SrfHandler): void;
  request(uri: string, opts: SrfRequestOptions, callback: (err: Error | null, req: Srf.SrfRequest) => void): void;
}

export function verbs(srf: Srf): SrfVerbs {
  return srf as unknown as SrfVerbs;
}

/** Disconnect an app; resolves once its socket has closed (at most 2 s). */
export function disconnectSrf(srf: Srf): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    srf.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      srf.disconnect();
    } catch {
      clearTimeout(timer);
      resolve(); // already closed
    }
  });
}
