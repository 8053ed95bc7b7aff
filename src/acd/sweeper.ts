import { randomUUID } from 'node:crypto';
import { CallRecorder } from '../cdr/call-recorder.js';
import type { HistoryRecord } from '../cdr/records.js';
import type { Logger } from '../log.js';
import type { ConfigCache } from '../provisioning/cache.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import type { OperatorService } from './operator-service.js';
import type { LiveCall, QueueStore } from './queue-store.js';
import type { StatusCache } from './status-cache.js';

const LEASE_TTL_S = 10;
// A deadline is only acted on this long after it passed, so the owner's own timer goes first.
const GRACE_MS = 2_000;
// A busy operator whose call is in no instance's list of calls is freed after this long (the
// list is written as a call starts, so a young call is never mistaken for a lost one).
const CALLLESS_GRACE_MS = 30_000;

export interface SweeperDeps {
  redis: Redis;
  keys: RedisKeys;
  instanceId: string;
  statuses: StatusCache;
  operators: OperatorService;
  queues: QueueStore;
  settings: ConfigCache;
  record(r: HistoryRecord): void;
  log: Logger;
  /** The media channels of vanished instances (src/media/orphan-channels.ts). */
  channels: { publish(): Promise<void>; sweep(isAlive: (instanceId: string) => Promise<boolean>): Promise<number> };
  /** Rebuilding after a Redis outage (recovery.ts): asked before every pass. */
  recovery: { check(): Promise<void>; settling(now: number): boolean };
}

/**
 * Keeps operators and queues from getting stuck: every instance renews a lease while it lives,
 * and frees operators whose ringing or wrap-up deadline passed long ago or whose call belongs to
 * an instance whose lease is gone (crashed, killed). Calls of a vanished instance leave their
 * queues (they would block its head for good) with a record saying so, and its media channels,
 * which FreeSWITCH keeps up, are ended. Every instance sweeps; compare-and-set and claims make it
 * harmless when two do the same.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly instanceId: string;
  private readonly log: Logger;

  constructor(
    private readonly d: SweeperDeps,
    private readonly intervalMs = 2_000,
  ) {
    this.redis = d.redis;
    this.keys = d.keys;
    this.instanceId = d.instanceId;
    this.log = d.log;
  }

  async start(): Promise<void> {
    await this.sweepPredecessor(Date.now());
    await this.renew();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    await this.redis.set(this.keys.instanceLease(this.instanceId), String(Date.now()), 'EX', LEASE_TTL_S);
    await this.d.channels.publish();
  }

  private async tick(): Promise<void> {
    try {
      await this.renew();
      await this.d.recovery.check();
      await this.sweep(Date.now());
      await this.sweepCalls(Date.now());
      if (!this.d.recovery.settling(Date.now())) await this.d.channels.sweep((i) => this.isAlive(i));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'operator sweep failed');
    }
  }

  /** Frees every operator held by a passed deadline or a vanished instance. */
  async sweep(now: number): Promise<number> {
    const held = this.d.statuses.all().filter((s) => s.state === 'ringing' || s.state === 'busy' || s.state === 'wrap-up');
    const owners = [...new Set(held.map((s) => s.instance).filter((i) => i !== ''))];
    const alive = await this.alive(owners);
    let freed = 0;
    for (const s of held) {
      // Just after a Redis outage, instances and calls may not be back in Redis yet.
      const settling = this.d.recovery.settling(Date.now());
      const overdue = s.deadline > 0 && s.deadline + GRACE_MS < now;
      const orphaned = !settling && s.instance !== '' && !alive.has(s.instance);
      // Busy on a call that is no longer in progress anywhere: a lost hang-up, not a live call.
      const callless = !settling && !overdue && !orphaned && s.state === 'busy' && now - s.since > CALLLESS_GRACE_MS && !(await this.isLive(s.callId));
      if (!overdue && !orphaned && !callless) continue;
      const done = await this.d.operators.tryApply(s.operatorId, { type: 'expire' });
      if (!done) continue;
      freed++;
      this.log.warn({ operatorId: s.operatorId, was: s.state, callId: s.callId, owner: s.instance, overdue, orphaned, callless }, 'freed a held operator');
    }
    return freed;
  }

  private async isLive(callId: string): Promise<boolean> {
    return callId !== '' && (await this.redis.sismember(this.keys.liveCalls(), callId)) === 1;
  }

  private async alive(instances: string[]): Promise<Set<string>> {
    const alive = new Set<string>();
    for (const i of instances) if (await this.isAlive(i)) alive.add(i);
    return alive;
  }

  private async isAlive(instanceId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.instanceLease(instanceId))) === 1;
  }

  /** Takes the calls of vanished instances off the live list and the queues, with a record. */
  async sweepCalls(now: number): Promise<number> {
    if (this.d.recovery.settling(now)) return 0;
    const calls = await this.d.queues.liveCalls();
    const alive = await this.alive([...new Set(calls.map((c) => c.owner))]);
    return this.sweepOrphans(calls.filter((c) => !alive.has(c.owner)), now);
  }

  /**
   * At start, before this instance has a call: whatever Redis shows on a call of this instance's
   * id belonged to a predecessor under the same INSTANCE_ID that died (its lease may not have
   * run out yet, and this instance renews it).
   */
  private async sweepPredecessor(now: number): Promise<void> {
    const calls = (await this.d.queues.liveCalls()).filter((c) => c.owner === this.instanceId);
    await this.sweepOrphans(calls, now);
    const held = this.d.statuses.all().filter((s) => s.instance === this.instanceId && (s.state === 'ringing' || s.state === 'busy'));
    for (const s of held) {
      if (!(await this.d.operators.tryApply(s.operatorId, { type: 'expire' }))) continue;
      this.log.warn({ operatorId: s.operatorId, was: s.state, callId: s.callId }, 'freed an operator held by this instance before a restart');
    }
  }

  private async sweepOrphans(calls: LiveCall[], now: number): Promise<number> {
    let swept = 0;
    for (const call of calls) {
      // Another instance may have swept it a moment ago: only the one that removes it records it.
      if (!(await this.d.queues.claimOrphan(call.callId))) continue;
      await this.d.queues.removeCall(call.callId, call.queueId);
      this.recordOrphan(call, now);
      swept++;
      this.log.warn({ callId: call.callId, owner: call.owner, state: call.state }, 'removed a call whose instance is gone');
    }
    return swept;
  }

  private recordOrphan(call: LiveCall, now: number): void {
    const recorder = new CallRecorder(
      { callId: call.callId, instanceId: call.owner, callerNumber: call.callerNumber, callerName: call.callerName, dialledNumber: call.dialledNumber, arrivedAt: call.arrivedAt },
      this.d.record,
      randomUUID,
    );
    const queue = call.queueId === null ? undefined : this.d.settings.queue(call.queueId);
    if (queue) {
      recorder.routed('queue');
      recorder.enterQueue({ id: queue.id, number: queue.number }, 0, call.queuedAt ?? call.arrivedAt, false);
    }
    const operator = call.operatorId === null ? undefined : this.d.settings.operator(call.operatorId);
    if (operator && call.answeredAt !== null) recorder.answered(call.answeredAt, { id: operator.id, username: operator.username });
    recorder.end({ at: now, hangupBy: 'system', sipReason: 'switchboard instance lost', disposition: call.answeredAt !== null ? 'answered' : 'failed' });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.del(this.keys.instanceLease(this.instanceId)).catch(() => undefined);
  }
}
