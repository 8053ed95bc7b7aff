import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/log.js';
import { MessageFiles } from '../../src/messages/files.js';
import { Mailbox } from '../../src/messages/mailbox.js';
import { MessageStore } from '../../src/messages/store.js';
import { SQL_DIR } from '../../src/paths.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';

/** The mailbox on real PostgreSQL and a real directory: rows and files together, limits, the age sweep. */
let db: TestDatabase;
let pool: Pool;
const dir = mkdtempSync(join(tmpdir(), 'sb-mailbox-'));
const told: string[] = [];
let mailbox: Mailbox;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url);
  await migrate(pool, await loadMigrations(SQL_DIR));
  mailbox = new Mailbox(new MessageStore(pool), new MessageFiles(dir), { maxPerExtension: 2, maxAgeDays: 30 }, async (e) => void told.push(e), createLogger('silent', 'test'));
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function deposit(extension: string): Promise<{ id: number; path: string }> {
  const path = await mailbox.files.allocate(extension);
  writeFileSync(mailbox.files.absolute(path), Buffer.alloc(100));
  const m = await mailbox.deposit({ extension, fromNumber: '555', fromName: 'Caller', callId: null, durationS: 3, sizeBytes: 100, path });
  return { id: m.id, path };
}

describe('the mailbox', () => {
  it('stores, counts, saves and deletes, telling the phones after each change; full at the limit', async () => {
    told.length = 0;
    const a = await deposit('8001');
    expect(await mailbox.counts('8001')).toEqual({ newCount: 1, savedCount: 0 });
    expect(await mailbox.full('8001')).toBe(false);
    await deposit('8001');
    expect(await mailbox.full('8001')).toBe(true);
    await mailbox.markSaved('8001', a.id);
    await mailbox.markSaved('8001', a.id); // already saved: no change, nobody told
    expect(await mailbox.counts('8001')).toEqual({ newCount: 1, savedCount: 1 });
    expect(await mailbox.remove('8002', a.id)).toBe(false); // another extension's id
    expect(await mailbox.remove('8001', a.id)).toBe(true);
    expect(existsSync(join(dir, a.path))).toBe(false);
    expect(told).toEqual(['8001', '8001', '8001', '8001']);
  });

  it('sweeps messages older than the age limit, rows and files, and tells their phones', async () => {
    const old = await deposit('8003');
    const fresh = await deposit('8004');
    await pool.query("UPDATE messages SET created_at = now() - interval '31 days' WHERE id = $1", [old.id]);
    told.length = 0;
    expect(await mailbox.sweep()).toBe(1);
    expect(existsSync(join(dir, old.path))).toBe(false);
    expect(existsSync(join(dir, fresh.path))).toBe(true);
    expect((await mailbox.list('8003')).length).toBe(0);
    expect((await mailbox.list('8004')).map((m) => m.id)).toEqual([fresh.id]);
    expect(told).toEqual(['8003']);
  });

  it('refuses a stored path that would leave MESSAGES_DIR', () => {
    expect(() => mailbox.files.absolute('../etc/passwd')).toThrow(/outside MESSAGES_DIR/);
  });
});
