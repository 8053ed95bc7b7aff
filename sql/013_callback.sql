-- Callback that keeps the caller's place (issue 11, point 3; README: "Callback").
--
-- Per queue: callback_key is the DTMF key a waiting caller presses to be called back (NULL: no
-- callback); when the caller cannot be reached the switchboard tries callback_retries more times,
-- callback_retry_interval_s apart.
ALTER TABLE queues
  ADD COLUMN callback_key               text CHECK (callback_key ~ '^[0-9*#]$'),
  ADD COLUMN callback_retries           integer NOT NULL DEFAULT 2 CHECK (callback_retries BETWEEN 0 AND 10),
  ADD COLUMN callback_retry_interval_s  integer NOT NULL DEFAULT 60 CHECK (callback_retry_interval_s BETWEEN 1 AND 86400);

-- One row per callback, written when it ends (through the durable record path; live callbacks
-- are in Redis). No foreign keys, like the other history tables. original_call_id is the call
-- that asked for it (its calls row has disposition 'callback'); call_id the switchboard's call
-- back (operator and caller legs, queue events), null if it never rang anyone.
CREATE TABLE callbacks (
  callback_id        uuid PRIMARY KEY,
  original_call_id   uuid NOT NULL,
  call_id            uuid,
  instance_id        text NOT NULL,
  queue_id           bigint NOT NULL,
  queue_number       text NOT NULL,
  number             text NOT NULL,
  -- caller-id: the caller accepted their own number; keyed: they keyed in another one.
  confirmed_how      text NOT NULL CHECK (confirmed_how IN ('caller-id', 'keyed')),
  -- When the caller first entered the queue (their place) and when they asked for the callback.
  arrived_at         timestamptz NOT NULL,
  requested_at       timestamptz NOT NULL,
  ended_at           timestamptz NOT NULL,
  attempts           integer NOT NULL DEFAULT 0,
  outcome            text NOT NULL CHECK (outcome IN ('connected', 'failed', 'cancelled')),
  -- The operator of the last attempt (the one connected, for 'connected').
  operator_id        bigint,
  operator_username  text,
  reason             text NOT NULL DEFAULT '',
  recorded_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (ended_at >= requested_at)
);
CREATE INDEX callbacks_requested ON callbacks (requested_at);
CREATE INDEX callbacks_original_call ON callbacks (original_call_id);

-- A call whose caller asked to be called back and hung up is neither answered nor abandoned.
ALTER TABLE calls DROP CONSTRAINT IF EXISTS calls_disposition_check;
ALTER TABLE calls ADD CONSTRAINT calls_disposition_check
  CHECK (disposition IN ('answered', 'abandoned', 'timeout', 'overflow', 'rejected', 'failed', 'callback'));

-- The callback's steps in the queue's log.
ALTER TABLE queue_events DROP CONSTRAINT IF EXISTS queue_events_event_check;
ALTER TABLE queue_events ADD CONSTRAINT queue_events_event_check CHECK (event IN (
  'enter', 'offer', 'ring-no-answer', 'connect', 'abandon', 'exit-timeout', 'exit-full',
  'exit-overflow', 'exit-empty', 'transfer', 'complete-caller', 'complete-operator',
  'callback-requested', 'callback-attempt', 'callback-connected', 'callback-failed', 'callback-cancelled'));
