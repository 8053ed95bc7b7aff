import { describe, expect, it } from 'vitest';
import {
  retrievalStep,
  startRetrieval,
  type MailboxMessage,
  type RetrievalEffect,
  type RetrievalEvent,
  type RetrievalState,
} from '../../../src/messages/retrieval-machine.js';

interface Run {
  state: RetrievalState;
  effects: RetrievalEffect[][];
}

/** Runs events; `played` with prompt 0 means "the prompt playing now ended". */
function run(messages: MailboxMessage[], events: RetrievalEvent[]): Run {
  const start = startRetrieval(messages);
  let state = start.state;
  const effects: RetrievalEffect[][] = [start.effects];
  for (const e of events) {
    const t = retrievalStep(state, e.type === 'played' && e.prompt === 0 ? { type: 'played', prompt: state.prompt } : e);
    state = t.state;
    effects.push(t.effects);
  }
  return { state, effects };
}

const played: RetrievalEvent = { type: 'played', prompt: 0 };
const digit = (d: string): RetrievalEvent => ({ type: 'digit', digit: d });
const parts = (effects: RetrievalEffect[]): unknown[] => effects.flatMap((e) => (e.type === 'audio' ? e.parts : []));
const changes = (r: Run): unknown[] => r.effects.flat().filter((e) => e.type === 'mark-saved' || e.type === 'delete');

describe('the mailbox menu', () => {
  const box: MailboxMessage[] = [
    { id: 7, state: 'saved' },
    { id: 9, state: 'new' },
    { id: 8, state: 'new' },
  ];

  it('says the counts, then plays new messages first (oldest first), then saved ones', () => {
    const r = run(box, [played, played]);
    expect(parts(r.effects[0] ?? [])).toEqual([{ kind: 'count', newCount: 2, savedCount: 1 }]);
    expect(parts(r.effects[1] ?? [])).toEqual([{ kind: 'message', id: 8, position: 1 }]);
    expect(r.state.messages.map((m) => m.id)).toEqual([8, 9, 7]);
    // Played to its end: heard, so saved; the options follow.
    expect(r.effects[2]).toEqual([{ type: 'mark-saved', id: 8 }, { type: 'audio', prompt: 3, parts: [{ kind: 'options' }] }]);
  });

  it('waits for a key after the options: 1 replays, 3 deletes, # skips, 2 saves; goodbye after the last', () => {
    const r = run(box, [played, played, played, digit('1'), played, digit('3'), digit('#'), digit('2')]);
    expect(r.effects[3]).toEqual([{ type: 'arm-timer' }]);
    expect(parts(r.effects[4] ?? [])).toEqual([{ kind: 'message', id: 8, position: 1 }]);
    // Replayed to its end: it is already saved, nothing to change.
    expect(r.effects[5]?.filter((e) => e.type === 'mark-saved')).toEqual([]);
    expect(r.effects[6]).toContainEqual({ type: 'delete', id: 8 });
    expect(parts(r.effects[6] ?? [])).toEqual([{ kind: 'confirm', what: 'deleted' }, { kind: 'message', id: 9, position: 1 }]);
    // Skipped before its end: 9 stays new. 2 on the saved 7 changes nothing, then goodbye.
    expect(parts(r.effects[7] ?? [])).toEqual([{ kind: 'message', id: 7, position: 2 }]);
    expect(parts(r.effects[8] ?? [])).toEqual([{ kind: 'confirm', what: 'saved' }, { kind: 'goodbye' }]);
    expect(changes(r)).toEqual([{ type: 'mark-saved', id: 8 }, { type: 'delete', id: 8 }]);
    expect(r.state.phase).toBe('done');
    expect(retrievalStep(r.state, { type: 'played', prompt: r.state.prompt }).effects).toEqual([{ type: 'hangup' }]);
  });

  it('a key cuts the prompt short, and the end of the prompt it cut is ignored', () => {
    const r = run([{ id: 1, state: 'new' }, { id: 2, state: 'new' }], [played, digit('2')]);
    expect(r.effects[2]?.slice(0, 3)).toEqual([{ type: 'stop-audio' }, { type: 'disarm-timer' }, { type: 'mark-saved', id: 1 }]);
    const stale = retrievalStep(r.state, { type: 'played', prompt: r.state.prompt - 1 });
    expect(stale.effects).toEqual([]);
  });

  it('repeats the options after a silence, then says goodbye', () => {
    const r = run([{ id: 1, state: 'saved' }], [played, played, played, { type: 'timeout' }, played, { type: 'timeout' }]);
    expect(parts(r.effects[4] ?? [])).toEqual([{ kind: 'options' }]);
    expect(parts(r.effects[6] ?? [])).toEqual([{ kind: 'goodbye' }]);
    expect(r.state.phase).toBe('done');
  });

  it('an empty mailbox hears "no messages" and goodbye', () => {
    const r = run([], [played, played]);
    expect(parts(r.effects[0] ?? [])).toEqual([{ kind: 'count', newCount: 0, savedCount: 0 }]);
    expect(parts(r.effects[1] ?? [])).toEqual([{ kind: 'goodbye' }]);
    expect(r.effects[2]).toEqual([{ type: 'hangup' }]);
  });

  it('an unknown key repeats the options but does nothing during a message; hanging up ends it', () => {
    const r = run([{ id: 1, state: 'new' }], [played, digit('5'), played, digit('9'), { type: 'gone' }]);
    expect(r.effects[2]).toEqual([]);
    expect(parts(r.effects[4] ?? [])).toEqual([{ kind: 'options' }]);
    expect(r.state.phase).toBe('done');
    expect(retrievalStep(r.state, digit('3')).effects).toEqual([]);
  });
});
