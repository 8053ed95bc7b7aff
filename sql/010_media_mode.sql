-- Media paths (README: "Media paths"). Per queue: 'direct' connects caller and operator phone to
-- phone and brings the media server in only while media is needed (waiting music, hold,
-- transfers, three-way calls, prompts); 'anchored' keeps every leg on the media server for the
-- whole call (for recording and similar features). Queues stay anchored until set to direct:
-- direct mode is new (README: what is not done yet).
ALTER TABLE queues
  ADD COLUMN media_mode text NOT NULL DEFAULT 'anchored' CHECK (media_mode IN ('direct', 'anchored'));
