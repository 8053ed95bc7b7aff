import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AdmissionGate } from '../../../src/calls/admission-gate.js';
import { CallRegistry, type ActiveCall } from '../../../src/calls/context.js';
import type { Config } from '../../../src/config.js';
import type { MediaLoad } from '../../../src/sip/admission.js';

const LIMITS: Config['admission'] = { maxCalls: 2, maxCallsPerSecond: 0, mediaMaxSessions: 10, mediaMinIdleCpu: 0, mediaMaxPending: 4, maxLoopDelayMs: 250, maxMatchDelayMs: 1000, retryAfterS: 7, logIntervalS: 10 };

function fakeCall(callId: string, unmatchedSince?: number): ActiveCall & { end(): void } {
  let end!: () => void;
  const done = new Promise<void>((r) => (end = r));
  return { callId, done, end, waiting: () => undefined, hangup: () => end(), unmatchedSince: () => unmatchedSince };
}

/** A logger that keeps its warn lines. */
function recordingLog(): { log: pino.Logger; warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, warnings };
}

function gate(media: (MediaLoad & { server: string })[] = [{ server: 'fs:8021', sessions: 0, maxSessions: 100, idleCpu: 90, pending: 0 }], limits = LIMITS) {
  const calls = new CallRegistry();
  const { log, warnings } = recordingLog();
  const loop = { delayMs: 0 };
  const g = new AdmissionGate({ limits, calls, media: { loads: () => media }, loopDelay: { current: () => loop.delayMs }, log });
  return { g, calls, warnings, media, loop };
}

/** The 503 an over-capacity refusal answers with: the reason, Retry-After and a Warning naming it. */
function overCapacity(reason: string): Record<string, unknown> {
  return { status: 503, reason, disposition: 'rejected', headers: { 'Retry-After': '7', Warning: `399 switchboard "${reason}"` } };
}

describe('admission gate', () => {
  it('refuses new calls with Retry-After while the instance runs behind, and counts them', () => {
    const { g, loop } = gate();
    loop.delayMs = 400;
    expect(g.admit('late', 0)).toEqual(overCapacity('over capacity: the switchboard runs 400 ms behind (limit 250 ms)'));
    expect(g.refused().get('event-loop')).toBe(1);
    loop.delayMs = 5;
    expect(g.admit('fine', 0)).toBeUndefined();
  });

  it('refuses new calls while a caller rung first has waited too long for a match, by the longest such wait', () => {
    const { g, calls } = gate(undefined, { ...LIMITS, maxCalls: 0 });
    calls.add(fakeCall('answered'));
    calls.add(fakeCall('recent', 9_700));
    expect(g.admit('new', 10_000)).toBeUndefined();
    g.settled('new');
    const stuck = fakeCall('stuck', 8_500);
    calls.add(stuck);
    expect(g.admit('next', 10_000)).toEqual(overCapacity('over capacity: a caller has waited 1500 ms for an operator to be matched (limit 1000 ms)'));
    expect(g.refused().get('match-delay')).toBe(1);
  });

  it('counts admitted calls still being set up, and each once when they reach the call registry', async () => {
    const { g, calls } = gate();
    expect(g.admit('a', 0)).toBeUndefined();
    expect(g.admit('b', 0)).toBeUndefined();
    // Both being set up: the third is over MAX_CALLS=2.
    expect(g.admit('c', 0)).toMatchObject({ status: 503, disposition: 'rejected' });
    const a = fakeCall('a');
    calls.add(a);
    expect(g.admit('d', 0)).toBeDefined();
    g.settled('a');
    expect(g.admit('e', 0)).toBeDefined();
    a.end();
    await a.done;
    await Promise.resolve();
    expect(g.admit('f', 0)).toBeUndefined();
  });

  it('answers over capacity with Retry-After and a Warning, and counts the refusals by why', () => {
    const { g } = gate();
    g.admit('a', 0);
    g.admit('b', 0);
    expect(g.admit('c', 0)).toEqual(overCapacity('over capacity: 2 calls in progress (limit 2)'));
    expect(g.refused().get('calls')).toBe(1);
    expect(g.refused().get('rate')).toBe(0);
  });

  it('refuses as a failure without Retry-After when no media server is connected', () => {
    const { g } = gate([]);
    expect(g.mediaRefusal(0)).toEqual({
      status: 503,
      reason: 'Service Unavailable: no media server',
      disposition: 'failed',
      headers: { Warning: '399 switchboard "no media server"' },
    });
    expect(g.refused().get('media-unreachable')).toBe(1);
  });

  it('asks the media servers\' load, as the pool reports it, only when a call is about to need one', () => {
    const { g, media } = gate();
    const server = media[0] as MediaLoad;
    server.sessions = 10;
    // On arrival only calls and rate count: a call that never needs media is not refused for it.
    expect(g.admit('a', 0)).toBeUndefined();
    expect(g.mediaRefusal(0)).toMatchObject({ status: 503, disposition: 'rejected', reason: 'over capacity: media server at 10 sessions (limit 10)' });
    server.sessions = 0;
    expect(g.mediaRefusal(0)).toBeUndefined();
    server.pending = 4;
    expect(g.mediaRefusal(0)).toEqual(overCapacity('over capacity: media server endpoints in flight: 4 (limit 4)'));
    expect(g.refused().get('media-sessions')).toBe(1);
    expect(g.refused().get('media-pending')).toBe(1);
    server.pending = 2;
    expect(g.mediaRefusal(0)).toBeUndefined();
  });

  it('warns at most once per ADMISSION_LOG_INTERVAL_SECONDS, saying how many were refused meanwhile', () => {
    const { g, warnings } = gate([]);
    for (const t of [0, 1_000, 5_000, 9_999, 10_000, 12_000]) g.mediaRefusal(t);
    expect(warnings.map((w) => [w.msg, w.refused, w.kind])).toEqual([
      ['refusing new calls', 1, 'media-unreachable'],
      ['refusing new calls', 4, 'media-unreachable'],
    ]);
  });
});
