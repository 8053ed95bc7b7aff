/**
 * drachtio-server and FreeSWITCH for a bench run: the test benches' stand-ins started as
 * processes of their own through their command lines (test/benches/drachtio/main.ts,
 * test/benches/freeswitch/main.ts), or real servers named by the environment, as the end-to-end
 * tests name them:
 *
 *   DRACHTIO_HOST, DRACHTIO_PORT, DRACHTIO_SECRET, DRACHTIO_SIP_ADDRESS   a real drachtio-server
 *   FREESWITCH_ESL, FREESWITCH_PASSWORD                                  a real FreeSWITCH
 *   FREESWITCH_LISTEN_ADDRESS   where drachtio-fsmrf listens for FreeSWITCH (default 127.0.0.1)
 *
 * Nothing else may be connected to a real drachtio-server during a run: it spreads new calls over
 * every connected application.
 */
import path from 'node:path';
import { ROOT_DIR } from '../../src/paths.js';
import { getFreePort, waitForBound } from '../../test/support/ports.js';
import { freeswitchSessions } from './esl.js';
import { pidListeningOn, startProcess, type Proc } from './processes.js';

export interface Drachtio {
  host: string;
  port: number;
  secret: string;
  /** host:port where SIP goes */
  sipAddress: string;
  external: boolean;
  /** The process to measure: ours for a stand-in, found by its admin port for a real server. */
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface Freeswitch {
  host: string;
  port: number;
  password: string;
  listenAddress: string;
  external: boolean;
  pid: number | undefined;
  sessions(): Promise<number>;
  stop(): Promise<void>;
}

const TSX = ['--import', 'tsx'];

export function externalDrachtio(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!(env.DRACHTIO_HOST && env.DRACHTIO_PORT && env.DRACHTIO_SECRET && env.DRACHTIO_SIP_ADDRESS);
}

export function externalFreeswitch(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!(env.FREESWITCH_ESL && env.FREESWITCH_PASSWORD);
}

/** A fresh drachtio-server stand-in process on free ports, or the real server of the environment. */
export async function useDrachtio(logFile: string): Promise<Drachtio> {
  const env = process.env;
  if (externalDrachtio(env)) {
    const port = Number(env.DRACHTIO_PORT);
    return {
      host: env.DRACHTIO_HOST as string,
      port,
      secret: env.DRACHTIO_SECRET as string,
      sipAddress: env.DRACHTIO_SIP_ADDRESS as string,
      external: true,
      pid: await pidListeningOn(port),
      stop: () => Promise.resolve(),
    };
  }
  const [port, sipPort] = [await getFreePort('tcp'), await getFreePort('both')];
  const secret = 'bench-secret';
  const proc = startProcess(
    'drachtio-stand-in',
    process.execPath,
    [...TSX, path.join(ROOT_DIR, 'test/benches/drachtio/main.ts'), '--port', String(port), '--sip', `127.0.0.1:${sipPort}`, '--secret', secret],
    { cwd: ROOT_DIR, logFile },
  );
  await ready(proc, () => waitForBound(port, 'tcp', 20_000));
  return { host: '127.0.0.1', port, secret, sipAddress: `127.0.0.1:${sipPort}`, external: false, pid: proc.pid, stop: () => proc.stop() };
}

/** A fresh FreeSWITCH stand-in process on free ports, or the real server of the environment. */
export async function useFreeswitch(logFile: string): Promise<Freeswitch> {
  const env = process.env;
  if (externalFreeswitch(env)) {
    const esl = env.FREESWITCH_ESL as string;
    const colon = esl.lastIndexOf(':');
    const host = colon > 0 ? esl.slice(0, colon) : esl;
    const port = colon > 0 ? Number(esl.slice(colon + 1)) : 8021;
    const password = env.FREESWITCH_PASSWORD as string;
    return {
      host,
      port,
      password,
      listenAddress: env.FREESWITCH_LISTEN_ADDRESS ?? '127.0.0.1',
      external: true,
      pid: await pidListeningOn(port),
      sessions: () => freeswitchSessions(host, port, password),
      stop: () => Promise.resolve(),
    };
  }
  const [port, sipPort] = [await getFreePort('tcp'), await getFreePort('both')];
  const password = 'ClueCon';
  const proc = startProcess(
    'freeswitch-stand-in',
    process.execPath,
    [...TSX, path.join(ROOT_DIR, 'test/benches/freeswitch/main.ts'), '--esl-port', String(port), '--sip-port', String(sipPort), '--password', password],
    { cwd: ROOT_DIR, logFile },
  );
  await ready(proc, () => waitForBound(port, 'tcp', 20_000));
  return {
    host: '127.0.0.1',
    port,
    password,
    listenAddress: '127.0.0.1',
    external: false,
    pid: proc.pid,
    sessions: () => freeswitchSessions('127.0.0.1', port, password),
    stop: () => proc.stop(),
  };
}

async function ready(proc: Proc, bound: () => Promise<void>): Promise<void> {
  try {
    await Promise.race([
      bound(),
      proc.exited.then((code) => {
        throw new Error(`${proc.name} exited (${code}) while starting: ${proc.tail()}`);
      }),
    ]);
  } catch (err) {
    await proc.stop();
    throw err;
  }
}
