-- Work-number greeting and satisfaction rating (README: "Greeting and rating").

-- Per queue: the caller hears the greeting prompt and the operator's work number before being
-- connected; the operator hears a whisper (the file queue-<number> in PROMPTS_DIR) first; callers
-- whose operator hangs up first are asked to rate the call 1-5 and have rating_timeout_s to answer.
-- greeting_prompt is a file name in PROMPTS_DIR without ".wav" (no directories).
ALTER TABLE queues
  ADD COLUMN greeting          boolean NOT NULL DEFAULT false,
  ADD COLUMN greeting_prompt   text NOT NULL DEFAULT 'greeting' CHECK (greeting_prompt ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$'),
  ADD COLUMN whisper           boolean NOT NULL DEFAULT false,
  ADD COLUMN rating            boolean NOT NULL DEFAULT false,
  ADD COLUMN rating_timeout_s  integer NOT NULL DEFAULT 10 CHECK (rating_timeout_s BETWEEN 3 AND 60);

-- Per call: rating_result NULL means the caller was not asked; 'not-rated' that they were asked
-- and gave no valid answer in time (or hung up); 'rated' comes with the rating 1-5.
-- rating_operator_id: the operator rated, the one whose hang-up led to the question (after a
-- transfer, the last one).
ALTER TABLE calls
  ADD COLUMN rating              smallint CHECK (rating BETWEEN 1 AND 5),
  ADD COLUMN rating_result       text CHECK (rating_result IN ('rated', 'not-rated')),
  ADD COLUMN rating_operator_id  bigint,
  ADD CONSTRAINT calls_rating_given CHECK ((rating IS NOT NULL) = (rating_result IS NOT DISTINCT FROM 'rated'));

-- The statistics read the calls that were asked, by when they ended.
CREATE INDEX calls_rating_ended ON calls (ended_at) WHERE rating_result IS NOT NULL;
