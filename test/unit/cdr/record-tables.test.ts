import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildInserts, parseRecord, RECORD_KINDS, RECORD_TABLES, recordId, rowValues } from '../../../src/cdr/record-tables.js';
import type { HistoryRecord, QueueEventRecord } from '../../../src/cdr/records.js';
import { SQL_DIR } from '../../../src/paths.js';

/** Column names of each table in the migrations (CREATE TABLE, ALTER TABLE ... ADD COLUMN), read from the SQL itself. */
function columnsBySqlTable(): Map<string, string[]> {
  const files = readdirSync(SQL_DIR).filter((f) => f.endsWith('.sql')).sort();
  const sql = files.map((f) => readFileSync(join(SQL_DIR, f), 'utf8')).join('\n');
  const tables = new Map<string, string[]>();
  for (const match of sql.matchAll(/CREATE TABLE (\w+) \(\n([\s\S]*?)\n\);/g)) {
    const body = (match[2] ?? '').split('\n').map((l) => l.trim());
    const columns = body.filter((l) => /^[a-z_]+\s+[a-z]/.test(l) && !/^(CHECK|PRIMARY|UNIQUE)\b/i.test(l)).map((l) => l.split(/\s+/)[0] ?? '');
    tables.set(match[1] ?? '', columns);
  }
  // Later migrations add columns with ALTER TABLE ... ADD COLUMN name type.
  for (const match of sql.matchAll(/ALTER TABLE (\w+)\b([\s\S]*?);/g)) {
    const added = [...(match[2] ?? '').matchAll(/ADD COLUMN (\w+)/g)].map((m) => m[1] ?? '');
    const table = match[1] ?? '';
    tables.set(table, [...(tables.get(table) ?? []), ...added]);
  }
  return tables;
}

const queueEvent: QueueEventRecord = {
  eventId: '2b0f8c3e-43a4-4bd6-9a4e-0d1f8c1b2a01',
  at: '2024-05-01T10:00:00.000Z',
  callId: null,
  queueId: 3,
  queueNumber: '200',
  operatorId: null,
  event: 'enter',
  position: 1,
  waitS: null,
  ringS: null,
  talkS: null,
  holdS: null,
  data: { tags: ['vip'] },
};

describe('record table specs', () => {
  it('map every record field to a column of its table, and leave only recorded_at to its default', () => {
    const sqlTables = columnsBySqlTable();
    for (const kind of RECORD_KINDS) {
      const spec = RECORD_TABLES[kind];
      const sqlColumns = sqlTables.get(spec.table);
      expect(sqlColumns, spec.table).toBeDefined();
      const mapped = Object.values(spec.columns);
      expect(new Set(mapped).size).toBe(mapped.length);
      expect([...mapped, 'recorded_at'].sort()).toEqual([...(sqlColumns ?? [])].sort());
    }
  });

  it('maps camelCase fields to snake_case columns', () => {
    for (const kind of RECORD_KINDS) {
      for (const [field, column] of Object.entries(RECORD_TABLES[kind].columns)) {
        expect(column).toBe(field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
      }
    }
  });
});

describe('rowValues', () => {
  it('keeps column order, sends JSON columns as text and missing fields as NULL', () => {
    const partial: Partial<QueueEventRecord> = { ...queueEvent };
    delete partial.queueNumber;
    const values = rowValues('queue-event', partial);
    expect(values).toEqual([queueEvent.eventId, queueEvent.at, null, 3, null, null, 'enter', 1, null, null, null, null, '{"tags":["vip"]}']);
  });
});

describe('buildInserts', () => {
  it('builds one parameterised multi-row INSERT that skips rows already stored', () => {
    const second = { ...queueEvent, eventId: '2b0f8c3e-43a4-4bd6-9a4e-0d1f8c1b2a02' };
    const [statement, ...rest] = buildInserts('queue-event', [queueEvent, second]);
    expect(rest).toEqual([]);
    expect(statement?.text).toMatch(/^INSERT INTO queue_events \(event_id, at, call_id, .*, data\) VALUES \(\$1, .*\$13\), \(\$14, .*\$26\) ON CONFLICT \(event_id\) DO NOTHING$/);
    expect(statement?.values).toHaveLength(26);
    expect(statement?.values[13]).toBe(second.eventId);
  });

  it('splits a batch that would pass PostgreSQL’s 65,535-parameter limit', () => {
    const rows = Array.from({ length: 6_000 }, (_, i) => ({ ...queueEvent, eventId: `id-${i}` }));
    const statements = buildInserts('queue-event', rows);
    expect(statements.length).toBeGreaterThan(1);
    expect(statements.every((s) => s.values.length <= 65_535)).toBe(true);
    expect(statements.reduce((n, s) => n + s.values.length, 0)).toBe(6_000 * 13);
  });
});

describe('parseRecord', () => {
  const record: HistoryRecord = { kind: 'queue-event', row: queueEvent };

  it('reads a record back from its JSON', () => {
    const parsed = parseRecord(JSON.stringify(record));
    expect(parsed).toEqual({ ok: true, record });
    expect(parsed.ok && recordId(parsed.record)).toBe(queueEvent.eventId);
  });

  it.each([
    [undefined, /no record field/],
    ['{not json', /not JSON/],
    ['42', /not a JSON object/],
    ['{"kind":"cdr","row":{}}', /unknown record kind "cdr"/],
    ['{"row":{}}', /unknown record kind undefined/],
    ['{"kind":"toString","row":{}}', /unknown record kind/],
    ['{"kind":"leg","row":[1]}', /row is not an object/],
    ['{"kind":"leg","row":{"callId":"x"}}', /row has no legId/],
  ])('refuses %s', (payload, reason) => {
    const parsed = parseRecord(payload);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(reason);
  });
});
