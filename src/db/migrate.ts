import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pool, PoolClient } from './pool.js';
import { inTransaction, withClient } from './pool.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: number[];
  alreadyApplied: number;
}

const FILE_PATTERN = /^(\d{3,})_([a-z0-9_]+)\.sql$/;
// Any fixed number works; it only has to be the same for every instance of the switchboard.
const ADVISORY_LOCK_KEY = 715_402_001;

export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new Error(`sql/${file}: migration files are named NNN_name.sql`);
    const sql = await readFile(join(dir, file), 'utf8');
    migrations.push({
      version: Number(match[1]),
      name: match[2] as string,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  const versions = migrations.map((m) => m.version);
  const duplicate = versions.find((v, i) => versions.indexOf(v) !== i);
  if (duplicate !== undefined) throw new Error(`sql/: two migrations share version ${duplicate}`);
  return migrations;
}

/**
 * Applies every migration not yet recorded, each in its own transaction. An advisory lock makes
 * instances that start together take turns; a migration edited after it was applied is refused,
 * because the database would no longer match what the file says.
 */
export function migrate(pool: Pool, migrations: Migration[]): Promise<MigrationResult> {
  return withClient(pool, (lock) => migrateHolding(pool, lock, migrations));
}

async function migrateHolding(pool: Pool, lock: PoolClient, migrations: Migration[]): Promise<MigrationResult> {
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEY]);
    await lock.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await lock.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations',
    );
    const done = new Map(rows.map((r) => [r.version, r.checksum]));
    const applied: number[] = [];
    for (const m of migrations) {
      const checksum = done.get(m.version);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) {
          throw new Error(`migration ${m.version}_${m.name} was changed after it was applied; add a new migration instead`);
        }
        continue;
      }
      await inTransaction(pool, async (client) => {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          m.checksum,
        ]);
      });
      applied.push(m.version);
    }
    return { applied, alreadyApplied: done.size };
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_KEY]).catch(() => undefined);
  }
}
