-- Priority callers and skills (issue #10, point 6).
--
-- Caller lists: callers whose number is on a list wait with the list's priority (0-99, higher is
-- served first; callers on no list have 0). A number on several lists takes the highest.
CREATE TABLE caller_lists (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  priority    smallint NOT NULL CHECK (priority BETWEEN 0 AND 99),
  -- Caller numbers as they arrive in the From header's user part, matched exactly.
  numbers     text[] NOT NULL DEFAULT '{}' CHECK (cardinality(numbers) <= 10000),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- What an operator brings to a queue: skills (a language, a product: short lower-case names) and
-- a grade, 1 (trainee), 2 (junior), 3 (experienced) or 4 (senior), as
-- operators.grade; NULL takes the operator's grade.
ALTER TABLE queue_members
  ADD COLUMN skills text[] NOT NULL DEFAULT '{}' CHECK (cardinality(skills) <= 20),
  ADD COLUMN grade smallint CHECK (grade BETWEEN 1 AND 4);

-- A call on this number needs this skill.
ALTER TABLE routes
  ADD COLUMN skill text CHECK (skill ~ '^[a-z0-9_-]{1,32}$');

-- skill_wait_s: how long a call that needs a skill waits for an operator with it before any
-- member of the queue may take it. skill_menu: {"1": "fr", "2": "de"}: the caller chooses a
-- skill with one DTMF digit after the prompt skill_menu_prompt (a file in PROMPTS_DIR, no .wav).
ALTER TABLE queues
  ADD COLUMN skill_wait_s integer NOT NULL DEFAULT 30 CHECK (skill_wait_s BETWEEN 0 AND 86400),
  ADD COLUMN skill_menu jsonb CHECK (skill_menu IS NULL OR jsonb_typeof(skill_menu) = 'object'),
  ADD COLUMN skill_menu_prompt text NOT NULL DEFAULT 'skill-menu' CHECK (skill_menu_prompt ~ '^[A-Za-z0-9_-]{1,64}$');

-- What the call waited with: its priority and the skill it needed (NULL: none).
ALTER TABLE calls
  ADD COLUMN priority smallint NOT NULL DEFAULT 0,
  ADD COLUMN skill text;
