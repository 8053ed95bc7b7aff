import type Mrf from 'drachtio-fsmrf';
import Srf from 'drachtio-srf';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Health } from '../../src/health.js';
import { releaseEndpoint } from '../../src/media/endpoint.js';
import { MediaPool } from '../../src/media/pool.js';
import { AdmissionControl, type MediaLoad } from '../../src/sip/admission.js';
import { startDrachtioStandIn, type DrachtioStandIn } from '../benches/drachtio/stand-in.js';
import { startFreeswitchStandIn, type FreeswitchStandIn } from '../benches/freeswitch/index.js';
import { until } from '../support/call-bench.js';
import { connectSrf, disconnectSrf, type DrachtioTarget } from '../support/drachtio-env.js';
import { getFreePort } from '../support/ports.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * The media pool against the FreeSWITCH stand-in, its event socket through a TcpProxy the test
 * cuts: the pool notices the loss, reconnects by itself and reads the server's load again.
 */
/** The configuration a media pool reads; the rest is required by loadConfig but unused here. */
function poolConfig(env: Record<string, string>): ReturnType<typeof loadConfig> {
  return loadConfig({
    DATABASE_URL: 'postgres://unused@127.0.0.1/unused',
    REDIS_URL: 'redis://127.0.0.1:1',
    API_KEYS: 'admin-key-0123456789',
    DRACHTIO_SECRET: 'unused',
    SIP_DOMAIN: 'switchboard.test',
    ...env,
  });
}

let fs: FreeswitchStandIn;
let proxy: TcpProxy;
let pool: MediaPool;
const health = new Health();

beforeAll(async () => {
  fs = await startFreeswitchStandIn({ eslPort: 0, sipPort: 0, maxSessions: 1200 });
  proxy = await TcpProxy.start(fs.eslHost, fs.eslPort);
  const config = poolConfig({ FREESWITCH_ESL: proxy.address, FREESWITCH_PASSWORD: fs.password });
  pool = new MediaPool(new Srf(), config.freeswitch, health, pino({ level: 'silent' }));
  pool.start();
  await until('connected', async () => (health.isUp('freeswitch') ? true : undefined));
});

afterAll(async () => {
  pool?.close();
  await proxy?.close();
  await fs?.stop();
});

describe('the media pool', () => {
  it('marks FreeSWITCH down when the event socket drops, reconnects, and hears its heartbeats again', async () => {
    const server = pool.pick();
    fs.sendHeartbeat();
    await until('the first heartbeat', async () => (server?.maxSessions === 1200 ? true : undefined));

    await proxy.sever();
    await until('marked down', async () => (health.isUp('freeswitch') ? undefined : true));
    expect(pool.pick()).toBeUndefined();
    expect(health.report().status).toBe('down');

    await proxy.restore();
    await until('reconnected', async () => (health.isUp('freeswitch') ? true : undefined), 10_000);
    expect(pool.pick()).toBe(server);

    // Forget what the last heartbeat said: only a heartbeat on the new session can tell again.
    if (server) server.maxSessions = 0;
    await until('a heartbeat on the new session', async () => {
      fs.sendHeartbeat();
      return server?.maxSessions === 1200 ? true : undefined;
    });
  });

  it('reports each server\'s load from its heartbeats, and admission control follows it', async () => {
    const control = new AdmissionControl({ maxCalls: 0, maxCallsPerSecond: 0, mediaMaxSessions: undefined, mediaMinIdleCpu: 20, mediaMaxPending: 0, maxLoopDelayMs: 0, maxMatchDelayMs: 0 });
    const decide = (): boolean => control.decideMedia(pool.loads()).admit;
    fs.sendHeartbeat();
    await until('a heartbeat', async () => (pool.loads()[0]?.maxSessions === 1200 ? true : undefined));
    expect(pool.loads()).toEqual([{ server: proxy.address, sessions: 0, maxSessions: 1200, idleCpu: 100, pending: 0 }]);
    expect(decide()).toBe(true);

    expect(fs.api('fsctl max_sessions 1')).toBe('+OK max sessions: 1\n');
    fs.setIdleCpu(12.5);
    fs.sendHeartbeat();
    await until('a heartbeat with the new load', async () => (pool.loads()[0]?.maxSessions === 1 ? true : undefined));
    expect(pool.loads()).toEqual([{ server: proxy.address, sessions: 0, maxSessions: 1, idleCpu: 12.5, pending: 0 }]);
    expect(control.decideMedia(pool.loads())).toMatchObject({ admit: false, kind: 'media-cpu' });

    fs.setIdleCpu(100);
    expect(fs.api('fsctl max_sessions 1200')).toBe('+OK max sessions: 1200\n');
    fs.sendHeartbeat();
    await until('a heartbeat with the old load', async () => (pool.loads()[0]?.maxSessions === 1200 ? true : undefined));
    expect(decide()).toBe(true);
  });
});

/**
 * The pool's count of its own endpoints, through drachtio's SIP to the FreeSWITCH stand-in: in
 * flight while FreeSWITCH has not connected back (a held relay on the advertised address),
 * made until the channel ends, and on top of the last HEARTBEAT's count.
 */
describe('the media pool\'s own endpoints', () => {
  let drachtio: DrachtioStandIn;
  let srf: Srf;
  let relay: TcpProxy;
  let counted: MediaPool;

  beforeAll(async () => {
    drachtio = await startDrachtioStandIn({ secret: 'pool-secret', sipPort: 0, adminPort: 0 });
    // connectSrf reads only the admin address, the secret and the SIP address (for its barrier).
    srf = await connectSrf({ host: drachtio.host, port: drachtio.adminPort, secret: 'pool-secret', sipAddress: `${drachtio.sipHost}:${drachtio.sipPort}` } as DrachtioTarget);
    const port = await getFreePort('tcp');
    relay = await TcpProxy.listenOn({ host: '127.0.0.2', port }, '127.0.0.1', port);
    const config = poolConfig({
      FREESWITCH_ESL: `${fs.eslHost}:${fs.eslPort}`,
      FREESWITCH_PASSWORD: fs.password,
      MEDIA_LISTEN_PORT: String(port),
      MEDIA_ADVERTISED_ADDRESS: '127.0.0.2',
    });
    counted = new MediaPool(srf, config.freeswitch, new Health(), pino({ level: 'silent' }));
    counted.start();
    await until('connected', async () => counted.pick());
  });

  afterAll(async () => {
    counted?.close();
    await relay?.close();
    if (srf) await disconnectSrf(srf);
    await drachtio?.stop();
  });

  const load = (): MediaLoad => counted.loads()[0] as MediaLoad;

  it('counts endpoints in flight and made, between HEARTBEATs, until their channels end', async () => {
    const server = counted.pick() as Mrf.MediaServer;
    fs.sendHeartbeat();
    await until('a heartbeat', async () => (server.maxSessions === 1200 ? true : undefined));
    expect(load()).toMatchObject({ sessions: 0, pending: 0 });

    relay.hold();
    const first = server.createEndpoint();
    await until('the endpoint in flight', async () => (load().pending === 1 ? true : undefined));
    expect(load().sessions).toBe(0);
    relay.release();
    const a = await first;
    expect(load()).toMatchObject({ sessions: 1, pending: 0 });

    // A HEARTBEAT that counted it, then another endpoint: counted on top without waiting for the next.
    fs.sendHeartbeat();
    await until('a heartbeat with it', async () => (server.currentSessions === 1 ? true : undefined));
    const b = await server.createEndpoint();
    expect(load().sessions).toBe(2);
    expect(server.currentSessions).toBe(1);

    await releaseEndpoint(a);
    await until('its channel gone', async () => (load().sessions === 1 ? true : undefined));
    await releaseEndpoint(b);
    await until('both gone', async () => (load().sessions === 0 ? true : undefined));
    expect(fs.model.channels()).toEqual([]);
  });

  it('counts a set-up that fails as in flight no longer', async () => {
    const server = counted.pick() as Mrf.MediaServer;
    // An offer FreeSWITCH cannot take: the INVITE fails at once.
    await expect(server.createEndpoint({ remoteSdp: 'v=0\r\n' })).rejects.toThrow();
    expect(load()).toMatchObject({ pending: 0, sessions: 0 });
  });
});
