/**
 * Where each kind of history record is stored: the one place that maps the camelCase fields of
 * src/cdr/records.ts to the snake_case columns of the migrations in sql/, and the pure functions
 * that turn outbox entries into parameterised INSERT statements. No I/O here.
 */
import type { HistoryRecord } from './records.js';

export type RecordKind = HistoryRecord['kind'];
export type RowOf<K extends RecordKind> = Extract<HistoryRecord, { kind: K }>['row'];

export interface TableSpec<R> {
  table: string;
  /** The field holding the row's uuid primary key: what makes a second delivery a no-op. */
  key: keyof R & string;
  /** Every field names its column; the mapped type makes the compiler refuse a spec that forgets one. */
  columns: { readonly [F in keyof R]-?: string };
  /**
   * Fields sent as JSON text: pg would turn a JS array into a PostgreSQL array literal, which is
   * wrong for a jsonb column.
   */
  json?: readonly (keyof R & string)[];
}

type RecordTables = { readonly [K in RecordKind]: TableSpec<RowOf<K>> };

/** recorded_at is left to its DEFAULT now(): it says when the row reached PostgreSQL. */
export const RECORD_TABLES: RecordTables = {
  call: {
    table: 'calls',
    key: 'callId',
    columns: {
      callId: 'call_id',
      instanceId: 'instance_id',
      callerNumber: 'caller_number',
      callerName: 'caller_name',
      dialledNumber: 'dialled_number',
      routeType: 'route_type',
      queueId: 'queue_id',
      queueNumber: 'queue_number',
      operatorId: 'operator_id',
      operatorUsername: 'operator_username',
      operators: 'operators',
      arrivedAt: 'arrived_at',
      queuedAt: 'queued_at',
      offeredAt: 'offered_at',
      answeredAt: 'answered_at',
      endedAt: 'ended_at',
      waitS: 'wait_s',
      talkS: 'talk_s',
      holdS: 'hold_s',
      disposition: 'disposition',
      hangupBy: 'hangup_by',
      sipStatus: 'sip_status',
      sipReason: 'sip_reason',
      priority: 'priority',
      skill: 'skill',
      intercept: 'intercept',
      interceptNewNumber: 'intercept_new_number',
      rating: 'rating',
      ratingResult: 'rating_result',
      ratingOperatorId: 'rating_operator_id',
    },
  },
  leg: {
    table: 'call_legs',
    key: 'legId',
    columns: {
      legId: 'leg_id',
      callId: 'call_id',
      role: 'role',
      direction: 'direction',
      sipCallId: 'sip_call_id',
      party: 'party',
      operatorId: 'operator_id',
      startedAt: 'started_at',
      answeredAt: 'answered_at',
      endedAt: 'ended_at',
      endStatus: 'end_status',
      endReason: 'end_reason',
      hangupBy: 'hangup_by',
    },
  },
  'queue-event': {
    table: 'queue_events',
    key: 'eventId',
    columns: {
      eventId: 'event_id',
      at: 'at',
      callId: 'call_id',
      queueId: 'queue_id',
      queueNumber: 'queue_number',
      operatorId: 'operator_id',
      event: 'event',
      position: 'position',
      waitS: 'wait_s',
      ringS: 'ring_s',
      talkS: 'talk_s',
      holdS: 'hold_s',
      data: 'data',
    },
    json: ['data'],
  },
  'operator-event': {
    table: 'operator_events',
    key: 'eventId',
    columns: {
      eventId: 'event_id',
      at: 'at',
      operatorId: 'operator_id',
      fromState: 'from_state',
      toState: 'to_state',
      fromStateS: 'from_state_s',
      reason: 'reason',
      callId: 'call_id',
    },
  },
  'room-member': {
    table: 'room_members',
    key: 'entryId',
    columns: {
      entryId: 'entry_id',
      roomId: 'room_id',
      roomNumber: 'room_number',
      sessionId: 'session_id',
      callId: 'call_id',
      instanceId: 'instance_id',
      memberNumber: 'member_number',
      memberName: 'member_name',
      role: 'role',
      direction: 'direction',
      operatorId: 'operator_id',
      joinedAt: 'joined_at',
      enteredAt: 'entered_at',
      leftAt: 'left_at',
      leftHow: 'left_how',
    },
  },
  'camp-on': {
    table: 'camp_ons',
    key: 'campOnId',
    columns: {
      campOnId: 'camp_on_id',
      callId: 'call_id',
      instanceId: 'instance_id',
      operatorId: 'operator_id',
      operatorUsername: 'operator_username',
      origin: 'origin',
      fromOperatorId: 'from_operator_id',
      campedAt: 'camped_at',
      endedAt: 'ended_at',
      waitS: 'wait_s',
      outcome: 'outcome',
    },
  },
  callback: {
    table: 'callbacks',
    key: 'callbackId',
    columns: {
      callbackId: 'callback_id',
      originalCallId: 'original_call_id',
      callId: 'call_id',
      instanceId: 'instance_id',
      queueId: 'queue_id',
      queueNumber: 'queue_number',
      number: 'number',
      confirmedHow: 'confirmed_how',
      arrivedAt: 'arrived_at',
      requestedAt: 'requested_at',
      endedAt: 'ended_at',
      attempts: 'attempts',
      outcome: 'outcome',
      operatorId: 'operator_id',
      operatorUsername: 'operator_username',
      reason: 'reason',
    },
  },
};

export const RECORD_KINDS = Object.keys(RECORD_TABLES) as RecordKind[];

// PostgreSQL's wire protocol numbers bind parameters with 16 bits.
const MAX_PARAMETERS = 65_535;

export interface Statement {
  text: string;
  values: unknown[];
}

function isKind(kind: unknown): kind is RecordKind {
  return typeof kind === 'string' && Object.hasOwn(RECORD_TABLES, kind);
}

function specOf(kind: RecordKind): TableSpec<Record<string, unknown>> {
  // The record's row type is erased here: every spec is read the same way, field by field.
  return RECORD_TABLES[kind] as unknown as TableSpec<Record<string, unknown>>;
}

/** The uuid that is the record's primary key. */
export function recordId(record: HistoryRecord): string {
  const spec = specOf(record.kind);
  return String((record.row as unknown as Record<string, unknown>)[spec.key]);
}

/** The values of one row in column order; a missing field becomes NULL and PostgreSQL judges it. */
export function rowValues(kind: RecordKind, row: object): unknown[] {
  const spec = specOf(kind);
  const json = new Set<string>(spec.json ?? []);
  const fields = row as Record<string, unknown>;
  return Object.keys(spec.columns).map((field) => {
    const value = fields[field];
    if (value === undefined) return null;
    return json.has(field) ? JSON.stringify(value) : value;
  });
}

/**
 * Multi-row INSERT ... ON CONFLICT DO NOTHING statements for rows of one kind, split so no
 * statement exceeds PostgreSQL's parameter limit. A row already stored is skipped, which is what
 * makes redelivery harmless.
 */
export function buildInserts(kind: RecordKind, rows: readonly object[]): Statement[] {
  const spec = specOf(kind);
  const columns = Object.values(spec.columns);
  const rowsPerStatement = Math.floor(MAX_PARAMETERS / columns.length);
  const statements: Statement[] = [];
  for (let start = 0; start < rows.length; start += rowsPerStatement) {
    const chunk = rows.slice(start, start + rowsPerStatement);
    const tuples = chunk.map((_, r) => `(${columns.map((__, c) => `$${r * columns.length + c + 1}`).join(', ')})`);
    statements.push({
      text: `INSERT INTO ${spec.table} (${columns.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (${spec.columns[spec.key]}) DO NOTHING`,
      values: chunk.flatMap((row) => rowValues(kind, row)),
    });
  }
  return statements;
}

export type ParsedEntry = { ok: true; record: HistoryRecord } | { ok: false; reason: string };

/**
 * Reads one outbox payload. Only what the writer needs to route the row is checked here (JSON,
 * a known kind, an object row with a string id); the column types are PostgreSQL's to check, and
 * a row it refuses is set aside the same way.
 */
export function parseRecord(payload: string | undefined): ParsedEntry {
  if (payload === undefined) return { ok: false, reason: 'entry has no record field' };
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  return checkRecord(value);
}

/** A parsed value as a record, or why it cannot be one. */
export function checkRecord(value: unknown): ParsedEntry {
  const problem = recordProblem(value);
  return problem === undefined ? { ok: true, record: value as HistoryRecord } : { ok: false, reason: problem };
}

/** What keeps a value from being routed to its table, or undefined if nothing does. */
export function recordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const { kind, row } = value as { kind?: unknown; row?: unknown };
  if (!isKind(kind)) return `unknown record kind ${JSON.stringify(kind) ?? 'undefined'}`;
  if (typeof row !== 'object' || row === null || Array.isArray(row)) return 'row is not an object';
  const key = specOf(kind).key;
  const id = (row as Record<string, unknown>)[key];
  if (typeof id !== 'string' || id === '') return `row has no ${key}`;
  return undefined;
}
