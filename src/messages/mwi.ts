/**
 * Message-waiting indication (RFC 3842) for extensions' phones, two ways:
 *
 * - Subscribed: a phone's SUBSCRIBE (Event: message-summary) is accepted (drachtio-srf's UAS
 *   answers 202, which RFC 3265 phones expect as well as 200) with the Expires granted, followed
 *   at once by a NOTIFY with the counts; every change of the mailbox NOTIFYs again; a refresh
 *   extends it, Expires: 0 or its expiry ends it with a final NOTIFY (terminated).
 * - Unsolicited: registered phones that hold no subscription get an out-of-dialog NOTIFY on each
 *   change, as Asterisk's unsolicited MWI does, for phones configured without subscribing.
 *
 * The subscription dialog lives in the instance that accepted it (drachtio-server sends that
 * instance its refreshes); the subscription itself is kept in Redis (extension -> contact, owner,
 * expiry), so the instance that changes a mailbox knows which phones subscribe, and a change on
 * any instance reaches the owner through the bus.
 */
import { createHash, randomBytes } from 'node:crypto';
import type Srf from 'drachtio-srf';
import type { FeatureCodeAuth } from '../calls/feature-codes.js';
import type { Logger } from '../log.js';
import type { Redis } from '../redis/client.js';
import type { EventBus } from '../redis/events.js';
import type { RedisKeys } from '../redis/keys.js';
import { findCredentials } from '../sip/digest-auth.js';
import { dialledOf } from '../sip/request-info.js';
import { MESSAGE_SUMMARY_TYPE, messageAccount, messageSummary, type MessageCounts } from './summary.js';
import { subscriptionExpiry, subscriptionState } from './subscription.js';

const EVENT = 'message-summary';
// What an unknown user's credentials are checked against: no password hashes to it.
const DUMMY_HA1 = createHash('md5').update(randomBytes(16)).digest('hex');

export interface MwiDeps {
  srf: Srf;
  redis: Redis;
  keys: RedisKeys;
  bus: EventBus;
  domain: string;
  instanceId: string;
  log: Logger;
  /** Digest authentication: only the extension's own phone may subscribe to its mailbox. */
  auth: FeatureCodeAuth;
  /** Whether a number is an extension (only those have a mailbox). */
  isExtension(number: string): boolean;
  /** The registered contacts of an extension's phones. */
  contacts(extension: string): Promise<string[]>;
  counts(extension: string): Promise<MessageCounts>;
}

interface LocalSubscription {
  extension: string;
  dialog: Srf.Dialog;
  expiresAt: number;
  timer: NodeJS.Timeout;
}

/** What Redis keeps of one subscription. */
interface StoredSubscription {
  owner: string;
  contact: string;
  expiresAt: number;
}

/** The part of a SIP URI that names where a phone listens (host and port), for comparing contacts. */
export function contactAddress(uri: string): string {
  const m = /^<?sips?:(?:[^@;>]*@)?([^;>?]+)/i.exec(uri.trim());
  return (m?.[1] ?? uri).toLowerCase();
}

function eventPackage(req: Srf.SrfRequest): string {
  return (req.get('Event') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function remoteContact(req: Srf.SrfRequest): string {
  try {
    return req.getParsedHeader('Contact')[0]?.uri ?? '';
  } catch {
    return '';
  }
}

/** drachtio-srf's request() for a new request outside a dialog (its typings name other arguments). */
function outOfDialog(srf: Srf): { request(uri: string, opts: { method: string; headers: Record<string, string>; body: string }): Promise<unknown> } {
  return srf as unknown as ReturnType<typeof outOfDialog>;
}

export class Mwi {
  private readonly local = new Map<string, LocalSubscription>();

  constructor(private readonly d: MwiDeps) {}

  private key(extension: string): string {
    return `${this.d.keys.prefix}mwi:${extension}`;
  }

  /** Takes every SUBSCRIBE outside a dialog, and NOTIFYs this instance's subscribers on changes. */
  attach(): void {
    this.d.srf.use('subscribe', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      void this.subscribe(req, res).catch((err: Error) => {
        this.d.log.warn({ err: err.message }, 'SUBSCRIBE handling failed');
        if (!res.finalResponseSent) res.send(500);
      });
    });
    this.d.bus.onEvent('mwi', (e) => void this.notifyLocal(String(e.extension)));
  }

  /** A mailbox changed: tell its phones, subscribed (through their instance) or not. */
  async changed(extension: string): Promise<void> {
    this.d.bus.publish({ type: 'mwi', extension });
    await this.unsolicited(extension);
  }

  private async subscribe(req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    // A SUBSCRIBE naming a dialog that does not exist (RFC 6665 §4.1.2.2 refresh after a restart).
    if (/;\s*tag\s*=/i.test(req.get('To') ?? '')) return res.send(481);
    if (eventPackage(req) !== EVENT) return res.send(489, 'Bad Event', { headers: { 'Allow-Events': EVENT } });
    const accept = req.get('Accept');
    if (accept && !accept.toLowerCase().includes(MESSAGE_SUMMARY_TYPE)) return res.send(406, 'Not Acceptable', { headers: { Accept: MESSAGE_SUMMARY_TYPE } });
    const extension = dialledOf(req);
    if (!this.d.isExtension(extension)) return res.send(404);
    const expiry = subscriptionExpiry(req.get('Expires'));
    if (expiry.kind === 'bad') return res.send(400, expiry.reason, {});
    if (expiry.kind === 'too-brief') return res.send(423, 'Interval Too Brief', { headers: { 'Min-Expires': String(expiry.minExpiresS) } });
    // Last of the checks: a request that would be refused anyway costs no challenge round.
    if (!(await this.authenticated(req, res, extension))) return;
    const expiresS = expiry.kind === 'active' ? expiry.expiresS : 0;
    const dialog = await this.d.srf.createUAS(req, res, { localSdp: '', headers: { Expires: String(expiresS) } } as Srf.CreateUASOptions);
    const log = this.d.log.child({ extension, sipCallId: req.get('Call-ID') });
    if (expiresS === 0) {
      // A fetch (RFC 6665 §4.4.3): the state once, and the subscription is over.
      log.info('message-summary fetched');
      await this.notify(dialog, extension, 'terminated;reason=timeout');
      return;
    }
    log.info({ expiresS }, 'message-summary subscribed');
    this.keep(extension, dialog, expiresS, remoteContact(req));
    // drachtio-srf emits these for in-dialog SUBSCRIBEs; its typings name only INVITE dialogs' events.
    dialog.on('subscribe' as 'info', (refresh: Srf.SrfRequest, refreshRes: Srf.SrfResponse) => void this.refresh(dialog, refresh, refreshRes));
    dialog.on('unsubscribe' as 'destroy', () => void this.end(dialog, 'terminated'));
    dialog.on('destroy', () => void this.forget(dialog));
    await this.notify(dialog, extension, subscriptionState(Date.now() + expiresS * 1000, Date.now()));
  }

  /**
   * RFC 3261 §22.2 (401, WWW-Authenticate) with the registrar's credentials, nonces and
   * per-address failure limit: message counts are the extension's own business. False once the
   * request has been answered (challenge or refusal).
   */
  private async authenticated(req: Srf.SrfRequest, res: Srf.SrfResponse, extension: string): Promise<boolean> {
    const { auth, credentials, limiter } = this.d.auth;
    const challenge = (stale: boolean): false => {
      res.send(401, { headers: { 'WWW-Authenticate': auth.challenge(stale) } });
      return false;
    };
    const found = findCredentials(req.get('Authorization'), auth.realm);
    if (found.kind === 'none' || found.kind === 'other-realm') return challenge(false);
    const source = req.source_address;
    if (await limiter.blocked(source)) {
      // Refused unchecked, as the registrar does: a flood costs one Redis GET per request.
      res.send(403, 'Forbidden: too many failed authentications', {});
      return false;
    }
    const user = found.kind === 'malformed' ? undefined : await credentials.get(found.credentials.username);
    const verdict = found.kind === 'malformed' ? undefined : await auth.verify(found.credentials, { method: 'SUBSCRIBE', uri: req.uri, ha1: user?.ha1 ?? DUMMY_HA1 });
    if (verdict && !verdict.ok && verdict.stale) return challenge(true);
    if (verdict?.ok && user?.kind === 'extension' && user.username === extension) return true;
    if (verdict?.ok && user) {
      res.send(403, 'Forbidden: not this mailbox\'s phone', {});
      return false;
    }
    this.d.log.warn({ extension, source }, 'SUBSCRIBE authentication failed');
    await limiter.fail(source);
    res.send(403, 'Forbidden: authentication failed', {});
    return false;
  }

  private async refresh(dialog: Srf.Dialog, req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    const sub = this.local.get(dialog.sip.callId);
    if (!sub) return res.send(481);
    const expiry = subscriptionExpiry(req.get('Expires'));
    if (expiry.kind === 'bad') return res.send(400, expiry.reason, {});
    if (expiry.kind === 'too-brief') return res.send(423, 'Interval Too Brief', { headers: { 'Min-Expires': String(expiry.minExpiresS) } });
    // drachtio-srf answers a plain "Expires: 0" itself (the 'unsubscribe' event); any other
    // spelling of zero ends the subscription here.
    if (expiry.kind === 'unsubscribe') {
      res.send(200, { headers: { Expires: '0' } });
      return this.end(dialog, 'terminated');
    }
    res.send(200, { headers: { Expires: String(expiry.expiresS) } });
    clearTimeout(sub.timer);
    this.keep(sub.extension, dialog, expiry.expiresS, remoteContact(req));
    await this.notify(dialog, sub.extension, subscriptionState(Date.now() + expiry.expiresS * 1000, Date.now()));
  }

  private keep(extension: string, dialog: Srf.Dialog, expiresS: number, contact: string): void {
    const expiresAt = Date.now() + expiresS * 1000;
    const timer = setTimeout(() => void this.end(dialog, 'terminated;reason=timeout'), expiresS * 1000);
    timer.unref();
    this.local.set(dialog.sip.callId, { extension, dialog, expiresAt, timer });
    const stored: StoredSubscription = { owner: this.d.instanceId, contact, expiresAt };
    void this.d.redis
      .multi()
      .hset(this.key(extension), dialog.sip.callId, JSON.stringify(stored))
      .pexpire(this.key(extension), expiresS * 1000 + 60_000)
      .exec()
      .catch((err: Error) => this.d.log.warn({ err: err.message, extension }, 'cannot keep the subscription in Redis'));
  }

  /** The final NOTIFY; drachtio-srf ends the dialog when the phone answers it. */
  private async end(dialog: Srf.Dialog, state: string): Promise<void> {
    const sub = this.local.get(dialog.sip.callId);
    if (!sub) return;
    await this.forget(dialog);
    this.d.log.info({ extension: sub.extension, state }, 'message-summary subscription ended');
    await this.notify(dialog, sub.extension, state);
  }

  private async forget(dialog: Srf.Dialog): Promise<void> {
    const sub = this.local.get(dialog.sip.callId);
    if (!sub) return;
    clearTimeout(sub.timer);
    this.local.delete(dialog.sip.callId);
    await this.d.redis.hdel(this.key(sub.extension), dialog.sip.callId).catch(() => undefined);
  }

  private async notify(dialog: Srf.Dialog, extension: string, state: string): Promise<void> {
    try {
      const body = messageSummary(messageAccount(extension, this.d.domain), await this.d.counts(extension));
      await dialog.request({ method: 'NOTIFY', headers: { Event: EVENT, 'Subscription-State': state, 'Content-Type': MESSAGE_SUMMARY_TYPE }, body } as never);
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message, extension }, 'message-summary NOTIFY failed');
    }
  }

  private async notifyLocal(extension: string): Promise<void> {
    for (const sub of this.local.values()) {
      if (sub.extension === extension) await this.notify(sub.dialog, extension, subscriptionState(sub.expiresAt, Date.now()));
    }
  }

  /** Contacts (host:port) that hold a live subscription, on any instance. */
  private async subscribedAddresses(extension: string): Promise<Set<string>> {
    const all = await this.d.redis.hvals(this.key(extension));
    const now = Date.now();
    const live = all.map((v) => JSON.parse(v) as StoredSubscription).filter((s) => s.expiresAt > now);
    return new Set(live.map((s) => contactAddress(s.contact)));
  }

  private async unsolicited(extension: string): Promise<void> {
    const [contacts, subscribed] = await Promise.all([this.d.contacts(extension), this.subscribedAddresses(extension)]);
    const targets = contacts.filter((c) => !subscribed.has(contactAddress(c)));
    if (targets.length === 0) return;
    const account = messageAccount(extension, this.d.domain);
    const body = messageSummary(account, await this.d.counts(extension));
    for (const uri of targets) {
      await outOfDialog(this.d.srf)
        .request(uri, { method: 'NOTIFY', headers: { From: `<${account}>`, To: `<${account}>`, Event: EVENT, 'Content-Type': MESSAGE_SUMMARY_TYPE }, body })
        .catch((err: Error) => this.d.log.warn({ err: err.message, extension, uri }, 'unsolicited message-summary NOTIFY failed'));
    }
    this.d.log.info({ extension, phones: targets.length }, 'unsolicited message-summary sent');
  }

  /** Stops the expiry timers; the dialogs end with the connection (phones re-subscribe after 481). */
  close(): void {
    for (const sub of this.local.values()) clearTimeout(sub.timer);
    this.local.clear();
  }
}
