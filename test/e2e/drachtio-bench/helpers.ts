/**
 * Shared pieces of the drachtio conformance suite: one drachtio target per test file (the
 * stand-in, or a real server from the environment), one drachtio-srf app connected to it
 * whose per-method handlers each test sets, and SIPp on the other side of the wire.
 */
import type { EventEmitter } from 'node:events';
import Srf from 'drachtio-srf';
import { expect } from 'vitest';
import type { Protocol } from '../../benches/sip/index.js';
import {
  connectSrf,
  disconnectSrf,
  useDrachtio,
  verbs,
  type DrachtioTarget,
  type SrfHandler,
  type UseDrachtioOptions,
} from '../../support/drachtio-env.js';
import { describeRun, runSipp, startSipp, type SippOptions, type SippResult, type SippRun } from '../../support/sipp.js';
import { EventLog } from './apps/event-log.js';

export const APP_SDP = [
  'v=0',
  'o=app 2890844526 2890844526 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 49170 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  'a=sendrecv',
  '',
].join('\r\n');

/** Transports the target serves: DRACHTIO_TRANSPORTS for a real server, else both. */
export function transportsUnderTest(): Protocol[] {
  const list = (process.env.DRACHTIO_TRANSPORTS ?? 'udp,tcp').split(',').map((t) => t.trim());
  return list.filter((t): t is Protocol => t === 'udp' || t === 'tcp');
}

export type Verb = 'invite' | 'register' | 'options' | 'message' | 'subscribe' | 'info' | 'notify' | 'publish' | 'refer';

export interface Bench {
  target: DrachtioTarget;
  srf: Srf;
  /** Set per test; requests for a verb without a handler are answered 500. */
  handlers: Partial<Record<Verb, SrfHandler>>;
  log: EventLog;
  reset(): void;
  close(): Promise<void>;
}

export async function openBench(routes: Verb[], opts: UseDrachtioOptions = {}): Promise<Bench> {
  const target = await useDrachtio(opts);
  const srf = await connectFor(target, routes, (verb) => bench.handlers[verb]);
  const bench: Bench = {
    target,
    srf,
    handlers: {},
    log: new EventLog(),
    reset() {
      bench.handlers = {};
      bench.log = new EventLog();
    },
    async close() {
      await disconnectSrf(srf);
      await target.stop();
    },
  };
  return bench;
}

/** Connect another app routed for some verbs, with handlers looked up at request time. */
export async function connectFor(
  target: DrachtioTarget,
  routes: Verb[],
  handlerFor: (verb: Verb) => SrfHandler | undefined,
): Promise<Srf> {
  // Routes are registered before connecting, so they go out right after authentication;
  // connectSrf's barrier then waits until the server has processed them.
  const pre = new Srf();
  for (const verb of routes) {
    verbs(pre)[verb]((req, res) => {
      const h = handlerFor(verb);
      if (h) h(req, res);
      else res.send(500);
    });
  }
  return connectSrf(target, { srf: pre });
}

export function callSipp(bench: Bench, transport: Protocol, scenario: string, opts: Partial<SippOptions> = {}): Promise<SippResult> {
  return runSipp({ scenario, transport, remote: bench.target.sipAddress, service: 'app', timeoutMs: 10_000, ...opts });
}

/** Start a SIPp UAS scenario and wait until it listens. */
export async function listenSipp(transport: Protocol, scenario: string, opts: Partial<SippOptions> = {}): Promise<SippRun> {
  const run = await startSipp({ scenario, transport, timeoutMs: 10_000, ...opts });
  await run.ready;
  return run;
}

export function sippUri(run: SippRun, transport: Protocol, user = 'callee'): string {
  return `sip:${user}@127.0.0.1:${run.port}${transport === 'tcp' ? ';transport=tcp' : ''}`;
}

export function expectPassed(result: SippResult): void {
  expect(result.passed, describeRun(result)).toBe(true);
}

/** A promise that rejects after ms, for racing app-side operations. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The parts of drachtio-srf's Dialog the tests use, typed as drachtio-srf 5.0.29 behaves
 * (its bundled typings declare destroy() as void and a few event signatures too narrowly).
 */
export interface BenchDialog extends EventEmitter {
  id: string;
  type: 'uac' | 'uas';
  connected: boolean;
  onHold: boolean;
  sip: { callId: string; localTag: string; remoteTag: string };
  local: { uri: string; sdp: string };
  remote: { uri: string; sdp: string };
  destroy(opts?: { headers?: Record<string, string> }): Promise<unknown>;
  modify(sdp: string, opts?: { headers?: Record<string, string> }): Promise<string>;
  request(opts: { method: string; headers?: Record<string, string>; body?: string }): Promise<Srf.SrfResponse>;
}

export function asDialog(d: Srf.Dialog): BenchDialog {
  return d as unknown as BenchDialog;
}
