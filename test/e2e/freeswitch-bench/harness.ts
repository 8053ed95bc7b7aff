/**
 * What every FreeSWITCH-bench test starts: a drachtio (stand-in or real, useDrachtio()), a
 * FreeSWITCH (stand-in or real, useFreeswitch()), a drachtio-srf app connected to the former and
 * a drachtio-fsmrf MediaServer connected to the latter. Also small helpers that bound every wait.
 */
import type { EventEmitter } from 'node:events';

import type esl from 'drachtio-modesl';
import Mrf from 'drachtio-fsmrf';
import Srf from 'drachtio-srf';

import { connectSrf, disconnectSrf, useDrachtio, type DrachtioTarget } from '../../support/drachtio-env.js';
import { useFreeswitch, type FreeswitchTarget } from '../../support/freeswitch-env.js';
import type { FreeswitchStandInOptions } from '../../benches/freeswitch/index.js';

/** Endpoint methods drachtio-fsmrf has and src/types/drachtio-fsmrf.d.ts leaves out. */
export interface ConferenceMemberOps {
  confMute(): Promise<string>;
  confUnmute(): Promise<string>;
  confDeaf(): Promise<string>;
  confUndeaf(): Promise<string>;
  confKick(): Promise<string>;
  getChannelVariables(includeMedia?: boolean): Promise<Record<string, string | number>>;
  execute(app: string, arg?: string): Promise<Mrf.EslEvent>;
}

export type TestEndpoint = Mrf.Endpoint & ConferenceMemberOps;

export interface Bench {
  drachtio: DrachtioTarget;
  freeswitch: FreeswitchTarget;
  srf: Srf;
  ms: Mrf.MediaServer;
  /** Endpoints created through the bench, destroyed (if still up) at the end. */
  createEndpoint(remoteSdp?: string): Promise<TestEndpoint>;
  stop(): Promise<void>;
}

/**
 * `routes` registers the app's handlers (srf.invite(...)) before it connects, so drachtio has
 * them by the time the first call arrives.
 */
export async function startBench(options: FreeswitchStandInOptions = {}, routes?: (srf: Srf) => void): Promise<Bench> {
  const drachtio = await useDrachtio();
  const freeswitch = await useFreeswitch({ media: { defaultFileMs: 100 }, ...options });
  const app = new Srf();
  routes?.(app);
  const srf = await connectSrf(drachtio, { srf: app });
  const mrf = new Mrf(srf);
  const ms = await mrf.connect({
    address: freeswitch.address,
    port: freeswitch.port,
    secret: freeswitch.secret,
    listenAddress: freeswitch.listenAddress,
    listenPort: 0,
  });
  const endpoints: TestEndpoint[] = [];
  return {
    drachtio,
    freeswitch,
    srf,
    ms,
    async createEndpoint(remoteSdp) {
      const endpoint = (await ms.createEndpoint(remoteSdp ? { remoteSdp } : {})) as TestEndpoint;
      endpoints.push(endpoint);
      await subscribed(endpoint);
      return endpoint;
    },
    async stop() {
      await Promise.all(endpoints.filter((endpoint) => endpoint.connected).map((endpoint) => withTimeout(endpoint.destroy(), 2_000, 'endpoint destroy').catch(() => undefined)));
      ms.disconnect();
      disconnectSrf(srf);
      await freeswitch.stop();
      await drachtio.stop();
    },
  };
}

/**
 * drachtio-fsmrf resolves createEndpoint() as soon as it has sent its `event` and `filter`
 * commands, before FreeSWITCH has answered them: an event fired at once (DTMF, a hangup) would
 * not reach the endpoint yet. A round trip on the endpoint's own socket orders the test after them.
 */
export async function subscribed(endpoint: TestEndpoint): Promise<void> {
  await withTimeout(endpoint.api('uuid_exists', endpoint.uuid), 3_000, 'the endpoint subscription');
}

/**
 * Subscribes the media server's inbound connection to more events (CHANNEL_BRIDGE ...), so a
 * test can wait for them with nextEvent(bench.ms.conn, 'esl::event::CHANNEL_BRIDGE::<uuid>').
 * Real FreeSWITCH bridges only after uuid_bridge has answered.
 */
export async function subscribeInbound(bench: Bench, events: string[]): Promise<void> {
  const connection = bench.ms.conn as unknown as esl.Connection;
  await withTimeout(new Promise((resolve) => connection.subscribe(events, resolve)), 3_000, `${events.join(' ')} subscribed`);
}

/** An SDP offer from a phone at 127.0.0.1:port (PCMA first: the media server still prefers PCMU). */
export function phoneOffer(port: number): string {
  return [
    'v=0',
    `o=phone ${port} 1 IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP 8 0 101`,
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The next `event` from an emitter, with its arguments; rejects after `ms`. */
export function nextEvent<T extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, ms = 3_000): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as T))),
    ms,
    `'${event}'`,
  );
}
