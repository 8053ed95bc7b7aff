/**
 * Asks a caller on the media server for a rating: plays the prompts, listens to the endpoint's
 * DTMF events (RFC 2833 digits, as for room PINs), runs the answer timer and carries out what
 * rating-machine.ts decides. Resolves with the outcome once the farewell has played (at once if
 * the caller hangs up). Listeners and the timer live only while the rating runs.
 */
import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import type { Logger } from '../log.js';
import type { Prompts } from '../media/prompts.js';
import { bounded } from './arrival.js';
import { ratingStep, startRating, type RatingEffect, type RatingEvent, type RatingOutcome } from './rating-machine.js';

// No prompt (a long recording, a media server that never answers) holds the caller longer.
const PROMPT_MAX_MS = 15_000;

export interface RatedParty {
  endpoint: Mrf.Endpoint;
  dialog: Srf.Dialog;
}

export function askForRating(caller: RatedParty, prompts: Prompts, timeoutMs: number, log: Logger): Promise<RatingOutcome> {
  const { endpoint, dialog } = caller;
  return new Promise((resolve) => {
    const start = startRating();
    let state = start.state;
    let timer: NodeJS.Timeout | undefined;
    // Prompts play one after the other: a new one starts only once the one it follows stopped.
    let playing: Promise<unknown> = Promise.resolve();
    let outcome: RatingOutcome | undefined;
    let settled = false;

    const settle = (): void => {
      if (settled || !outcome) return;
      settled = true;
      clearTimeout(timer);
      endpoint.off('dtmf', onDtmf);
      endpoint.off('destroy', onGone);
      dialog.off('destroy', onGone);
      resolve(outcome);
    };
    const play = (file: Parameters<Prompts['file']>[0]): Promise<void> => bounded(endpoint.play(prompts.file(file)), PROMPT_MAX_MS);
    const perform = (effect: RatingEffect): void => {
      switch (effect.type) {
        case 'prompt':
          playing = playing
            .then(async () => {
              for (const file of effect.files) await play(file);
            })
            .finally(() => apply({ type: 'prompt-over', prompt: effect.prompt }));
          return;
        case 'stop-prompt':
          endpoint.api('uuid_break', endpoint.uuid).catch(() => undefined);
          return;
        case 'arm-timer':
          clearTimeout(timer);
          timer = setTimeout(() => apply({ type: 'timeout' }), timeoutMs);
          return;
        case 'disarm-timer':
          clearTimeout(timer);
          return;
        case 'outcome':
          outcome = effect.outcome;
          log.info({ rating: effect.outcome.rating, ...(effect.outcome.rating === null ? { why: effect.outcome.why } : {}) }, 'caller rated the call');
          if (effect.outcome.rating === null && effect.outcome.why === 'gone') settle();
          return;
        case 'farewell':
          playing = playing.then(() => play(effect.rated ? 'rating-thanks' : 'goodbye')).finally(settle);
          return;
      }
    };
    function apply(event: RatingEvent): void {
      const step = ratingStep(state, event);
      state = step.state;
      step.effects.forEach(perform);
    }
    function onDtmf(e: { dtmf?: string }): void {
      apply({ type: 'digit', digit: String(e.dtmf ?? '') });
    }
    // Hanging up during the farewell needs no more waiting; before it, the call is not rated.
    function onGone(): void {
      if (outcome) settle();
      else apply({ type: 'gone' });
    }
    endpoint.on('dtmf', onDtmf);
    endpoint.once('destroy', onGone);
    dialog.once('destroy', onGone);
    start.effects.forEach(perform);
  });
}
