-- Rooms (conference bridges): who was in each room and when. A row per member's stay, written
-- when the member leaves (through the durable record path, like calls and legs). Like the other
-- history tables it copies the room's number and has no foreign keys, so deleting a room never
-- rewrites or blocks its history. The member's call (calls, call_legs) has the same call_id.

CREATE TABLE room_members (
  entry_id       uuid PRIMARY KEY,
  room_id        bigint NOT NULL,
  room_number    text NOT NULL,
  -- One run of the conference, from its first member in to its last one out.
  session_id     uuid NOT NULL,
  call_id        uuid NOT NULL,
  instance_id    text NOT NULL,
  -- The caller's number (dial-in) or the number dialled out to.
  member_number  text NOT NULL,
  member_name    text NOT NULL DEFAULT '',
  role           text NOT NULL CHECK (role IN ('moderator', 'member')),
  direction      text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  operator_id    bigint,
  -- Admitted (after the PIN); entered the conference's audio (after any wait for a moderator;
  -- NULL if the member never got past the waiting music); left.
  joined_at      timestamptz NOT NULL,
  entered_at     timestamptz,
  left_at        timestamptz NOT NULL,
  -- hangup: the member hung up; kicked: through the API; ended: the conference was ended through
  -- the API; moderator-left: its last moderator left a room that needs one; system: anything else
  -- (a hang-up through the API, shutdown, the media server).
  left_how       text NOT NULL CHECK (left_how IN ('hangup', 'kicked', 'ended', 'moderator-left', 'system')),
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (left_at >= joined_at)
);
CREATE INDEX room_members_room_joined ON room_members (room_id, joined_at);
CREATE INDEX room_members_call ON room_members (call_id);
CREATE INDEX room_members_session ON room_members (session_id);
