-- Wake-up calls (README: Wake-up calls). A booking rings an extension at a local time in its time
-- zone, once or every day; unanswered, it is retried, then an operator is called. The scheduler
-- of every instance polls for due bookings with one indexed query and claims one at a time
-- (FOR UPDATE SKIP LOCKED) with a lease, so two instances never place the same call and a dead
-- instance's claim is taken over when its lease runs out.

CREATE TABLE wakeup_calls (
  id                bigserial PRIMARY KEY,
  -- The extension (guest room) rung: its number.
  extension         text NOT NULL CHECK (extension ~ '^[0-9]{1,16}$'),
  local_time        text NOT NULL CHECK (local_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  time_zone         text NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
  repeat            text NOT NULL CHECK (repeat IN ('once', 'daily')),
  -- once: the local date; daily: the first day (NULL: the next time the clock shows local_time).
  local_date        date,
  retries           integer NOT NULL CHECK (retries BETWEEN 0 AND 10),
  retry_interval_s  integer NOT NULL CHECK (retry_interval_s BETWEEN 10 AND 3600),
  ring_timeout_s    integer NOT NULL CHECK (ring_timeout_s BETWEEN 5 AND 300),
  -- The queue (by number) whose operator is called after the last try; NULL: WAKEUP_ESCALATION_QUEUE.
  escalation_queue  text CHECK (escalation_queue ~ '^[0-9]{1,16}$'),
  note              text NOT NULL DEFAULT '' CHECK (length(note) <= 200),
  -- scheduled until done; a daily booking stays scheduled and says how its last day went.
  status            text NOT NULL CHECK (status IN ('scheduled', 'answered', 'escalated', 'missed', 'cancelled')),
  last_outcome      text CHECK (last_outcome IN ('answered', 'escalated', 'missed')),
  -- When the current occurrence was meant to ring, and when its next attempt is due (NULL: done).
  occurrence_at     timestamptz,
  next_due_at       timestamptz,
  attempt           integer NOT NULL DEFAULT 0,
  -- The escalation call of the last occurrence that needed one.
  escalation_call_id uuid,
  -- The instance placing the booking's attempt now, until when, and a token for its writes.
  claimed_by        text,
  claimed_until     timestamptz,
  claim_token       uuid,
  created_by        text NOT NULL DEFAULT '',
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
-- The scheduler's poll: due bookings in order (only those with something left to do).
CREATE INDEX wakeup_calls_due ON wakeup_calls (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX wakeup_calls_extension ON wakeup_calls (extension);

-- One row per attempt: written when it starts, completed when it ends. A row without ended_at
-- whose booking was taken over after a lease ran out is closed as failed by the new owner.
CREATE TABLE wakeup_attempts (
  id             bigserial PRIMARY KEY,
  booking_id     bigint NOT NULL REFERENCES wakeup_calls (id) ON DELETE CASCADE,
  occurrence_at  timestamptz NOT NULL,
  attempt        integer NOT NULL CHECK (attempt >= 1),
  instance_id    text NOT NULL,
  -- The call's id in calls/call_legs (NULL for a missed occurrence: nothing was placed).
  call_id        uuid,
  started_at     timestamptz NOT NULL,
  ended_at       timestamptz,
  result         text CHECK (result IN ('answered', 'no-answer', 'busy', 'failed', 'unreachable', 'missed')),
  sip_status     integer,
  UNIQUE (booking_id, occurrence_at, attempt)
);
CREATE INDEX wakeup_attempts_booking ON wakeup_attempts (booking_id, started_at);
