import { describe, expect, it } from 'vitest';
import { civilDateAt, instantOf, isTimeZone, parseCivilDate } from '../../../src/wakeup/local-time.js';
import { afterAttempt, dueAction, failureResult, freshProgress, nextOccurrence, type Progress, type WhenSpec } from '../../../src/wakeup/plan.js';

const iso = (ms: number | null | undefined): string | undefined => (ms === null || ms === undefined ? undefined : new Date(ms).toISOString());
const at = (text: string): number => Date.parse(text);
const berlin = (time: string, date: string | null = null, repeat: 'once' | 'daily' = 'daily'): WhenSpec => ({ time, timeZone: 'Europe/Berlin', repeat, date });

describe('local time', () => {
  it('knows real zones and refuses made-up ones', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('America/New_York')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });

  it('converts wall time to UTC on both sides of the offset', () => {
    expect(iso(instantOf({ year: 2026, month: 1, day: 15 }, { hour: 7, minute: 0 }, 'Europe/Berlin'))).toBe('2026-01-15T06:00:00.000Z');
    expect(iso(instantOf({ year: 2026, month: 7, day: 15 }, { hour: 7, minute: 0 }, 'Europe/Berlin'))).toBe('2026-07-15T05:00:00.000Z');
    expect(iso(instantOf({ year: 2026, month: 7, day: 15 }, { hour: 7, minute: 30 }, 'Asia/Kolkata'))).toBe('2026-07-15T02:00:00.000Z');
  });

  it('takes a time in the spring-forward gap as the same time on the old offset (02:30 -> 03:30)', () => {
    // Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST.
    expect(iso(instantOf({ year: 2026, month: 3, day: 29 }, { hour: 2, minute: 30 }, 'Europe/Berlin'))).toBe('2026-03-29T01:30:00.000Z');
    expect(iso(instantOf({ year: 2026, month: 3, day: 29 }, { hour: 3, minute: 0 }, 'Europe/Berlin'))).toBe('2026-03-29T01:00:00.000Z');
  });

  it('takes the first of a time that happens twice on the fall-back day', () => {
    // Europe/Berlin: 2026-10-25 03:00 CEST -> 02:00 CET; 02:30 happens at 00:30Z and at 01:30Z.
    expect(iso(instantOf({ year: 2026, month: 10, day: 25 }, { hour: 2, minute: 30 }, 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z');
    // America/New_York: 2026-11-01 02:00 EDT -> 01:00 EST.
    expect(iso(instantOf({ year: 2026, month: 11, day: 1 }, { hour: 1, minute: 30 }, 'America/New_York'))).toBe('2026-11-01T05:30:00.000Z');
  });

  it('tells the local date of an instant', () => {
    expect(civilDateAt(at('2026-11-27T23:30:00Z'), 'Europe/Berlin')).toEqual({ year: 2026, month: 11, day: 28 });
    expect(civilDateAt(at('2026-11-27T03:30:00Z'), 'America/New_York')).toEqual({ year: 2026, month: 11, day: 26 });
  });

  it('parses only dates that exist', () => {
    expect(parseCivilDate('2028-02-29')).toEqual({ year: 2028, month: 2, day: 29 });
    expect(parseCivilDate('2027-02-29')).toBeUndefined();
    expect(parseCivilDate('2027-13-01')).toBeUndefined();
  });
});

describe('next occurrence', () => {
  it('is today when the time is still ahead, else tomorrow', () => {
    expect(iso(nextOccurrence(berlin('07:00'), at('2026-11-27T05:00:00Z')))).toBe('2026-11-27T06:00:00.000Z');
    expect(iso(nextOccurrence(berlin('07:00'), at('2026-11-27T06:00:00Z')))).toBe('2026-11-28T06:00:00.000Z');
  });

  it('keeps the local time across the clock change (daily roll over DST days)', () => {
    const spec = berlin('07:00');
    const saturday = nextOccurrence(spec, at('2026-03-27T12:00:00Z')) as number;
    expect(iso(saturday)).toBe('2026-03-28T06:00:00.000Z');
    const sunday = nextOccurrence(spec, saturday) as number;
    expect(iso(sunday)).toBe('2026-03-29T05:00:00.000Z'); // 23 hours later: the night was short
    const autumn = nextOccurrence(spec, at('2026-10-24T06:00:00Z')) as number;
    expect(iso(autumn)).toBe('2026-10-25T06:00:00.000Z'); // 25 hours later
  });

  it('a daily booking at a time in the gap rings after it that day and at the time on the next', () => {
    const spec = berlin('02:30');
    const gapDay = nextOccurrence(spec, at('2026-03-28T12:00:00Z')) as number;
    expect(iso(gapDay)).toBe('2026-03-29T01:30:00.000Z');
    expect(iso(nextOccurrence(spec, gapDay))).toBe('2026-03-30T00:30:00.000Z');
  });

  it('a daily booking rings once on the fall-back day, not twice', () => {
    const spec = berlin('02:30');
    const first = nextOccurrence(spec, at('2026-10-24T12:00:00Z')) as number;
    expect(iso(first)).toBe('2026-10-25T00:30:00.000Z');
    expect(iso(nextOccurrence(spec, first))).toBe('2026-10-26T01:30:00.000Z');
  });

  it('a one-off booking with a date rings on that date, and not at all when it is past', () => {
    expect(iso(nextOccurrence(berlin('06:15', '2026-12-24', 'once'), at('2026-11-27T12:00:00Z')))).toBe('2026-12-24T05:15:00.000Z');
    expect(nextOccurrence(berlin('06:15', '2026-11-20', 'once'), at('2026-11-27T12:00:00Z'))).toBeUndefined();
  });

  it('a daily booking with a first day starts on it', () => {
    expect(iso(nextOccurrence(berlin('06:15', '2026-12-24'), at('2026-11-27T12:00:00Z')))).toBe('2026-12-24T05:15:00.000Z');
    expect(iso(nextOccurrence(berlin('06:15', '2026-11-01'), at('2026-11-27T12:00:00Z')))).toBe('2026-11-28T05:15:00.000Z');
  });
});

describe('attempts and retries', () => {
  const spec = { ...berlin('07:00', '2026-11-28', 'once'), retries: 2, retryIntervalS: 300 };
  const now = at('2026-11-28T06:00:00Z');
  const start = freshProgress(spec, at('2026-11-27T12:00:00Z')) as Progress;

  it('a new booking is due at its first occurrence with nothing tried', () => {
    expect(start).toEqual({ status: 'scheduled', occurrenceAt: now, nextDueAt: now, attempt: 0, lastOutcome: null });
  });

  it('an answered one-off call ends the booking', () => {
    const p = afterAttempt(spec, start, 'answered', now + 20_000);
    expect(p).toMatchObject({ status: 'answered', nextDueAt: null, escalate: false, lastOutcome: 'answered' });
  });

  it('no answer is retried at the interval, then escalated after the last retry', () => {
    let p: Progress & { escalate?: boolean } = start;
    const results = ['no-answer', 'busy', 'unreachable'] as const;
    const seen: string[] = [];
    let t = now;
    for (const r of results) {
      t += 30_000;
      p = afterAttempt(spec, p, r, t);
      seen.push(`${p.status}:${String(p.attempt)}:${iso(p.nextDueAt) ?? '-'}:${String(p.escalate)}`);
    }
    expect(seen).toEqual([
      'scheduled:1:2026-11-28T06:05:30.000Z:false',
      'scheduled:2:2026-11-28T06:06:00.000Z:false',
      'escalated:3:-:true',
    ]);
  });

  it('no retries: the first failure escalates', () => {
    expect(afterAttempt({ ...spec, retries: 0 }, start, 'failed', now)).toMatchObject({ status: 'escalated', escalate: true });
  });

  it('a daily booking rolls to the next day after an answer, an escalation or a miss', () => {
    const daily = { ...spec, repeat: 'daily' as const };
    const expected = { status: 'scheduled', attempt: 0, nextDueAt: at('2026-11-29T06:00:00Z'), occurrenceAt: at('2026-11-29T06:00:00Z') };
    expect(afterAttempt(daily, start, 'answered', now + 10_000)).toMatchObject({ ...expected, lastOutcome: 'answered', escalate: false });
    expect(afterAttempt({ ...daily, retries: 0 }, start, 'busy', now + 10_000)).toMatchObject({ ...expected, lastOutcome: 'escalated', escalate: true });
    expect(afterAttempt(daily, start, 'missed', now + 3_600_000)).toMatchObject({ ...expected, lastOutcome: 'missed', escalate: false });
  });

  it('a daily booking missed for days rolls to the next day after now, not to a past one', () => {
    const daily = { ...spec, repeat: 'daily' as const };
    const late = at('2026-12-01T09:00:00Z');
    expect(iso(afterAttempt(daily, start, 'missed', late).nextDueAt)).toBe('2026-12-02T06:00:00.000Z');
  });
});

describe('due', () => {
  it('places a call within the grace period and misses it beyond', () => {
    const due = at('2026-11-28T06:00:00Z');
    expect(dueAction({ nextDueAt: due }, due + 1_000, 600_000)).toBe('place');
    expect(dueAction({ nextDueAt: due }, due + 600_000, 600_000)).toBe('place');
    expect(dueAction({ nextDueAt: due }, due + 600_001, 600_000)).toBe('missed');
  });
});

describe('failure results', () => {
  it('reads SIP statuses as attempt results', () => {
    expect(failureResult(486, 1)).toBe('busy');
    expect(failureResult(603, 2)).toBe('busy');
    expect(failureResult(487, 1)).toBe('no-answer');
    expect(failureResult(480, 1)).toBe('no-answer');
    expect(failureResult(480, 0)).toBe('unreachable');
    expect(failureResult(404, 1)).toBe('unreachable');
    expect(failureResult(503, 1)).toBe('failed');
  });
});
