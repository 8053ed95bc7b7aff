import type { Logger } from '../log.js';
import type { ConfigCache } from '../provisioning/cache.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import type { AppliedTransition, OperatorStore } from './operator-store.js';
import { LEASE_MARGIN_MS } from './operator-rules.js';
import type { QueueStore } from './queue-store.js';
import type { StatusCache } from './status-cache.js';
import { offerWidth, rankCandidates, type Candidate } from './strategy.js';

/** What the dispatcher needs to know of a waiting call that this instance owns. */
export interface WaitingCall {
  callId: string;
  queueId: number;
  /** Operators this caller has been offered to and who did not take the call. */
  tried: Set<number>;
  /** Not before this time (ms epoch) are they offered to the same operators again. */
  retryAt: number;
}

export interface DispatcherDeps {
  instanceId: string;
  operators: OperatorStore;
  queues: QueueStore;
  config: ConfigCache;
  statuses: StatusCache;
  redis: Redis;
  keys: RedisKeys;
  log: Logger;
  /** This instance's call waiting under that id, if any. */
  waitingCall(callId: string): WaitingCall | undefined;
  /** Hands a match over: ring these reserved operators for the call. */
  offer(callId: string, reserved: AppliedTransition[]): void;
}

// Bounds one pass over a queue; anything left is picked up by the next kick.
const MAX_MATCHES_PER_PASS = 200;

/**
 * Matches callers with operators. Every instance runs one; each offers only the calls it owns,
 * and only the call at the head of a queue, so callers are served in order across instances.
 * The match itself is one atomic Redis step (OperatorStore.reserveForHead).
 */
export class Dispatcher {
  private readonly running = new Set<number>();
  private readonly dirty = new Set<number>();

  constructor(private readonly d: DispatcherDeps) {}

  /** Something changed in this queue: look for a match soon (coalesced). */
  kick(queueId: number): void {
    if (this.running.has(queueId)) {
      this.dirty.add(queueId);
      return;
    }
    this.running.add(queueId);
    setImmediate(() => void this.runUntilClean(queueId));
  }

  private async runUntilClean(queueId: number): Promise<void> {
    try {
      do {
        this.dirty.delete(queueId);
        await this.pass(queueId);
      } while (this.dirty.has(queueId));
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message, queueId }, 'dispatch failed; will retry on the next change');
    } finally {
      this.running.delete(queueId);
    }
  }

  private candidates(queueId: number, call: WaitingCall, now: number): Candidate[] {
    const available = this.d.config.members(queueId).flatMap((m) => {
      const s = this.d.statuses.get(m.operatorId);
      return s?.state === 'available' ? [{ operatorId: m.operatorId, penalty: m.penalty, idleSince: s.idleSince, calls: s.calls }] : [];
    });
    const fresh = available.filter((c) => !call.tried.has(c.operatorId));
    if (fresh.length > 0 || now < call.retryAt) return fresh;
    // Everyone free has had a go: start another round.
    call.tried.clear();
    return available;
  }

  private async pass(queueId: number): Promise<void> {
    const queue = this.d.config.queue(queueId);
    if (!queue) return;
    for (let i = 0; i < MAX_MATCHES_PER_PASS; i++) {
      const head = await this.d.queues.head(queueId);
      const call = head === undefined ? undefined : this.d.waitingCall(head);
      // Not ours: the instance that owns it was told of the same change and will offer it.
      if (!call || head === undefined) return;
      const candidates = this.candidates(queueId, call, Date.now());
      if (candidates.length === 0) return;
      const cursorKey = this.d.keys.queueCursor(queueId);
      const after = queue.strategy === 'round-robin' ? Number((await this.d.redis.get(cursorKey)) ?? NaN) : NaN;
      const ranked = rankCandidates(queue.strategy, candidates, Number.isNaN(after) ? undefined : after);
      const reserved = await this.d.operators.reserveForHead(queueId, head, ranked.map((c) => c.operatorId), offerWidth(queue.strategy, ranked.length), {
        instance: this.d.instanceId,
        leaseMs: queue.ringTimeoutS * 1000 + LEASE_MARGIN_MS,
      });
      this.d.log.debug({ queueId, callId: head, candidates: ranked.map((c) => c.operatorId), reserved: reserved === 'not-head' ? reserved : reserved.map((r) => r.operatorId) }, 'dispatch');
      if (reserved === 'not-head') continue;
      // Our view of who is free was behind; the change that freed or took them will kick us again.
      if (reserved.length === 0) return;
      if (queue.strategy === 'round-robin') await this.d.redis.set(cursorKey, String(reserved[0]?.operatorId));
      this.d.offer(head, reserved);
    }
    this.dirty.add(queueId);
  }
}
