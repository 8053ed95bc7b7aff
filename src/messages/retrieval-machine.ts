/**
 * The owner's mailbox menu, as a pure state machine: `(state, event) -> (state, effects)`.
 * The adapter (retrieval.ts) plays what the effects say and feeds back digits, the end of each
 * prompt and timeouts.
 *
 * The owner hears how many new and saved messages there are, then each message (new ones first,
 * each group oldest first) and the options: 1 replay, 2 save, 3 delete, # next. A digit cuts any
 * prompt short. A message played to its end counts as heard and becomes saved (RFC 3842's "old");
 * one skipped with # before its end stays new. Silence after the options repeats them once, then
 * the menu says goodbye; after the last message, goodbye too, and the switchboard hangs up.
 */
export interface MailboxMessage {
  id: number;
  state: 'new' | 'saved';
}

export type AudioPart =
  | { kind: 'count'; newCount: number; savedCount: number }
  | { kind: 'message'; id: number; position: number }
  | { kind: 'options' }
  | { kind: 'confirm'; what: 'saved' | 'deleted' }
  | { kind: 'goodbye' };

export type RetrievalEffect =
  /** Play the parts in turn, then report `played` with this prompt number. */
  | { type: 'audio'; prompt: number; parts: AudioPart[] }
  | { type: 'stop-audio' }
  | { type: 'arm-timer' }
  | { type: 'disarm-timer' }
  | { type: 'mark-saved'; id: number }
  | { type: 'delete'; id: number }
  | { type: 'hangup' };

export type RetrievalEvent = { type: 'played'; prompt: number } | { type: 'digit'; digit: string } | { type: 'timeout' } | { type: 'gone' };

export interface RetrievalState {
  messages: MailboxMessage[];
  index: number;
  phase: 'count' | 'message' | 'options' | 'done';
  /** The number of the prompt playing now; the end of an older one (cut short) is ignored. */
  prompt: number;
  /** Silences after the options so far, for this message. */
  silences: number;
}

export interface RetrievalStep {
  state: RetrievalState;
  effects: RetrievalEffect[];
}

/** Silences after the options before the menu gives up. */
export const MAX_SILENCES = 2;

/** New messages first, then saved ones; oldest first within each (ids grow with time). */
function mailboxOrder(messages: MailboxMessage[]): MailboxMessage[] {
  const rank = (m: MailboxMessage): number => (m.state === 'new' ? 0 : 1);
  return [...messages].sort((a, b) => rank(a) - rank(b) || a.id - b.id);
}

export function startRetrieval(messages: MailboxMessage[]): RetrievalStep {
  const ordered = mailboxOrder(messages);
  const newCount = ordered.filter((m) => m.state === 'new').length;
  const state: RetrievalState = { messages: ordered, index: 0, phase: 'count', prompt: 1, silences: 0 };
  return { state, effects: [{ type: 'audio', prompt: 1, parts: [{ kind: 'count', newCount, savedCount: ordered.length - newCount }] }] };
}

/** Plays `lead` and then message `index`, or goodbye when there is none left. */
function moveTo(state: RetrievalState, index: number, lead: AudioPart[], effects: RetrievalEffect[]): RetrievalStep {
  const prompt = state.prompt + 1;
  const message = state.messages[index];
  if (!message) {
    return { state: { ...state, index, phase: 'done', prompt }, effects: [...effects, { type: 'audio', prompt, parts: [...lead, { kind: 'goodbye' }] }] };
  }
  const part: AudioPart = { kind: 'message', id: message.id, position: index + 1 };
  return { state: { ...state, index, phase: 'message', prompt, silences: 0 }, effects: [...effects, { type: 'audio', prompt, parts: [...lead, part] }] };
}

function playOptions(state: RetrievalState, effects: RetrievalEffect[]): RetrievalStep {
  const prompt = state.prompt + 1;
  return { state: { ...state, phase: 'options', prompt }, effects: [...effects, { type: 'audio', prompt, parts: [{ kind: 'options' }] }] };
}

function withState(messages: MailboxMessage[], index: number, st: MailboxMessage['state']): MailboxMessage[] {
  return messages.map((m, i) => (i === index ? { ...m, state: st } : m));
}

function onPlayed(state: RetrievalState): RetrievalStep {
  switch (state.phase) {
    case 'count':
      return moveTo(state, 0, [], []);
    case 'message': {
      // Heard to the end: no longer new.
      const message = state.messages[state.index] as MailboxMessage;
      const heard: RetrievalEffect[] = message.state === 'new' ? [{ type: 'mark-saved', id: message.id }] : [];
      return playOptions({ ...state, messages: withState(state.messages, state.index, 'saved') }, heard);
    }
    case 'options':
      return { state, effects: [{ type: 'arm-timer' }] };
    case 'done':
      return { state, effects: [{ type: 'hangup' }] };
  }
}

function onDigit(state: RetrievalState, digit: string): RetrievalStep {
  if (state.phase === 'done') return { state, effects: [] };
  const cut: RetrievalEffect[] = [{ type: 'stop-audio' }, { type: 'disarm-timer' }];
  if (state.phase === 'count') return moveTo(state, 0, [], cut);
  const message = state.messages[state.index] as MailboxMessage;
  switch (digit) {
    case '1':
      return moveTo(state, state.index, [], cut);
    case '2': {
      const save: RetrievalEffect[] = message.state === 'new' ? [{ type: 'mark-saved', id: message.id }] : [];
      const saved = { ...state, messages: withState(state.messages, state.index, 'saved') };
      return moveTo(saved, state.index + 1, [{ kind: 'confirm', what: 'saved' }], [...cut, ...save]);
    }
    case '3': {
      const rest = state.messages.filter((_, i) => i !== state.index);
      return moveTo({ ...state, messages: rest }, state.index, [{ kind: 'confirm', what: 'deleted' }], [...cut, { type: 'delete', id: message.id }]);
    }
    case '#':
      return moveTo(state, state.index + 1, [], cut);
    default:
      // Not an option: during the message nothing happens; after it, the options again.
      return state.phase === 'options' ? playOptions(state, cut) : { state, effects: [] };
  }
}

export function retrievalStep(state: RetrievalState, event: RetrievalEvent): RetrievalStep {
  switch (event.type) {
    case 'played':
      return event.prompt === state.prompt ? onPlayed(state) : { state, effects: [] };
    case 'digit':
      return onDigit(state, event.digit);
    case 'timeout': {
      if (state.phase !== 'options') return { state, effects: [] };
      const silences = state.silences + 1;
      if (silences < MAX_SILENCES) return playOptions({ ...state, silences }, []);
      return moveTo({ ...state, silences }, state.messages.length, [], []);
    }
    case 'gone':
      return { state: { ...state, phase: 'done' }, effects: [{ type: 'disarm-timer' }] };
  }
}
