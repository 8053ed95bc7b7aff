import { describe, expect, it } from 'vitest';
import { ratingStep, startRating, type RatingEffect, type RatingEvent, type RatingState } from '../../../src/calls/rating-machine.js';

function run(events: RatingEvent[]): { state: RatingState; effects: RatingEffect[][] } {
  const start = startRating();
  let state = start.state;
  const effects: RatingEffect[][] = [start.effects];
  for (const e of events) {
    const t = ratingStep(state, e);
    state = t.state;
    effects.push(t.effects);
  }
  return { state, effects };
}

const outcomes = (effects: RatingEffect[][]): unknown[] => effects.flat().filter((e) => e.type === 'outcome').map((e) => (e as { outcome: unknown }).outcome);

describe('the satisfaction rating', () => {
  it('asks, starts the timer once the prompt is over, takes a digit 1-5 and thanks the caller', () => {
    const { state, effects } = run([{ type: 'prompt-over', prompt: 1 }, { type: 'digit', digit: '4' }]);
    expect(effects[0]).toEqual([{ type: 'prompt', prompt: 1, files: ['rating'] }]);
    expect(effects[1]).toEqual([{ type: 'arm-timer' }]);
    expect(effects[2]).toEqual([{ type: 'disarm-timer' }, { type: 'outcome', outcome: { rating: 4 } }, { type: 'farewell', rated: true }]);
    expect(state.phase).toBe('done');
  });

  it('lets a digit cut the prompt short', () => {
    const { effects } = run([{ type: 'digit', digit: '1' }, { type: 'prompt-over', prompt: 1 }]);
    expect(effects[1]?.[0]).toEqual({ type: 'stop-prompt' });
    expect(outcomes(effects)).toEqual([{ rating: 1 }]);
    expect(effects[2]).toEqual([]);
  });

  it('asks once more after an invalid key, and ignores the end of the prompt it cut short', () => {
    const { effects } = run([
      { type: 'prompt-over', prompt: 1 },
      { type: 'digit', digit: '9' },
      { type: 'prompt-over', prompt: 1 },
      { type: 'prompt-over', prompt: 2 },
      { type: 'digit', digit: '5' },
    ]);
    expect(effects[2]).toEqual([{ type: 'disarm-timer' }, { type: 'prompt', prompt: 2, files: ['rating-invalid', 'rating'] }]);
    expect(effects[3]).toEqual([]);
    expect(effects[4]).toEqual([{ type: 'arm-timer' }]);
    expect(outcomes(effects)).toEqual([{ rating: 5 }]);
  });

  it('is "not rated" after a second invalid key (0, *, # are invalid too) and says goodbye', () => {
    const { state, effects } = run([{ type: 'digit', digit: '0' }, { type: 'digit', digit: '#' }, { type: 'digit', digit: '3' }]);
    expect(effects[1]).toEqual([{ type: 'stop-prompt' }, { type: 'disarm-timer' }, { type: 'prompt', prompt: 2, files: ['rating-invalid', 'rating'] }]);
    expect(effects[2]).toEqual([{ type: 'stop-prompt' }, { type: 'disarm-timer' }, { type: 'outcome', outcome: { rating: null, why: 'invalid' } }, { type: 'farewell', rated: false }]);
    expect(effects[3]).toEqual([]);
    expect(state.phase).toBe('done');
  });

  it('is "not rated" when the timer runs out after the prompt; a timeout during the prompt counts for nothing', () => {
    const { effects } = run([{ type: 'timeout' }, { type: 'prompt-over', prompt: 1 }, { type: 'timeout' }, { type: 'digit', digit: '2' }]);
    expect(effects[1]).toEqual([]);
    expect(effects[3]).toEqual([{ type: 'disarm-timer' }, { type: 'outcome', outcome: { rating: null, why: 'timeout' } }, { type: 'farewell', rated: false }]);
    expect(effects[4]).toEqual([]);
  });

  it('is "not rated" without a farewell when the caller hangs up', () => {
    const { effects } = run([{ type: 'gone' }]);
    expect(effects[1]).toEqual([{ type: 'stop-prompt' }, { type: 'disarm-timer' }, { type: 'outcome', outcome: { rating: null, why: 'gone' } }]);
    const waiting = run([{ type: 'prompt-over', prompt: 1 }, { type: 'gone' }]);
    expect(waiting.effects[2]).toEqual([{ type: 'disarm-timer' }, { type: 'outcome', outcome: { rating: null, why: 'gone' } }]);
  });
});
