/**
 * Ring first (issue 9): whether a caller to a direct queue is rung through before being answered,
 * whether one whose match is late keeps waiting for it unanswered, and whether a caller answered
 * while an operator is free hears hold music at once. The decisions are plain
 * functions; `freeFitting` reads only the in-memory operator statuses.
 */
import type { ConfigCache } from '../provisioning/cache.js';
import type { StatusCache } from '../acd/status-cache.js';

/**
 * A match is plausible while more operators who fit the call are free than callers are ahead of
 * it: at a high rate other callers rung first are always passing through the queue, so requiring
 * it empty would send callers to the media server exactly when it is busiest.
 */
export function matchPlausible(free: number, ahead: number): boolean {
  return free > ahead;
}

/** The longest a caller likely connected at once hears silence before the hold music. */
export const HOLD_MUSIC_GRACE_MS = 1_000;

/**
 * How long a caller who has just entered the queue waits for hold music. With a match plausible
 * the operator's phone is usually offered and answered within a few hundred milliseconds, and
 * starting the music only to break it off costs the media server a playback and a uuid_break per
 * call (about a fifth of FreeSWITCH's CPU for an anchored call, issue 9). Such a caller hears
 * silence for up to HOLD_MUSIC_GRACE_MS, then the music if the phone still rings.
 */
export function holdMusicDelayMs(free: number, ahead: number): number {
  return matchPlausible(free, ahead) ? HOLD_MUSIC_GRACE_MS : 0;
}

/** On arrival: rung first when a match is plausible and the queue has room for the caller. */
export function ringsFirstOnArrival(free: number, waiting: number, maxLength: number | null): boolean {
  return matchPlausible(free, waiting) && (maxLength === null || waiting < maxLength);
}

export interface LateMatch {
  now: number;
  /** When the caller's INVITE came (ms epoch). */
  arrivedAt: number;
  /** RING_FIRST_MAX_SECONDS in ms: the longest a caller waits unanswered for a match. */
  maxMs: number;
  /** How long to wait before looking again. */
  waitMs: number;
  free: number;
  ahead: number;
}

/**
 * The wait for a match ran out: keep the caller unanswered and look again in `checkInMs`, or
 * answer them onto the media server to wait (no match is plausible, or they waited long enough).
 */
export function afterLateMatch(m: LateMatch): { keep: true; checkInMs: number } | { keep: false } {
  const left = m.arrivedAt + m.maxMs - m.now;
  if (left <= 0 || !matchPlausible(m.free, m.ahead)) return { keep: false };
  return { keep: true, checkInMs: Math.min(m.waitMs, left) };
}

/** The operators of the queue who are available and have the skill ('' for none). */
export function freeFitting(settings: Pick<ConfigCache, 'members'>, statuses: Pick<StatusCache, 'get'>, queueId: number, skill: string): number {
  return settings.members(queueId).filter((m) => statuses.get(m.operatorId)?.state === 'available' && (skill === '' || m.skills.includes(skill))).length;
}
