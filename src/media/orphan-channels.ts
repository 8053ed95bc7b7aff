import type { Logger } from '../log.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';

/** The channel variable FreeSWITCH keeps drachtio-fsmrf's X-esl-outbound header in. */
export const OUTBOUND_VARIABLE = 'sip_h_X-esl-outbound';
/** Q.850 41: the caller may try again (another instance answers). */
const HANGUP_CAUSE = 'NORMAL_TEMPORARY_FAILURE';
const CLAIM_TTL_S = 60;

/** What the sweep needs of the media pool (src/media/pool.ts). */
export interface OutboundMedia {
  outboundAddresses(): string[];
  hangupMatching(variable: string, value: string, cause: string): Promise<number>;
}

export interface OutboundOwner {
  instanceId: string;
  alive: boolean;
  addresses: string[];
}

/**
 * Which published outbound addresses have channels nobody controls any more: every address of
 * an instance that is gone, and those of this instance that are not this process's (a
 * predecessor under the same INSTANCE_ID). An address a live instance has published again (a
 * port reused) is left alone.
 */
export function orphanedAddresses(owners: OutboundOwner[], self: string, mine: string[]): Array<{ instanceId: string; address: string }> {
  const inUse = new Set(mine);
  for (const o of owners) if (o.alive && o.instanceId !== self) for (const a of o.addresses) inUse.add(a);
  return owners
    .filter((o) => o.instanceId === self || !o.alive)
    .flatMap((o) => o.addresses.filter((a) => !inUse.has(a)).map((address) => ({ instanceId: o.instanceId, address })));
}

export interface OrphanChannelsDeps {
  redis: Redis;
  keys: RedisKeys;
  instanceId: string;
  media: OutboundMedia;
  log: Logger;
}

/**
 * FreeSWITCH keeps the channels of a dead instance up (hold music, bridges, conferences): closing
 * their event sockets only ends those idle in park. Every instance publishes where its media
 * servers connect back to it; once an instance is gone, one survivor (a claim per address) ends
 * the channels created for those addresses with `hupall` on every media server.
 */
export class OrphanChannels {
  constructor(private readonly d: OrphanChannelsDeps) {}

  /** Publishes this process's outbound addresses (with every lease renewal). */
  async publish(): Promise<void> {
    const addresses = this.d.media.outboundAddresses();
    if (addresses.length === 0) return;
    await this.d.redis
      .multi()
      .sadd(this.d.keys.outboundOwners(), this.d.instanceId)
      .sadd(this.d.keys.instanceOutbound(this.d.instanceId), ...addresses)
      .exec();
  }

  /** Ends the channels of gone instances' (and a predecessor's) addresses; returns how many addresses. */
  async sweep(isAlive: (instanceId: string) => Promise<boolean>): Promise<number> {
    const owners: OutboundOwner[] = [];
    for (const instanceId of await this.d.redis.smembers(this.d.keys.outboundOwners())) {
      const addresses = await this.d.redis.smembers(this.d.keys.instanceOutbound(instanceId));
      // Emptied by a sweep; an instance that lives publishes itself again.
      if (addresses.length === 0) await this.d.redis.srem(this.d.keys.outboundOwners(), instanceId);
      else owners.push({ instanceId, alive: instanceId === this.d.instanceId || (await isAlive(instanceId)), addresses });
    }
    let ended = 0;
    for (const { instanceId, address } of orphanedAddresses(owners, this.d.instanceId, this.d.media.outboundAddresses())) {
      if (await this.end(instanceId, address)) ended++;
    }
    return ended;
  }

  private async end(instanceId: string, address: string): Promise<boolean> {
    if (!(await this.claim(address))) return false;
    const servers = await this.d.media.hangupMatching(OUTBOUND_VARIABLE, address, HANGUP_CAUSE);
    if (servers === 0) {
      // No media server up: another pass (here or elsewhere) tries again.
      await this.d.redis.del(this.d.keys.outboundClaim(address));
      return false;
    }
    await this.d.redis.srem(this.d.keys.instanceOutbound(instanceId), address);
    this.d.log.warn({ instanceId, outbound: address, servers }, 'ended the media channels of an instance that is gone');
    return true;
  }

  /** True for exactly one of several instances asking about the same address (as for orphaned calls). */
  private async claim(address: string): Promise<boolean> {
    return (await this.d.redis.set(this.d.keys.outboundClaim(address), this.d.instanceId, 'EX', CLAIM_TTL_S, 'NX')) === 'OK';
  }
}
