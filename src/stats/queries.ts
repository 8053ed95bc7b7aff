/**
 * Call-centre statistics, computed in PostgreSQL from the queue and operator events (the views
 * and functions of sql/002_statistics.sql). Every figure is per queue or per operator and per
 * interval of the report; intervals without events are there, with zeros.
 */
import type { Pool } from '../db/pool.js';

export type StatsInterval = '15m' | '1h' | '1d';

const STEP: Record<StatsInterval, string> = { '15m': '15 minutes', '1h': '1 hour', '1d': '1 day' };

/** A report longer than this many intervals is refused: ask for a coarser interval. */
export const MAX_INTERVALS = 3_000;
const MINUTES: Record<StatsInterval, number> = { '15m': 15, '1h': 60, '1d': 1440 };

export interface StatsRange {
  from: Date;
  to: Date;
  /** Omitted: the whole range is one interval. */
  interval?: StatsInterval;
  /** IANA time zone in which days (and the hours of :30 zones) begin. */
  tz: string;
}

export interface QueueStatsQuery extends StatsRange {
  queueId?: number;
  /** Abandons after less than this many seconds of waiting are "short". */
  shortAbandonS: number;
}

export interface OperatorStatsQuery extends StatsRange {
  operatorId?: number;
}

/** Roughly how many intervals a report has (an hour either way on days when the clocks change). */
export function intervalCount(r: StatsRange): number {
  if (r.interval === undefined) return 1;
  return Math.ceil((r.to.getTime() - r.from.getTime()) / 60_000 / MINUTES[r.interval]) + 1;
}

// Ratios are rounded to 4 places, seconds to the millisecond; NULL when there is nothing to divide.
const ratio = (num: string, den: string): string => `round((${num})::numeric / NULLIF((${den})::numeric, 0), 4)::float8`;
const secs = (expr: string): string => `round((${expr})::numeric, 3)::float8`;

/**
 * Ratings (sql/007) per subject and interval, by the time the call ended: rated, asked but not
 * rated, and the mean of the ratings. `subject` is the calls column that names the queue or the
 * operator; `scope` the CTE of the report's queues or operators.
 */
const ratingsCte = (subject: string, scope: string): string => `
ratings AS (
  SELECT c.${subject} AS subject_id, b.bucket_start,
    count(*) FILTER (WHERE c.rating_result = 'rated') AS rated,
    count(*) FILTER (WHERE c.rating_result = 'not-rated') AS not_rated,
    avg(c.rating) AS avg_rating
  FROM calls c
  JOIN ${scope} s ON s.id = c.${subject}
  JOIN b ON b.bucket_start = stats_bucket_of(c.ended_at, $1, $3, $4)
  WHERE c.rating_result IS NOT NULL AND c.ended_at >= $1 AND c.ended_at < $2
  GROUP BY c.${subject}, b.bucket_start
)`;
const ratingColumns = (r: string): string =>
  `coalesce(${r}.rated, 0)::int AS rated, coalesce(${r}.not_rated, 0)::int AS "notRated", round(${r}.avg_rating::numeric, 2)::float8 AS "avgRating"`;

const QUEUE_SQL = `
WITH b AS (SELECT * FROM stats_buckets($1, $2, $3, $4)),
q AS (SELECT id, number, name, service_level_s FROM queues WHERE $5::bigint IS NULL OR id = $5),
v AS (
  SELECT v.*, q.service_level_s AS t
  FROM queue_visits v JOIN q ON q.id = v.queue_id
  WHERE v.entered_at >= $1 AND v.entered_at < $2
),
h AS (SELECT * FROM handled_calls WHERE connected_at >= $1),${ratingsCte('queue_id', 'q')},
agg AS (
  SELECT v.queue_id, b.bucket_start,
    count(*) AS offered,
    count(*) FILTER (WHERE v.outcome = 'connect') AS answered,
    count(*) FILTER (WHERE v.outcome = 'connect' AND v.wait_s <= v.t) AS answered_within_t,
    count(*) FILTER (WHERE v.outcome = 'abandon') AS abandoned,
    count(*) FILTER (WHERE v.outcome = 'abandon' AND v.wait_s <= v.t) AS abandoned_within_t,
    count(*) FILTER (WHERE v.outcome = 'abandon' AND v.wait_s < $6) AS short_abandoned,
    count(*) FILTER (WHERE v.outcome = 'exit-timeout') AS timed_out,
    count(*) FILTER (WHERE v.outcome IN ('exit-overflow', 'exit-full', 'exit-empty')) AS overflowed,
    count(*) FILTER (WHERE v.outcome = 'transfer') AS transferred,
    count(*) FILTER (WHERE v.outcome IS NULL) AS waiting,
    avg(v.wait_s) FILTER (WHERE v.outcome = 'connect') AS asa,
    max(v.wait_s) AS longest_wait,
    count(h.call_id) AS handled,
    coalesce(sum(h.talk_s), 0) AS talk,
    coalesce(sum(h.hold_s), 0) AS hold,
    coalesce(sum(h.wrapup_s), 0) AS wrapup,
    avg(h.talk_s + h.hold_s + h.wrapup_s) AS aht,
    count(DISTINCT v.operator_id) FILTER (WHERE v.outcome = 'connect') AS operators
  FROM v
  JOIN b ON b.bucket_start = stats_bucket_of(v.entered_at, $1, $3, $4)
  LEFT JOIN h ON v.outcome = 'connect' AND h.call_id = v.call_id AND h.queue_id = v.queue_id AND h.connected_at = v.outcome_at
  GROUP BY v.queue_id, b.bucket_start
),
z AS (
  SELECT q.id, q.number, q.name, q.service_level_s, b.bucket_start, b.bucket_end,
    coalesce(a.offered, 0) AS offered, coalesce(a.answered, 0) AS answered,
    coalesce(a.answered_within_t, 0) AS answered_within_t, coalesce(a.abandoned, 0) AS abandoned,
    coalesce(a.abandoned_within_t, 0) AS abandoned_within_t, coalesce(a.short_abandoned, 0) AS short_abandoned,
    coalesce(a.timed_out, 0) AS timed_out, coalesce(a.overflowed, 0) AS overflowed,
    coalesce(a.transferred, 0) AS transferred, coalesce(a.waiting, 0) AS waiting,
    a.asa, a.longest_wait, coalesce(a.handled, 0) AS handled, coalesce(a.talk, 0) AS talk,
    coalesce(a.hold, 0) AS hold, coalesce(a.wrapup, 0) AS wrapup, a.aht, coalesce(a.operators, 0) AS operators,
    ${ratingColumns('r')}
  FROM q CROSS JOIN b
  LEFT JOIN agg a ON a.queue_id = q.id AND a.bucket_start = b.bucket_start
  LEFT JOIN ratings r ON r.subject_id = q.id AND r.bucket_start = b.bucket_start
)
SELECT id AS "queueId", number, name, service_level_s AS "serviceLevelS", bucket_start AS "start", bucket_end AS "end",
  offered::int, answered::int, answered_within_t::int AS "answeredWithinT", abandoned::int,
  abandoned_within_t::int AS "abandonedWithinT", short_abandoned::int AS "shortAbandoned",
  timed_out::int AS "timedOut", overflowed::int, transferred::int, waiting::int,
  ${ratio('answered_within_t', 'answered')} AS "serviceLevel",
  ${ratio('answered_within_t + abandoned_within_t', 'answered + abandoned')} AS "serviceLevelWithAbandons",
  ${ratio('abandoned', 'answered + abandoned')} AS "abandonRate",
  ${ratio('abandoned - short_abandoned', 'answered + abandoned - short_abandoned')} AS "abandonRateWithoutShort",
  ${secs('asa')} AS "avgSpeedOfAnswerS", ${secs('longest_wait')} AS "longestWaitS",
  handled::int, ${secs('talk')} AS "talkS", ${secs('hold')} AS "holdS", ${secs('wrapup')} AS "wrapupS",
  ${secs('aht')} AS "avgHandleS", operators::int AS "operatorsAnswering",
  ${ratio('answered', 'operators')} AS "callsPerOperator",
  rated, "notRated", "avgRating"
FROM z
ORDER BY number, id, bucket_start`;

const OPERATOR_SQL = `
WITH b AS (SELECT * FROM stats_buckets($1, $2, $3, $4)),
o AS (SELECT id, username, display_name FROM operators WHERE $5::bigint IS NULL OR id = $5),
-- Before the "calls" of this query, so that it reads the calls table.${ratingsCte('rating_operator_id', 'o')},
calls AS (
  SELECT e.operator_id, b.bucket_start,
    count(*) FILTER (WHERE e.event = 'offer') AS offered,
    count(*) FILTER (WHERE e.event = 'connect') AS answered,
    count(*) FILTER (WHERE e.event = 'ring-no-answer') AS missed
  FROM queue_events e
  JOIN o ON o.id = e.operator_id
  JOIN b ON b.bucket_start = stats_bucket_of(e.at, $1, $3, $4)
  WHERE e.at >= $1 AND e.at < $2 AND e.event IN ('offer', 'connect', 'ring-no-answer')
  GROUP BY e.operator_id, b.bucket_start
),
handled AS (
  SELECT h.operator_id, b.bucket_start, count(*) AS handled, sum(h.talk_s) AS talk, sum(h.hold_s) AS hold,
    sum(h.wrapup_s) AS wrapup, avg(h.talk_s + h.hold_s + h.wrapup_s) AS aht
  FROM handled_calls h
  JOIN o ON o.id = h.operator_id
  JOIN b ON b.bucket_start = stats_bucket_of(h.connected_at, $1, $3, $4)
  WHERE h.connected_at >= $1 AND h.connected_at < $2
  GROUP BY h.operator_id, b.bucket_start
),
times AS (
  SELECT t.operator_id, b.bucket_start,
    coalesce(sum(x.s) FILTER (WHERE t.state <> 'logged-out'), 0) AS logged_in,
    coalesce(sum(x.s) FILTER (WHERE t.state = 'on-break'), 0) AS on_break,
    coalesce(sum(x.s) FILTER (WHERE t.state = 'available'), 0) AS available,
    coalesce(sum(x.s) FILTER (WHERE t.state = 'ringing'), 0) AS ringing,
    coalesce(sum(x.s) FILTER (WHERE t.state = 'busy'), 0) AS busy,
    coalesce(sum(x.s) FILTER (WHERE t.state = 'wrap-up'), 0) AS wrap_up
  FROM operator_state_intervals($1, $2) t
  JOIN o ON o.id = t.operator_id
  JOIN b ON t.started_at < b.bucket_end AND t.ended_at > b.bucket_start
  CROSS JOIN LATERAL (
    SELECT EXTRACT(EPOCH FROM LEAST(t.ended_at, b.bucket_end) - GREATEST(t.started_at, b.bucket_start))::float8 AS s
  ) x
  GROUP BY t.operator_id, b.bucket_start
)
SELECT o.id AS "operatorId", o.username, o.display_name AS "displayName", b.bucket_start AS "start", b.bucket_end AS "end",
  coalesce(c.offered, 0)::int AS offered, coalesce(c.answered, 0)::int AS answered, coalesce(c.missed, 0)::int AS missed,
  coalesce(h.handled, 0)::int AS handled, ${secs('coalesce(h.talk, 0)')} AS "talkS", ${secs('coalesce(h.hold, 0)')} AS "holdS",
  ${secs('coalesce(h.wrapup, 0)')} AS "wrapupS", ${secs('h.aht')} AS "avgHandleS",
  ${secs('coalesce(t.logged_in, 0)')} AS "loggedInS", ${secs('coalesce(t.on_break, 0)')} AS "onBreakS",
  ${secs('coalesce(t.available, 0)')} AS "availableS", ${secs('coalesce(t.ringing, 0)')} AS "ringingS",
  ${secs('coalesce(t.busy, 0)')} AS "busyS", ${secs('coalesce(t.wrap_up, 0)')} AS "wrapUpStateS",
  ${ratio('t.busy + t.wrap_up', 't.logged_in - t.on_break')} AS occupancy,
  ${ratingColumns('r')}
FROM o CROSS JOIN b
LEFT JOIN calls c ON c.operator_id = o.id AND c.bucket_start = b.bucket_start
LEFT JOIN handled h ON h.operator_id = o.id AND h.bucket_start = b.bucket_start
LEFT JOIN times t ON t.operator_id = o.id AND t.bucket_start = b.bucket_start
LEFT JOIN ratings r ON r.subject_id = o.id AND r.bucket_start = b.bucket_start
ORDER BY o.username, b.bucket_start`;

type Row = Record<string, unknown>;

/** Rows of one query, one per (subject, interval), grouped by subject in query order. */
function group(rows: Row[], keyFields: string[]): { head: Row; intervals: Row[] }[] {
  const groups = new Map<string, { head: Row; intervals: Row[] }>();
  for (const row of rows) {
    const head = Object.fromEntries(keyFields.map((f) => [f, row[f]]));
    const rest = Object.fromEntries(Object.entries(row).filter(([k]) => !keyFields.includes(k)));
    const id = JSON.stringify(head);
    const entry = groups.get(id) ?? { head, intervals: [] };
    entry.intervals.push(rest);
    groups.set(id, entry);
  }
  return [...groups.values()];
}

function rangeParams(r: StatsRange): unknown[] {
  return [r.from, r.to, r.interval === undefined ? null : STEP[r.interval], r.tz];
}

/** Per queue and interval: offered, answered, abandoned, service level, speed of answer, handle time. */
export async function queueStats(pool: Pool, q: QueueStatsQuery): Promise<Row[]> {
  const { rows } = await pool.query<Row>(QUEUE_SQL, [...rangeParams(q), q.queueId ?? null, q.shortAbandonS]);
  return group(rows, ['queueId', 'number', 'name', 'serviceLevelS']).map((g) => ({ ...g.head, intervals: g.intervals }));
}

/** Per operator and interval: calls offered, answered and missed, handle time, time per state, occupancy. */
export async function operatorStats(pool: Pool, q: OperatorStatsQuery): Promise<Row[]> {
  const { rows } = await pool.query<Row>(OPERATOR_SQL, [...rangeParams(q), q.operatorId ?? null]);
  return group(rows, ['operatorId', 'username', 'displayName']).map((g) => ({ ...g.head, intervals: g.intervals }));
}
