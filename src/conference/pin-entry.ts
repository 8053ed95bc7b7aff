/**
 * PIN entry for rooms, as pure rules: which rooms ask for a PIN, how the digits of one attempt
 * are collected (a reducer over DTMF digits, the end of the prompt and the digit timer), and what
 * an entry means on a given attempt. The adapter (pin-prompt.ts) plays the prompts and runs the
 * timer; everything that decides is here, so it is unit-tested without a media server.
 */
import type { Room } from '../provisioning/types.js';

export type MemberRole = 'moderator' | 'member';

/**
 * open: nobody is asked anything. pin: the room PIN (or the moderator PIN) is needed.
 * moderator-only: members need no PIN, but the caller is asked so that a moderator can say who
 * they are; pressing # (or nothing) enters as a member.
 */
export type PinPolicy = 'open' | 'pin' | 'moderator-only';

type RoomPins = Pick<Room, 'pin' | 'moderatorPin'>;

/** Attempts before the caller is told goodbye (FreeSWITCH's pin-retries default is 3 too). */
export const PIN_ATTEMPTS = 3;
/** Silence allowed after the prompt ends, and between two digits, before the entry is taken. */
export const PIN_DIGIT_TIMEOUT_MS = 5_000;

export function pinPolicy(room: RoomPins): PinPolicy {
  if (room.pin !== null) return 'pin';
  return room.moderatorPin !== null ? 'moderator-only' : 'open';
}

/** Entry stops by itself at this many digits: no PIN of the room is longer. */
export function maxPinLength(room: RoomPins): number {
  return Math.max(room.pin?.length ?? 0, room.moderatorPin?.length ?? 0);
}

// ---- one attempt: collecting digits ----

export interface Collecting {
  digits: string;
  /** The prompt is still playing: the digit timer starts only when it ends. */
  prompting: boolean;
  done: boolean;
}

export type CollectEvent = { type: 'digit'; digit: string } | { type: 'prompt-over' } | { type: 'timeout' };

export type CollectEffect =
  /** A digit came during the prompt: stop it (barge-in). */
  | { type: 'stop-prompt' }
  /** (Re)start the digit timer. */
  | { type: 'arm-timer' }
  | { type: 'complete'; entry: string; how: 'terminator' | 'length' | 'timeout' };

export function startCollecting(): Collecting {
  return { digits: '', prompting: true, done: false };
}

/**
 * One step of collecting an entry: `#` ends it, `*` starts it again, and it ends by itself at
 * `maxLength` digits or when the timer runs out (with whatever was typed, possibly nothing).
 */
export function collectStep(state: Collecting, event: CollectEvent, maxLength: number): { state: Collecting; effects: CollectEffect[] } {
  if (state.done) return { state, effects: [] };
  switch (event.type) {
    case 'prompt-over':
      return state.prompting ? { state: { ...state, prompting: false }, effects: [{ type: 'arm-timer' }] } : { state, effects: [] };
    case 'timeout':
      // A timer left over from before the prompt ended: the prompt is the caller's time.
      if (state.prompting) return { state, effects: [] };
      return complete(state, state.digits, 'timeout', []);
    case 'digit':
      return onDigit(state, event.digit, maxLength);
  }
}

function onDigit(state: Collecting, digit: string, maxLength: number): { state: Collecting; effects: CollectEffect[] } {
  const effects: CollectEffect[] = state.prompting ? [{ type: 'stop-prompt' }] : [];
  const next = { ...state, prompting: false };
  if (digit === '#') return complete(next, next.digits, 'terminator', effects);
  if (digit === '*') return { state: { ...next, digits: '' }, effects: [...effects, { type: 'arm-timer' }] };
  if (!/^[0-9]$/.test(digit)) return { state: next, effects: [...effects, { type: 'arm-timer' }] };
  const digits = next.digits + digit;
  if (maxLength > 0 && digits.length >= maxLength) return complete({ ...next, digits }, digits, 'length', effects);
  return { state: { ...next, digits }, effects: [...effects, { type: 'arm-timer' }] };
}

function complete(state: Collecting, entry: string, how: 'terminator' | 'length' | 'timeout', effects: CollectEffect[]): { state: Collecting; effects: CollectEffect[] } {
  return { state: { ...state, done: true }, effects: [...effects, { type: 'complete', entry, how }] };
}

// ---- what an entry means ----

export type Verdict =
  | { kind: 'admit'; role: MemberRole }
  /** Ask again; `wrong` when digits were typed (the wrong-PIN prompt plays first). */
  | { kind: 'retry'; wrong: boolean }
  | { kind: 'refuse'; reason: 'wrong PIN' | 'no PIN entered' };

/**
 * What `entry` (the digits typed, possibly none) means on attempt `attempt` (1-based). The
 * moderator PIN wins over the room PIN (they differ by the schema's rule anyway). In a room
 * with only a moderator PIN an empty entry enters as a member at once; a wrong one is asked
 * again, and after the last attempt also enters as a member, since members need no PIN there.
 */
export function judgeEntry(room: RoomPins, entry: string, attempt: number, attempts = PIN_ATTEMPTS): Verdict {
  if (room.moderatorPin !== null && entry === room.moderatorPin) return { kind: 'admit', role: 'moderator' };
  if (room.pin !== null && entry === room.pin) return { kind: 'admit', role: 'member' };
  const last = attempt >= attempts;
  if (room.pin === null) {
    if (entry === '' || last) return { kind: 'admit', role: 'member' };
    return { kind: 'retry', wrong: true };
  }
  if (!last) return { kind: 'retry', wrong: entry !== '' };
  return { kind: 'refuse', reason: entry === '' ? 'no PIN entered' : 'wrong PIN' };
}
