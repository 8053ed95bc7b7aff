/**
 * The satisfaction rating, as a pure state machine: (state, event) -> (state, effects). The
 * caller whose operator hung up first hears the rating prompt and presses 1-5. A digit during a
 * prompt cuts it short. Any other key is invalid: the caller is told so and asked once more
 * (RATING_TRIES in all); a second invalid key, silence for the timeout after the prompt, or the
 * caller hanging up, and the call is "not rated". The adapter (rating.ts) plays, times and listens.
 */

/** Times the caller is asked: the first time and once more after an invalid key. */
export const RATING_TRIES = 2;

export type RatingOutcome = { rating: number } | { rating: null; why: 'timeout' | 'invalid' | 'gone' };

export interface RatingState {
  /** prompting: a prompt plays (its number is `prompt`); waiting: the timer runs; done. */
  phase: 'prompting' | 'waiting' | 'done';
  tries: number;
  prompt: number;
}

export type RatingEvent =
  | { type: 'prompt-over'; prompt: number }
  | { type: 'digit'; digit: string }
  | { type: 'timeout' }
  | { type: 'gone' };

export type RatingEffect =
  /** Play these prompts in turn, then report prompt-over with this number. */
  | { type: 'prompt'; prompt: number; files: ('rating' | 'rating-invalid')[] }
  /** A key came during a prompt: stop it. */
  | { type: 'stop-prompt' }
  /** (Re)start the answer timer. */
  | { type: 'arm-timer' }
  | { type: 'disarm-timer' }
  | { type: 'outcome'; outcome: RatingOutcome }
  /** Thank a caller who rated, or say goodbye to one who did not, then hang up. */
  | { type: 'farewell'; rated: boolean };

export interface RatingTransition {
  state: RatingState;
  effects: RatingEffect[];
}

export function startRating(): RatingTransition {
  return { state: { phase: 'prompting', tries: 1, prompt: 1 }, effects: [{ type: 'prompt', prompt: 1, files: ['rating'] }] };
}

const RATING_DIGIT = /^[1-5]$/;

function done(s: RatingState, effects: RatingEffect[], outcome: RatingOutcome): RatingTransition {
  const farewell: RatingEffect[] = outcome.rating === null && outcome.why === 'gone' ? [] : [{ type: 'farewell', rated: outcome.rating !== null }];
  return { state: { ...s, phase: 'done' }, effects: [...effects, { type: 'disarm-timer' }, { type: 'outcome', outcome }, ...farewell] };
}

export function ratingStep(s: RatingState, e: RatingEvent): RatingTransition {
  const same: RatingTransition = { state: s, effects: [] };
  if (s.phase === 'done') return same;
  switch (e.type) {
    case 'prompt-over':
      // A prompt cut short by a key reports its end late: only the current prompt counts.
      if (s.phase !== 'prompting' || e.prompt !== s.prompt) return same;
      return { state: { ...s, phase: 'waiting' }, effects: [{ type: 'arm-timer' }] };
    case 'timeout':
      if (s.phase !== 'waiting') return same;
      return done(s, [], { rating: null, why: 'timeout' });
    case 'gone':
      return done(s, s.phase === 'prompting' ? [{ type: 'stop-prompt' }] : [], { rating: null, why: 'gone' });
    case 'digit': {
      const cut: RatingEffect[] = s.phase === 'prompting' ? [{ type: 'stop-prompt' }] : [];
      if (RATING_DIGIT.test(e.digit)) return done(s, cut, { rating: Number(e.digit) });
      if (s.tries >= RATING_TRIES) return done(s, cut, { rating: null, why: 'invalid' });
      const prompt = s.prompt + 1;
      return {
        state: { phase: 'prompting', tries: s.tries + 1, prompt },
        effects: [...cut, { type: 'disarm-timer' }, { type: 'prompt', prompt, files: ['rating-invalid', 'rating'] }],
      };
    }
  }
}
