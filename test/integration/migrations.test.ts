import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { SQL_DIR } from '../../src/paths.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';

describe('migrations against a real PostgreSQL', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('apply from an empty database, then do nothing the second time', async () => {
    const migrations = await loadMigrations(SQL_DIR);
    expect(migrations.length).toBeGreaterThan(0);
    expect(migrations[0]?.version).toBe(1);

    const first = await migrate(pool, migrations);
    expect(first.applied).toEqual(migrations.map((m) => m.version));
    expect(first.alreadyApplied).toBe(0);

    const second = await migrate(pool, migrations);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toBe(migrations.length);

    const { rows } = await pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
  });

  it('created every table the switchboard needs', async () => {
    const { rows } = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['call_legs', 'calls', 'operator_events', 'operators', 'queue_events', 'queue_members', 'queues', 'rooms', 'routes', 'schema_migrations']),
    );
  });

  it('refuses a migration that was edited after it was applied', async () => {
    const migrations = await loadMigrations(SQL_DIR);
    const edited = migrations.map((m, i) => (i === 0 ? { ...m, checksum: 'changed' } : m));
    await expect(migrate(pool, edited)).rejects.toThrow(/was changed after it was applied/);
  });

  it('rolls a failing migration back whole and records nothing of it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-mig-'));
    const migrations = await loadMigrations(SQL_DIR);
    const next = String((migrations.at(-1)?.version ?? 0) + 1).padStart(3, '0');
    await writeFile(join(dir, `${next}_broken.sql`), 'CREATE TABLE half_done (id int); SELECT no_such_function();');
    const broken = [...migrations, ...(await loadMigrations(dir))];
    await expect(migrate(pool, broken)).rejects.toThrow(/no_such_function/);
    const { rows } = await pool.query(`SELECT to_regclass('half_done') AS t`);
    expect(rows[0]).toEqual({ t: null });
    const { rows: recorded } = await pool.query('SELECT 1 FROM schema_migrations WHERE version = $1', [Number(next)]);
    expect(recorded).toHaveLength(0);
  });

  it('lets two instances migrate at once without applying anything twice', async () => {
    const other = await createTestDatabase();
    const a = createPool(other.url);
    const b = createPool(other.url);
    try {
      const migrations = await loadMigrations(SQL_DIR);
      const [ra, rb] = await Promise.all([migrate(a, migrations), migrate(b, migrations)]);
      expect([...ra.applied, ...rb.applied].sort((x, y) => x - y)).toEqual(migrations.map((m) => m.version));
    } finally {
      await a.end();
      await b.end();
      await other.drop();
    }
  });

  it('rejects files that are not named NNN_name.sql', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-mig-'));
    await writeFile(join(dir, 'init.sql'), 'SELECT 1');
    await expect(loadMigrations(dir)).rejects.toThrow(/named NNN_name.sql/);
  });
});
