-- Camp-on: a caller whose blind transfer or direct call found the operator busy waits for them
-- with music. A row per camp-on, written when it ends (through the durable record path). Like the
-- other history tables it copies the operator's name and has no foreign keys. The call (calls,
-- call_legs, queue_events) has the same call_id.

CREATE TABLE camp_ons (
  camp_on_id         uuid PRIMARY KEY,
  call_id            uuid NOT NULL,
  instance_id        text NOT NULL,
  -- The operator camped on.
  operator_id        bigint NOT NULL,
  operator_username  text NOT NULL,
  -- transfer: a blind transfer found them busy; direct: a call to their own number did.
  origin             text NOT NULL CHECK (origin IN ('transfer', 'direct')),
  -- The operator who transferred the caller (transfers only).
  from_operator_id   bigint,
  camped_at          timestamptz NOT NULL,
  ended_at           timestamptz NOT NULL,
  wait_s             numeric(10, 3) NOT NULL DEFAULT 0,
  -- connected: the operator answered once free; timeout: CAMP_ON_TIMEOUT_SECONDS passed; no-answer:
  -- rung once free and did not answer; abandoned: the caller hung up; ended: by the switchboard.
  outcome            text NOT NULL CHECK (outcome IN ('connected', 'timeout', 'no-answer', 'abandoned', 'ended')),
  recorded_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (ended_at >= camped_at)
);
CREATE INDEX camp_ons_call ON camp_ons (call_id);
CREATE INDEX camp_ons_operator_camped ON camp_ons (operator_id, camped_at);
