import { describe, expect, it } from 'vitest';
import { MAX_NUMBER_DIGITS, menuStep, startMenu, type MenuEffect, type MenuEvent, type MenuOutcome, type MenuState } from '../../../src/callback/menu-machine.js';

function run(callerNumber: string, events: MenuEvent[]): { state: MenuState; effects: MenuEffect[][] } {
  const start = startMenu(callerNumber);
  let state = start.state;
  const effects: MenuEffect[][] = [start.effects];
  for (const e of events) {
    const t = menuStep(state, e);
    state = t.state;
    effects.push(t.effects);
  }
  return { state, effects };
}

const digits = (keys: string): MenuEvent[] => [...keys].map((digit) => ({ type: 'digit', digit }));
const outcome = (effects: MenuEffect[][]): MenuOutcome | undefined => {
  const found = effects.flat().filter((e): e is Extract<MenuEffect, { type: 'outcome' }> => e.type === 'outcome');
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.outcome;
};
const readBacks = (effects: MenuEffect[][]): string[] => effects.flat().flatMap((e) => (e.type === 'read-back' ? [e.number] : []));

describe('the callback confirmation menu', () => {
  it('reads the caller ID back and takes it with 1', () => {
    const { state, effects } = run('0612345678', digits('1'));
    expect(effects[0]).toEqual([{ type: 'read-back', number: '0612345678' }, { type: 'arm-timer' }]);
    expect(state.phase).toBe('done');
    expect(outcome(effects)).toEqual({ accepted: true, number: '0612345678', how: 'caller-id' });
  });

  it('reads back only the digits of a caller ID with other characters', () => {
    const { effects } = run('+33 6-12', digits('1'));
    expect(outcome(effects)).toEqual({ accepted: true, number: '33612', how: 'caller-id' });
  });

  it('2 asks for another number; digits then # are read back and 1 takes them', () => {
    const { effects } = run('0612345678', digits('2555123#1'));
    expect(effects[1]).toEqual([{ type: 'stop-prompt' }, { type: 'ask-number' }, { type: 'arm-timer' }]);
    expect(readBacks(effects)).toEqual(['0612345678', '555123']);
    expect(outcome(effects)).toEqual({ accepted: true, number: '555123', how: 'keyed' });
  });

  it('silence after some keyed digits takes them as the number', () => {
    const { effects } = run('0612345678', [...digits('2777'), { type: 'timeout' }, ...digits('1')]);
    expect(readBacks(effects)).toEqual(['0612345678', '777']);
    expect(outcome(effects)).toEqual({ accepted: true, number: '777', how: 'keyed' });
  });

  it('# alone goes back to the number read before; a keyed number can itself be replaced', () => {
    const { effects } = run('0612', digits('2#2999#2888#1'));
    expect(readBacks(effects)).toEqual(['0612', '0612', '999', '888']);
    expect(outcome(effects)).toEqual({ accepted: true, number: '888', how: 'keyed' });
  });

  it('without a caller ID it asks for a number straight away, and # alone waits for digits', () => {
    const start = startMenu('anonymous');
    expect(start.effects).toEqual([{ type: 'ask-number' }, { type: 'arm-timer' }]);
    const { effects } = run('', digits('#42#1'));
    expect(outcome(effects)).toEqual({ accepted: true, number: '42', how: 'keyed' });
  });

  it('* gives up at any point and keeps the caller waiting', () => {
    expect(outcome(run('0612', digits('*')).effects)).toEqual({ accepted: false, number: '0612', how: 'caller-id', why: 'cancelled' });
    expect(outcome(run('0612', digits('255*')).effects)?.why).toBe('cancelled');
  });

  it('silence at the question gives up', () => {
    expect(outcome(run('0612', [{ type: 'timeout' }]).effects)).toEqual({ accepted: false, number: '0612', how: 'caller-id', why: 'timeout' });
    expect(outcome(run('0612', [...digits('2'), { type: 'timeout' }]).effects)?.why).toBe('timeout');
  });

  it('a wrong key reads the number again; the third gives up', () => {
    const { effects } = run('0612', digits('99'));
    expect(readBacks(effects)).toEqual(['0612', '0612', '0612']);
    expect(outcome(effects)).toBeUndefined();
    expect(outcome(run('0612', digits('999')).effects)?.why).toBe('invalid');
    // A right key after two wrong ones still counts.
    expect(outcome(run('0612', digits('991')).effects)?.accepted).toBe(true);
  });

  it('a number longer than any phone number starts the entry again', () => {
    const long = '1'.repeat(MAX_NUMBER_DIGITS + 1);
    const { state, effects } = run('0612', digits(`2${long}`));
    expect(state).toMatchObject({ phase: 'enter', keyed: '' });
    expect(effects.at(-1)).toEqual([{ type: 'ask-number' }, { type: 'arm-timer' }]);
  });

  it('the caller hanging up ends it unaccepted; nothing happens after the end', () => {
    const { state, effects } = run('0612', [{ type: 'gone' }, ...digits('1')]);
    expect(state.phase).toBe('done');
    expect(outcome(effects)).toEqual({ accepted: false, number: '0612', how: 'caller-id', why: 'gone' });
  });
});
