/**
 * Wake-up bookings and their attempts in PostgreSQL. Every write the scheduler makes while it
 * places a booking carries the claim's token: a claim taken over after its lease ran out (or a
 * booking changed through the API meanwhile) makes the old owner's writes no-ops.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from '../db/pool.js';
import type { AttemptResult, BookingStatus, Outcome, Progress, Repeat, RetrySpec, WhenSpec } from './plan.js';

export interface Booking extends WhenSpec, RetrySpec {
  id: number;
  extension: string;
  ringTimeoutS: number;
  escalationQueue: string | null;
  note: string;
  status: BookingStatus;
  lastOutcome: Outcome | null;
  occurrenceAt: string | null;
  nextDueAt: string | null;
  attempt: number;
  escalationCallId: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

/** What the API writes: the booking's settings (PATCH: any of them). */
export interface BookingSettings extends WhenSpec, RetrySpec {
  extension: string;
  ringTimeoutS: number;
  escalationQueue: string | null;
  note: string;
}

export interface Attempt {
  id: number;
  bookingId: number;
  occurrenceAt: string;
  attempt: number;
  instanceId: string;
  callId: string | null;
  startedAt: string;
  endedAt: string | null;
  result: AttemptResult | null;
  sipStatus: number | null;
}

/** A booking this instance holds: `token` fences its writes. */
export interface Claim {
  booking: Booking;
  token: string;
  /** An attempt of an earlier owner never ended (it died): it counts as failed. */
  staleAttempt: boolean;
}

export interface BookingFilter {
  extension?: string;
  status?: BookingStatus;
  limit: number;
  offset: number;
}

const COLUMNS = `id, extension, local_time, time_zone, repeat, to_char(local_date, 'YYYY-MM-DD') AS local_date, retries,
  retry_interval_s, ring_timeout_s, escalation_queue, note, status, last_outcome, occurrence_at, next_due_at, attempt,
  escalation_call_id, created_by, created_at, updated_at`;

type BookingRow = {
  id: number;
  extension: string;
  local_time: string;
  time_zone: string;
  repeat: Repeat;
  local_date: string | null;
  retries: number;
  retry_interval_s: number;
  ring_timeout_s: number;
  escalation_queue: string | null;
  note: string;
  status: BookingStatus;
  last_outcome: Outcome | null;
  occurrence_at: Date | null;
  next_due_at: Date | null;
  attempt: number;
  escalation_call_id: string | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
};

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
const ts = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

function toBooking(r: BookingRow): Booking {
  return {
    id: r.id,
    extension: r.extension,
    time: r.local_time,
    timeZone: r.time_zone,
    repeat: r.repeat,
    date: r.local_date,
    retries: r.retries,
    retryIntervalS: r.retry_interval_s,
    ringTimeoutS: r.ring_timeout_s,
    escalationQueue: r.escalation_queue,
    note: r.note,
    status: r.status,
    lastOutcome: r.last_outcome,
    occurrenceAt: iso(r.occurrence_at),
    nextDueAt: iso(r.next_due_at),
    attempt: r.attempt,
    escalationCallId: r.escalation_call_id,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

type AttemptRow = {
  id: number;
  booking_id: number;
  occurrence_at: Date;
  attempt: number;
  instance_id: string;
  call_id: string | null;
  started_at: Date;
  ended_at: Date | null;
  result: AttemptResult | null;
  sip_status: number | null;
};

function toAttempt(r: AttemptRow): Attempt {
  return {
    id: r.id,
    bookingId: r.booking_id,
    occurrenceAt: r.occurrence_at.toISOString(),
    attempt: r.attempt,
    instanceId: r.instance_id,
    callId: r.call_id,
    startedAt: r.started_at.toISOString(),
    endedAt: iso(r.ended_at),
    result: r.result,
    sipStatus: r.sip_status,
  };
}

/** The booking's progress as the plan's functions see it. */
export function progressOf(b: Booking): Progress {
  const ms = (s: string | null): number | null => (s === null ? null : Date.parse(s));
  return { status: b.status, occurrenceAt: ms(b.occurrenceAt), nextDueAt: ms(b.nextDueAt), attempt: b.attempt, lastOutcome: b.lastOutcome };
}

export class WakeupStore {
  constructor(private readonly pool: Pool) {}

  async create(s: BookingSettings, p: Progress, createdBy: string): Promise<Booking> {
    const { rows } = await this.pool.query<BookingRow>(
      `INSERT INTO wakeup_calls (extension, local_time, time_zone, repeat, local_date, retries, retry_interval_s, ring_timeout_s,
         escalation_queue, note, status, last_outcome, occurrence_at, next_due_at, attempt, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING ${COLUMNS}`,
      [s.extension, s.time, s.timeZone, s.repeat, s.date, s.retries, s.retryIntervalS, s.ringTimeoutS, s.escalationQueue, s.note,
        p.status, p.lastOutcome, ts(p.occurrenceAt), ts(p.nextDueAt), p.attempt, createdBy],
    );
    return toBooking(rows[0] as BookingRow);
  }

  async get(id: number): Promise<Booking | undefined> {
    const { rows } = await this.pool.query<BookingRow>(`SELECT ${COLUMNS} FROM wakeup_calls WHERE id = $1`, [id]);
    return rows[0] ? toBooking(rows[0]) : undefined;
  }

  async list(f: BookingFilter): Promise<{ items: Booking[]; total: number }> {
    const where = `($1::text IS NULL OR extension = $1) AND ($2::text IS NULL OR status = $2)`;
    const params = [f.extension ?? null, f.status ?? null];
    const [items, total] = await Promise.all([
      this.pool.query<BookingRow>(`SELECT ${COLUMNS} FROM wakeup_calls WHERE ${where} ORDER BY next_due_at NULLS LAST, id LIMIT $3 OFFSET $4`, [...params, f.limit, f.offset]),
      this.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM wakeup_calls WHERE ${where}`, params),
    ]);
    return { items: items.rows.map(toBooking), total: total.rows[0]?.n ?? 0 };
  }

  /**
   * Replaces the settings and progress (a re-timed booking starts afresh). Any claim is dropped:
   * an attempt in progress finishes, but its outcome no longer moves the booking.
   */
  async update(id: number, s: BookingSettings, p: Progress): Promise<Booking | undefined> {
    const { rows } = await this.pool.query<BookingRow>(
      `UPDATE wakeup_calls SET extension = $2, local_time = $3, time_zone = $4, repeat = $5, local_date = $6, retries = $7,
         retry_interval_s = $8, ring_timeout_s = $9, escalation_queue = $10, note = $11, status = $12, occurrence_at = $13,
         next_due_at = $14, attempt = $15, claimed_by = NULL, claimed_until = NULL, claim_token = NULL, updated_at = now()
       WHERE id = $1 AND status <> 'cancelled' RETURNING ${COLUMNS}`,
      [id, s.extension, s.time, s.timeZone, s.repeat, s.date, s.retries, s.retryIntervalS, s.ringTimeoutS, s.escalationQueue, s.note,
        p.status, ts(p.occurrenceAt), ts(p.nextDueAt), p.attempt],
    );
    return rows[0] ? toBooking(rows[0]) : undefined;
  }

  /** Cancels a booking (kept, with its attempts, for the record); false if there is none. */
  async cancel(id: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE wakeup_calls SET status = 'cancelled', next_due_at = NULL, claimed_by = NULL, claimed_until = NULL, claim_token = NULL,
         updated_at = now() WHERE id = $1`,
      [id],
    );
    return (rowCount ?? 0) > 0;
  }

  async attempts(bookingId: number): Promise<Attempt[]> {
    const { rows } = await this.pool.query<AttemptRow>(
      'SELECT * FROM wakeup_attempts WHERE booking_id = $1 ORDER BY started_at, id',
      [bookingId],
    );
    return rows.map(toAttempt);
  }

  /**
   * Claims the booking due first that nobody holds (or whose holder's lease ran out), for
   * leaseMs. The database's clock decides what is due and what has expired, so instances
   * whose clocks differ still agree.
   */
  async claimDue(instanceId: string, leaseMs: number): Promise<Claim | undefined> {
    const token = randomUUID();
    const { rows } = await this.pool.query<BookingRow>(
      `UPDATE wakeup_calls SET claimed_by = $1, claimed_until = now() + $2 * interval '1 millisecond', claim_token = $3
       WHERE id = (
         SELECT id FROM wakeup_calls
         WHERE next_due_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
         ORDER BY next_due_at LIMIT 1
         FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [instanceId, leaseMs, token],
    );
    const row = rows[0];
    if (!row) return undefined;
    const stale = await this.pool.query(
      `UPDATE wakeup_attempts SET ended_at = now(), result = 'failed' WHERE booking_id = $1 AND ended_at IS NULL`,
      [row.id],
    );
    return { booking: toBooking(row), token, staleAttempt: (stale.rowCount ?? 0) > 0 };
  }

  /** Keeps the claim for leaseMs more; false if it was lost (taken over, changed, cancelled). */
  async renew(id: number, token: string, leaseMs: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE wakeup_calls SET claimed_until = now() + $3 * interval '1 millisecond' WHERE id = $1 AND claim_token = $2`,
      [id, token, leaseMs],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Starts an attempt's row; undefined if the claim is lost (nothing is written then). */
  async startAttempt(c: Claim, occurrenceAt: string, attempt: number, instanceId: string, callId: string | null): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ id: number }>(
      `INSERT INTO wakeup_attempts (booking_id, occurrence_at, attempt, instance_id, call_id, started_at)
       SELECT id, $3, $4, $5, $6, now() FROM wakeup_calls WHERE id = $1 AND claim_token = $2
       RETURNING id`,
      [c.booking.id, c.token, occurrenceAt, attempt, instanceId, callId],
    );
    return rows[0]?.id;
  }

  async endAttempt(attemptId: number, result: AttemptResult, sipStatus: number | null): Promise<void> {
    await this.pool.query('UPDATE wakeup_attempts SET ended_at = now(), result = $2, sip_status = $3 WHERE id = $1 AND ended_at IS NULL', [attemptId, result, sipStatus]);
  }

  /** A missed occurrence: an attempt row that started and ended at once, nothing placed. */
  async recordMissed(c: Claim, occurrenceAt: string, attempt: number, instanceId: string): Promise<void> {
    const id = await this.startAttempt(c, occurrenceAt, attempt, instanceId, null);
    if (id !== undefined) await this.endAttempt(id, 'missed', null);
  }

  /** Writes the progress after an attempt and releases the claim; false if the claim was lost. */
  async settle(c: Claim, p: Progress, escalationCallId?: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE wakeup_calls SET status = $3, last_outcome = $4, occurrence_at = $5, next_due_at = $6, attempt = $7,
         escalation_call_id = COALESCE($8, escalation_call_id), claimed_by = NULL, claimed_until = NULL, claim_token = NULL, updated_at = now()
       WHERE id = $1 AND claim_token = $2`,
      [c.booking.id, c.token, p.status, p.lastOutcome, ts(p.occurrenceAt), ts(p.nextDueAt), p.attempt, escalationCallId ?? null],
    );
    return (rowCount ?? 0) > 0;
  }
}
