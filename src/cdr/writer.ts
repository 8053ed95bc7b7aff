/**
 * The consumer side of the durable path: drains the Redis outbox stream into PostgreSQL.
 *
 * Delivery is at least once: an entry leaves the stream (XACK + XDEL) only after the
 * transaction that stored its row has committed, so a crash, a lost reply or a PostgreSQL outage
 * at any point means the entry is read again, by this instance or, once it has sat idle for
 * claimIdleMs, by another one (XAUTOCLAIM). Every row carries its own uuid primary key and is
 * inserted with ON CONFLICT DO NOTHING, so the second delivery stores nothing: at least once plus
 * idempotent inserts gives every record exactly one row.
 */
import type { Pool } from '../db/pool.js';
import { inTransaction } from '../db/pool.js';
import type { Logger } from '../log.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { errorMessage, FailureRun, RECORD_FIELD, RECORDS_FIELD } from './outbox.js';
import { buildInserts, checkRecord, parseRecord, recordId, type ParsedEntry, type RecordKind } from './record-tables.js';
import type { HistoryRecord } from './records.js';

/** The consumer group every instance's writer joins: each entry goes to one of them. */
export const WRITER_GROUP = 'record-writers';

export interface RecordWriterOptions {
  redis: Redis;
  keys: RedisKeys;
  pool: Pool;
  /** Consumer name in the group: entries pending under it after a restart are this instance's. */
  instanceId: string;
  log: Logger;
  /** Entries read and stored per transaction. */
  batchSize?: number;
  /** An entry delivered to a writer and not acknowledged for this long is taken over by another. */
  claimIdleMs?: number;
  /** Longest wait of one blocking read; also bounds how late a claim pass can run. */
  blockMs?: number;
  /** Longest pause between two attempts while PostgreSQL or Redis fails. */
  retryMaxMs?: number;
  /**
   * After a batch that drained the stream, wait up to this long before reading again, so that the
   * next read and transaction carry the records of many calls instead of one each (0: read at
   * once). Less when records come fast: see gatherWait().
   */
  gatherMs?: number;
}

export interface WriterStats {
  /** Rows this writer inserted. */
  written: number;
  /** Entries whose row was already stored (redelivery, or a record pushed twice). */
  duplicates: number;
  /** Entries moved to the dead-letter stream. */
  deadLettered: number;
  /** Entries taken over from a writer that left them pending. */
  claimed: number;
  /** Transactions committed. */
  batches: number;
}

interface StreamEntry {
  id: string;
  /** null when the entry was deleted while pending: its row is already stored. */
  fields: string[] | null;
}

interface Parsed {
  id: string;
  record: HistoryRecord;
}

interface Rejected {
  id: string;
  payload: string;
  reason: string;
}

const DEFAULT_BATCH = 200;
// What the wait after a drained stream aims at: about this many records for the next transaction.
// Waiting for more only makes each transaction a bigger burst of work for PostgreSQL and the app.
const GATHER_TARGET_RECORDS = 200;
const DEFAULT_CLAIM_IDLE_MS = 30_000;
const DEFAULT_RETRY_MAX_MS = 2_000;
const STOP_TIMEOUT_MS = 10_000;
// Dead letters are logged one line each up to this many per batch, then summed up.
const DEAD_LETTER_LOG_LINES = 10;

export class RecordWriter {
  private readonly redis: Redis;
  private readonly pool: Pool;
  private readonly log: Logger;
  private readonly consumer: string;
  private readonly stream: string;
  private readonly deadLetterStream: string;
  private readonly batchSize: number;
  private readonly claimIdleMs: number;
  private readonly claimEveryMs: number;
  private readonly blockMs: number;
  private readonly gatherMs: number;
  private readonly pgFailures: FailureRun;
  private readonly redisFailures: FailureRun;
  private readonly counters: WriterStats = { written: 0, duplicates: 0, deadLettered: 0, claimed: 0, batches: 0 };
  private reader: Redis | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private reading = false;
  private groupReady = false;
  private ownPendingFirst = true;
  private nextClaimAt = 0;
  private claimCursor = '0-0';
  private wake: (() => void) | undefined;
  private lastBatchAt: number | undefined;

  constructor(opts: RecordWriterOptions) {
    this.redis = opts.redis;
    this.pool = opts.pool;
    this.log = opts.log;
    this.consumer = opts.instanceId;
    this.stream = opts.keys.recordOutbox();
    this.deadLetterStream = opts.keys.recordDeadLetters();
    this.batchSize = opts.batchSize ?? DEFAULT_BATCH;
    this.claimIdleMs = opts.claimIdleMs ?? DEFAULT_CLAIM_IDLE_MS;
    // A few passes per idle period: a dead writer's entries wait at most about 1.5 × claimIdleMs.
    this.claimEveryMs = Math.min(Math.max(this.claimIdleMs / 2, 100), 10_000);
    this.blockMs = opts.blockMs ?? Math.min(2_000, this.claimEveryMs);
    this.gatherMs = opts.gatherMs ?? 0;
    const retryMaxMs = opts.retryMaxMs ?? DEFAULT_RETRY_MAX_MS;
    this.pgFailures = new FailureRun(
      this.log,
      { failing: 'cannot store records in PostgreSQL; they wait in the Redis outbox', recovered: 'records reach PostgreSQL again' },
      retryMaxMs,
    );
    this.redisFailures = new FailureRun(
      this.log,
      { failing: 'cannot read the record outbox from Redis; retrying', recovered: 'reading the record outbox again' },
      retryMaxMs,
    );
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.ownPendingFirst = true;
    this.groupReady = false;
    // Its own connection: a blocking XREADGROUP holds a connection for up to blockMs, which must
    // not stall the commands other code sends on the shared one.
    const name = this.redis.options.connectionName;
    const reader = this.redis.duplicate({
      connectionName: name ? `${name}:record-writer` : `${this.consumer}:record-writer`,
      lazyConnect: false,
      // A server that stops answering (partition, stopped process) becomes a retry, not a hang.
      commandTimeout: this.blockMs + 10_000,
    });
    // Without a listener ioredis prints every connection error; the failed commands are logged.
    reader.on('error', () => undefined);
    this.reader = reader;
    this.loop = this.run(reader).catch((err: unknown) => {
      this.log.error({ err: errorMessage(err) }, 'record writer stopped unexpectedly');
    });
  }

  /**
   * Stops after the batch in hand: a batch not yet stored stays pending under this consumer, to be
   * read again at the next start or claimed by another instance.
   */
  async stop(): Promise<void> {
    const { loop, reader } = this;
    if (!loop || !reader) return;
    this.stopping = true;
    this.wake?.();
    // Cut a blocking read short instead of waiting blockMs. Entries Redis delivered in that very
    // instant stay pending under this consumer and are picked up as above.
    if (this.reading) reader.disconnect();
    const stopped = await Promise.race([loop.then(() => true), delay(STOP_TIMEOUT_MS).then(() => false)]);
    if (!stopped) this.log.warn({ timeoutMs: STOP_TIMEOUT_MS }, 'record writer did not finish its batch in time; it stays pending');
    reader.disconnect();
    this.loop = undefined;
    this.reader = undefined;
  }

  /**
   * Outbox entries (one record, or a batch of up to the outbox's batch size) waiting for
   * PostgreSQL across every instance: the stream's length. Entries leave the stream only once
   * stored, so this counts those not yet read and those read but not yet stored (pending). Uses
   * the shared connection, which a blocking read never holds.
   */
  async backlog(): Promise<number> {
    return this.redis.xlen(this.stream);
  }

  /** Entries set aside in the dead-letter stream (for metrics and alerts). */
  async deadLetters(): Promise<number> {
    return this.redis.xlen(this.deadLetterStream);
  }

  stats(): WriterStats {
    return { ...this.counters };
  }

  private async run(reader: Redis): Promise<void> {
    // The reader check ends a loop that outlived a timed-out stop() once start() runs again.
    while (!this.stopping && this.reader === reader) {
      try {
        if (!this.groupReady) await this.ensureGroup(reader);
        const entries = await this.nextEntries(reader);
        this.redisFailures.succeeded();
        if (entries.length === 0) continue;
        const now = Date.now();
        const since = this.lastBatchAt === undefined ? this.gatherMs : now - this.lastBatchAt;
        this.lastBatchAt = now;
        const records = await this.handle(reader, entries);
        // Each batch costs a read, an acknowledgement and a PostgreSQL transaction whatever its
        // size: with the stream drained, let records gather before the next read.
        if (entries.length < this.batchSize) {
          const wait = gatherWait(records, since, this.gatherMs);
          if (wait > 0) await this.sleep(wait);
        }
      } catch (err) {
        if (this.stopping || this.reader !== reader) return;
        // A Redis restarted without its data has lost the group too (NOGROUP): create it again.
        if (/NOGROUP/.test(errorMessage(err))) this.groupReady = false;
        // A reply lost on the way may have delivered entries to us: look at our own pending first.
        this.ownPendingFirst = true;
        await this.sleep(this.redisFailures.failed(err));
      }
    }
  }

  /** Starts at 0, not $: entries added before the group existed (a fresh Redis) are read too. */
  private async ensureGroup(reader: Redis): Promise<void> {
    try {
      await reader.xgroup('CREATE', this.stream, WRITER_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test(errorMessage(err))) throw err;
    }
    this.groupReady = true;
  }

  private async nextEntries(reader: Redis): Promise<StreamEntry[]> {
    if (Date.now() >= this.nextClaimAt) {
      const claimed = await this.claim(reader);
      if (claimed.length > 0) return claimed;
    }
    if (this.ownPendingFirst) {
      const own = await this.read(reader, '0');
      if (own.length > 0) return own;
      this.ownPendingFirst = false;
    }
    return this.read(reader, '>');
  }

  /** '0' re-reads what is pending under this consumer (no block); '>' waits for new entries. */
  private async read(reader: Redis, from: '0' | '>'): Promise<StreamEntry[]> {
    if (this.stopping) return [];
    const count = ['COUNT', this.batchSize] as const;
    this.reading = from === '>';
    try {
      const reply =
        from === '>'
          ? await reader.xreadgroup('GROUP', WRITER_GROUP, this.consumer, ...count, 'BLOCK', this.blockMs, 'STREAMS', this.stream, '>')
          : await reader.xreadgroup('GROUP', WRITER_GROUP, this.consumer, ...count, 'STREAMS', this.stream, '0');
      return (reply?.[0]?.[1] ?? []).map(([id, fields]) => ({ id, fields }));
    } finally {
      this.reading = false;
    }
  }

  /** Takes over entries another writer has left unacknowledged for claimIdleMs (it died or hangs). */
  private async claim(reader: Redis): Promise<StreamEntry[]> {
    const reply = await reader.xautoclaim(this.stream, WRITER_GROUP, this.consumer, this.claimIdleMs, this.claimCursor, 'COUNT', this.batchSize);
    const { cursor, entries } = parseAutoclaim(reply);
    this.claimCursor = cursor;
    // Found some, or not through the pending list yet: a dead writer may have left more, look again now.
    const more = entries.length > 0 || cursor !== '0-0';
    this.nextClaimAt = more ? 0 : Date.now() + this.claimEveryMs;
    if (entries.length > 0) {
      this.counters.claimed += entries.length;
      this.log.info({ claimed: entries.length, idleMs: this.claimIdleMs }, 'took over outbox entries another writer left pending');
    }
    return entries;
  }

  /** Stores (or sets aside) the entries' records; returns how many records they held. */
  private async handle(reader: Redis, entries: StreamEntry[]): Promise<number> {
    const parsed: Parsed[] = [];
    const rejected: Rejected[] = [];
    const gone: string[] = [];
    for (const entry of entries) {
      if (entry.fields === null) {
        gone.push(entry.id);
        continue;
      }
      for (const result of entryRecords(entry.fields)) {
        if (result.ok) parsed.push({ id: entry.id, record: result.record });
        else rejected.push({ id: entry.id, payload: result.payload, reason: result.reason });
      }
    }
    const held = parsed.length + rejected.length;
    // An entry leaves the stream once every record in it is stored or set aside. One whose
    // records were all rejected leaves with its dead letters; one with records still to store
    // leaves after them (if the writer stops in between, its bad records are set aside twice).
    const toStore = new Set(parsed.map((p) => p.id));
    if (rejected.length > 0) await this.deadLetter(reader, rejected, rejected.map((r) => r.id).filter((id) => !toStore.has(id)));
    const refused = await this.store(reader, parsed);
    if (refused === undefined) return held;
    // Every copy of a refused record goes aside, including a second copy of it in the batch.
    const isRefused = (p: Parsed): boolean => refused.has(recordKey(p.record));
    const refusedEntries = parsed.filter(isRefused).map((p) => ({ id: p.id, payload: JSON.stringify(p.record), reason: refused.get(recordKey(p.record)) ?? '' }));
    if (refusedEntries.length > 0) await this.deadLetter(reader, refusedEntries, refusedEntries.map((r) => r.id));
    await this.acknowledge(reader, [...new Set([...parsed.filter((p) => !isRefused(p)).map((p) => p.id), ...gone])]);
    return held;
  }

  /**
   * Stores the batch, retrying for as long as PostgreSQL fails: the entries stay pending in Redis
   * meanwhile. Returns the records PostgreSQL refused as data, by record key, with its reason (to
   * be set aside), or undefined if the writer is stopping before the batch could be stored.
   */
  private async store(reader: Redis, batch: Parsed[]): Promise<Map<string, string> | undefined> {
    if (batch.length === 0) return new Map();
    let heldSince = Date.now();
    for (;;) {
      try {
        const refused = await this.insert(batch);
        this.pgFailures.succeeded({ stored: batch.length - refused.size });
        return refused;
      } catch (err) {
        if (!(await this.sleep(this.pgFailures.failed(err, { batch: batch.length })))) return undefined;
        heldSince = await this.keepHolding(reader, batch, heldSince);
      }
    }
  }

  /**
   * An entry's idle time only resets when it is delivered, so a writer retrying through a long
   * PostgreSQL outage would see its batch claimed by another writer retrying too. Re-claiming
   * its own entries (XCLAIM ... JUSTID) now and then tells the others this writer is alive.
   */
  private async keepHolding(reader: Redis, batch: Parsed[], heldSince: number): Promise<number> {
    if (Date.now() - heldSince < this.claimIdleMs / 3) return heldSince;
    const ids = batch.map((p) => p.id);
    await reader.xclaim(this.stream, WRITER_GROUP, this.consumer, 0, ...ids, 'JUSTID').catch(() => undefined);
    return Date.now();
  }

  /** One transaction for the batch; if PostgreSQL refuses a row as data, row by row to find it. */
  private async insert(batch: Parsed[]): Promise<Map<string, string>> {
    const unique = uniqueRecords(batch);
    try {
      const inserted = await this.insertBatch(unique);
      this.count(batch.length, inserted);
      return new Map();
    } catch (err) {
      if (!isDataError(err)) throw err;
      return this.insertOneByOne(unique, batch.length);
    }
  }

  private async insertBatch(records: Parsed[]): Promise<number> {
    const statements = [...groupByKind(records)].flatMap(([kind, rows]) => buildInserts(kind, rows));
    return inTransaction(this.pool, async (client) => {
      let inserted = 0;
      for (const s of statements) inserted += (await client.query(s.text, s.values)).rowCount ?? 0;
      return inserted;
    });
  }

  /** Rare path: a producer bug put a row PostgreSQL refuses into a batch. The rest must still land. */
  private async insertOneByOne(records: Parsed[], entries: number): Promise<Map<string, string>> {
    const refused = new Map<string, string>();
    let inserted = 0;
    for (const p of records) {
      const [statement] = buildInserts(p.record.kind, [p.record.row]);
      if (!statement) continue;
      try {
        inserted += (await this.pool.query(statement.text, statement.values)).rowCount ?? 0;
      } catch (err) {
        if (!isDataError(err)) throw err;
        refused.set(recordKey(p.record), `PostgreSQL refused the row: ${errorMessage(err)}`);
      }
    }
    this.count(entries - refused.size, inserted);
    return refused;
  }

  private count(entries: number, inserted: number): void {
    this.counters.batches++;
    this.counters.written += inserted;
    this.counters.duplicates += entries - inserted;
    this.log.debug({ entries, inserted, duplicates: entries - inserted }, 'records stored');
  }

  /**
   * Moves records that can never be stored out of the way, atomically with the acknowledgement
   * of the entries (ackIds) that have nothing else left to store.
   */
  private async deadLetter(reader: Redis, rejected: Rejected[], ackIds: string[]): Promise<void> {
    const ids = [...new Set(ackIds)];
    const multi = reader.multi();
    for (const r of rejected) {
      multi.xadd(this.deadLetterStream, '*', 'id', r.id, 'reason', r.reason, RECORD_FIELD, r.payload, 'consumer', this.consumer);
    }
    if (ids.length > 0) multi.xack(this.stream, WRITER_GROUP, ...ids).xdel(this.stream, ...ids);
    await execOrThrow(multi);
    this.counters.deadLettered += rejected.length;
    for (const r of rejected.slice(0, DEAD_LETTER_LOG_LINES)) {
      this.log.error({ id: r.id, reason: r.reason, deadLetters: this.deadLetterStream }, 'outbox entry cannot be stored; moved to the dead-letter stream');
    }
    if (rejected.length > DEAD_LETTER_LOG_LINES) {
      this.log.error({ more: rejected.length - DEAD_LETTER_LOG_LINES, deadLetters: this.deadLetterStream }, 'more outbox entries moved to the dead-letter stream');
    }
  }

  /** Stored: the entries leave the group's pending list and the stream in one step. */
  private async acknowledge(reader: Redis, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await execOrThrow(reader.multi().xack(this.stream, WRITER_GROUP, ...ids).xdel(this.stream, ...ids));
  }

  /** Waits ms, or less if stop() is called; resolves to false when the writer is stopping. */
  private sleep(ms: number): Promise<boolean> {
    if (this.stopping) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(!this.stopping);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(false);
      };
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

type EntryRecord = { ok: true; record: HistoryRecord } | { ok: false; reason: string; payload: string };

/** The records of one entry: one (field `record`) or a batch (field `records`), each checked alone. */
function entryRecords(fields: string[]): EntryRecord[] {
  const list = fieldValue(fields, RECORDS_FIELD);
  if (list === undefined) {
    const payload = fieldValue(fields, RECORD_FIELD);
    return [withPayload(parseRecord(payload), () => payload ?? '')];
  }
  let values: unknown;
  try {
    values = JSON.parse(list);
  } catch (err) {
    return [{ ok: false, reason: `not JSON: ${(err as Error).message}`, payload: list }];
  }
  if (!Array.isArray(values)) return [{ ok: false, reason: 'records is not a JSON array', payload: list }];
  return values.map((value: unknown) => withPayload(checkRecord(value), () => JSON.stringify(value)));
}

/** The payload is only written out for a record that is set aside. */
function withPayload(result: ParsedEntry, payload: () => string): EntryRecord {
  return result.ok ? result : { ...result, payload: payload() };
}

function fieldValue(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** XAUTOCLAIM replies [next cursor, [[id, fields] ...], deleted ids] (the last since Redis 7). */
function parseAutoclaim(reply: unknown[]): { cursor: string; entries: StreamEntry[] } {
  const [cursor, entries] = reply;
  const list = Array.isArray(entries) ? (entries as unknown[]) : [];
  return {
    cursor: typeof cursor === 'string' ? cursor : '0-0',
    entries: list.filter(Array.isArray).map((e) => {
      const [id, fields] = e as [unknown, unknown];
      return { id: String(id), fields: Array.isArray(fields) ? fields.map(String) : null };
    }),
  };
}

/** Class 22 (data exception) and 23 (integrity constraint): the row is wrong, not the server. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** A record pushed twice can sit twice in one batch; one copy is enough. */
function recordKey(record: HistoryRecord): string {
  return `${record.kind}:${recordId(record)}`;
}

function uniqueRecords(batch: Parsed[]): Parsed[] {
  const seen = new Set<string>();
  return batch.filter((p) => {
    const key = recordKey(p.record);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function groupByKind(records: Parsed[]): Map<RecordKind, object[]> {
  const groups = new Map<RecordKind, object[]>();
  for (const { record } of records) {
    const rows = groups.get(record.kind) ?? [];
    rows.push(record.row);
    groups.set(record.kind, rows);
  }
  return groups;
}

async function execOrThrow(multi: ReturnType<Redis['multi']>): Promise<void> {
  const results = await multi.exec();
  if (!results) throw new Error('Redis discarded the transaction');
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
}

/**
 * How long the writer waits after a batch that drained the stream: `records` came in over
 * `sinceMs`; at that pace, long enough for about GATHER_TARGET_RECORDS more, and never longer
 * than gatherMs. At a few calls a second that is gatherMs; under heavy load far less, so that
 * PostgreSQL gets a steady stream of mid-sized transactions rather than a burst every gatherMs.
 */
export function gatherWait(records: number, sinceMs: number, gatherMs: number): number {
  if (gatherMs <= 0) return 0;
  if (records <= 0) return gatherMs;
  return Math.min(gatherMs, Math.round((Math.max(sinceMs, 1) * GATHER_TARGET_RECORDS) / records));
}
