import { describe, expect, it } from 'vitest';
import { AdmissionControl, sessionCap, sessionsNow, type AdmissionInput, type AdmissionLimits, type MediaLoad } from '../../../src/sip/admission.js';

const OFF: AdmissionLimits = { maxCalls: 0, maxCallsPerSecond: 0, mediaMaxSessions: 0, mediaMinIdleCpu: 0, mediaMaxPending: 0, maxLoopDelayMs: 0, maxMatchDelayMs: 0 };
const IDLE_SERVER: MediaLoad = { sessions: 0, maxSessions: 1000, idleCpu: 99, pending: 0 };

function input(over: Partial<AdmissionInput> = {}): AdmissionInput {
  return { now: 0, callsInProgress: 0, loopDelayMs: 0, matchDelayMs: 0, ...over };
}

/** A server's load: idle unless said otherwise. */
function load(over: Partial<MediaLoad> = {}): MediaLoad {
  return { ...IDLE_SERVER, ...over };
}

describe('admission control', () => {
  it('with the defaults, admits on an idle system', () => {
    const control = new AdmissionControl({ ...OFF, mediaMaxSessions: undefined, mediaMaxPending: 10 });
    expect(control.decide(input())).toEqual({ admit: true });
    expect(control.decideMedia([IDLE_SERVER])).toEqual({ admit: true });
  });

  // A delay limit trips at its value and lets calls in again at half of it or less.
  it.each([
    { name: 'MAX_EVENT_LOOP_DELAY_MS', limit: { maxLoopDelayMs: 200 }, field: 'loopDelayMs', kind: 'event-loop', reason: 'over capacity: the switchboard runs 200 ms behind (limit 200 ms)' },
    { name: 'MAX_MATCH_DELAY_MS', limit: { maxMatchDelayMs: 200 }, field: 'matchDelayMs', kind: 'match-delay', reason: 'over capacity: a caller has waited 200 ms for an operator to be matched (limit 200 ms)' },
  ] as const)('refuses while the delay reaches $name, until it is back under half of it', ({ limit, field, kind, reason }) => {
    const control = new AdmissionControl({ ...OFF, ...limit });
    const at = (ms: number): boolean => control.decide(input({ [field]: ms })).admit;
    expect(at(150)).toBe(true);
    expect(control.decide(input({ [field]: 200 }))).toEqual({ admit: false, kind, reason, overCapacity: true });
    expect(at(150)).toBe(false);
    expect(at(100)).toBe(true);
    expect(at(150)).toBe(true);
    // Switched off (0): never refused for it.
    expect(new AdmissionControl(OFF).decide(input({ [field]: 60_000 })).admit).toBe(true);
  });

  it('refuses at MAX_CALLS calls in progress and admits again below', () => {
    const control = new AdmissionControl({ ...OFF, maxCalls: 2 });
    expect(control.decide(input({ callsInProgress: 1 })).admit).toBe(true);
    expect(control.decide(input({ callsInProgress: 2 }))).toEqual({
      admit: false, kind: 'calls', reason: 'over capacity: 2 calls in progress (limit 2)', overCapacity: true,
    });
    expect(control.decide(input({ callsInProgress: 1 })).admit).toBe(true);
  });

  it('keeps refusing until the calls fall 5 % below a large limit (hysteresis)', () => {
    const control = new AdmissionControl({ ...OFF, maxCalls: 100 });
    expect(control.decide(input({ callsInProgress: 99 })).admit).toBe(true);
    expect(control.decide(input({ callsInProgress: 100 })).admit).toBe(false);
    expect(control.decide(input({ callsInProgress: 99 })).admit).toBe(false);
    expect(control.decide(input({ callsInProgress: 96 })).admit).toBe(false);
    expect(control.decide(input({ callsInProgress: 95 })).admit).toBe(true);
    expect(control.decide(input({ callsInProgress: 99 })).admit).toBe(true);
  });

  it('lets MAX_CALLS_PER_SECOND new calls through in a burst, refuses the rest, and refills over time', () => {
    const control = new AdmissionControl({ ...OFF, maxCallsPerSecond: 3 });
    const burst = [0, 1, 2, 3, 4].map(() => control.decide(input({ now: 1000 })).admit);
    expect(burst).toEqual([true, true, true, false, false]);
    const refused = control.decide(input({ now: 1100 }));
    expect(refused).toMatchObject({ admit: false, kind: 'rate', reason: 'over capacity: more than 3 new calls per second' });
    // A third of a second later one token is back (3 per second), no more.
    expect(control.decide(input({ now: 1000 + 334 })).admit).toBe(true);
    expect(control.decide(input({ now: 1000 + 334 })).admit).toBe(false);
    // After a quiet spell the bucket holds one second's worth, not more.
    expect([0, 1, 2, 3].map(() => control.decide(input({ now: 60_000 })).admit)).toEqual([true, true, true, false]);
  });

  it('takes no token for a call refused for another reason', () => {
    const control = new AdmissionControl({ ...OFF, maxCalls: 1, maxCallsPerSecond: 1 });
    expect(control.decide(input({ callsInProgress: 1 })).admit).toBe(false);
    expect(control.decide(input({ callsInProgress: 0 })).admit).toBe(true);
  });

  it('caps media sessions at 90 % of the server\'s Max-Sessions by default', () => {
    const limits = { ...OFF, mediaMaxSessions: undefined };
    expect(sessionCap(limits, load())).toBe(900);
    expect(sessionCap(limits, load({ maxSessions: 0, idleCpu: undefined }))).toBeUndefined();
    expect(sessionCap(limits, load({ maxSessions: Number.NaN, idleCpu: undefined }))).toBeUndefined();
    expect(sessionCap({ ...limits, mediaMaxSessions: 40 }, IDLE_SERVER)).toBe(40);
    expect(sessionCap({ ...limits, mediaMaxSessions: 0 }, IDLE_SERVER)).toBeUndefined();
    const control = new AdmissionControl(limits);
    expect(control.decideMedia([load({ sessions: 899 })]).admit).toBe(true);
    expect(control.decideMedia([load({ sessions: 900 })])).toEqual({
      admit: false, kind: 'media-sessions', reason: 'over capacity: media server at 900 sessions (limit 900)', overCapacity: true,
    });
  });

  it('refuses while the media server is at MEDIA_MAX_SESSIONS, with hysteresis, and admits again when it drops', () => {
    const control = new AdmissionControl({ ...OFF, mediaMaxSessions: 40 });
    const at = (sessions: number): boolean => control.decideMedia([load({ sessions })]).admit;
    expect(at(39)).toBe(true);
    expect(at(40)).toBe(false);
    expect(at(39)).toBe(false);
    expect(at(38)).toBe(true);
  });

  it('refuses below MEDIA_MIN_IDLE_CPU and admits again 5 points above it', () => {
    const control = new AdmissionControl({ ...OFF, mediaMinIdleCpu: 20 });
    const at = (idleCpu: number | undefined): boolean => control.decideMedia([load({ sessions: 1, idleCpu })]).admit;
    expect(at(20)).toBe(true);
    expect(control.decideMedia([load({ sessions: 1, idleCpu: 12.4 })])).toMatchObject({
      admit: false, kind: 'media-cpu', reason: 'over capacity: media server idle CPU 12 % (minimum 20 %)',
    });
    expect(at(24)).toBe(false);
    expect(at(25)).toBe(true);
    // No HEARTBEAT yet: nothing known, nothing refused.
    expect(at(undefined)).toBe(true);
    expect(at(Number.NaN)).toBe(true);
  });

  it('admits while any media server has room', () => {
    const control = new AdmissionControl({ ...OFF, mediaMaxSessions: 10 });
    const full = load({ sessions: 10, maxSessions: 100, idleCpu: 90 });
    expect(control.decideMedia([full, { ...full, sessions: 3 }]).admit).toBe(true);
    expect(control.decideMedia([full, full]).admit).toBe(false);
  });

  it('refuses a call that needs media when no media server is reachable, as a failure rather than over capacity', () => {
    const control = new AdmissionControl(OFF);
    expect(control.decideMedia([])).toEqual({ admit: false, kind: 'media-unreachable', reason: 'no media server', overCapacity: false });
  });

  it('decides a new call on its arrival by calls and rate alone: the media servers are asked only when it needs one', () => {
    const control = new AdmissionControl({ ...OFF, maxCalls: 5, mediaMaxSessions: 1, mediaMaxPending: 1 });
    expect(control.decide(input({ callsInProgress: 4 }))).toEqual({ admit: true });
    expect(control.decideMedia([load({ sessions: 5, pending: 3 })]).admit).toBe(false);
  });

  it('refuses while MEDIA_MAX_PENDING endpoints are in flight on every server, before the session cap or the CPU notice', () => {
    const control = new AdmissionControl({ ...OFF, mediaMaxSessions: 100, mediaMinIdleCpu: 10, mediaMaxPending: 3 });
    expect(control.decideMedia([load({ pending: 2 })])).toEqual({ admit: true });
    expect(control.decideMedia([load({ pending: 3, sessions: 100, idleCpu: 0 })])).toEqual({
      admit: false, kind: 'media-pending', reason: 'over capacity: media server endpoints in flight: 3 (limit 3)', overCapacity: true,
    });
    // Another server with room is enough.
    expect(control.decideMedia([load({ pending: 3 }), load({ pending: 0 })]).admit).toBe(true);
    expect(control.decideMedia([load({ pending: 2 })]).admit).toBe(true);
  });

  it('with MEDIA_MAX_PENDING=0, refuses for no number of endpoints in flight', () => {
    const control = new AdmissionControl(OFF);
    expect(control.decideMedia([load({ pending: 10_000 })]).admit).toBe(true);
  });
});

describe('sessions now', () => {
  it('is the last HEARTBEAT\'s count plus this instance\'s endpoints made and ended since', () => {
    // 30 sessions reported, 20 of them ours; since then ours went to 25 (5 more), then 12.
    expect(sessionsNow(30, 20, 25)).toBe(35);
    expect(sessionsNow(30, 20, 12)).toBe(22);
  });

  it('before the first HEARTBEAT, or when it is stale beyond belief, counts at least ours', () => {
    expect(sessionsNow(Number.NaN, 0, 4)).toBe(4);
    expect(sessionsNow(0, 0, 4)).toBe(4);
    // A HEARTBEAT that counted fewer than ours then (sent before they were up): never below ours.
    expect(sessionsNow(2, 10, 3)).toBe(3);
  });
});
