import type { Logger } from '../log.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import type { OperatorService } from './operator-service.js';
import type { StatusCache } from './status-cache.js';

const LEASE_TTL_S = 10;
// A deadline is only acted on this long after it passed, so the owner's own timer goes first.
const GRACE_MS = 2_000;

/**
 * Keeps operators from getting stuck: every instance renews a lease while it lives, and frees
 * operators whose ringing or wrap-up deadline passed long ago or whose call belongs to an
 * instance whose lease is gone (crashed, killed). Every instance sweeps; the compare-and-set
 * store makes it harmless when two do the same.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly instanceId: string,
    private readonly statuses: StatusCache,
    private readonly operators: OperatorService,
    private readonly log: Logger,
    private readonly intervalMs = 2_000,
  ) {}

  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    await this.redis.set(this.keys.instanceLease(this.instanceId), String(Date.now()), 'EX', LEASE_TTL_S);
  }

  private async tick(): Promise<void> {
    try {
      await this.renew();
      await this.sweep(Date.now());
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'operator sweep failed');
    }
  }

  /** Frees every operator held by a passed deadline or a vanished instance. */
  async sweep(now: number): Promise<number> {
    const held = this.statuses.all().filter((s) => s.state === 'ringing' || s.state === 'busy' || s.state === 'wrap-up');
    const owners = [...new Set(held.map((s) => s.instance).filter((i) => i !== ''))];
    const alive = new Set<string>();
    for (const owner of owners) if ((await this.redis.exists(this.keys.instanceLease(owner))) === 1) alive.add(owner);
    let freed = 0;
    for (const s of held) {
      const overdue = s.deadline > 0 && s.deadline + GRACE_MS < now;
      const orphaned = s.instance !== '' && !alive.has(s.instance);
      if (!overdue && !orphaned) continue;
      const done = await this.operators.tryApply(s.operatorId, { type: 'expire' });
      if (!done) continue;
      freed++;
      this.log.warn({ operatorId: s.operatorId, was: s.state, callId: s.callId, owner: s.instance, overdue, orphaned }, 'freed a held operator');
    }
    return freed;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.del(this.keys.instanceLease(this.instanceId)).catch(() => undefined);
  }
}
