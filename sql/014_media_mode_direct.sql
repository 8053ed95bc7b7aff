-- New queues connect caller and operator phone to phone (README: "Media paths"): the media
-- server joins a call only while media is needed. Queues that exist keep the mode they have;
-- 'anchored' stays the per-queue setting for recording and similar features.
ALTER TABLE queues ALTER COLUMN media_mode SET DEFAULT 'direct';
