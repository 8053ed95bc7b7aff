/**
 * The directory in PostgreSQL: the thin adapter under the API. Search keys are computed here on
 * every write (entry.ts), so stored keys always agree with the entry.
 */
import type { Pool, PoolClient } from '../db/pool.js';
import { inTransaction } from '../db/pool.js';
import { searchKeys, type DirectoryEntry, type DirectoryEntryInput, type ImportLine } from './entry.js';
import { buildDirectorySearch, MATCHES, type DirectorySearch, type Match } from './search.js';

type Queryable = Pool | PoolClient;

interface EntryRow {
  id: number;
  name: string;
  department: string;
  extension: string | null;
  numbers: DirectoryEntry['numbers'];
  notes: string;
  private: boolean;
  created_at: Date;
  updated_at: Date;
}

function entryOf(row: EntryRow): DirectoryEntry {
  return {
    id: row.id,
    name: row.name,
    department: row.department,
    extension: row.extension,
    numbers: row.numbers,
    notes: row.notes,
    private: row.private,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function values(e: DirectoryEntryInput): unknown[] {
  const keys = searchKeys(e);
  return [e.name, e.department, e.extension, JSON.stringify(e.numbers), e.notes, e.private, keys.nameKey, keys.departmentKey, keys.numberKeys];
}

const COLUMNS = 'name, department, extension, numbers, notes, private, name_key, department_key, number_keys';

export interface SearchHit extends DirectoryEntry {
  match: Match | null;
}

export interface ImportResult {
  created: number;
  updated: number;
  deleted: number;
  /** Lines whose id names no entry. */
  unknownIds: ImportLine[];
}

export class DirectoryRepository {
  constructor(private readonly pool: Pool) {}

  async search(s: DirectorySearch): Promise<{ items: SearchHit[]; total: number }> {
    const { text, values: params } = buildDirectorySearch(s);
    const { rows } = await this.pool.query<EntryRow & { rank: number | null; total: number }>(text, params);
    let total = rows[0]?.total ?? 0;
    // Past the last page the window count has no row to ride on: count with the first page.
    if (rows.length === 0 && s.offset > 0) {
      const first = buildDirectorySearch({ ...s, limit: 1, offset: 0 });
      total = (await this.pool.query<{ total: number }>(first.text, first.values)).rows[0]?.total ?? 0;
    }
    const items = rows.map((r) => ({ ...entryOf(r), match: r.rank === null ? null : (MATCHES[r.rank] ?? null) }));
    return { items, total };
  }

  async get(id: number): Promise<DirectoryEntry | undefined> {
    const { rows } = await this.pool.query<EntryRow>('SELECT * FROM directory_entries WHERE id = $1', [id]);
    return rows[0] && entryOf(rows[0]);
  }

  /** Every entry, by name: the export. */
  async all(): Promise<DirectoryEntry[]> {
    const { rows } = await this.pool.query<EntryRow>('SELECT * FROM directory_entries ORDER BY name_key, id');
    return rows.map(entryOf);
  }

  async create(e: DirectoryEntryInput, db: Queryable = this.pool): Promise<DirectoryEntry> {
    const sql = `INSERT INTO directory_entries (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`;
    const { rows } = await db.query<EntryRow>(sql, values(e));
    return entryOf(rows[0] as EntryRow);
  }

  /** Replaces an entry whole; undefined when there is none with this id. */
  async replace(id: number, e: DirectoryEntryInput, db: Queryable = this.pool): Promise<DirectoryEntry | undefined> {
    const sql = `UPDATE directory_entries SET (${COLUMNS}, updated_at) = ($2, $3, $4, $5, $6, $7, $8, $9, $10, now())
      WHERE id = $1 RETURNING *`;
    const { rows } = await db.query<EntryRow>(sql, [id, ...values(e)]);
    return rows[0] && entryOf(rows[0]);
  }

  async remove(id: number): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM directory_entries WHERE id = $1', [id]);
    return (rowCount ?? 0) > 0;
  }

  /**
   * Writes an import in one transaction: lines with an id replace that entry, the others are new.
   * A line whose id names no entry is returned and not written; unless `partial`, nothing is
   * written then. With `sync`, entries the file does not name by id are deleted, so the directory
   * becomes the file. Without `write`, only the ids are checked (the file is refused anyway).
   */
  async import(lines: readonly ImportLine[], o: { sync: boolean; partial: boolean; write: boolean }): Promise<ImportResult> {
    return inTransaction(this.pool, async (client) => {
      // Imports take turns with each other, so a sync never deletes what another import adds.
      await client.query('LOCK TABLE directory_entries IN SHARE ROW EXCLUSIVE MODE');
      const named = lines.flatMap((l) => (l.id === undefined ? [] : [l.id]));
      const { rows } = await client.query<{ id: number }>('SELECT id FROM directory_entries WHERE id = ANY ($1::bigint[])', [named]);
      const existing = new Set(rows.map((r) => r.id));
      const unknownIds = lines.filter((l) => l.id !== undefined && !existing.has(l.id));
      const result: ImportResult = { created: 0, updated: 0, deleted: 0, unknownIds };
      if (!o.write || (unknownIds.length > 0 && !o.partial)) return result;
      for (const l of lines) {
        if (l.id === undefined) {
          await this.create(l.entry, client);
          result.created++;
        } else if (existing.has(l.id)) {
          await this.replace(l.id, l.entry, client);
          result.updated++;
        }
      }
      if (o.sync) {
        // Entries this import made carry the transaction's now() and are kept.
        const del = await client.query('DELETE FROM directory_entries WHERE NOT (id = ANY ($1::bigint[])) AND created_at < now()', [named]);
        result.deleted = del.rowCount ?? 0;
      }
      return result;
    });
  }
}
