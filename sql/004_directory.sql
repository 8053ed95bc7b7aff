-- Directory enquiries: who is where and how to reach them, for operators to find and transfer.
-- The *_key columns are search keys the switchboard computes from the entry on every write
-- (src/directory/entry.ts): the name and department folded (lower case, accents and punctuation
-- dropped), and the digits of every number and of the extension.
CREATE TABLE directory_entries (
  id              bigserial PRIMARY KEY,
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  department      text NOT NULL DEFAULT '' CHECK (length(department) <= 100),
  -- The room or extension to transfer to.
  extension       text CHECK (extension ~ '^[0-9A-Za-z*#+.-]{1,16}$'),
  -- [{"label": "mobile", "number": "+44 7700 900123"}, ...]
  numbers         jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(numbers) = 'array'),
  notes           text NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
  -- Unlisted (e.g. a guest who asked not to be disclosed): hidden from operator keys.
  private         boolean NOT NULL DEFAULT false,
  name_key        text NOT NULL,
  department_key  text NOT NULL,
  number_keys     text[] NOT NULL DEFAULT '{}',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX directory_entries_name_key ON directory_entries (name_key text_pattern_ops);
CREATE INDEX directory_entries_department_key ON directory_entries (department_key text_pattern_ops);
CREATE INDEX directory_entries_number_keys ON directory_entries USING gin (number_keys);
