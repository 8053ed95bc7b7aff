import type { Pool } from '../db/pool.js';
import type { Disposition } from './records.js';

export interface CdrFilter {
  from?: string;
  to?: string;
  /** Matches the caller's or the dialled number. */
  number?: string;
  operatorId?: number;
  queueId?: number;
  disposition?: Disposition;
  limit: number;
  offset: number;
}

const CALL_COLUMNS = `call_id AS "callId", instance_id AS "instanceId", caller_number AS "callerNumber",
  caller_name AS "callerName", dialled_number AS "dialledNumber", route_type AS "routeType", queue_id AS "queueId",
  queue_number AS "queueNumber", operator_id AS "operatorId", operator_username AS "operatorUsername", operators,
  arrived_at AS "arrivedAt", queued_at AS "queuedAt", offered_at AS "offeredAt", answered_at AS "answeredAt",
  ended_at AS "endedAt", wait_s AS "waitS", talk_s AS "talkS", hold_s AS "holdS", disposition,
  hangup_by AS "hangupBy", sip_status AS "sipStatus", sip_reason AS "sipReason", priority, skill, intercept,
  intercept_new_number AS "interceptNewNumber"`;

/** Call records by time range, number, operator, queue and disposition, newest first. */
export async function searchCdrs(pool: Pool, f: CdrFilter): Promise<{ items: Record<string, unknown>[]; total: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (p: string) => string, value: unknown): void => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (f.from !== undefined) add((p) => `arrived_at >= ${p}`, f.from);
  if (f.to !== undefined) add((p) => `arrived_at < ${p}`, f.to);
  if (f.number !== undefined) add((p) => `(caller_number = ${p} OR dialled_number = ${p})`, f.number);
  if (f.operatorId !== undefined) add((p) => `operator_id = ${p}`, f.operatorId);
  if (f.queueId !== undefined) add((p) => `queue_id = ${p}`, f.queueId);
  if (f.disposition !== undefined) add((p) => `disposition = ${p}`, f.disposition);
  params.push(f.limit, f.offset);
  const sql = `SELECT ${CALL_COLUMNS}, count(*) OVER () AS "__total" FROM calls
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY arrived_at DESC, call_id LIMIT $${params.length - 1} OFFSET $${params.length}`;
  const { rows } = await pool.query<Record<string, unknown> & { __total: number }>(sql, params);
  let total = rows[0]?.__total ?? 0;
  if (rows.length === 0 && f.offset > 0) {
    const countSql = `SELECT count(*)::int AS n FROM calls ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    total = (await pool.query<{ n: number }>(countSql, params.slice(0, -2))).rows[0]?.n ?? 0;
  }
  return { items: rows.map(({ __total: _t, ...row }) => row), total };
}

/** One call's whole story: its row, every leg, every queue event, every stay in a room. */
export async function callStory(pool: Pool, callId: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await pool.query(`SELECT ${CALL_COLUMNS} FROM calls WHERE call_id = $1`, [callId]);
  const call = rows[0] as Record<string, unknown> | undefined;
  if (!call) return undefined;
  const legs = await pool.query(
    `SELECT leg_id AS "legId", role, direction, sip_call_id AS "sipCallId", party, operator_id AS "operatorId",
       started_at AS "startedAt", answered_at AS "answeredAt", ended_at AS "endedAt", end_status AS "endStatus",
       end_reason AS "endReason", hangup_by AS "hangupBy"
     FROM call_legs WHERE call_id = $1 ORDER BY started_at, leg_id`,
    [callId],
  );
  const events = await pool.query(
    `SELECT event_id AS "eventId", at, queue_id AS "queueId", queue_number AS "queueNumber", operator_id AS "operatorId",
       event, position, wait_s AS "waitS", ring_s AS "ringS", talk_s AS "talkS", hold_s AS "holdS", data
     FROM queue_events WHERE call_id = $1 ORDER BY at, event_id`,
    [callId],
  );
  const rooms = await pool.query(
    `SELECT room_id AS "roomId", room_number AS "roomNumber", role, direction, joined_at AS "joinedAt",
       entered_at AS "enteredAt", left_at AS "leftAt", left_how AS "leftHow"
     FROM room_members WHERE call_id = $1 ORDER BY joined_at`,
    [callId],
  );
  const campOns = await pool.query(
    `SELECT operator_id AS "operatorId", operator_username AS "operatorUsername", origin, from_operator_id AS "fromOperatorId",
       camped_at AS "campedAt", ended_at AS "endedAt", wait_s AS "waitS", outcome
     FROM camp_ons WHERE call_id = $1 ORDER BY camped_at`,
    [callId],
  );
  return { ...call, legs: legs.rows, queueEvents: events.rows, roomStays: rooms.rows, campOns: campOns.rows };
}
