-- Configuration (operators, queues, memberships, routes, rooms) and history (calls, legs, queue
-- and operator events). History rows carry copies of the numbers and names they refer to and no
-- foreign keys, so deleting an operator or a queue never rewrites or blocks the record of past calls.

CREATE TABLE operators (
  id            bigserial PRIMARY KEY,
  username      text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9._-]{1,64}$'),
  -- MD5(username:realm:password) as RFC 2617 defines it; the plain password is never stored.
  ha1           text NOT NULL CHECK (ha1 ~ '^[0-9a-f]{32}$'),
  display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
  -- The work number the caller hears when this operator answers ("operator 67354").
  work_number   text NOT NULL UNIQUE CHECK (work_number ~ '^[0-9]{1,16}$'),
  -- Operator grade 1 (trainee) to 4 (senior).
  grade         smallint NOT NULL DEFAULT 1 CHECK (grade BETWEEN 1 AND 4),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE queues (
  id                    bigserial PRIMARY KEY,
  number                text NOT NULL UNIQUE CHECK (number ~ '^[0-9]{1,16}$'),
  name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  strategy              text NOT NULL DEFAULT 'longest-idle'
                        CHECK (strategy IN ('longest-idle', 'round-robin', 'ring-all', 'fewest-calls', 'linear')),
  ring_timeout_s        integer NOT NULL DEFAULT 15 CHECK (ring_timeout_s BETWEEN 1 AND 300),
  -- NULL: no limit.
  max_wait_s            integer CHECK (max_wait_s BETWEEN 1 AND 86400),
  max_length            integer CHECK (max_length BETWEEN 1 AND 100000),
  wrapup_s              integer NOT NULL DEFAULT 5 CHECK (wrapup_s BETWEEN 0 AND 3600),
  -- Misses in a row before an operator is put on break.
  max_no_answer         integer NOT NULL DEFAULT 3 CHECK (max_no_answer BETWEEN 1 AND 100),
  -- Where callers go on max wait, max length, or (with no_operators = 'overflow') an empty queue.
  overflow_action       text NOT NULL DEFAULT 'busy' CHECK (overflow_action IN ('busy', 'queue', 'number')),
  overflow_target       text CHECK (overflow_target ~ '^[0-9*#+]{1,32}$'),
  -- What happens to callers when no operator of the queue is logged in.
  no_operators          text NOT NULL DEFAULT 'wait' CHECK (no_operators IN ('wait', 'overflow', 'reject')),
  hold_music            text NOT NULL DEFAULT 'local_stream://moh' CHECK (length(hold_music) BETWEEN 1 AND 500),
  -- Seconds between position announcements; 0 turns them off.
  announce_interval_s   integer NOT NULL DEFAULT 30 CHECK (announce_interval_s BETWEEN 0 AND 3600),
  -- T in "answered within T seconds", for the service level.
  service_level_s       integer NOT NULL DEFAULT 20 CHECK (service_level_s BETWEEN 1 AND 3600),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  CHECK ((overflow_action = 'busy') = (overflow_target IS NULL))
);

CREATE TABLE queue_members (
  queue_id     bigint NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
  operator_id  bigint NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
  -- Lower is offered first by the linear strategy; the others break ties with it.
  penalty      integer NOT NULL DEFAULT 0 CHECK (penalty BETWEEN 0 AND 1000),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue_id, operator_id)
);
CREATE INDEX queue_members_operator ON queue_members (operator_id);

CREATE TABLE rooms (
  id                  bigserial PRIMARY KEY,
  number              text NOT NULL UNIQUE CHECK (number ~ '^[0-9]{1,16}$'),
  name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  pin                 text CHECK (pin ~ '^[0-9]{2,12}$'),
  moderator_pin       text CHECK (moderator_pin ~ '^[0-9]{2,12}$'),
  -- Members wait with music until a moderator joins.
  wait_for_moderator  boolean NOT NULL DEFAULT false,
  mute_on_join        boolean NOT NULL DEFAULT false,
  max_members         integer CHECK (max_members BETWEEN 2 AND 1000),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK (pin IS NULL OR moderator_pin IS NULL OR pin <> moderator_pin),
  CHECK (NOT wait_for_moderator OR moderator_pin IS NOT NULL)
);

-- The dialling plan: a dialled number leads to exactly one kind of target.
CREATE TABLE routes (
  id              bigserial PRIMARY KEY,
  number          text NOT NULL UNIQUE CHECK (number ~ '^[0-9*#+]{1,32}$'),
  target_type     text NOT NULL CHECK (target_type IN ('queue', 'operator', 'room', 'reject')),
  queue_id        bigint REFERENCES queues (id) ON DELETE RESTRICT,
  operator_id     bigint REFERENCES operators (id) ON DELETE RESTRICT,
  room_id         bigint REFERENCES rooms (id) ON DELETE RESTRICT,
  reject_status   integer CHECK (reject_status BETWEEN 400 AND 699),
  -- Callers from outside TRUSTED_SOURCES are refused with 403 unless this is true.
  allow_outside   boolean NOT NULL DEFAULT false,
  description     text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (
    (target_type = 'queue'    AND queue_id IS NOT NULL AND operator_id IS NULL AND room_id IS NULL AND reject_status IS NULL) OR
    (target_type = 'operator' AND operator_id IS NOT NULL AND queue_id IS NULL AND room_id IS NULL AND reject_status IS NULL) OR
    (target_type = 'room'     AND room_id IS NOT NULL AND queue_id IS NULL AND operator_id IS NULL AND reject_status IS NULL) OR
    (target_type = 'reject'   AND reject_status IS NOT NULL AND queue_id IS NULL AND operator_id IS NULL AND room_id IS NULL)
  )
);
CREATE INDEX routes_queue ON routes (queue_id) WHERE queue_id IS NOT NULL;
CREATE INDEX routes_operator ON routes (operator_id) WHERE operator_id IS NOT NULL;
CREATE INDEX routes_room ON routes (room_id) WHERE room_id IS NOT NULL;

-- One row per call: a caller's journey from arrival to the last hang-up.
CREATE TABLE calls (
  call_id           uuid PRIMARY KEY,
  instance_id       text NOT NULL,
  caller_number     text NOT NULL,
  caller_name       text NOT NULL DEFAULT '',
  dialled_number    text NOT NULL,
  route_type        text CHECK (route_type IN ('queue', 'operator', 'room', 'reject')),
  queue_id          bigint,
  queue_number      text,
  -- The operator who answered first, and every operator who talked to the caller.
  operator_id       bigint,
  operator_username text,
  operators         text[] NOT NULL DEFAULT '{}',
  arrived_at        timestamptz NOT NULL,
  queued_at         timestamptz,
  offered_at        timestamptz,
  answered_at       timestamptz,
  ended_at          timestamptz NOT NULL,
  -- Seconds from queue entry to answer (or to leaving the queue unanswered).
  wait_s            numeric(10, 3) NOT NULL DEFAULT 0,
  talk_s            numeric(10, 3) NOT NULL DEFAULT 0,
  hold_s            numeric(10, 3) NOT NULL DEFAULT 0,
  disposition       text NOT NULL CHECK (disposition IN ('answered', 'abandoned', 'timeout', 'overflow', 'rejected', 'failed')),
  hangup_by         text CHECK (hangup_by IN ('caller', 'operator', 'target', 'system')),
  sip_status        integer,
  sip_reason        text,
  recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_arrived ON calls (arrived_at);
CREATE INDEX calls_caller ON calls (caller_number, arrived_at);
CREATE INDEX calls_dialled ON calls (dialled_number, arrived_at);
CREATE INDEX calls_queue ON calls (queue_id, arrived_at);
CREATE INDEX calls_operator ON calls (operator_id, arrived_at);
CREATE INDEX calls_disposition ON calls (disposition, arrived_at);

-- One row per SIP dialog the switchboard had on behalf of a call.
CREATE TABLE call_legs (
  leg_id         uuid PRIMARY KEY,
  call_id        uuid NOT NULL,
  role           text NOT NULL CHECK (role IN ('caller', 'operator', 'target', 'guest')),
  direction      text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  sip_call_id    text NOT NULL,
  party          text NOT NULL,
  operator_id    bigint,
  started_at     timestamptz NOT NULL,
  answered_at    timestamptz,
  ended_at       timestamptz NOT NULL,
  end_status     integer,
  end_reason     text,
  hangup_by      text CHECK (hangup_by IN ('caller', 'operator', 'target', 'guest', 'system')),
  recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_legs_call ON call_legs (call_id);

-- The queue's log, in the spirit of Asterisk's queue_log: statistics are computed from it in SQL.
CREATE TABLE queue_events (
  event_id      uuid PRIMARY KEY,
  at            timestamptz NOT NULL,
  call_id       uuid,
  queue_id      bigint,
  queue_number  text,
  operator_id   bigint,
  event         text NOT NULL CHECK (event IN (
                  'enter', 'offer', 'ring-no-answer', 'connect', 'abandon', 'exit-timeout', 'exit-full',
                  'exit-overflow', 'exit-empty', 'transfer', 'complete-caller', 'complete-operator')),
  -- Caller's position on entering (1 = first) and seconds waited / rung / talked, as the event needs.
  position      integer,
  wait_s        numeric(10, 3),
  ring_s        numeric(10, 3),
  talk_s        numeric(10, 3),
  hold_s        numeric(10, 3),
  data          jsonb NOT NULL DEFAULT '{}',
  recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_events_queue_at ON queue_events (queue_id, at);
CREATE INDEX queue_events_operator_at ON queue_events (operator_id, at) WHERE operator_id IS NOT NULL;
CREATE INDEX queue_events_call ON queue_events (call_id);

-- Every change of an operator's state, with how long the previous state lasted: occupancy
-- (talk + wrap-up over logged-in time less breaks) and time on break come from here.
CREATE TABLE operator_events (
  event_id      uuid PRIMARY KEY,
  at            timestamptz NOT NULL,
  operator_id   bigint NOT NULL,
  from_state    text NOT NULL CHECK (from_state IN ('logged-out', 'available', 'ringing', 'busy', 'wrap-up', 'on-break')),
  to_state      text NOT NULL CHECK (to_state IN ('logged-out', 'available', 'ringing', 'busy', 'wrap-up', 'on-break')),
  from_state_s  numeric(12, 3) NOT NULL DEFAULT 0,
  reason        text NOT NULL DEFAULT '',
  call_id       uuid,
  recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operator_events_operator_at ON operator_events (operator_id, at);
