/**
 * How long a message-summary subscription lasts (RFC 6665 §4.2.1): the Expires asked for, held
 * between a floor and a ceiling. A request below the floor gets 423 Interval Too Brief with
 * Min-Expires; none at all gets the default; 0 ends the subscription (a final NOTIFY follows).
 */
export interface SubscriptionLimits {
  minS: number;
  maxS: number;
  defaultS: number;
}

// Phones commonly ask for an hour (Asterisk's mwi_subscribe default is 3600 too); a minute
// floor keeps a misconfigured phone from refreshing in a tight loop.
export const SUBSCRIPTION_LIMITS: SubscriptionLimits = { minS: 60, maxS: 3600, defaultS: 3600 };

export type SubscriptionExpiry =
  | { kind: 'active'; expiresS: number }
  | { kind: 'unsubscribe' }
  | { kind: 'too-brief'; minExpiresS: number }
  | { kind: 'bad'; reason: string };

export function subscriptionExpiry(header: string | undefined, limits: SubscriptionLimits = SUBSCRIPTION_LIMITS): SubscriptionExpiry {
  const text = header?.trim();
  if (text === undefined || text === '') return { kind: 'active', expiresS: limits.defaultS };
  if (!/^\d+$/.test(text)) return { kind: 'bad', reason: `Expires is not a number of seconds: "${text}"` };
  const asked = Number(text);
  if (asked === 0) return { kind: 'unsubscribe' };
  if (asked < limits.minS) return { kind: 'too-brief', minExpiresS: limits.minS };
  return { kind: 'active', expiresS: Math.min(asked, limits.maxS) };
}

/** The Subscription-State header of a NOTIFY while the subscription lasts, or of its last one. */
export function subscriptionState(expiresAt: number, now: number): string {
  const left = Math.floor((expiresAt - now) / 1000);
  if (left <= 0) return 'terminated;reason=timeout';
  return `active;expires=${left}`;
}
