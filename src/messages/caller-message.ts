/**
 * A waiting caller leaves a voice message: after pressing the queue's message key they are
 * asked for the extension's number (digits, then # or a pause), get three tries to name an
 * extension, and then record as an operator would (recording.ts). Returns what happened, for
 * the call's record.
 */
import { bounded } from '../calls/arrival.js';
import { collectEntry } from '../conference/pin-prompt.js';
import { PIN_DIGIT_TIMEOUT_MS } from '../conference/pin-entry.js';
import { isConnected } from '../media/answer.js';
import { promptFile, recordMessage, type Party, type RecordingDeps, type RecordingOutcome } from './recording.js';

export const EXTENSION_ATTEMPTS = 3;
// Longer than any extension number a hotel or company uses; # ends a shorter one.
const MAX_EXTENSION_DIGITS = 16;
const PROMPT_MAX_MS = 15_000;

export interface Caller {
  number: string;
  name: string;
  callId: string;
}

function describe(extension: string, outcome: RecordingOutcome): string {
  if (outcome.kind === 'stored') return `left message ${outcome.message.id} for ${extension}`;
  if (outcome.kind === 'full') return `mailbox of ${extension} full`;
  return `no message for ${extension}: ${outcome.why}`;
}

export async function takeCallerMessage(party: Party, caller: Caller, d: RecordingDeps): Promise<string> {
  const { endpoint } = party;
  for (let attempt = 1; attempt <= EXTENSION_ATTEMPTS; attempt++) {
    const entry = await collectEntry(endpoint, promptFile(d.prompts, 'message-extension'), MAX_EXTENSION_DIGITS, PIN_DIGIT_TIMEOUT_MS, d.log);
    if (entry === undefined || !isConnected(party.dialog)) return 'hung up before naming an extension';
    if (d.isExtension(entry)) {
      d.log.info({ extension: entry }, 'caller leaves a voice message');
      const outcome = await recordMessage(party, { extension: entry, fromNumber: caller.number, fromName: caller.name, callId: caller.callId }, d);
      return describe(entry, outcome);
    }
    d.log.info({ entry, attempt }, 'caller named no extension');
    if (entry !== '') await bounded(endpoint.play(promptFile(d.prompts, 'message-no-extension')), PROMPT_MAX_MS);
  }
  await bounded(endpoint.play(promptFile(d.prompts, 'goodbye')), PROMPT_MAX_MS);
  return 'no extension named';
}
