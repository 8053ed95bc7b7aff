-- Voice messages for extensions. The audio is a WAV file under MESSAGES_DIR (written by
-- FreeSWITCH, read by the switchboard: same host or a shared volume); a row per message says
-- whose it is and where it lies. No foreign key to extensions: a message outlives nothing it
-- needs, and deleting an extension's messages is the API's job (rows and files together).

CREATE TABLE messages (
  id            bigserial PRIMARY KEY,
  -- The extension's number the message is for (extensions.number).
  extension     text NOT NULL,
  from_number   text NOT NULL DEFAULT '',
  from_name     text NOT NULL DEFAULT '',
  -- The call that recorded it (calls.call_id): an operator's recording or a waiting caller's.
  call_id       uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  duration_s    integer NOT NULL CHECK (duration_s >= 0),
  size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
  -- new: not heard yet; saved: heard or kept by the owner (RFC 3842's "old").
  state         text NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'saved')),
  -- The file, relative to MESSAGES_DIR.
  path          text NOT NULL UNIQUE
);
CREATE INDEX messages_extension_created ON messages (extension, created_at);
CREATE INDEX messages_created ON messages (created_at);

-- Per queue: the key a waiting caller presses to leave a voice message instead of waiting
-- (asked for the extension, then recorded); null: none. One DTMF key.
ALTER TABLE queues ADD COLUMN message_key text CHECK (message_key ~ '^[0-9*#]$');
