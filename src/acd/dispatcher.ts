import type { Logger } from '../log.js';
import type { ConfigCache } from '../provisioning/cache.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import type { AppliedTransition, OperatorStore } from './operator-store.js';
import { LEASE_MARGIN_MS } from './operator-rules.js';
import type { QueueStore } from './queue-store.js';
import { planOffers, type Need, type Offer, type SkilledCandidate } from './skill-match.js';
import type { StatusCache } from './status-cache.js';

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

// Bound one pass over a queue (reads of its line, and reservations sent together after each
// read); anything left is picked up by the next kick.
const MAX_ROUNDS_PER_PASS = 8;
const MAX_OFFERS_PER_ROUND = 50;
// How far down a queue dispatch looks for a caller whose turn it is.
const WAITING_WINDOW = 100;
// Candidates sent to the match script beyond those it is to reserve: spares for a status cache a
// moment behind. Sending every free operator of a big queue with each match costs more than the
// rare second try when the first few have all just been taken.
const SPARE_CANDIDATES = 8;

/**
 * Matches callers with operators. Every instance runs one; each offers only the calls it owns,
 * and only in turn (skill-match.ts: by priority and arrival, except that a caller waiting for a
 * skill holds back only the operators with it), so callers are served in order across instances.
 * The match itself is one atomic Redis step that checks the turn (OperatorStore.reserveInTurn).
 */
export class Dispatcher {
  private readonly running = new Set<number>();
  private readonly dirty = new Set<number>();
  /** A queue's whole line as known without reading it, for its next pass only. */
  private readonly lines = new Map<number, Need[]>();

  constructor(private readonly d: DispatcherDeps) {}

  /**
   * Something changed in this queue: look for a match soon (coalesced). `line`: the change is a
   * caller entering, who was told the whole line (Entered.line, a caller alone in it), so the
   * next pass need not read it first, unless something else changes before that pass starts.
   * The match checks the turn in Redis: a line that changed meanwhile costs a read, never a
   * wrong offer.
   */
  kick(queueId: number, line?: Need[]): void {
    if (this.running.has(queueId)) {
      this.dirty.add(queueId);
      this.lines.delete(queueId);
      return;
    }
    this.running.add(queueId);
    if (line) this.lines.set(queueId, line);
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
      this.lines.delete(queueId);
    }
  }

  private free(queueId: number): SkilledCandidate[] {
    return this.d.config.members(queueId).flatMap((m) => {
      const s = this.d.statuses.get(m.operatorId);
      if (s?.state !== 'available') return [];
      return [{ operatorId: m.operatorId, penalty: m.penalty, idleSince: s.idleSince, calls: s.calls, skills: m.skills, grade: m.grade }];
    });
  }

  private async pass(queueId: number): Promise<void> {
    const queue = this.d.config.queue(queueId);
    if (!queue) return;
    const cursorKey = this.d.keys.queueCursor(queueId);
    for (let round = 0; round < MAX_ROUNDS_PER_PASS; round++) {
      const known = this.lines.get(queueId);
      this.lines.delete(queueId);
      const waiting = known ?? (await this.d.queues.waitingNeeds(queueId, WAITING_WINDOW));
      // None of ours waiting: the instances that own the callers were told of the same change.
      if (!waiting.some((w) => this.d.waitingCall(w.callId))) return;
      const free = this.free(queueId);
      if (free.length === 0) return;
      const after = queue.strategy === 'round-robin' ? Number((await this.d.redis.get(cursorKey)) ?? NaN) : NaN;
      const now = Date.now();
      const own = (id: string): WaitingCall | undefined => this.d.waitingCall(id);
      const offers = planOffers({ waiting, free, own, strategy: queue.strategy, now, ...(Number.isNaN(after) ? {} : { after }) }, MAX_OFFERS_PER_ROUND);
      if (offers.length === 0) return;
      const reserve = (offer: Offer, operators: SkilledCandidate[]): Promise<Reservation> =>
        this.d.operators.reserveInTurn(queueId, offer.callId, operators, offer.width, {
          instance: this.d.instanceId,
          leaseMs: queue.ringTimeoutS * 1000 + LEASE_MARGIN_MS,
          now,
        });
      for (const offer of offers) if (offer.newRound) own(offer.callId)?.tried.clear();
      // Sent together, run by Redis one after the other in serving order: one round trip for all.
      const results = await Promise.all(offers.map((offer) => reserve(offer, offer.operators.slice(0, offer.width + SPARE_CANDIDATES))));
      let outOfTurn = false;
      let behind = false;
      let lastReserved: number | undefined;
      for (const [i, offer] of offers.entries()) {
        let reserved = results[i] as Reservation;
        const rest = offer.operators.slice(offer.width + SPARE_CANDIDATES);
        if (reserved !== 'out-of-turn' && reserved.length === 0 && rest.length > 0) reserved = await reserve(offer, rest);
        this.logMatch(queueId, offer, reserved);
        if (reserved === 'out-of-turn') {
          outOfTurn = true;
          continue;
        }
        // Our view of who is free was behind; the change that freed or took them will kick us again.
        if (reserved.length === 0) {
          behind = true;
          continue;
        }
        lastReserved = reserved[0]?.operatorId;
        this.d.offer(offer.callId, reserved);
      }
      if (queue.strategy === 'round-robin' && lastReserved !== undefined) await this.d.redis.set(cursorKey, String(lastReserved));
      if (behind) return;
      // Otherwise the plan went as far as it could, and until something changes (which kicks us)
      // there is no more to match, unless the turn moved under us or there was more to plan.
      const more = waiting.length === WAITING_WINDOW || offers.length === MAX_OFFERS_PER_ROUND;
      if (!outOfTurn && !more) return;
    }
    this.dirty.add(queueId);
  }

  // Listing a big queue's candidates for every match costs more than the match: only when asked.
  private logMatch(queueId: number, offer: Offer, reserved: Reservation): void {
    if (!this.d.log.isLevelEnabled('debug')) return;
    this.d.log.debug({ queueId, callId: offer.callId, candidates: offer.operators.map((c) => c.operatorId), reserved: reserved === 'out-of-turn' ? reserved : reserved.map((r) => r.operatorId) }, 'dispatch');
  }
}

type Reservation = AppliedTransition[] | 'out-of-turn';
