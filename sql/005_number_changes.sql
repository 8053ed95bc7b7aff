-- Number changes and withdrawals: from effective_from until intercept_until, a call to
-- old_number hears an intercept announcement (the new number, or "no longer in service") and
-- is then connected to new_number (connect_to_new) or ended. Afterwards the old number is
-- routed like any other number again. One entry per old number.
CREATE TABLE number_changes (
  id               bigserial PRIMARY KEY,
  old_number       text NOT NULL UNIQUE CHECK (old_number ~ '^[0-9*#+]{1,32}$'),
  -- NULL: withdrawn (no longer in service).
  new_number       text CHECK (new_number ~ '^[0-9*#+]{1,32}$'),
  effective_from   timestamptz NOT NULL DEFAULT now(),
  intercept_until  timestamptz NOT NULL,
  connect_to_new   boolean NOT NULL DEFAULT false,
  note             text NOT NULL DEFAULT '' CHECK (length(note) <= 200),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (intercept_until > effective_from),
  CHECK (new_number IS DISTINCT FROM old_number),
  CHECK (NOT connect_to_new OR new_number IS NOT NULL)
);

-- The call's record says when it was intercepted: 'withdrawn' or 'changed' (announced, then
-- ended), 'connected' (announced, then routed to the new number, which the other columns
-- describe); dialled_number stays the old number the caller dialled.
ALTER TABLE calls
  ADD COLUMN intercept text CHECK (intercept IN ('withdrawn', 'changed', 'connected')),
  ADD COLUMN intercept_new_number text;
