import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, RECORD_FIELD, RECORDS_FIELD } from '../../src/cdr/outbox.js';
import { RECORD_TABLES, recordId } from '../../src/cdr/record-tables.js';
import type { CallRecord, HistoryRecord, LegRecord, OperatorEventRecord, QueueEventRecord } from '../../src/cdr/records.js';
import { RecordWriter, WRITER_GROUP } from '../../src/cdr/writer.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { SQL_DIR } from '../../src/paths.js';
import { createRedis, type Redis } from '../../src/redis/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { waitForRedis } from '../../src/startup.js';
import { entryIdOf, streamRecords } from '../support/outbox-stream.js';
import { getFreePort } from '../support/ports.js';
import { createTestDatabase, testRedisPrefix, testServices, type TestDatabase } from '../support/services.js';

// ---- records --------------------------------------------------------------------------------

const iso = (offsetS: number): string => new Date(Date.UTC(2024, 4, 1, 10, 0, 0) + offsetS * 1000).toISOString();

function callRecord(full: boolean): CallRecord {
  return {
    callId: randomUUID(),
    instanceId: 'sb-1',
    callerNumber: '+4930123456',
    callerName: full ? 'Ada Lovelace' : '',
    dialledNumber: '200',
    routeType: full ? 'queue' : null,
    queueId: full ? 3 : null,
    queueNumber: full ? '200' : null,
    operatorId: full ? 7 : null,
    operatorUsername: full ? 'alice' : null,
    operators: full ? ['alice', 'bob'] : [],
    arrivedAt: iso(0),
    queuedAt: full ? iso(1) : null,
    offeredAt: full ? iso(5) : null,
    answeredAt: full ? iso(8.25) : null,
    endedAt: iso(70),
    waitS: full ? 7.25 : 0,
    talkS: full ? 61.75 : 0,
    holdS: full ? 12.5 : 0,
    disposition: full ? 'answered' : 'abandoned',
    hangupBy: full ? 'operator' : null,
    sipStatus: full ? 200 : null,
    sipReason: full ? 'OK' : null,
    priority: full ? 5 : 0,
    skill: full ? 'fr' : null,
    intercept: full ? 'connected' : null,
    interceptNewNumber: full ? '201' : null,
    rating: full ? 4 : null,
    ratingResult: full ? 'rated' : null,
    ratingOperatorId: full ? 7 : null,
  };
}

function legRecord(full: boolean): LegRecord {
  return {
    legId: randomUUID(),
    callId: randomUUID(),
    role: full ? 'operator' : 'caller',
    direction: full ? 'outbound' : 'inbound',
    sipCallId: `${randomUUID()}@127.0.0.1`,
    party: 'sip:alice@example.org',
    operatorId: full ? 7 : null,
    startedAt: iso(5),
    answeredAt: full ? iso(8) : null,
    endedAt: iso(70),
    endStatus: full ? 200 : null,
    endReason: full ? 'BYE' : null,
    hangupBy: full ? 'guest' : null,
  };
}

function queueEventRecord(full: boolean): QueueEventRecord {
  return {
    eventId: randomUUID(),
    at: iso(8),
    callId: full ? randomUUID() : null,
    queueId: full ? 3 : null,
    queueNumber: full ? '200' : null,
    operatorId: full ? 7 : null,
    event: full ? 'connect' : 'enter',
    position: full ? 2 : null,
    waitS: full ? 7.25 : null,
    ringS: full ? 3.5 : null,
    talkS: full ? 1.125 : null,
    holdS: full ? 0.5 : null,
    data: full ? { transfer: { to: '201' }, tags: ['vip'] } : {},
  };
}

function operatorEventRecord(full: boolean): OperatorEventRecord {
  return {
    eventId: randomUUID(),
    at: iso(9),
    operatorId: 7,
    fromState: 'ringing',
    toState: full ? 'busy' : 'available',
    fromStateS: full ? 3.5 : 0,
    reason: full ? 'answered' : '',
    callId: full ? randomUUID() : null,
  };
}

function everyKind(full: boolean): HistoryRecord[] {
  return [
    { kind: 'call', row: callRecord(full) },
    { kind: 'leg', row: legRecord(full) },
    { kind: 'queue-event', row: queueEventRecord(full) },
    { kind: 'operator-event', row: operatorEventRecord(full) },
  ];
}

function mixed(count: number): HistoryRecord[] {
  return Array.from({ length: count }, (_, i) => everyKind(i % 2 === 0)[i % 4] as HistoryRecord);
}

// ---- harness --------------------------------------------------------------------------------

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

let db: TestDatabase;
let pool: Pool;
let redis: Redis;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url);
  await migrate(pool, await loadMigrations(SQL_DIR));
  redis = createRedis(testServices().redisUrl, 'outbox-test');
  await waitForRedis(redis, testServices().redisUrl, 5);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await redis.quit();
  await pool.end();
  await db.drop();
});

/** A fresh outbox stream (own key prefix), its producer and writers, all removed after the test. */
function setup(): { keys: RedisKeys; log: Logger; lines: LogLine[]; outbox: Outbox; writer: (opts?: Partial<ConstructorParameters<typeof RecordWriter>[0]>) => RecordWriter } {
  const keys = new RedisKeys(testRedisPrefix());
  const { log, lines } = capturingLogger();
  const outbox = new Outbox(redis, keys, log);
  cleanups.push(async () => {
    const found = await redis.keys(`${keys.prefix}*`);
    if (found.length) await redis.del(...found);
  });
  cleanups.push(() => outbox.close());
  const writer = (opts: Partial<ConstructorParameters<typeof RecordWriter>[0]> = {}): RecordWriter => {
    const w = new RecordWriter({ redis, keys, pool, instanceId: `w-${randomUUID().slice(0, 8)}`, log, ...opts });
    cleanups.push(() => w.stop());
    return w;
  };
  return { keys, log, lines, outbox, writer };
}

async function storedIds(records: HistoryRecord[]): Promise<string[]> {
  const found: string[] = [];
  for (const kind of new Set(records.map((r) => r.kind))) {
    const spec = RECORD_TABLES[kind];
    const ids = records.filter((r) => r.kind === kind).map(recordId);
    const key = (spec.columns as Record<string, string>)[spec.key] as string;
    const { rows } = await pool.query<{ id: string }>(`SELECT ${key}::text AS id FROM ${spec.table} WHERE ${key} = ANY($1::uuid[])`, [ids]);
    found.push(...rows.map((r) => r.id));
  }
  return found;
}

async function allStored(records: HistoryRecord[]): Promise<boolean> {
  return (await storedIds(records)).length === records.length;
}

/** Compares every column of the stored row with the record's field, as PostgreSQL returns it. */
async function expectStoredExactly(record: HistoryRecord): Promise<void> {
  const spec = RECORD_TABLES[record.kind];
  const columns = spec.columns as Record<string, string>;
  const { rows } = await pool.query<Record<string, unknown>>(`SELECT * FROM ${spec.table} WHERE ${columns[spec.key]} = $1`, [recordId(record)]);
  expect(rows).toHaveLength(1);
  const row = rows[0] as Record<string, unknown>;
  const fields = record.row as unknown as Record<string, unknown>;
  for (const [field, column] of Object.entries(columns)) {
    const stored = row[column];
    const actual = stored instanceof Date ? stored.toISOString() : stored;
    expect(actual, `${spec.table}.${column}`).toEqual(fields[field]);
  }
  expect(row.recorded_at).toBeInstanceOf(Date);
}

// ---- tests ----------------------------------------------------------------------------------

describe('outbox and record writer (real Redis and PostgreSQL)', () => {
  it('stores records of every kind, every column as the record says', async () => {
    const { outbox, writer } = setup();
    const records = [...everyKind(true), ...everyKind(false)];
    records.forEach((r) => outbox.push(r));
    expect(outbox.pending()).toBe(8);
    await outbox.flush();
    expect(outbox.pending()).toBe(0);
    const w = writer();
    w.start();
    await waitFor('every record stored', () => allStored(records));
    for (const record of records) await expectStoredExactly(record);
    await waitFor('an empty backlog', async () => (await w.backlog()) === 0);
    expect(w.stats()).toMatchObject({ written: 8, duplicates: 0, deadLettered: 0 });
  });

  it('stores a record pushed twice once, whether both copies share a batch or not', async () => {
    const { outbox, writer } = setup();
    const [call, leg] = everyKind(true) as [HistoryRecord, HistoryRecord];
    outbox.push(call);
    outbox.push(call);
    outbox.push(leg);
    const w = writer();
    w.start();
    await waitFor('both stored', () => allStored([call, leg]));
    outbox.push(leg);
    outbox.push(call);
    await outbox.flush();
    await waitFor('an empty backlog', async () => (await w.backlog()) === 0);
    expect(await storedIds([call, leg])).toHaveLength(2);
    expect(w.stats()).toMatchObject({ written: 2, duplicates: 3 });
  });

  it('push never throws, even for a record that cannot be serialised', async () => {
    const { outbox, lines } = setup();
    const broken = { kind: 'operator-event', row: { ...operatorEventRecord(true), fromStateS: 1n } } as unknown as HistoryRecord;
    expect(() => outbox.push(broken)).not.toThrow();
    expect(() => outbox.push(null as unknown as HistoryRecord)).not.toThrow();
    expect(outbox.pending()).toBe(0);
    expect(lines.filter((l) => l.msg === 'outbox: record could not be queued')).toHaveLength(2);
  });

  it('keeps the order in which one producer pushed its records', async () => {
    const { keys, outbox } = setup();
    const records = mixed(300);
    for (const [i, r] of records.entries()) {
      outbox.push(r);
      if (i % 70 === 0) await sleep(5);
    }
    await outbox.flush();
    const entries = await redis.xrange(keys.recordOutbox(), '-', '+');
    // Records pushed together share an entry: far fewer entries than records.
    expect(fields(entries)).toContain(RECORDS_FIELD);
    expect(entries.length).toBeLessThan(records.length / 10);
    expect(streamRecords(entries).map(recordId)).toEqual(records.map(recordId));
  });

  it('with gatherMs, records arriving one by one after a batch are stored together in the next', async () => {
    const { outbox, writer } = setup();
    const w = writer({ gatherMs: 3_000 });
    w.start();
    const [first, ...rest] = mixed(21);
    outbox.push(first as HistoryRecord);
    await waitFor('the first row', () => allStored([first as HistoryRecord]));
    // One record every few ms, each handed to Redis on its own: without the pause each would be
    // read and stored as a batch of its own.
    for (const r of rest) {
      outbox.push(r);
      await outbox.flush();
      await sleep(5);
    }
    await waitFor('every row', () => allStored(rest), 10_000);
    expect(w.stats()).toMatchObject({ written: 21, batches: 2 });
  });

  it('two writers draining one stream store each of 2,000 records exactly once', async () => {
    const { outbox, writer } = setup();
    const a = writer({ batchSize: 100 });
    const b = writer({ batchSize: 100 });
    a.start();
    b.start();
    const records = mixed(2_000);
    for (const [i, r] of records.entries()) {
      outbox.push(r);
      if (i % 250 === 0) await sleep(10);
    }
    await outbox.flush();
    await waitFor('2,000 rows', () => allStored(records), 20_000);
    await waitFor('an empty backlog', async () => (await a.backlog()) === 0);
    const stored = await storedIds(records);
    expect(new Set(stored).size).toBe(2_000);
    const [sa, sb] = [a.stats(), b.stats()];
    expect(sa.written + sb.written).toBe(2_000);
    // Both took part: the group shares the stream rather than one writer doing it all.
    expect(Math.min(sa.written, sb.written)).toBeGreaterThan(0);
    expect(sa.duplicates + sb.duplicates).toBe(0);
  });

  it('hands entries a dead reader left pending to another writer after claimIdleMs', async () => {
    const { keys, outbox, writer } = setup();
    const records = mixed(50);
    records.forEach((r) => outbox.push(r));
    await outbox.flush();
    // The "dead instance": reads everything as a group member and never acknowledges.
    await redis.xgroup('CREATE', keys.recordOutbox(), WRITER_GROUP, '0', 'MKSTREAM');
    await redis.xreadgroup('GROUP', WRITER_GROUP, 'dead-instance', 'COUNT', 100, 'STREAMS', keys.recordOutbox(), '>');
    const entries = await redis.xlen(keys.recordOutbox());
    expect((await redis.xpending(keys.recordOutbox(), WRITER_GROUP))[0]).toBe(entries);
    const w = writer({ claimIdleMs: 300 });
    w.start();
    await waitFor('the dead reader’s records stored', () => allStored(records));
    await waitFor('nothing pending', async () => (await redis.xpending(keys.recordOutbox(), WRITER_GROUP))[0] === 0);
    expect(w.stats()).toMatchObject({ claimed: entries, written: 50 });
  });

  it('a writer stopped while PostgreSQL refuses its batch leaves it pending; another writer takes it over', async () => {
    const { keys, outbox, writer, lines } = setup();
    // Nothing listens on this port: every insert of writer A fails at once.
    const deadPool = createPool(`postgres://postgres@127.0.0.1:${await getFreePort('tcp')}/postgres`);
    cleanups.push(() => deadPool.end());
    const a = writer({ pool: deadPool, claimIdleMs: 300, retryMaxMs: 100 });
    a.start();
    const records = mixed(40);
    records.forEach((r) => outbox.push(r));
    await outbox.flush();
    const entries = await redis.xlen(keys.recordOutbox());
    await waitFor('A holding the batch', async () => (await redis.xpending(keys.recordOutbox(), WRITER_GROUP).catch(() => [0]))[0] === entries);
    await sleep(300);
    await a.stop();
    expect(lines.filter((l) => l.msg.startsWith('cannot store records in PostgreSQL'))).toHaveLength(1);
    const b = writer({ claimIdleMs: 300 });
    b.start();
    await waitFor('A’s records stored by B', () => allStored(records));
    expect(b.stats()).toMatchObject({ claimed: entries, written: 40 });
    expect(a.stats().written).toBe(0);
  });

  it('moves malformed entries and rows PostgreSQL refuses to the dead-letter stream and stores the rest', async () => {
    const { keys, outbox, writer, lines } = setup();
    const good = mixed(20);
    const refused: HistoryRecord = { kind: 'call', row: { ...callRecord(true), disposition: 'bogus' as CallRecord['disposition'] } };
    const stream = keys.recordOutbox();
    const bad: [string, ...string[]][] = [
      [RECORD_FIELD, '{"kind":"call",'],
      [RECORD_FIELD, JSON.stringify({ kind: 'sms', row: { id: randomUUID() } })],
      ['something-else', 'x'],
    ];
    for (const [i, r] of good.entries()) {
      outbox.push(r);
      if (i === 5) {
        await outbox.flush();
        for (const fieldsOfBad of bad) await redis.xadd(stream, '*', ...fieldsOfBad);
        outbox.push(refused);
      }
    }
    await outbox.flush();
    const entries = await redis.xrange(stream, '-', '+');
    const badIds = entries.filter(([, f]) => bad.some((b) => b[0] === f[0] && b[1] === f[1])).map(([id]) => id);
    const deadIds = [...badIds, entryIdOf(entries, refused)];
    expect(badIds).toHaveLength(3);
    const w = writer();
    w.start();
    await waitFor('the good records stored', () => allStored(good));
    await waitFor('an empty backlog', async () => (await w.backlog()) === 0);
    expect(await storedIds([refused])).toEqual([]);
    const dead = await redis.xrange(keys.recordDeadLetters(), '-', '+');
    const deadFields = dead.map(([, f]) => Object.fromEntries(pairs(f)));
    expect(deadFields.map((f) => f.id)).toEqual(deadIds);
    expect(deadFields.map((f) => f.reason)).toEqual([
      expect.stringMatching(/^not JSON/),
      'unknown record kind "sms"',
      'entry has no record field',
      expect.stringMatching(/^PostgreSQL refused the row: .*check constraint/),
    ]);
    expect(deadFields[3]?.record).toBe(JSON.stringify(refused));
    expect(await w.deadLetters()).toBe(4);
    expect(w.stats()).toMatchObject({ written: 20, deadLettered: 4 });
    const logged = lines.filter((l) => l.msg.includes('dead-letter'));
    expect(logged.map((l) => l.id)).toEqual(deadIds);
  });

  it('sets aside the bad records of a batch entry and stores the rest of it', async () => {
    const { keys, writer } = setup();
    const good = mixed(3);
    const stream = keys.recordOutbox();
    const sms = '{"kind":"sms","row":{"id":"x"}}';
    const batch = await redis.xadd(stream, '*', RECORDS_FIELD, `[${JSON.stringify(good[0])},${sms},${JSON.stringify(good[1])},${JSON.stringify(good[2])}]`);
    const notList = await redis.xadd(stream, '*', RECORDS_FIELD, '{"kind":"call"}');
    const w = writer();
    w.start();
    await waitFor('the good records stored', () => allStored(good));
    await waitFor('an empty backlog', async () => (await w.backlog()) === 0);
    const dead = (await redis.xrange(keys.recordDeadLetters(), '-', '+')).map(([, f]) => Object.fromEntries(pairs(f)));
    expect(dead).toEqual([
      expect.objectContaining({ id: batch, reason: 'unknown record kind "sms"', record: sms }),
      expect.objectContaining({ id: notList, reason: 'records is not a JSON array', record: '{"kind":"call"}' }),
    ]);
    expect(w.stats()).toMatchObject({ written: 3, deadLettered: 2 });
  });
});

function fields(entries: [string, string[]][]): string[] {
  return [...new Set(entries.flatMap(([, f]) => pairs(f).map(([k]) => k)))];
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}
