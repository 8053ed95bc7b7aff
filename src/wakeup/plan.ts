/**
 * The rules of wake-up calls, as pure functions: when a booking is due, what an attempt's
 * outcome leads to (retry, escalation to an operator, the next day, the end), and how a SIP
 * failure reads as an attempt's result. The scheduler carries the answers out.
 */
import { addDays, civilDateAt, instantOf, parseCivilDate, parseClockTime, type CivilDate } from './local-time.js';

export type Repeat = 'once' | 'daily';
/** scheduled: waiting for its next attempt; the others are final (a daily booking stays scheduled). */
export type BookingStatus = 'scheduled' | 'answered' | 'escalated' | 'missed' | 'cancelled';
export type AttemptResult = 'answered' | 'no-answer' | 'busy' | 'failed' | 'unreachable' | 'missed';
/** How an occurrence (one day's wake-up) ended. */
export type Outcome = 'answered' | 'escalated' | 'missed';

/** When a booking rings: local time in its zone, on a date (once) or every day from a date. */
export interface WhenSpec {
  time: string;
  timeZone: string;
  repeat: Repeat;
  /** once: the local date (none: the next time the clock shows `time`); daily: the first day. */
  date: string | null;
}

export interface RetrySpec {
  retries: number;
  retryIntervalS: number;
}

/** What the scheduler knows of a booking's progress. */
export interface Progress {
  status: BookingStatus;
  /** When the current occurrence was meant to ring. */
  occurrenceAt: number | null;
  /** When the next attempt is due; null once nothing is left to do. */
  nextDueAt: number | null;
  /** Attempts made for the current occurrence. */
  attempt: number;
  lastOutcome: Outcome | null;
}

const DAY_LOOKAHEAD = 3;

/**
 * The first instant after `after` at which the booking rings, or undefined (a one-off booking
 * whose date and time are past). DST days are handled by instantOf.
 */
export function nextOccurrence(spec: WhenSpec, after: number): number | undefined {
  const time = parseClockTime(spec.time);
  if (!time) return undefined;
  const given = spec.date === null ? undefined : parseCivilDate(spec.date);
  if (spec.repeat === 'once' && given) {
    const at = instantOf(given, time, spec.timeZone);
    return at > after ? at : undefined;
  }
  const today = civilDateAt(after, spec.timeZone);
  let day: CivilDate = given && compare(given, today) > 0 ? given : today;
  for (let i = 0; i < DAY_LOOKAHEAD; i++, day = addDays(day, 1)) {
    const at = instantOf(day, time, spec.timeZone);
    if (at > after) return at;
  }
  return undefined;
}

function compare(a: CivilDate, b: CivilDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}

/** A new (or re-timed) booking's progress: its first occurrence, nothing tried yet. */
export function freshProgress(spec: WhenSpec, now: number): Progress | undefined {
  const at = nextOccurrence(spec, now);
  if (at === undefined) return undefined;
  return { status: 'scheduled', occurrenceAt: at, nextDueAt: at, attempt: 0, lastOutcome: null };
}

/**
 * A booking is placed when due unless its attempt is more than the grace period late (the
 * switchboard was down): then that occurrence is missed.
 */
export function dueAction(p: Pick<Progress, 'nextDueAt'>, now: number, graceMs: number): 'place' | 'missed' {
  return p.nextDueAt !== null && now - p.nextDueAt > graceMs ? 'missed' : 'place';
}

/** The progress after an attempt with `result`; `escalate` says an operator must be told. */
export function afterAttempt(spec: WhenSpec & RetrySpec, p: Progress, result: AttemptResult, now: number): Progress & { escalate: boolean } {
  if (result === 'answered' || result === 'missed') return { ...endOccurrence(spec, p, result, now), escalate: false };
  const attempt = p.attempt + 1;
  if (attempt <= spec.retries) return { ...p, attempt, nextDueAt: now + spec.retryIntervalS * 1000, escalate: false };
  return { ...endOccurrence(spec, { ...p, attempt }, 'escalated', now), escalate: true };
}

/** A daily booking moves on to its next day; a one-off booking ends with the outcome. */
function endOccurrence(spec: WhenSpec, p: Progress, outcome: Outcome, now: number): Progress {
  if (spec.repeat === 'daily') {
    const next = nextOccurrence(spec, Math.max(now, p.occurrenceAt ?? now));
    if (next !== undefined) return { status: 'scheduled', occurrenceAt: next, nextDueAt: next, attempt: 0, lastOutcome: outcome };
  }
  return { status: outcome, occurrenceAt: p.occurrenceAt, nextDueAt: null, attempt: p.attempt, lastOutcome: outcome };
}

/**
 * An attempt's result from the ring's failure: a busy phone (486, 600, 603 declined), no phone
 * registered or the number unknown (unreachable), rung out or not answered (no-answer), or
 * anything else (failed: a media server or network problem).
 */
export function failureResult(status: number, phonesRung: number): AttemptResult {
  if (phonesRung === 0 || status === 404 || status === 410 || status === 484) return 'unreachable';
  if (status === 486 || status === 600 || status === 603) return 'busy';
  if (status === 480 || status === 487 || status === 408) return 'no-answer';
  return 'failed';
}
