/**
 * Which FreeSWITCH a test talks to.
 *
 * With FREESWITCH_ESL (host:port of the event socket) and FREESWITCH_PASSWORD set, tests use
 * that real server and start nothing; its drachtio_mrf profile must reach the drachtio the test
 * uses and connect back to drachtio-fsmrf's outbound listener. Otherwise they get a fresh
 * stand-in (test/benches/freeswitch) on ephemeral ports, whose query interface (`standIn`) lets
 * them assert on bridges, conferences and playback; tests skip only those assertions when
 * `standIn` is absent.
 *
 *   FREESWITCH_ESL              e.g. 127.0.0.1:8021
 *   FREESWITCH_PASSWORD         the event socket password (ClueCon by default in FreeSWITCH)
 *   FREESWITCH_LISTEN_ADDRESS   where drachtio-fsmrf listens for the outbound connections, as
 *                               FreeSWITCH can reach it (default 127.0.0.1)
 */
import esl from 'drachtio-modesl';
import { startFreeswitchStandIn, type FreeswitchStandIn, type FreeswitchStandInOptions } from '../benches/freeswitch/index.js';

export interface FreeswitchTarget {
  /** Event socket host and port, and its password (drachtio-fsmrf's `secret`). */
  address: string;
  port: number;
  secret: string;
  /** The address drachtio-fsmrf should listen on for FreeSWITCH's outbound connections. */
  listenAddress: string;
  /** True for a real server from the environment. */
  external: boolean;
  /** The stand-in's query interface (model, injectDtmf, hangup ...); absent for a real server. */
  standIn?: FreeswitchStandIn;
  stop(): Promise<void>;
}

export function externalFreeswitchConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!(env.FREESWITCH_ESL && env.FREESWITCH_PASSWORD);
}

/** A stand-in on ephemeral ports (options pass through), or the real server from the environment. */
export async function useFreeswitch(options: FreeswitchStandInOptions = {}): Promise<FreeswitchTarget> {
  if (externalFreeswitchConfigured()) return fromEnvironment(process.env);
  const standIn = await startFreeswitchStandIn({ eslPort: 0, sipPort: 0, ...options });
  return {
    address: standIn.eslHost,
    port: standIn.eslPort,
    secret: standIn.password,
    listenAddress: '127.0.0.1',
    external: false,
    standIn,
    stop: () => standIn.stop(),
  };
}

function fromEnvironment(env: NodeJS.ProcessEnv): FreeswitchTarget {
  const esl = env.FREESWITCH_ESL ?? '';
  const colon = esl.lastIndexOf(':');
  const address = colon > 0 ? esl.slice(0, colon) : esl;
  const port = colon > 0 ? Number(esl.slice(colon + 1)) : 8021;
  return {
    address,
    port,
    secret: env.FREESWITCH_PASSWORD ?? 'ClueCon',
    listenAddress: env.FREESWITCH_LISTEN_ADDRESS ?? '127.0.0.1',
    external: true,
    stop: () => Promise.resolve(),
  };
}

/** An inbound event socket connection to the target (stand-in or real), as fs_cli makes. */
export function eventSocket(target: Pick<FreeswitchTarget, 'address' | 'port' | 'secret'>): Promise<esl.Connection> {
  return new Promise<esl.Connection>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('event socket did not answer')), 5_000);
    const c: esl.Connection = new esl.Connection(target.address, target.port, target.secret, () => {
      clearTimeout(timer);
      resolve(c);
    });
  });
}
