/**
 * Voice messages, put together: the mailbox (rows + files), the message-waiting indication on
 * SIP, the recording call an operator gets through the API, and the sweep of old messages.
 */
import type { CallContext } from '../calls/context.js';
import type { Pool } from '../db/pool.js';
import type { Redis } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { MessageFiles } from './files.js';
import { Mailbox } from './mailbox.js';
import { Mwi } from './mwi.js';
import { startOperatorRecording, type RecordRequest, type RecordStart } from './operator-recording.js';
import type { RecordingDeps } from './recording.js';
import { MessageStore } from './store.js';

// Age limits are in days: looking once an hour keeps a message at most an hour past its limit.
const SWEEP_INTERVAL_MS = 3_600_000;

export interface Messages {
  mailbox: Mailbox;
  recording: RecordingDeps;
  record(extension: string, r: RecordRequest): Promise<RecordStart>;
  stop(): void;
}

export function startMessages(ctx: CallContext, d: { pool: Pool; redis: Redis; keys: RedisKeys }): Messages {
  const { config, log } = ctx;
  const store = new MessageStore(d.pool);
  const mwi = new Mwi({
    srf: ctx.srf,
    redis: d.redis,
    keys: d.keys,
    bus: ctx.bus,
    domain: config.sipDomain,
    instanceId: ctx.instanceId,
    log,
    isExtension: (number) => ctx.settings.extension(number) !== undefined,
    contacts: async (extension) => (await ctx.registrar.contacts(extension)).map((b) => b.contact),
    counts: (extension) => store.counts(extension),
  });
  mwi.attach();
  const mailbox = new Mailbox(store, new MessageFiles(config.messages.dir), config.messages, (extension) => mwi.changed(extension), log);
  const recording: RecordingDeps = { mailbox, prompts: ctx.prompts, maxSeconds: config.messages.maxSeconds, log };
  const sweep = (): void => void mailbox.sweep().catch((err: Error) => log.warn({ err: err.message }, 'cannot sweep old voice messages'));
  sweep();
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();
  return {
    mailbox,
    recording,
    record: (extension, r) => startOperatorRecording(ctx, recording, extension, r),
    stop: () => {
      clearInterval(timer);
      mwi.close();
    },
  };
}
