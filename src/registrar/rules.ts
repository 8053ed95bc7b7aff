/**
 * What a REGISTER asks for, decided from its headers alone (RFC 3261 §10.3 steps 6 and 8):
 * a query, a removal of every binding, or a list of bindings with their durations. No I/O, so the
 * rules are testable line by line; the store applies the plan atomically.
 */
import { contactKey, parseContactHeader, type Params } from './contact.js';

export interface ExpiryLimits {
  /** Shorter non-zero durations are refused with 423 and Min-Expires. */
  min: number;
  /** Longer durations are shortened to this (the 200 OK tells the phone). */
  max: number;
  /** For contacts with neither an expires parameter nor an Expires header. */
  default: number;
}

export interface PlannedContact {
  /** Equivalent URIs share a key, so a refresh replaces rather than duplicates. */
  key: string;
  uri: string;
  /** Contact parameters other than expires (q, +sip.instance, reg-id ...). */
  params: Params;
  /** Seconds; 0 removes the binding. */
  expires: number;
}

export type RegisterPlan =
  | { kind: 'query' }
  | { kind: 'remove-all' }
  | { kind: 'update'; contacts: PlannedContact[] }
  | { kind: 'reject'; status: 400; reason: string }
  | { kind: 'reject'; status: 423; reason: string; minExpires: number };

// delta-seconds is at most 2^32-1 (RFC 3261 §20.19); larger values are clamped to max anyway.
const DELTA_SECONDS = /^\d{1,10}$/;

function parseDelta(value: string | null | undefined): number | undefined | 'bad' {
  if (value === undefined) return undefined;
  if (value === null || !DELTA_SECONDS.test(value.trim())) return 'bad';
  return Number(value.trim());
}

const bad = (reason: string): RegisterPlan => ({ kind: 'reject', status: 400, reason });

export function planRegister(contactHeader: string | undefined, expiresHeader: string | undefined, limits: ExpiryLimits): RegisterPlan {
  if (contactHeader === undefined || contactHeader.trim() === '') return { kind: 'query' };
  const headerExpires = parseDelta(expiresHeader);
  if (headerExpires === 'bad') return bad('Bad Expires');
  const contacts = parseContactHeader(contactHeader);
  if (contacts === undefined) return bad('Bad Contact');
  if (contacts === '*') {
    // §10.3 step 6: '*' is only valid alone and with Expires: 0.
    return headerExpires === 0 ? { kind: 'remove-all' } : bad('Contact * Needs Expires 0');
  }

  const planned: PlannedContact[] = [];
  for (const contact of contacts) {
    const { expires: param, ...params } = contact.params;
    const own = parseDelta(param);
    if (own === 'bad') return bad('Bad Contact Expires');
    const requested = own ?? headerExpires ?? limits.default;
    if (requested > 0 && requested < limits.min) {
      return { kind: 'reject', status: 423, reason: 'Interval Too Brief', minExpires: limits.min };
    }
    planned.push({ key: contactKey(contact.uri), uri: contact.uri, params, expires: Math.min(requested, limits.max) });
  }
  return { kind: 'update', contacts: planned };
}
