/**
 * The callback confirmation menu, as a pure state machine: (state, event) -> (state, effects).
 * The caller pressed the queue's callback key; they hear the number they will be called back on
 * (their caller ID, read back digit by digit) and press 1 to accept it or 2 to key in another
 * number followed by #, which is read back the same way. `*` (or nothing for a while, or three
 * wrong keys) gives up and puts the caller back to waiting in their place.
 */

export type ConfirmedHow = 'caller-id' | 'keyed';

export type MenuPrompt = 'callback-confirm' | 'callback-options' | 'callback-enter';

export interface MenuOutcome {
  accepted: boolean;
  number: string;
  how: ConfirmedHow;
  /** Why the caller went back to waiting (accepted: false). */
  why?: 'cancelled' | 'timeout' | 'invalid' | 'gone';
}

export type MenuState =
  | { phase: 'confirm'; number: string; how: ConfirmedHow; wrong: number }
  | { phase: 'enter'; number: string; how: ConfirmedHow; keyed: string; wrong: number }
  | { phase: 'done' };

export type MenuEvent = { type: 'digit'; digit: string } | { type: 'timeout' } | { type: 'gone' };

export type MenuEffect =
  /** Read the number back: "we will call you back on" + digits + "press 1 ... press 2 ...". */
  | { type: 'read-back'; number: string }
  /** "Please key in the number, then the pound key." */
  | { type: 'ask-number' }
  /** Cut a prompt short (the caller pressed a key during it). */
  | { type: 'stop-prompt' }
  /** (Re)starts the silence timer. */
  | { type: 'arm-timer' }
  | { type: 'outcome'; outcome: MenuOutcome };

export interface MenuStep {
  state: MenuState;
  effects: MenuEffect[];
}

export const MAX_WRONG_KEYS = 3;
// A phone number (E.164 has at most 15 digits); a longer entry is a mistake.
export const MAX_NUMBER_DIGITS = 20;

/** The menu as it starts: the caller ID read back (an empty caller ID goes straight to keying in). */
export function startMenu(callerNumber: string): MenuStep {
  const digits = callerNumber.replace(/[^0-9]/g, '');
  if (digits === '') return { state: { phase: 'enter', number: '', how: 'keyed', keyed: '', wrong: 0 }, effects: [{ type: 'ask-number' }, { type: 'arm-timer' }] };
  return { state: { phase: 'confirm', number: digits, how: 'caller-id', wrong: 0 }, effects: [{ type: 'read-back', number: digits }, { type: 'arm-timer' }] };
}

function done(state: Exclude<MenuState, { phase: 'done' }>, accepted: boolean, why?: MenuOutcome['why']): MenuStep {
  const outcome: MenuOutcome = { accepted, number: state.number, how: state.how, ...(why ? { why } : {}) };
  return { state: { phase: 'done' }, effects: [{ type: 'stop-prompt' }, { type: 'outcome', outcome }] };
}

export function menuStep(state: MenuState, event: MenuEvent): MenuStep {
  if (state.phase === 'done') return { state, effects: [] };
  if (event.type === 'gone') return { state: { phase: 'done' }, effects: [{ type: 'outcome', outcome: { accepted: false, number: state.number, how: state.how, why: 'gone' } }] };
  if (event.type === 'timeout') {
    // Silence after keying in some digits means the same as #.
    if (state.phase === 'enter' && state.keyed !== '') return confirmKeyed(state);
    return done(state, false, 'timeout');
  }
  const digit = event.digit;
  if (digit === '*') return done(state, false, 'cancelled');
  return state.phase === 'confirm' ? onConfirmDigit(state, digit) : onEnterDigit(state, digit);
}

function onConfirmDigit(state: Extract<MenuState, { phase: 'confirm' }>, digit: string): MenuStep {
  if (digit === '1') return done(state, true);
  if (digit === '2') return { state: { phase: 'enter', number: state.number, how: state.how, keyed: '', wrong: state.wrong }, effects: [{ type: 'stop-prompt' }, { type: 'ask-number' }, { type: 'arm-timer' }] };
  const wrong = state.wrong + 1;
  if (wrong >= MAX_WRONG_KEYS) return done(state, false, 'invalid');
  return { state: { ...state, wrong }, effects: [{ type: 'stop-prompt' }, { type: 'read-back', number: state.number }, { type: 'arm-timer' }] };
}

function onEnterDigit(state: Extract<MenuState, { phase: 'enter' }>, digit: string): MenuStep {
  if (digit === '#') {
    if (state.keyed !== '') return confirmKeyed(state);
    // # alone: back to the number we had, if any.
    if (state.number === '') return { state, effects: [{ type: 'arm-timer' }] };
    return { state: { phase: 'confirm', number: state.number, how: state.how, wrong: state.wrong }, effects: [{ type: 'stop-prompt' }, { type: 'read-back', number: state.number }, { type: 'arm-timer' }] };
  }
  if (!/^[0-9]$/.test(digit)) return { state, effects: [{ type: 'arm-timer' }] };
  const keyed = state.keyed + digit;
  const effects: MenuEffect[] = state.keyed === '' ? [{ type: 'stop-prompt' }, { type: 'arm-timer' }] : [{ type: 'arm-timer' }];
  if (keyed.length > MAX_NUMBER_DIGITS) return { state: { ...state, keyed: '' }, effects: [{ type: 'ask-number' }, { type: 'arm-timer' }] };
  return { state: { ...state, keyed }, effects };
}

function confirmKeyed(state: Extract<MenuState, { phase: 'enter' }>): MenuStep {
  return { state: { phase: 'confirm', number: state.keyed, how: 'keyed', wrong: state.wrong }, effects: [{ type: 'stop-prompt' }, { type: 'read-back', number: state.keyed }, { type: 'arm-timer' }] };
}
