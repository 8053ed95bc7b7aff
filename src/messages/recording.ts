/**
 * Records one voice message from a party already on the media server (an operator rung through
 * the API, or a waiting caller): "leave your message after the tone", a beep, then FreeSWITCH's
 * record application into the mailbox's directory until # (or MESSAGE_MAX_SECONDS, or hang-up:
 * what was said so far is kept). The file is measured on disk before the row is written.
 */
import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import type { Logger } from '../log.js';
import { isConnected } from '../media/answer.js';
import { releaseEndpoint } from '../media/endpoint.js';
import type { Prompts } from '../media/prompts.js';
import { bounded } from '../calls/arrival.js';
import type { Mailbox } from './mailbox.js';
import type { Message } from './store.js';

/** The prompts of voice messages (README: Voice messages): file name (without .wav) -> what it says. */
export const MESSAGE_PROMPTS = {
  'message-record': 'Please leave your message after the tone. Press the pound key when you are done.',
  'message-thanks': 'Your message has been recorded. Goodbye.',
  'message-extension': 'Please enter the extension number, followed by the pound key.',
  'message-no-extension': 'That is not an extension number.',
  'mailbox-full': 'This mailbox is full. Goodbye.',
  'mailbox-you-have': 'You have',
  'mailbox-new': 'new messages',
  'mailbox-saved': 'saved messages',
  'mailbox-message': 'Message',
  'mailbox-options': 'Press 1 to hear it again, 2 to save it, 3 to delete it, or pound for the next message.',
  'mailbox-message-saved': 'Message saved.',
  'mailbox-message-deleted': 'Message deleted.',
  goodbye: 'Goodbye.',
} as const;
export type MessagePrompt = keyof typeof MESSAGE_PROMPTS;

export const BEEP = 'tone_stream://%(500,0,1000)';
// A recording shorter than this is a hang-up or a slip of the finger, not a message.
const MIN_MESSAGE_MS = 1_000;
// No prompt (a long file, a media server that never reports the end) holds the recording back.
const PROMPT_MAX_MS = 15_000;
// FreeSWITCH stops at the time limit itself; this only guards against a lost completion event.
const RECORD_GRACE_MS = 5_000;

export interface Party {
  endpoint: Mrf.Endpoint;
  dialog: Srf.Dialog;
}

export interface RecordingRequest {
  extension: string;
  fromNumber: string;
  fromName: string;
  callId: string;
}

export interface RecordingDeps {
  mailbox: Mailbox;
  prompts: Prompts;
  maxSeconds: number;
  /** Whether a number is an extension (has a mailbox). */
  isExtension(number: string): boolean;
  log: Logger;
}

export type RecordingOutcome = { kind: 'stored'; message: Message } | { kind: 'full' } | { kind: 'nothing'; why: string };

export function promptFile(prompts: Prompts, name: MessagePrompt): string {
  return prompts.configured(name);
}

/** Resolves when the party hangs up (never if they stay). */
function hangUpOf(party: Party): Promise<'gone'> {
  return new Promise((resolve) => {
    if (!isConnected(party.dialog)) return resolve('gone');
    party.dialog.once('destroy', () => resolve('gone'));
  });
}

export async function recordMessage(party: Party, r: RecordingRequest, d: RecordingDeps): Promise<RecordingOutcome> {
  const { endpoint } = party;
  if (await d.mailbox.full(r.extension)) {
    await bounded(endpoint.play(promptFile(d.prompts, 'mailbox-full')), PROMPT_MAX_MS);
    return { kind: 'full' };
  }
  const gone = hangUpOf(party);
  const relative = await d.mailbox.files.allocate(r.extension);
  await bounded(endpoint.play(promptFile(d.prompts, 'message-record')), PROMPT_MAX_MS);
  await bounded(endpoint.play(BEEP), PROMPT_MAX_MS);
  if (!isConnected(party.dialog)) return { kind: 'nothing', why: 'hung up before the tone' };
  // The mrf dialplan turns terminators off; # ends a message (and is not recorded).
  await endpoint.set('playback_terminators', '#');
  const started = Date.now();
  const recording = endpoint.record(d.mailbox.files.absolute(relative), { timeLimitSecs: d.maxSeconds }).catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'limit'>((resolve) => {
    timer = setTimeout(() => resolve('limit'), d.maxSeconds * 1000 + RECORD_GRACE_MS);
  });
  const first = await Promise.race([recording, gone, limit]);
  clearTimeout(timer);
  const elapsedMs = Date.now() - started;
  // Hung up while recording: ending the channel closes the file with what was said.
  if (first === 'gone') await releaseEndpoint(endpoint);
  const reported = typeof first === 'object' ? Number(first.recordMilliseconds) : NaN;
  const durationMs = Number.isFinite(reported) && reported > 0 ? reported : elapsedMs;
  const size = await d.mailbox.files.size(relative);
  if (size === undefined || durationMs < MIN_MESSAGE_MS) {
    await d.mailbox.files.remove(relative).catch(() => undefined);
    const why = size === undefined ? 'no file was written (is MESSAGES_DIR shared with FreeSWITCH?)' : 'too short';
    d.log.info({ extension: r.extension, durationMs, size }, `no voice message: ${why}`);
    return { kind: 'nothing', why };
  }
  const message = await d.mailbox.deposit({
    extension: r.extension,
    fromNumber: r.fromNumber,
    fromName: r.fromName,
    callId: r.callId,
    durationS: Math.round(durationMs / 1000),
    sizeBytes: size,
    path: relative,
  });
  if (isConnected(party.dialog)) await bounded(endpoint.play(promptFile(d.prompts, 'message-thanks')), PROMPT_MAX_MS);
  return { kind: 'stored', message };
}
