-- Building blocks of the call-centre statistics (src/stats/): what a queue visit, a handled call
-- and an operator's time in a state are, defined once here and read by parameterised queries.

-- Statistics read events by time across all queues and operators.
CREATE INDEX queue_events_at ON queue_events (at);
-- The wrap-up that follows a call is found by the call's id.
CREATE INDEX operator_events_call ON operator_events (call_id) WHERE call_id IS NOT NULL;

-- One row per time a caller was presented to a queue (a "visit"): from an 'enter' event to its
-- outcome, the first of connect, abandon, exit-* or transfer of the same call in the same queue.
-- A caller the queue refused at once (full, or nobody logged in) is a visit that starts and ends
-- with its 'exit-full' / 'exit-empty' event, which then has no 'enter' before it. outcome is NULL
-- while the caller still waits (or rings an operator). wait_s: queue entry to outcome.
CREATE VIEW queue_visits AS
SELECT s.call_id, s.queue_id, s.queue_number, s.at AS entered_at,
       CASE WHEN s.event = 'enter' THEN o.event ELSE s.event END AS outcome,
       CASE WHEN s.event = 'enter' THEN o.at ELSE s.at END AS outcome_at,
       o.operator_id,
       EXTRACT(EPOCH FROM (CASE WHEN s.event = 'enter' THEN o.at ELSE s.at END) - s.at)::float8 AS wait_s
FROM queue_events s
LEFT JOIN LATERAL (
  SELECT x.event, x.at, x.operator_id
  FROM queue_events x
  WHERE s.event = 'enter' AND x.call_id = s.call_id AND x.queue_id = s.queue_id AND x.at > s.at
    AND x.event IN ('connect', 'abandon', 'exit-timeout', 'exit-overflow', 'exit-full', 'exit-empty', 'transfer')
  ORDER BY x.at
  LIMIT 1
) o ON true
WHERE s.event = 'enter'
   OR (s.event IN ('exit-full', 'exit-empty')
       AND COALESCE((SELECT p.event NOT IN ('enter', 'offer', 'ring-no-answer')
                     FROM queue_events p
                     WHERE p.call_id = s.call_id AND p.queue_id = s.queue_id AND p.at < s.at
                     ORDER BY p.at DESC
                     LIMIT 1), true));

-- One row per call an operator answered from a queue and finished: talk and hold from the
-- completion event, wrap-up from the operator's events (the wrap-up entered for this call, which
-- lasted the from_state_s of the operator's next event). A call ended by the switchboard itself
-- (shutdown) has no completion event and is not here; a wrap-up still running counts as 0.
CREATE VIEW handled_calls AS
SELECT c.call_id, c.queue_id, c.operator_id, c.at AS connected_at, d.at AS completed_at,
       COALESCE(d.talk_s, 0)::float8 AS talk_s,
       COALESCE(d.hold_s, 0)::float8 AS hold_s,
       COALESCE(w.wrapup_s, 0)::float8 AS wrapup_s
FROM queue_events c
JOIN LATERAL (
  SELECT x.at, x.talk_s, x.hold_s
  FROM queue_events x
  WHERE x.call_id = c.call_id AND x.operator_id = c.operator_id AND x.at > c.at
    AND x.event IN ('complete-caller', 'complete-operator')
  ORDER BY x.at
  LIMIT 1
) d ON true
LEFT JOIN LATERAL (
  SELECT n.from_state_s AS wrapup_s
  FROM operator_events w
  JOIN LATERAL (
    SELECT y.from_state, y.from_state_s
    FROM operator_events y
    WHERE y.operator_id = w.operator_id AND y.at > w.at
    ORDER BY y.at
    LIMIT 1
  ) n ON n.from_state = 'wrap-up'
  WHERE w.call_id = c.call_id AND w.operator_id = c.operator_id AND w.to_state = 'wrap-up'
  ORDER BY w.at
  LIMIT 1
) w ON true
WHERE c.event = 'connect';

-- Every stretch of time an operator spent in one state that overlaps [p_from, p_to): each event
-- closes the state it leaves (which lasted from_state_s), and the state an operator of the
-- configuration is in since their last event runs until now.
CREATE FUNCTION operator_state_intervals(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (operator_id bigint, state text, started_at timestamptz, ended_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT e.operator_id, e.from_state, e.at - e.from_state_s::float8 * interval '1 second', e.at
  FROM operator_events e
  WHERE e.at > p_from AND e.from_state_s > 0 AND e.at - e.from_state_s::float8 * interval '1 second' < p_to
  UNION ALL
  SELECT o.id, l.to_state, l.at, now()
  FROM operators o
  JOIN LATERAL (
    SELECT e.to_state, e.at FROM operator_events e WHERE e.operator_id = o.id ORDER BY e.at DESC LIMIT 1
  ) l ON true
  WHERE l.at < p_to AND now() > p_from
$$;

-- The intervals of a report over [p_from, p_to): '15 minutes' and '1 hour' are steps of fixed
-- length counted from midnight in p_tz (so hours start on the local hour, also in zones offset
-- by :30 or :45); '1 day' is the local calendar day (23 or 25 hours when the clocks change);
-- NULL is the whole range as one interval. The first and last are cut to the range.
CREATE FUNCTION stats_buckets(p_from timestamptz, p_to timestamptz, p_interval text, p_tz text)
RETURNS TABLE (bucket_start timestamptz, bucket_end timestamptz)
LANGUAGE sql STABLE AS $$
  WITH steps (s, e) AS (
    SELECT b, b + p_interval::interval
    FROM generate_series(
      date_bin(p_interval::interval, p_from, date_trunc('day', p_from AT TIME ZONE p_tz) AT TIME ZONE p_tz),
      p_to - interval '1 microsecond',
      p_interval::interval) AS b
    WHERE p_interval IN ('15 minutes', '1 hour')
    UNION ALL
    SELECT d AT TIME ZONE p_tz, (d + interval '1 day') AT TIME ZONE p_tz
    FROM generate_series(
      date_trunc('day', p_from AT TIME ZONE p_tz),
      (p_to - interval '1 microsecond') AT TIME ZONE p_tz,
      interval '1 day') AS d
    WHERE p_interval = '1 day'
    UNION ALL
    SELECT p_from, p_to
    WHERE p_interval IS NULL
  )
  SELECT GREATEST(s, p_from), LEAST(e, p_to) FROM steps WHERE s < p_to AND e > p_from
$$;

-- The interval of stats_buckets(p_from, ..., p_interval, p_tz) that p_at (within the range)
-- falls in, by its start: the same arithmetic, so that rows join their interval by equality.
CREATE FUNCTION stats_bucket_of(p_at timestamptz, p_from timestamptz, p_interval text, p_tz text)
RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT GREATEST(p_from, CASE
    WHEN p_interval IS NULL THEN p_from
    WHEN p_interval = '1 day' THEN date_trunc('day', p_at AT TIME ZONE p_tz) AT TIME ZONE p_tz
    ELSE date_bin(p_interval::interval, p_at, date_trunc('day', p_from AT TIME ZONE p_tz) AT TIME ZONE p_tz)
  END)
$$;
