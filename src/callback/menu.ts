/**
 * Runs the callback confirmation menu (menu-machine.ts) on a waiting caller's media server
 * endpoint: plays the prompts, reads the number back digit by digit, listens to the endpoint's
 * DTMF events and runs the silence timer. Resolves with the outcome; abort() ends it at once
 * (an operator became free for the caller meanwhile). Listeners and the timer live only while
 * the menu runs.
 */
import type Mrf from 'drachtio-fsmrf';
import { bounded } from '../calls/arrival.js';
import type { Logger } from '../log.js';
import type { CallbackPrompt, Prompts } from '../media/prompts.js';
import { menuStep, startMenu, type MenuEffect, type MenuEvent, type MenuOutcome } from './menu-machine.js';

// No prompt (a long recording, a media server that never answers) holds the caller longer.
const PROMPT_MAX_MS = 15_000;
// Silence after a prompt (or between keyed digits) before the menu gives up or takes the number.
export const MENU_SILENCE_MS = 8_000;

export interface RunningMenu {
  outcome: Promise<MenuOutcome>;
  abort(): void;
}

export function runCallbackMenu(endpoint: Mrf.Endpoint, callerNumber: string, prompts: Prompts, log: Logger): RunningMenu {
  const start = startMenu(callerNumber);
  let state = start.state;
  let timer: NodeJS.Timeout | undefined;
  let playing: Promise<unknown> = Promise.resolve();
  let resolveOutcome!: (o: MenuOutcome) => void;
  const outcome = new Promise<MenuOutcome>((resolve) => {
    resolveOutcome = resolve;
  });

  // A key cuts the prompts short: chains started before it skip what they have not played yet.
  let generation = 0;
  // A prompt that cannot be played (a missing file) is skipped: the rest still asks the caller.
  const play = (gen: number, file: CallbackPrompt): Promise<void> => (gen === generation ? bounded(endpoint.play(prompts.file(file)), PROMPT_MAX_MS).catch(() => undefined) : Promise.resolve());
  // The silence timer runs from the end of the prompts queued so far.
  const arm = (): void => {
    clearTimeout(timer);
    const armed = playing;
    void armed.finally(() => {
      if (armed !== playing || state.phase === 'done') return;
      clearTimeout(timer);
      timer = setTimeout(() => apply({ type: 'timeout' }), MENU_SILENCE_MS);
    });
  };
  const settle = (o: MenuOutcome): void => {
    clearTimeout(timer);
    endpoint.off('dtmf', onDtmf);
    endpoint.off('destroy', onGone);
    log.info({ accepted: o.accepted, how: o.how, ...(o.why ? { why: o.why } : {}) }, 'callback menu over');
    resolveOutcome(o);
  };
  const perform = (effect: MenuEffect): void => {
    switch (effect.type) {
      case 'read-back': {
        const gen = generation;
        playing = playing
          .then(async () => {
            await play(gen, 'callback-confirm');
            if (gen === generation) await bounded(prompts.digits(endpoint, effect.number), PROMPT_MAX_MS).catch(() => undefined);
            await play(gen, 'callback-options');
          })
          .catch(() => undefined);
        return;
      }
      case 'ask-number': {
        const gen = generation;
        playing = playing.then(() => play(gen, 'callback-enter')).catch(() => undefined);
        return;
      }
      case 'stop-prompt':
        generation++;
        playing = endpoint.api('uuid_break', `${endpoint.uuid} all`).catch(() => undefined);
        return;
      case 'arm-timer':
        arm();
        return;
      case 'outcome':
        settle(effect.outcome);
        return;
    }
  };
  function apply(event: MenuEvent): void {
    const step = menuStep(state, event);
    state = step.state;
    step.effects.forEach(perform);
  }
  function onDtmf(e: { dtmf?: string }): void {
    apply({ type: 'digit', digit: String(e.dtmf ?? '') });
  }
  function onGone(): void {
    apply({ type: 'gone' });
  }
  endpoint.on('dtmf', onDtmf);
  endpoint.once('destroy', onGone);
  start.effects.forEach(perform);
  return {
    outcome,
    abort: () => {
      if (state.phase === 'done') return;
      state = { phase: 'done' };
      endpoint.api('uuid_break', `${endpoint.uuid} all`).catch(() => undefined);
      settle({ accepted: false, number: '', how: 'caller-id', why: 'cancelled' });
    },
  };
}
