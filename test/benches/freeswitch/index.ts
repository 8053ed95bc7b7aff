/**
 * A FreeSWITCH stand-in for tests: a SIP profile like drachtio's `drachtio_mrf`, the inbound
 * event socket, outbound socket connections back to drachtio-fsmrf, the applications and API
 * commands drachtio-fsmrf sends, and a media model tests can query. See README.md.
 *
 *   const fs = await startFreeswitchStandIn();
 *   const ms = await new Mrf(srf).connect({ address: '127.0.0.1', port: fs.eslPort, secret: fs.password });
 *   ...
 *   expect(fs.model.areBridged(caller.uuid, operator.uuid)).toBe(true);
 *   await fs.stop();
 */
import { randomUUID } from 'node:crypto';

import { defaultApis } from './api/registry.js';
import { queueDtmfString } from './api/channel-commands.js';
import { defaultApplications } from './apps/registry.js';
import type { MediaOptions } from './apps/media.js';
import { causeFromText, NORMAL_CLEARING } from './core/causes.js';
import { defaultIdentity } from './core/events.js';
import { fireHeartbeat, startHeartbeat } from './core/heartbeat.js';
import { Switch } from './core/switch.js';
import { InboundServer } from './esl/inbound-server.js';
import type { MediaQuery } from './model/model.js';
import { SofiaProfile } from './sip/uas.js';
import type { TimerSettings } from '../sip/index.js';

export type { ChannelView, ConferenceView, Hearing, MediaQuery, MemberView, WaitOptions } from './model/model.js';
export type { MediaLength, MediaOptions } from './apps/media.js';

export interface FreeswitchStandInOptions {
  /** Event socket port; 0 (default) picks a free one. */
  readonly eslPort?: number;
  /** Event socket address (default 127.0.0.1). */
  readonly eslHost?: string;
  /** Event socket password (default ClueCon, FreeSWITCH's). */
  readonly password?: string;
  /** SIP port for UDP and TCP; 0 (default) picks a free one. */
  readonly sipPort?: number;
  /** SIP and RTP address, an IPv4 address (drachtio-fsmrf only parses those); default 127.0.0.1. */
  readonly sipHost?: string;
  /** HEARTBEAT period (default 20 s, FreeSWITCH's event-heartbeat-interval). */
  readonly heartbeatIntervalMs?: number;
  /** How long files "play"; see apps/media.ts. */
  readonly media?: MediaOptions;
  /** Reported in HEARTBEAT and `status` (drachtio's image: 1200 and 80). */
  readonly maxSessions?: number;
  readonly sessionsPerSecond?: number;
  /** SIP timers (T1 etc.), shorter in tests that provoke retransmissions. */
  readonly sipTimers?: Partial<TimerSettings>;
}

export interface FreeswitchStandIn {
  readonly eslHost: string;
  readonly eslPort: number;
  readonly password: string;
  /** "ip:port" of the drachtio_mrf profile, as `sofia status` reports it. */
  readonly sipAddress: string;
  readonly model: MediaQuery;
  /** DTMF arriving on a channel as RFC 2833 from the phone (DTMF-Source: RTP). */
  injectDtmf(uuid: string, digits: string, options?: { durationMs?: number }): void;
  /** Hangs a channel up from the media server's side: BYE towards drachtio. */
  hangup(uuid: string, cause?: string): void;
  /** Fires a HEARTBEAT now instead of waiting for the interval. */
  sendHeartbeat(): void;
  /** Sets the Idle-CPU (percent) HEARTBEAT and `status` report; Max-Sessions is `fsctl max_sessions <n>`. */
  setIdleCpu(percent: number): void;
  /** Runs an API command as `fs_cli -x` would; returns its reply text. */
  api(command: string): string;
  stop(): Promise<void>;
}

const DEFAULTS = {
  eslHost: '127.0.0.1',
  password: 'ClueCon',
  sipHost: '127.0.0.1',
  heartbeatIntervalMs: 20_000,
  maxSessions: 1200,
  sessionsPerSecond: 80,
};

export async function startFreeswitchStandIn(options: FreeswitchStandInOptions = {}): Promise<FreeswitchStandIn> {
  const sipHost = options.sipHost ?? DEFAULTS.sipHost;
  let sipAddress = `${sipHost}:0`;
  const sw = new Switch({
    identity: defaultIdentity(randomUUID(), sipHost),
    sipAddress: () => sipAddress,
    maxSessions: options.maxSessions ?? DEFAULTS.maxSessions,
    sessionsPerSecond: options.sessionsPerSecond ?? DEFAULTS.sessionsPerSecond,
    media: options.media ?? {},
    applications: defaultApplications(),
    apis: defaultApis(),
  });
  const sofia = await SofiaProfile.start(sw, { host: sipHost, port: options.sipPort ?? 0, timers: options.sipTimers });
  sipAddress = sofia.address;
  const password = options.password ?? DEFAULTS.password;
  const inbound = await InboundServer.listen(sw, { host: options.eslHost ?? DEFAULTS.eslHost, port: options.eslPort ?? 0, password }).catch(
    async (error: unknown) => {
      await sofia.close();
      throw error;
    },
  );
  const stopHeartbeat = startHeartbeat(sw, options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs);
  let stopped: Promise<void> | undefined;

  return {
    eslHost: inbound.host,
    eslPort: inbound.port,
    password,
    sipAddress,
    model: sw.model,
    injectDtmf(uuid, digits, dtmfOptions = {}) {
      const session = sw.locate(uuid);
      if (!session) throw new Error(`no channel ${uuid}`);
      const text = dtmfOptions.durationMs ? `${digits}@${dtmfOptions.durationMs}` : digits;
      queueDtmfString(sw, session, text, 'RTP');
    },
    hangup(uuid, cause = NORMAL_CLEARING) {
      const session = sw.locate(uuid);
      if (!session) throw new Error(`no channel ${uuid}`);
      sw.hangup(session, causeFromText(cause));
    },
    sendHeartbeat: () => fireHeartbeat(sw),
    setIdleCpu: (percent) => {
      sw.load.idleCpu = percent;
    },
    api(command) {
      const space = command.indexOf(' ');
      return space < 0 ? sw.api(command, '', { sessionUuid: undefined }) : sw.api(command.slice(0, space), command.slice(space + 1), { sessionUuid: undefined });
    },
    stop() {
      stopped ??= stopAll(sw, inbound, sofia, stopHeartbeat);
      return stopped;
    },
  };
}

async function stopAll(sw: Switch, inbound: InboundServer, sofia: SofiaProfile, stopHeartbeat: () => void): Promise<void> {
  stopHeartbeat();
  sw.shutdown();
  sw.conferences.stopAll();
  // Hangups send their BYEs and close their sockets on the next turn; let them.
  await new Promise((resolve) => setImmediate(resolve));
  for (const connection of sw.connections) connection.close();
  await Promise.race([Promise.all([...sw.connections].map((connection) => connection.closed)), new Promise((resolve) => setTimeout(resolve, 1_000))]);
  await inbound.close();
  await sofia.close();
}
