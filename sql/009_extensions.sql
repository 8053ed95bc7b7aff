-- Extensions: phones that are not operators' (guest rooms, staff, a lobby phone). Each registers
-- with its number as SIP user name, so that the switchboard can ring it (wake-up calls, callbacks)
-- and tell it about messages. The number is also how people and the API name it.

CREATE TABLE extensions (
  id          bigserial PRIMARY KEY,
  number      text NOT NULL UNIQUE CHECK (number ~ '^[0-9]{1,16}$'),
  name        text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
  ha1         text NOT NULL CHECK (ha1 ~ '^[0-9a-f]{32}$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
