/**
 * The messages table: one row per voice message, its file relative to MESSAGES_DIR. Removals
 * return what they removed (DELETE ... RETURNING) so that the caller deletes exactly those files,
 * and two instances sweeping at once never remove one row twice.
 */
import type { Pool } from '../db/pool.js';
import type { MessageCounts } from './summary.js';

export interface Message {
  id: number;
  extension: string;
  fromNumber: string;
  fromName: string;
  callId: string | null;
  createdAt: Date;
  durationS: number;
  sizeBytes: number;
  state: 'new' | 'saved';
  /** Relative to MESSAGES_DIR. */
  path: string;
}

export type NewMessage = Omit<Message, 'id' | 'createdAt' | 'state'>;

const COLUMNS = 'id, extension, from_number, from_name, call_id, created_at, duration_s, size_bytes, state, path';

interface Row {
  id: number;
  extension: string;
  from_number: string;
  from_name: string;
  call_id: string | null;
  created_at: Date;
  duration_s: number;
  size_bytes: number;
  state: 'new' | 'saved';
  path: string;
}

function fromRow(r: Row): Message {
  return {
    id: r.id,
    extension: r.extension,
    fromNumber: r.from_number,
    fromName: r.from_name,
    callId: r.call_id,
    createdAt: r.created_at,
    durationS: r.duration_s,
    sizeBytes: r.size_bytes,
    state: r.state,
    path: r.path,
  };
}

export class MessageStore {
  constructor(private readonly pool: Pool) {}

  async add(m: NewMessage): Promise<Message> {
    const { rows } = await this.pool.query<Row>(
      `INSERT INTO messages (extension, from_number, from_name, call_id, duration_s, size_bytes, path) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [m.extension, m.fromNumber, m.fromName, m.callId, m.durationS, m.sizeBytes, m.path],
    );
    return fromRow(rows[0] as Row);
  }

  async list(extension: string): Promise<Message[]> {
    const { rows } = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM messages WHERE extension = $1 ORDER BY created_at, id`, [extension]);
    return rows.map(fromRow);
  }

  async get(extension: string, id: number): Promise<Message | undefined> {
    const { rows } = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM messages WHERE extension = $1 AND id = $2`, [extension, id]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async counts(extension: string): Promise<MessageCounts> {
    const { rows } = await this.pool.query<{ new_count: number; saved_count: number }>(
      `SELECT count(*) FILTER (WHERE state = 'new')::int AS new_count, count(*) FILTER (WHERE state = 'saved')::int AS saved_count FROM messages WHERE extension = $1`,
      [extension],
    );
    const row = rows[0];
    return { newCount: row?.new_count ?? 0, savedCount: row?.saved_count ?? 0 };
  }

  async markSaved(extension: string, id: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(`UPDATE messages SET state = 'saved' WHERE extension = $1 AND id = $2 AND state = 'new'`, [extension, id]);
    return (rowCount ?? 0) > 0;
  }

  async remove(extension: string, id: number): Promise<Message | undefined> {
    const { rows } = await this.pool.query<Row>(`DELETE FROM messages WHERE extension = $1 AND id = $2 RETURNING ${COLUMNS}`, [extension, id]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /** Removes every message created before `cutoff`; returns them. */
  async removeOlderThan(cutoff: Date): Promise<Message[]> {
    const { rows } = await this.pool.query<Row>(`DELETE FROM messages WHERE created_at < $1 RETURNING ${COLUMNS}`, [cutoff]);
    return rows.map(fromRow);
  }
}
