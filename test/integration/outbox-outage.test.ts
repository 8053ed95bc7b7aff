/**
 * The durable path through outages, against a PostgreSQL and a Redis of this file's own that it
 * stops and starts: records are delayed while a server is away, never lost, never doubled.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, type OutboxOptions } from '../../src/cdr/outbox.js';
import type { HistoryRecord } from '../../src/cdr/records.js';
import { RecordWriter } from '../../src/cdr/writer.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { SQL_DIR } from '../../src/paths.js';
import { createRedis, type Redis } from '../../src/redis/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { waitForRedis } from '../../src/startup.js';
import { streamRecords } from '../support/outbox-stream.js';
import { PrivatePostgres, PrivateRedis } from '../support/private-services.js';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function operatorEvent(i: number): HistoryRecord {
  return {
    kind: 'operator-event',
    row: {
      eventId: randomUUID(),
      at: new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString(),
      operatorId: 1 + (i % 5),
      fromState: 'available',
      toState: 'ringing',
      fromStateS: i / 10,
      reason: `event ${i}`,
      callId: randomUUID(),
    },
  };
}

const idOf = (r: HistoryRecord): string => (r.row as { eventId: string }).eventId;

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Pushes the records in small bursts over about durationMs, as calls would. */
async function pushOver(outbox: Outbox, records: HistoryRecord[], durationMs: number): Promise<void> {
  const bursts = 10;
  const size = Math.ceil(records.length / bursts);
  for (let b = 0; b < bursts; b++) {
    records.slice(b * size, (b + 1) * size).forEach((r) => outbox.push(r));
    await sleep(durationMs / bursts);
  }
}

let pg: PrivatePostgres;
let redisServer: PrivateRedis;
let pool: Pool;
let redis: Redis;
let keys: RedisKeys;
let lines: LogLine[];
let log: Logger;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [pg, redisServer] = await Promise.all([PrivatePostgres.create(), PrivateRedis.create()]);
  pool = createPool(pg.url);
  await migrate(pool, await loadMigrations(SQL_DIR));
  redis = createRedis(redisServer.url, 'outage-test');
  await waitForRedis(redis, redisServer.url, 5);
  // This test's own client sees the outages too; they are expected here.
  redis.on('error', () => undefined);
}, 90_000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await pool.query('TRUNCATE operator_events');
});

afterAll(async () => {
  redis?.disconnect();
  await pool?.end();
  await Promise.all([pg?.cleanup(), redisServer?.cleanup()]);
}, 60_000);

function setup(outboxOptions: OutboxOptions = {}): { outbox: Outbox; writer: RecordWriter } {
  keys = new RedisKeys(`outage:${randomUUID().slice(0, 8)}:`);
  lines = [];
  log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const outbox = new Outbox(redis, keys, log, outboxOptions);
  const writer = new RecordWriter({ redis, keys, pool, instanceId: 'outage-writer', log });
  cleanups.push(() => outbox.close(1_000));
  cleanups.push(() => writer.stop());
  return { outbox, writer };
}

async function storedIds(): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>('SELECT event_id::text AS id FROM operator_events');
  return rows.map((r) => r.id);
}

function logged(prefix: string): LogLine[] {
  return lines.filter((l) => l.msg.startsWith(prefix));
}

async function expectExactlyStored(records: HistoryRecord[]): Promise<void> {
  const ids = await storedIds();
  expect(ids).toHaveLength(records.length);
  expect(new Set(ids)).toEqual(new Set(records.map(idOf)));
}

describe('durable path through outages', () => {
  it('PostgreSQL stopped while records are made: they wait in Redis and all arrive once it is back', async () => {
    const { outbox, writer } = setup();
    writer.start();
    const before = Array.from({ length: 20 }, (_, i) => operatorEvent(i));
    before.forEach((r) => outbox.push(r));
    await waitFor('records before the outage', async () => (await storedIds()).length === 20);
    await waitFor('their entries gone from the stream', async () => (await writer.backlog()) === 0);

    await pg.stop();
    const during = Array.from({ length: 600 }, (_, i) => operatorEvent(100 + i));
    await pushOver(outbox, during, 2_000);
    await outbox.flush();
    // Every record made during the outage waits in Redis; the backlog /health and the metrics
    // report counts its entries (a batch of records each).
    expect(streamRecords(await redis.xrange(keys.recordOutbox(), '-', '+')).map(idOf)).toEqual(during.map(idOf));
    expect(await writer.backlog()).toBeGreaterThan(0);
    expect(outbox.pending()).toBe(0);
    expect(logged('cannot store records in PostgreSQL')).toHaveLength(1);

    await pg.start();
    const backAt = Date.now();
    await waitFor('every record of the outage', async () => (await storedIds()).length === 620, 15_000);
    await expectExactlyStored([...before, ...during]);
    expect(Date.now() - backAt).toBeLessThan(10_000);
    await waitFor('an empty backlog', async () => (await writer.backlog()) === 0, 5_000);
    expect(logged('cannot store records in PostgreSQL')).toHaveLength(1);
    expect(logged('records reach PostgreSQL again')).toHaveLength(1);
  });

  it('Redis stopped and started again with its data: records in the stream and in memory all arrive, in order', async () => {
    const { outbox, writer } = setup();
    const inStream = Array.from({ length: 200 }, (_, i) => operatorEvent(i));
    inStream.forEach((r) => outbox.push(r));
    await outbox.flush();

    await redisServer.stop({ keepData: true });
    const inMemory = Array.from({ length: 300 }, (_, i) => operatorEvent(1_000 + i));
    await pushOver(outbox, inMemory, 1_000);
    expect(outbox.pending()).toBe(300);
    expect(logged('cannot hand records to Redis')).toHaveLength(1);

    await redisServer.start();
    await outbox.flush(15_000);
    expect(logged('records reach Redis again')).toHaveLength(1);
    // Nothing was lost or reordered across the outage: the stream holds both parts in push order.
    const entries = await redis.xrange(keys.recordOutbox(), '-', '+');
    const order = streamRecords(entries).map(idOf);
    expect(order.filter((id, i) => order.indexOf(id) === i)).toEqual([...inStream, ...inMemory].map(idOf));

    writer.start();
    await waitFor('every record', async () => (await storedIds()).length === 500);
    await expectExactlyStored([...inStream, ...inMemory]);
  });

  it('Redis restarted empty (data lost) while records were only in memory: they still arrive', async () => {
    const { outbox, writer } = setup();
    writer.start();
    const before = Array.from({ length: 50 }, (_, i) => operatorEvent(i));
    before.forEach((r) => outbox.push(r));
    await waitFor('records before the outage', async () => (await storedIds()).length === 50);

    await redisServer.stop();
    const during = Array.from({ length: 500 }, (_, i) => operatorEvent(1_000 + i));
    await pushOver(outbox, during, 1_500);
    expect(outbox.pending()).toBe(500);

    // A fresh server: no stream, no consumer group. The outbox refills it; the writer makes its group again.
    await redisServer.start();
    await waitFor('every record', async () => (await storedIds()).length === 550, 20_000);
    await expectExactlyStored([...before, ...during]);
    expect(outbox.pending()).toBe(0);
    await waitFor('an empty backlog', async () => (await writer.backlog()) === 0, 5_000);
    expect(logged('cannot hand records to Redis')).toHaveLength(1);
    expect(logged('records reach Redis again')).toHaveLength(1);
    expect(logged('cannot read the record outbox from Redis')).toHaveLength(1);
    expect(logged('reading the record outbox again')).toHaveLength(1);
  });

  it('a full local buffer drops the newest records with one error line per run of drops, and keeps the rest', async () => {
    const { outbox, writer } = setup({ maxBuffered: 100 });
    writer.start();
    await redisServer.stop();
    const kept = Array.from({ length: 100 }, (_, i) => operatorEvent(i));
    const dropped = Array.from({ length: 30 }, (_, i) => operatorEvent(500 + i));
    await pushOver(outbox, [...kept, ...dropped], 500);
    expect(outbox.pending()).toBe(100);
    expect(outbox.stats()).toMatchObject({ buffered: 100, dropped: 30 });
    expect(logged('outbox dropping records')).toEqual([expect.objectContaining({ level: 50, limit: 100, id: idOf(dropped[0] as HistoryRecord) })]);

    await redisServer.start();
    await waitFor('the kept records', async () => (await storedIds()).length === 100, 15_000);
    await expectExactlyStored(kept);
    expect(logged('outbox accepts records again')).toEqual([expect.objectContaining({ level: 50, dropped: 30 })]);
  });
});
