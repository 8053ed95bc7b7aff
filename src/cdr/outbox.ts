/**
 * The producer side of the durable path for history records: call code pushes records here and
 * moves on; the outbox hands them to a Redis stream, which RecordWriter (writer.ts) drains into
 * PostgreSQL. A record is only ever removed from the local buffer once Redis has taken it.
 */
import type { Logger } from '../log.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { recordId, recordProblem } from './record-tables.js';
import type { HistoryRecord } from './records.js';

/** The field of an outbox stream entry that carries one record, as JSON. */
export const RECORD_FIELD = 'record';
/**
 * The field of an entry that carries several records, as a JSON array in the order they were
 * pushed: under load one XADD takes many calls' records instead of one command each.
 */
export const RECORDS_FIELD = 'records';

export interface OutboxOptions {
  /** Records kept in memory while Redis cannot take them; past this, new records are dropped. */
  maxBuffered?: number;
  /** Most records in one stream entry. */
  batchSize?: number;
  /** How long records pushed one after another gather before they are handed to Redis together. */
  gatherMs?: number;
  /** Longest pause between two attempts to reach Redis. */
  retryMaxMs?: number;
  /** A write Redis has not answered after this long counts as failed (a hung server). */
  commandTimeoutMs?: number;
}

const DEFAULTS = { maxBuffered: 100_000, batchSize: 50, gatherMs: 50, retryMaxMs: 2_000, commandTimeoutMs: 5_000 };
const FIRST_RETRY_MS = 100;
const FLUSH_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5_000;

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A run of failures of one dependency turned into two log lines, a warning when it starts and an
 * info line when it ends, plus the capped exponential back-off between attempts: a 30-second
 * outage must not write a log line per retry.
 */
export class FailureRun {
  private since: number | undefined;
  private failures = 0;

  constructor(
    private readonly log: Logger,
    private readonly messages: { failing: string; recovered: string },
    private readonly maxDelayMs: number,
  ) {}

  get failing(): boolean {
    return this.since !== undefined;
  }

  /** Notes one failure; returns how long to wait before the next attempt. */
  failed(err: unknown, context: Record<string, unknown> = {}): number {
    if (this.since === undefined) {
      this.since = Date.now();
      this.log.warn({ err: errorMessage(err), ...context }, this.messages.failing);
    }
    this.failures++;
    const delay = Math.min(FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 16), this.maxDelayMs);
    // Jitter keeps several instances from retrying in lockstep against a recovering server.
    return Math.round(delay * (0.8 + Math.random() * 0.4));
  }

  succeeded(context: Record<string, unknown> = {}): void {
    if (this.since === undefined) return;
    this.log.info({ downMs: Date.now() - this.since, failedAttempts: this.failures, ...context }, this.messages.recovered);
    this.since = undefined;
    this.failures = 0;
  }
}

/** A FIFO with O(1) removal from the front; the array is compacted once its dead head is large. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(count: number): T[] {
    return this.items.slice(this.head, this.head + count);
  }

  drop(count: number): void {
    this.head += Math.min(count, this.length);
    if (this.head > 4_096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export interface OutboxStats {
  /** Records waiting in this process for Redis. */
  buffered: number;
  /** Records Redis has taken since start. */
  sent: number;
  /** Records lost because the local buffer was full or the outbox was closed. */
  dropped: number;
}

export class Outbox {
  // A dedicated connection, for three reasons. It runs with the offline queue off, so while Redis
  // is away a write fails at once and the record stays in this class's buffer, which is bounded,
  // counted and kept in order, instead of piling up unseen in ioredis' unbounded offline queue of
  // the shared client (whose maxRetriesPerRequest would then reject it at an arbitrary moment).
  // It has a command timeout, so a hung server (network partition, stopped process) turns into a
  // retry instead of a write that never settles. And its batches never queue behind, or delay,
  // the call path's own commands on the shared connection.
  private readonly conn: Redis;
  private readonly stream: string;
  private readonly opts: typeof DEFAULTS;
  private readonly queue = new Fifo<string>();
  private readonly failures: FailureRun;
  private readonly drainWaiters = new Set<() => void>();
  private gatherTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private sending = false;
  private closed = false;
  /** Closed and given up on Redis: no more attempts. */
  private stopped = false;
  private everReady = false;
  private lastError: Error | undefined;
  private sent = 0;
  private dropped = 0;
  private droppedInRun = 0;

  constructor(
    redis: Redis,
    keys: RedisKeys,
    private readonly log: Logger,
    options: OutboxOptions = {},
  ) {
    this.opts = { ...DEFAULTS, ...options };
    this.stream = keys.recordOutbox();
    this.failures = new FailureRun(
      log,
      { failing: 'cannot hand records to Redis; keeping them in memory and retrying', recovered: 'records reach Redis again' },
      this.opts.retryMaxMs,
    );
    const name = redis.options.connectionName;
    this.conn = redis.duplicate({
      connectionName: name ? `${name}:outbox` : 'outbox',
      lazyConnect: false,
      enableOfflineQueue: false,
      commandTimeout: this.opts.commandTimeoutMs,
    });
    // Without a listener ioredis prints every connection error to the console; FailureRun logs it.
    this.conn.on('error', (err: Error) => {
      this.lastError = err;
    });
    this.conn.on('ready', () => this.onReady());
  }

  /**
   * Queues a record for PostgreSQL. Never throws and never waits: the call path must not stall
   * or fail because Redis or PostgreSQL is away.
   */
  push(record: HistoryRecord): void {
    try {
      this.enqueue(record);
    } catch (err) {
      // The whole error, stack included: this is a producer bug, and the stack names the producer.
      this.log.error({ err, kind: (record as Partial<HistoryRecord> | null)?.kind }, 'outbox: record could not be queued');
    }
  }

  /** Resolves once every record pushed so far is in Redis; rejects if that takes over timeoutMs. */
  flush(timeoutMs = FLUSH_TIMEOUT_MS): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    this.schedule();
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.drainWaiters.delete(done);
        reject(new Error(`outbox: ${this.queue.length} records still wait for Redis after ${timeoutMs} ms`));
      }, timeoutMs);
      this.drainWaiters.add(done);
    });
  }

  /** Records in this process that Redis has not taken yet. */
  pending(): number {
    return this.queue.length;
  }

  stats(): OutboxStats {
    return { buffered: this.queue.length, sent: this.sent, dropped: this.dropped };
  }

  /** Refuses new records, gives Redis a bounded time to take the buffered ones, then disconnects. */
  async close(timeoutMs = CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.flush(timeoutMs);
    } catch {
      this.dropped += this.queue.length;
      this.log.error({ lost: this.queue.length }, 'outbox closed before Redis took every record; those records are lost');
    }
    this.stopped = true;
    this.queue.drop(this.queue.length);
    clearTimeout(this.retryTimer);
    clearTimeout(this.gatherTimer);
    await this.conn.quit().catch(() => this.conn.disconnect());
  }

  private enqueue(record: HistoryRecord): void {
    // Refused here rather than dead-lettered later, so the log points at the producer.
    const problem = recordProblem(record);
    if (problem !== undefined) throw new Error(problem);
    if (this.closed) return this.drop(record, 'outbox closed');
    if (this.queue.length >= this.opts.maxBuffered) return this.drop(record, 'outbox buffer full');
    // Serialised now, so a caller changing the object afterwards cannot change the record.
    this.queue.push(JSON.stringify(record));
    this.schedule();
  }

  /** The first drop of a run is logged at once; the rest are counted and summed up when it ends. */
  private drop(record: HistoryRecord, reason: string): void {
    this.dropped++;
    this.droppedInRun++;
    if (this.droppedInRun > 1) return;
    this.log.error(
      { reason, kind: record.kind, id: recordId(record), buffered: this.queue.length, limit: this.opts.maxBuffered },
      'outbox dropping records',
    );
  }

  private reportDropRun(): void {
    if (this.droppedInRun === 0 || this.queue.length >= this.opts.maxBuffered) return;
    this.log.error({ dropped: this.droppedInRun }, 'outbox accepts records again; records were lost while its buffer was full');
    this.droppedInRun = 0;
  }

  /** Sends gatherMs after the first record of a batch, so records pushed meanwhile travel with it. */
  private schedule(): void {
    if (this.sending || this.gatherTimer || this.retryTimer || this.queue.length === 0) return;
    this.gatherTimer = setTimeout(() => {
      this.gatherTimer = undefined;
      void this.sendAll();
    }, this.opts.gatherMs);
  }

  private onReady(): void {
    this.everReady = true;
    // Redis is back: no need to sit out the rest of the back-off.
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.schedule();
  }

  private retryIn(delayMs: number): void {
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.sendAll();
    }, delayMs);
  }

  private async sendAll(): Promise<void> {
    if (this.sending) return;
    // Still making the first connection: not an outage yet; the 'ready' event sends.
    if (this.conn.status !== 'ready' && !this.everReady && !this.lastError) return this.retryIn(200);
    this.sending = true;
    try {
      while (this.queue.length > 0) await this.sendBatch();
      for (const done of this.drainWaiters) done();
      this.drainWaiters.clear();
    } catch (err) {
      this.retryIn(this.failures.failed(err, { buffered: this.queue.length }));
    } finally {
      this.sending = false;
    }
  }

  private async sendBatch(): Promise<void> {
    if (this.conn.status !== 'ready') {
      throw new Error(`Redis connection ${this.conn.status}${this.lastError ? `: ${this.lastError.message}` : ''}`);
    }
    const batch = this.queue.peek(this.opts.batchSize);
    await this.write(batch);
    this.queue.drop(batch.length);
    this.sent += batch.length;
    this.failures.succeeded({ buffered: this.queue.length });
    this.reportDropRun();
  }

  /**
   * One XADD per batch, atomic by itself: Redis adds all of it or none of it. If the reply is
   * lost the batch is sent again, so a record can reach the stream twice, but its first copy
   * always comes before every record pushed after it; the writer's ON CONFLICT DO NOTHING makes
   * the second copy a no-op. The records are JSON already: the array is only joined, not
   * serialised again.
   */
  private async write(batch: string[]): Promise<void> {
    if (batch.length === 1) await this.conn.xadd(this.stream, '*', RECORD_FIELD, batch[0] as string);
    else await this.conn.xadd(this.stream, '*', RECORDS_FIELD, `[${batch.join(',')}]`);
  }
}
