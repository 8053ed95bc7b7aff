import Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import type { Config, HostPort } from '../config.js';
import type { Health } from '../health.js';
import type { Logger } from '../log.js';
import { sessionsNow, type MediaLoad } from '../sip/admission.js';
import { guardPendingEndpoints } from './abandoned-channels.js';
import { tuneEventSockets } from './event-sockets.js';

const RETRY_MAX_DELAY_MS = 2_000;
// An API command on a link that drops meanwhile is never answered.
const API_TIMEOUT_MS = 5_000;
// Q.850 41, as for the channels of an instance that is gone: nobody is on the other end.
const ABANDONED_CAUSE = 'NORMAL_TEMPORARY_FAILURE';

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Member {
  where: string;
  server: Mrf.MediaServer | undefined;
  up: boolean;
  retry: NodeJS.Timeout | undefined;
  /** Endpoints asked for and not made yet (or failed) on this server. */
  pending: number;
  /** Endpoints made on this server whose channel is still there. */
  own: number;
  /** `own + pending` when the last HEARTBEAT came: what of its Session-Count was ours. */
  ownAtHeartbeat: number;
}

/**
 * The FreeSWITCH servers of this instance. Each is connected through drachtio-fsmrf and kept
 * connected; the pool is healthy while at least one server is up.
 */
export class MediaPool {
  private readonly mrf: Mrf;
  private readonly members: Member[];
  private closing = false;
  private readonly adoptedListeners: Array<() => void> = [];

  constructor(
    srf: Srf,
    private readonly cfg: Config['freeswitch'],
    private readonly health: Health,
    private readonly log: Logger,
  ) {
    this.mrf = new Mrf(srf);
    this.members = cfg.servers.map((s) => ({ where: `${s.host}:${s.port}`, server: undefined, up: false, retry: undefined, pending: 0, own: 0, ownAtHeartbeat: 0 }));
  }

  start(): void {
    this.cfg.servers.forEach((s, i) => void this.connect(s, this.members[i] as Member, 0));
    this.report();
  }

  /** The connected server with the fewest sessions (endpoints in flight included), or undefined when none is up. */
  pick(): Mrf.MediaServer | undefined {
    let best: { server: Mrf.MediaServer; load: number } | undefined;
    for (const m of this.members) {
      if (!m.up || !m.server) continue;
      const load = this.sessions(m, m.server) + m.pending;
      if (!best || load < best.load) best = { server: m.server, load };
    }
    return best?.server;
  }

  /**
   * The load of each connected server: Max-Sessions and Idle-CPU as its last HEARTBEAT gave them
   * (drachtio-fsmrf reads them), its sessions brought up to date with this instance's endpoints
   * since, and the endpoints in flight; empty when none is up.
   */
  loads(): (MediaLoad & { server: string })[] {
    return this.members.flatMap((m) =>
      m.up && m.server
        ? [{ server: m.where, sessions: this.sessions(m, m.server), maxSessions: m.server.maxSessions, idleCpu: m.server.cpuIdle, pending: m.pending }]
        : [],
    );
  }

  private sessions(m: Member, server: Mrf.MediaServer): number {
    return sessionsNow(server.currentSessions, m.ownAtHeartbeat, m.own);
  }

  /** Called whenever a server is connected (a new outbound address exists). */
  onAdopted(listener: () => void): void {
    this.adoptedListeners.push(listener);
  }

  /**
   * Where FreeSWITCH connects back for the endpoints of each connected server ("host:port", the
   * X-esl-outbound header drachtio-fsmrf puts on their INVITEs).
   */
  outboundAddresses(): string[] {
    return this.members.flatMap((m) => (m.server ? [`${m.server.advertisedAddress}:${m.server.advertisedPort}`] : []));
  }

  /**
   * `hupall <cause> <variable> <value>` on every connected server: ends the channels on which the
   * channel variable has that value. Resolves to the servers that took the command (FreeSWITCH
   * does not say how many channels it ended); 0 when none is up.
   */
  async hangupMatching(variable: string, value: string, cause: string): Promise<number> {
    let done = 0;
    for (const m of this.members) {
      if (!m.up || !m.server) continue;
      const reply = await withTimeout(m.server.api(`hupall ${cause} ${variable} ${value}`), API_TIMEOUT_MS).catch((err: Error) => `-ERR ${err.message}`);
      if (reply.startsWith('+OK')) done++;
      else this.log.warn({ freeswitch: m.where, reply: reply.trim() }, 'hupall refused');
    }
    return done;
  }

  private async connect(s: HostPort, m: Member, attempt: number): Promise<void> {
    if (this.closing) return;
    try {
      const server = await this.mrf.connect({
        address: s.host,
        port: s.port,
        secret: this.cfg.password,
        profile: this.cfg.profile,
        listenAddress: this.cfg.listen.host,
        listenPort: this.cfg.listen.port,
        ...(this.cfg.advertisedAddress ? { advertisedAddress: this.cfg.advertisedAddress } : {}),
      });
      this.adopt(server, m);
    } catch (err) {
      const delay = Math.min(150 * 2 ** attempt, RETRY_MAX_DELAY_MS);
      if (attempt === 0) this.log.warn({ freeswitch: m.where, err: (err as Error).message }, 'cannot reach FreeSWITCH; retrying');
      m.retry = setTimeout(() => void this.connect(s, m, attempt + 1), delay);
    }
  }

  private adopt(server: Mrf.MediaServer, m: Member): void {
    m.server = server;
    tuneEventSockets(server);
    this.count(server, m);
    // drachtio-modesl reconnects by itself, but with an uncapped back-off.
    server.conn.reconnectOpts.retryMaxDelay = RETRY_MAX_DELAY_MS;
    server.on('end', () => this.mark(m, false, 'lost the event socket; reconnecting'));
    server.on('error', (err: Error) => this.log.warn({ freeswitch: m.where, err: err.message }, 'FreeSWITCH error'));
    server.conn.on('esl::ready', () => {
      // A new event socket session has no subscriptions: without HEARTBEAT again the server's
      // session count, which pick() compares, would stay as it was when the link dropped.
      server.conn.subscribe(['HEARTBEAT']);
      this.mark(m, true, 'reconnected');
    });
    this.mark(m, true, 'connected');
    for (const listener of this.adoptedListeners) listener();
  }

  /**
   * Keeps count of this instance's endpoints on `server`: in flight (asked for, FreeSWITCH not
   * connected back yet) and made (until the channel's event socket closes, which FreeSWITCH does
   * when the channel ends, whoever ended it). Every call path asks the server itself
   * (createEndpoint, or connectCaller through it), so the one place they all pass is the server's
   * createEndpoint: it is wrapped here rather than at each of its callers.
   */
  private count(server: Mrf.MediaServer, m: Member): void {
    const create = server.createEndpoint.bind(server);
    server.createEndpoint = async (opts) => {
      m.pending++;
      try {
        const endpoint = await create(opts);
        const channel = endpoint.conn;
        if (channel) {
          m.own++;
          channel.once('esl::end', () => m.own--);
        }
        return endpoint;
      } finally {
        m.pending--;
      }
    };
    guardPendingEndpoints(server, (uuid) => void this.hangUpAbandoned(m, server, uuid));
    // Registered after drachtio-fsmrf's own listener, so its Session-Count is read by now.
    server.conn.on('esl::event::HEARTBEAT::*', () => {
      m.ownAtHeartbeat = m.own + m.pending;
    });
  }

  /**
   * A channel drachtio-fsmrf gave up on after FreeSWITCH had connected back for it: killed over
   * the inbound event socket by its uuid (its own socket connection is the one left hanging).
   */
  private async hangUpAbandoned(m: Member, server: Mrf.MediaServer, uuid: string): Promise<void> {
    const reply = await withTimeout(server.api(`uuid_kill ${uuid} ${ABANDONED_CAUSE}`), API_TIMEOUT_MS).catch((err: Error) => `-ERR ${err.message}`);
    this.log.info({ freeswitch: m.where, uuid, reply: reply.trim() }, 'hung up a media server channel the endpoint was given up on');
  }

  private mark(m: Member, up: boolean, what: string): void {
    if (this.closing) return;
    if (m.up !== up) this.log[up ? 'info' : 'warn']({ freeswitch: m.where }, `FreeSWITCH ${what}`);
    m.up = up;
    this.report();
  }

  private report(): void {
    const up = this.members.filter((m) => m.up).map((m) => m.where);
    const down = this.members.filter((m) => !m.up).map((m) => m.where);
    const detail = [up.length ? `up: ${up.join(', ')}` : '', down.length ? `down: ${down.join(', ')}` : ''].filter(Boolean).join('; ');
    this.health.set('freeswitch', up.length > 0, detail);
  }

  close(): void {
    this.closing = true;
    for (const m of this.members) {
      clearTimeout(m.retry);
      m.server?.disconnect();
    }
  }
}
