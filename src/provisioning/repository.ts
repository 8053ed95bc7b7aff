import type { Pool } from '../db/pool.js';
import { translatePgError, type ConstraintNames } from './errors.js';

export interface Page<T> {
  items: T[];
  total: number;
}

export interface PageRequest {
  limit: number;
  offset: number;
}

export type Row = Record<string, unknown>;

export interface TableSpec {
  /** Singular name for messages: "operator". */
  kind: string;
  table: string;
  /** API field -> column, for everything returned and written. */
  fields: Record<string, string>;
  /** API field -> column, written but never returned (secrets). */
  writeOnly?: Record<string, string>;
  constraints: ConstraintNames;
  orderBy: string;
}

function camel(column: string): string {
  return column.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Create, read, update and delete for one configuration table. Every statement is a single
 * parameterised query, so a write lands whole or not at all; identifiers come only from the spec.
 */
export class Repository<T extends { id: number }> {
  private readonly selectList: string;
  private readonly writable: Record<string, string>;

  constructor(
    private readonly pool: Pool,
    private readonly spec: TableSpec,
  ) {
    const read = ['id', ...Object.values(spec.fields), 'created_at', 'updated_at'];
    this.selectList = read.map((c) => `${c} AS "${c === 'id' ? 'id' : camel(c)}"`).join(', ');
    this.writable = { ...spec.fields, ...spec.writeOnly };
    for (const [field, column] of Object.entries(spec.fields)) {
      if (camel(column) !== field) throw new Error(`${spec.table}: field ${field} must be the camelCase of ${column}`);
    }
  }

  private columnsOf(values: Row): [string[], unknown[]] {
    const columns: string[] = [];
    const params: unknown[] = [];
    for (const [field, value] of Object.entries(values)) {
      const column = this.writable[field];
      if (column === undefined || value === undefined) continue;
      columns.push(column);
      params.push(value);
    }
    return [columns, params];
  }

  async create(values: Row): Promise<T> {
    const [columns, params] = this.columnsOf(values);
    const placeholders = params.map((_v, i) => `$${i + 1}`).join(', ');
    const sql = `INSERT INTO ${this.spec.table} (${columns.join(', ')}) VALUES (${placeholders}) RETURNING ${this.selectList}`;
    try {
      const { rows } = await this.pool.query<T>(sql, params);
      return rows[0] as T;
    } catch (err) {
      translatePgError(err, this.spec.kind, this.spec.constraints);
    }
  }

  async update(id: number, values: Row): Promise<T | undefined> {
    const [columns, params] = this.columnsOf(values);
    const sets = columns.map((c, i) => `${c} = $${i + 2}`);
    sets.push('updated_at = now()');
    const sql = `UPDATE ${this.spec.table} SET ${sets.join(', ')} WHERE id = $1 RETURNING ${this.selectList}`;
    try {
      const { rows } = await this.pool.query<T>(sql, [id, ...params]);
      return rows[0];
    } catch (err) {
      translatePgError(err, this.spec.kind, this.spec.constraints);
    }
  }

  async get(id: number): Promise<T | undefined> {
    const { rows } = await this.pool.query<T>(`SELECT ${this.selectList} FROM ${this.spec.table} WHERE id = $1`, [id]);
    return rows[0];
  }

  /** Looks a row up by a unique column given in the spec's fields (e.g. "username"). */
  async findBy(field: string, value: unknown): Promise<T | undefined> {
    const column = this.spec.fields[field];
    if (column === undefined) throw new Error(`${this.spec.table} has no field ${field}`);
    const sql = `SELECT ${this.selectList} FROM ${this.spec.table} WHERE ${column} = $1`;
    const { rows } = await this.pool.query<T>(sql, [value]);
    return rows[0];
  }

  async list(page: PageRequest): Promise<Page<T>> {
    const sql = `SELECT ${this.selectList}, count(*) OVER () AS "__total" FROM ${this.spec.table}
      ORDER BY ${this.spec.orderBy} LIMIT $1 OFFSET $2`;
    const { rows } = await this.pool.query<T & { __total: number }>(sql, [page.limit, page.offset]);
    const total = rows[0]?.__total ?? (await this.count());
    const items = rows.map(({ __total: _ignored, ...item }) => item as unknown as T);
    return { items, total };
  }

  private async count(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.spec.table}`);
    return rows[0]?.n ?? 0;
  }

  async remove(id: number): Promise<boolean> {
    try {
      const { rowCount } = await this.pool.query(`DELETE FROM ${this.spec.table} WHERE id = $1`, [id]);
      return (rowCount ?? 0) > 0;
    } catch (err) {
      translatePgError(err, this.spec.kind, this.spec.constraints);
    }
  }
}
