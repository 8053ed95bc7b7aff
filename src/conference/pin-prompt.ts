/**
 * Asks a caller for a room's PIN on the media server: plays the prompt, collects RFC 2833 digits
 * from the endpoint's DTMF events (drachtio-fsmrf emits 'dtmf' for FreeSWITCH's DTMF event of the
 * channel), lets a digit cut the prompt short, and judges each entry with pin-entry.ts. The
 * listeners live only while an entry is being collected and are removed whatever ends it.
 */
import type Mrf from 'drachtio-fsmrf';
import type { Logger } from '../log.js';
import type { Prompts } from '../media/prompts.js';
import type { Room } from '../provisioning/types.js';
import {
  collectStep,
  judgeEntry,
  maxPinLength,
  PIN_ATTEMPTS,
  PIN_DIGIT_TIMEOUT_MS,
  pinPolicy,
  startCollecting,
  type CollectEffect,
  type CollectEvent,
  type MemberRole,
} from './pin-entry.js';

export type PinOutcome = { kind: 'admit'; role: MemberRole } | { kind: 'refuse'; reason: string } | { kind: 'gone' };

export interface PinOptions {
  digitTimeoutMs?: number;
  attempts?: number;
}

/** The caller's role in the room, or why they are refused, or that they left meanwhile. */
export async function askForPin(endpoint: Mrf.Endpoint, room: Room, prompts: Prompts, log: Logger, opts: PinOptions = {}): Promise<PinOutcome> {
  if (pinPolicy(room) === 'open') return { kind: 'admit', role: 'member' };
  const attempts = opts.attempts ?? PIN_ATTEMPTS;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const entry = await collectEntry(endpoint, prompts.file('room-pin'), maxPinLength(room), opts.digitTimeoutMs ?? PIN_DIGIT_TIMEOUT_MS, log);
    if (entry === undefined) return { kind: 'gone' };
    const verdict = judgeEntry(room, entry, attempt, attempts);
    // The digits themselves are a secret: only their count is logged.
    log.info({ room: room.number, attempt, digits: entry.length, verdict: verdict.kind }, 'PIN entered');
    if (verdict.kind === 'admit') return { kind: 'admit', role: verdict.role };
    if (verdict.kind === 'refuse') return { kind: 'refuse', reason: verdict.reason };
    if (verdict.wrong) await endpoint.play(prompts.file('room-pin-wrong')).catch(() => undefined);
    if (!endpoint.connected) return { kind: 'gone' };
  }
  return { kind: 'refuse', reason: 'wrong PIN' };
}

/**
 * One entry: the digits typed before #, the length limit or the timer; undefined if the channel
 * went away. Also the queues' skill menu's way of taking its one digit.
 */
export function collectEntry(endpoint: Mrf.Endpoint, prompt: string, maxLength: number, timeoutMs: number, log: Logger): Promise<string | undefined> {
  return new Promise((resolve) => {
    let state = startCollecting();
    let timer: NodeJS.Timeout | undefined;
    const finish = (entry: string | undefined): void => {
      clearTimeout(timer);
      endpoint.off('dtmf', onDtmf);
      endpoint.off('destroy', onGone);
      resolve(entry);
    };
    const perform = (effect: CollectEffect): void => {
      if (effect.type === 'stop-prompt') endpoint.api('uuid_break', endpoint.uuid).catch(() => undefined);
      if (effect.type === 'arm-timer') {
        clearTimeout(timer);
        timer = setTimeout(() => apply({ type: 'timeout' }), timeoutMs);
      }
      if (effect.type === 'complete') finish(effect.entry);
    };
    const apply = (event: CollectEvent): void => {
      const step = collectStep(state, event, maxLength);
      state = step.state;
      step.effects.forEach(perform);
    };
    const onDtmf = (e: { dtmf?: string }): void => apply({ type: 'digit', digit: String(e.dtmf ?? '') });
    const onGone = (): void => finish(undefined);
    endpoint.on('dtmf', onDtmf);
    endpoint.once('destroy', onGone);
    if (!endpoint.connected) return finish(undefined);
    endpoint
      .play(prompt)
      .catch((err: Error) => log.debug({ err: err.message, prompt }, 'PIN prompt did not play'))
      .finally(() => apply({ type: 'prompt-over' }));
  });
}
