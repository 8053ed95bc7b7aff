/**
 * Connections of registered clients: UaInvalidData and cacheTportForSubscription /
 * findTportForSubscription in drachtio-server's controller.cpp and sip-dialog-controller.cpp.
 *
 * When an app answers a REGISTER 200 (or a refreshing SUBSCRIBE 2xx) that came over TCP, the
 * server remembers that connection under the Contact's "user@host" (no port) for the expiry
 * the app granted. Later requests aimed at that user@host are forced onto it: in-dialog requests
 * sent to the remote target (ACK, or an app request with a "placeholder" URI), and new INVITE,
 * OPTIONS, NOTIFY and MESSAGE requests. The entry outlives the connection: once the client
 * has gone, those requests fail on the dead connection until the entry expires or a REGISTER
 * with expires 0 removes it.
 */
import { parseNameAddr, parseUri, type Protocol } from '../sip/index.js';

export interface CachedTport {
  protocol: Protocol;
  address: string;
  port: number;
  connectionId: string;
  expiresAt: number;
}

export class TportCache {
  private readonly entries = new Map<string, CachedTport>();

  /** cacheTportForSubscription: add, or extend and re-point an existing entry. */
  cache(user: string | undefined, host: string, expiresSecs: number, tport: Omit<CachedTport, 'expiresAt'>): void {
    this.entries.set(key(user, host), { ...tport, expiresAt: Date.now() + expiresSecs * 1000 });
  }

  flush(user: string | undefined, host: string): void {
    this.entries.delete(key(user, host));
  }

  /** findTportForSubscription for a URI's user@host. */
  find(uri: string): CachedTport | undefined {
    let u;
    try {
      u = parseUri(parseNameAddr(uri).uri);
    } catch {
      return undefined;
    }
    const k = key(u.user, u.host);
    const entry = this.entries.get(k);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(k);
      return undefined;
    }
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }
}

function key(user: string | undefined, host: string): string {
  return user ? `${user}@${host}` : host;
}
