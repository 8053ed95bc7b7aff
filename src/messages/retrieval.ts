/**
 * The owner listens to their messages: the extension's phone dials *98. The INVITE is
 * challenged like a feature code (407) and the digest must be the extension's own (its number
 * and password), so the code works from any address and only for that mailbox. The caller is
 * answered onto the media server and the menu of retrieval-machine.ts runs: DTMF from the phone
 * (RFC 2833 events on the endpoint) drives it; every save or delete updates the phones' MWI.
 */
import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import { bounded, hangUpDialog, settleOnce, type Arrival } from '../calls/arrival.js';
import type { ActiveCall, CallContext } from '../calls/context.js';
import { authenticateCaller, type FeatureCodeAuth } from '../calls/feature-codes.js';
import type { Logger } from '../log.js';
import { isConnected } from '../media/answer.js';
import { releaseEndpoint } from '../media/endpoint.js';
import type { Prompts } from '../media/prompts.js';
import type { Mailbox } from './mailbox.js';
import { promptFile } from './recording.js';
import { retrievalStep, startRetrieval, type AudioPart, type RetrievalEffect, type RetrievalEvent } from './retrieval-machine.js';

export const MAILBOX_CODE = '*98';
// Seconds of silence after the options before they are said again (then goodbye).
const OPTIONS_WAIT_MS = 5_000;
// A message may be long (MESSAGE_MAX_SECONDS); prompts and numbers are short.
const PART_MAX_MS = 3_700_000;

/** Whether `dialled` is the mailbox code (phones may escape * as %2A). */
export function isMailboxCode(dialled: string): boolean {
  try {
    return decodeURIComponent(dialled) === MAILBOX_CODE;
  } catch {
    return dialled === MAILBOX_CODE;
  }
}

export async function handleMailboxCall(ctx: CallContext, fa: FeatureCodeAuth, a: Arrival, mailbox: Mailbox): Promise<void> {
  const who = await authenticateCaller(a, fa);
  if (!who) return;
  if (who.kind !== 'extension') return a.refuse(403, 'Forbidden: the mailbox code is for extensions', 'rejected');
  const ms = a.pickMedia();
  if (!ms) return a.refuse(503, 'Service Unavailable: no media server', 'failed');
  const call = new MailboxCall(ctx, a, who.username, mailbox);
  ctx.calls.add(call);
  await call.run(ms);
}

class MailboxCall implements ActiveCall {
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  private dialog: Srf.Dialog | undefined;

  constructor(
    private readonly ctx: CallContext,
    private readonly a: Arrival,
    private readonly extension: string,
    private readonly mailbox: Mailbox,
  ) {}

  get callId(): string {
    return this.a.callId;
  }

  waiting(): undefined {
    return undefined;
  }

  hangup(): void {
    if (this.dialog) hangUpDialog(this.dialog);
  }

  async run(ms: Mrf.MediaServer): Promise<void> {
    try {
      await this.carryOut(ms);
    } finally {
      this.settled.resolve();
    }
  }

  private async carryOut(ms: Mrf.MediaServer): Promise<void> {
    const { a } = this;
    const messages = await this.mailbox.list(this.extension);
    const answered = await a.answerOnto(ms);
    if (!answered) return;
    this.dialog = answered.dialog;
    const at = Date.now();
    a.leg.answered(at);
    a.recorder.answered(at);
    a.log.info({ extension: this.extension, messages: messages.length }, 'mailbox opened');
    await runMenu(answered, this.extension, messages, { mailbox: this.mailbox, prompts: this.ctx.prompts, log: a.log });
    const by = isConnected(answered.dialog) ? 'system' : 'caller';
    hangUpDialog(answered.dialog);
    await releaseEndpoint(answered.endpoint);
    const end = Date.now();
    a.leg.end(end, by, 200, 'mailbox');
    a.recorder.end({ at: end, hangupBy: by, sipStatus: 200, sipReason: 'mailbox', disposition: 'answered' });
  }
}

interface MenuDeps {
  mailbox: Mailbox;
  prompts: Prompts;
  log: Logger;
}

/** Runs the menu until goodbye has played or the owner hangs up. */
function runMenu(party: { endpoint: Mrf.Endpoint; dialog: Srf.Dialog }, extension: string, messages: { id: number; state: 'new' | 'saved'; path: string }[], d: MenuDeps): Promise<void> {
  const { endpoint, dialog } = party;
  const paths = new Map(messages.map((m) => [m.id, m.path]));
  const start = startRetrieval(messages.map((m) => ({ id: m.id, state: m.state })));
  let state = start.state;
  let timer: NodeJS.Timeout | undefined;
  let playing: Promise<unknown> = Promise.resolve();
  return new Promise((resolve) => {
    let over = false;
    const finish = (): void => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      endpoint.off('dtmf', onDtmf);
      resolve();
    };
    const play = async (part: AudioPart): Promise<void> => {
      const file = (name: Parameters<typeof promptFile>[1]): Promise<void> => bounded(endpoint.play(promptFile(d.prompts, name)), PART_MAX_MS);
      const say = (n: number): Promise<void> => bounded(endpoint.say(String(n), { sayType: 'NUMBER', sayMethod: 'pronounced' }), PART_MAX_MS);
      switch (part.kind) {
        case 'count':
          await file('mailbox-you-have');
          await say(part.newCount);
          await file('mailbox-new');
          await say(part.savedCount);
          return file('mailbox-saved');
        case 'message': {
          await file('mailbox-message');
          await say(part.position);
          const path = paths.get(part.id);
          if (path) await bounded(endpoint.play(d.mailbox.files.absolute(path)), PART_MAX_MS);
          return;
        }
        case 'options':
          return file('mailbox-options');
        case 'confirm':
          return file(part.what === 'saved' ? 'mailbox-message-saved' : 'mailbox-message-deleted');
        case 'goodbye':
          return file('goodbye');
      }
    };
    const perform = (effect: RetrievalEffect): void => {
      switch (effect.type) {
        case 'audio':
          // Parts of a prompt cut short (a digit moved the menu on) are not played.
          playing = playing
            .then(async () => {
              for (const part of effect.parts) {
                if (over || state.prompt !== effect.prompt) return;
                await play(part);
              }
            })
            .finally(() => apply({ type: 'played', prompt: effect.prompt }));
          return;
        case 'stop-audio':
          endpoint.api('uuid_break', endpoint.uuid).catch(() => undefined);
          return;
        case 'arm-timer':
          clearTimeout(timer);
          timer = setTimeout(() => apply({ type: 'timeout' }), OPTIONS_WAIT_MS);
          return;
        case 'disarm-timer':
          clearTimeout(timer);
          return;
        case 'mark-saved':
          void d.mailbox.markSaved(extension, effect.id).catch((err: Error) => d.log.warn({ err: err.message }, 'cannot save the message'));
          return;
        case 'delete':
          d.log.info({ extension, messageId: effect.id }, 'owner deletes a message');
          void d.mailbox.remove(extension, effect.id).catch((err: Error) => d.log.warn({ err: err.message }, 'cannot delete the message'));
          return;
        case 'hangup':
          return finish();
      }
    };
    function apply(event: RetrievalEvent): void {
      if (over) return;
      const step = retrievalStep(state, event);
      state = step.state;
      step.effects.forEach(perform);
    }
    function onDtmf(e: { dtmf?: string }): void {
      apply({ type: 'digit', digit: String(e.dtmf ?? '') });
    }
    endpoint.on('dtmf', onDtmf);
    dialog.once('destroy', () => {
      apply({ type: 'gone' });
      finish();
    });
    start.effects.forEach(perform);
  });
}
