/**
 * The callbacks of the whole switchboard, as this instance takes part in them: asking for one
 * (a waiting caller confirmed it), placing those it owns (CallbackCall), taking over those of an
 * instance whose lease is gone (the entry names its owner; a compare-and-set claim makes one
 * instance win), listing and cancelling them for the API, and their records.
 */
import { randomUUID } from 'node:crypto';
import type { WaitingCall } from '../acd/dispatcher.js';
import type { AppliedTransition } from '../acd/operator-store.js';
import type { CallContext } from '../calls/context.js';
import { CallRecorder } from '../cdr/call-recorder.js';
import type { CallbackRecord } from '../cdr/records.js';
import { callLogger } from '../log.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { CallbackCall, type CallbackEnd } from './callback-call.js';
import type { ConfirmedHow } from './menu-machine.js';
import { CallbackStore, type CallbackEntry } from './store.js';

const TAKEOVER_INTERVAL_MS = 2_000;

export interface CallbackRequest {
  /** The waiting caller's call id: the callback takes their place in the queue. */
  callId: string;
  queueId: number;
  number: string;
  how: ConfirmedHow;
  callerName: string;
  priority: number;
  arrivedAt: number;
}

export type CancelResult = { ok: true; entry: CallbackEntry } | { ok: false; status: 404 | 409; message: string };

/** The row of the callbacks table for an entry that is over. */
export function callbackRow(entry: CallbackEntry, queueNumber: string, instanceId: string, end: CallbackEnd, called: boolean): CallbackRecord {
  return {
    callbackId: entry.id,
    originalCallId: entry.originalCallId,
    callId: called ? entry.id : null,
    instanceId,
    queueId: entry.queueId,
    queueNumber,
    number: entry.number,
    confirmedHow: entry.how,
    arrivedAt: new Date(entry.arrivedAt).toISOString(),
    requestedAt: new Date(entry.requestedAt).toISOString(),
    endedAt: new Date(Math.max(end.at, entry.requestedAt)).toISOString(),
    attempts: entry.attempts,
    outcome: end.outcome,
    operatorId: end.operator?.id ?? null,
    operatorUsername: end.operator?.username ?? null,
    reason: end.reason,
  };
}

export class Callbacks {
  readonly store: CallbackStore;
  private readonly own = new Map<string, CallbackCall>();
  private timer: NodeJS.Timeout | undefined;
  // Set by start(): the dispatcher needs this object before the call context exists.
  private ctx!: CallContext;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.store = new CallbackStore(redis, keys);
  }

  /** Takes up this instance's callbacks left by a predecessor of the same id, then watches for orphans. */
  async start(ctx: CallContext): Promise<void> {
    this.ctx = ctx;
    this.ctx.bus.onEvent('callback', (e) => {
      if (e.what === 'cancelled') this.dropCancelled(String(e.id));
    });
    for (const entry of await this.store.all()) if (entry.owner === this.ctx.instanceId) await this.adopt(entry);
    this.timer = setInterval(() => void this.takeOver().catch((err: Error) => this.ctx.log.warn({ err: err.message }, 'callback takeover failed')), TAKEOVER_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops placing callbacks; they wait in Redis for another instance (or this one's restart). */
  stop(): void {
    clearInterval(this.timer);
    for (const call of this.own.values()) call.dropped();
  }

  waiting(id: string): WaitingCall | undefined {
    // Before start() no callback is ours.
    return this.own.get(id)?.waiting();
  }

  /** The queues where callbacks of this instance wait (for the dispatcher's tick). */
  queues(): number[] {
    return [...this.own.values()].flatMap((c) => (c.waiting() ? [c.queueId] : []));
  }

  /** Hands reserved operators to the callback; false if it is not one of ours. */
  offer(id: string, reserved: AppliedTransition[]): boolean {
    const call = this.own.get(id);
    if (!call) return false;
    call.offer(reserved);
    return true;
  }

  /** A waiting caller confirmed a callback: it takes their place. Undefined if they had lost it. */
  async request(r: CallbackRequest): Promise<CallbackEntry | undefined> {
    const now = Date.now();
    const entry = await this.store.request(r.callId, {
      id: randomUUID(),
      originalCallId: r.callId,
      queueId: r.queueId,
      number: r.number,
      callerName: r.callerName,
      how: r.how,
      priority: r.priority,
      arrivedAt: r.arrivedAt,
      requestedAt: now,
      attempts: 0,
      owner: this.ctx.instanceId,
      state: 'waiting',
      retryAt: 0,
      operatorId: null,
    });
    if (!entry) return undefined;
    this.place(entry);
    this.ctx.dispatcher.kick(entry.queueId);
    return entry;
  }

  private recorderOf(entry: CallbackEntry): CallRecorder {
    const recorder = new CallRecorder(
      { callId: entry.id, instanceId: this.ctx.instanceId, callerNumber: entry.number, callerName: entry.callerName, dialledNumber: this.ctx.settings.queue(entry.queueId)?.number ?? '', arrivedAt: entry.requestedAt },
      (r) => this.ctx.record(r),
      randomUUID,
    );
    const queue = this.ctx.settings.queue(entry.queueId);
    recorder.routed('queue');
    recorder.waitsWith(entry.priority, '');
    if (queue) recorder.enterQueue({ id: queue.id, number: queue.number }, 0, entry.requestedAt, false);
    return recorder;
  }

  private place(entry: CallbackEntry): CallbackCall {
    const call = new CallbackCall(
      {
        ctx: this.ctx,
        store: this.store,
        recorder: this.recorderOf(entry),
        log: callLogger(this.ctx.log, entry.id),
        // A call back that reached the operator has a calls row of its own.
        ended: (e, end) => void this.ended(e, end, true),
      },
      entry,
    );
    this.own.set(entry.id, call);
    return call;
  }

  private async adopt(entry: CallbackEntry): Promise<void> {
    const call = this.place(entry);
    callLogger(this.ctx.log, entry.id).info({ number: entry.number, state: entry.state, attempts: entry.attempts }, 'took up a callback');
    await call.resume();
  }

  private async ended(entry: CallbackEntry, end: CallbackEnd, called: boolean): Promise<void> {
    this.own.delete(entry.id);
    const queueNumber = this.ctx.settings.queue(entry.queueId)?.number ?? '';
    this.ctx.record({ kind: 'callback', row: callbackRow(entry, queueNumber, this.ctx.instanceId, end, called) });
    await this.store.remove(entry).catch((err: Error) => this.ctx.log.warn({ err: err.message, callId: entry.id }, 'cannot remove a callback'));
  }

  /** Callbacks whose owner's lease is gone become this instance's. */
  private async takeOver(): Promise<void> {
    for (const entry of await this.store.all()) {
      if (entry.owner === this.ctx.instanceId) continue;
      if ((await this.redis.exists(this.keys.instanceLease(entry.owner))) === 1) continue;
      if (!(await this.store.claim(entry.id, entry.owner, this.ctx.instanceId))) continue;
      await this.adopt({ ...entry, owner: this.ctx.instanceId });
    }
  }

  list(): Promise<CallbackEntry[]> {
    return this.store.all();
  }

  /** Cancels a callback nobody is being rung for (any instance may; the owner is told). */
  async cancel(id: string): Promise<CancelResult> {
    const entry = await this.store.cancel(id);
    if (entry === undefined) return { ok: false, status: 404, message: 'no such callback (connected, failed or cancelled already)' };
    if (entry === 'busy') return { ok: false, status: 409, message: 'the callback is being placed' };
    const at = Date.now();
    const queue = this.ctx.settings.queue(entry.queueId);
    if (queue) this.recorderOf(entry).callbackStep('callback-cancelled', at, null, { number: entry.number, attempts: entry.attempts });
    this.ctx.record({ kind: 'callback', row: callbackRow(entry, queue?.number ?? '', this.ctx.instanceId, { outcome: 'cancelled', at, operator: undefined, reason: 'cancelled through the API' }, entry.attempts > 0) });
    this.ctx.bus.publish({ type: 'callback', what: 'cancelled', id });
    this.dropCancelled(id);
    return { ok: true, entry };
  }

  private dropCancelled(id: string): void {
    this.own.get(id)?.dropped();
    this.own.delete(id);
  }
}
