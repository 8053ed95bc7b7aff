import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import type { OperatorStore } from './operator-store.js';
import type { QueueStore } from './queue-store.js';
import { planOperatorRestore, type HeldOperator } from './recovery-plan.js';
import type { StatusCache } from './status-cache.js';

/**
 * After Redis comes back, other instances may not have renewed their leases or put their calls
 * back yet: for this long nobody is judged gone, and no operator is freed for want of a call.
 */
export const SETTLE_MS = 10_000;

/** What recovery needs to know of a call this instance owns. */
export interface OwnedCall {
  readonly callId: string;
  waiting(): { queueId: number } | undefined;
  held?(): HeldOperator[];
}

export interface RecoveryDeps {
  redis: Redis;
  keys: RedisKeys;
  instanceId: string;
  log: Logger;
  statuses: StatusCache;
  operators: OperatorStore;
  queues: QueueStore;
  /** The calls this instance owns now. */
  calls(): OwnedCall[];
  /** Writes back the phones' bindings this instance knows of (registrar). */
  restoreBindings(): Promise<number>;
}

/**
 * Rebuilds this instance's share of the live state when Redis comes back from an outage, with or
 * without its data: its calls and their places in the queues (by their original scores, so
 * callers keep their order across instances), the operators its calls hold, every other
 * operator's last state it knows of where Redis has none, and the phones' bindings. Calls it no
 * longer has are taken off the live list. Data loss is told by the epoch key: a random mark
 * written once per Redis dataset.
 */
export class StateRecovery {
  private epoch: string | undefined;
  private settleUntil = 0;
  private disconnected = false;
  private running: Promise<void> | undefined;
  private readonly onClose = (): void => {
    this.disconnected = true;
  };
  private readonly onReady = (): void => {
    if (!this.disconnected) return;
    this.disconnected = false;
    this.settleUntil = Date.now() + SETTLE_MS;
    void this.rebuild('Redis reconnected').catch((err: Error) => this.d.log.warn({ err: err.message }, 'cannot rebuild the live state yet; retrying on the next sweep'));
  };

  constructor(private readonly d: RecoveryDeps) {}

  async start(): Promise<void> {
    this.epoch = await this.readEpoch();
    this.d.redis.on('close', this.onClose);
    this.d.redis.on('ready', this.onReady);
  }

  stop(): void {
    this.d.redis.off('close', this.onClose);
    this.d.redis.off('ready', this.onReady);
  }

  /** True while other instances may still be putting their state back. */
  settling(now: number): boolean {
    return now < this.settleUntil;
  }

  /** Rebuilds if Redis lost its data since the last look; the sweeper asks before every pass. */
  async check(): Promise<void> {
    if ((await this.readEpoch()) === this.epoch) return;
    this.settleUntil = Date.now() + SETTLE_MS;
    await this.rebuild('Redis lost its data');
  }

  private async readEpoch(): Promise<string | undefined> {
    await this.d.redis.set(this.d.keys.stateEpoch(), randomUUID(), 'NX');
    return (await this.d.redis.get(this.d.keys.stateEpoch())) ?? undefined;
  }

  private rebuild(why: string): Promise<void> {
    this.running ??= this.rebuildOnce(why).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async rebuildOnce(why: string): Promise<void> {
    const epoch = await this.readEpoch();
    const calls = await this.restoreCalls();
    const operators = await this.restoreOperators();
    const bindings = await this.d.restoreBindings();
    // Changes published while Redis was away never reached the copy: read it afresh.
    await this.d.statuses.load();
    this.epoch = epoch;
    this.d.log.warn({ why, ...calls, operators, bindings }, 'live state rebuilt');
  }

  private async restoreCalls(): Promise<{ calls: number; waiting: number; dropped: number }> {
    const own = new Map(this.d.calls().map((c) => [c.callId, c]));
    const saved = this.d.queues.savedCalls();
    let waiting = 0;
    for (const call of saved) {
      const queueId = own.get(call.callId)?.waiting()?.queueId;
      if (queueId !== undefined) waiting++;
      await this.d.queues.restoreCall(call, queueId);
    }
    // Calls of ours that ended while Redis was away: their removal never got there.
    const savedIds = new Set(saved.map((c) => c.callId));
    const stale = (await this.d.queues.liveCalls()).filter((c) => c.owner === this.d.instanceId && !savedIds.has(c.callId));
    for (const call of stale) await this.d.queues.removeCall(call.callId, call.queueId);
    return { calls: saved.length, waiting, dropped: stale.length };
  }

  private async restoreOperators(): Promise<number> {
    const held = this.d.calls().flatMap((c) => c.held?.() ?? []);
    const plans = planOperatorRestore(this.d.statuses.all(), held, this.d.instanceId, Date.now());
    let written = 0;
    for (const p of plans) if (await this.d.operators.restore(p.status, p.ownerOf)) written++;
    return written;
  }
}
