/**
 * Voice messages, put together: the mailbox (rows + files), the message-waiting indication on
 * SIP, the recording call an operator gets through the API, and the sweep of old messages.
 */
import type Srf from 'drachtio-srf';
import type { FeatureCodeAuth } from '../calls/feature-codes.js';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../log.js';
import type { Prompts } from '../media/prompts.js';
import type { ConfigCache } from '../provisioning/cache.js';
import type { Redis } from '../redis/client.js';
import type { EventBus } from '../redis/events.js';
import type { RedisKeys } from '../redis/keys.js';
import type { Registrar } from '../registrar/index.js';
import { MessageFiles } from './files.js';
import { Mailbox } from './mailbox.js';
import { Mwi } from './mwi.js';
import type { RecordingDeps } from './recording.js';
import { MessageStore } from './store.js';

// Age limits are in days: looking once an hour keeps a message at most an hour past its limit.
const SWEEP_INTERVAL_MS = 3_600_000;

export interface Messages {
  mailbox: Mailbox;
  /** What a call needs to record a message (an operator's, a waiting caller's). */
  recording: RecordingDeps;
  stop(): void;
}

export interface MessagesDeps {
  config: Config;
  srf: Srf;
  pool: Pool;
  redis: Redis;
  keys: RedisKeys;
  bus: EventBus;
  settings: ConfigCache;
  registrar: Registrar;
  prompts: Prompts;
  /** Digest checks (the registrar's credentials and failure limits), for SUBSCRIBE. */
  auth: FeatureCodeAuth;
  log: Logger;
}

export function startMessages(d: MessagesDeps): Messages {
  const { config, log } = d;
  const store = new MessageStore(d.pool);
  const isExtension = (number: string): boolean => d.settings.extension(number) !== undefined;
  const mwi = new Mwi({
    srf: d.srf,
    redis: d.redis,
    keys: d.keys,
    bus: d.bus,
    domain: config.sipDomain,
    instanceId: config.instanceId,
    log,
    isExtension,
    auth: d.auth,
    contacts: async (extension) => (await d.registrar.contacts(extension)).map((b) => b.contact),
    counts: (extension) => store.counts(extension),
  });
  mwi.attach();
  const mailbox = new Mailbox(store, new MessageFiles(config.messages.dir), config.messages, (extension) => mwi.changed(extension), log);
  const recording: RecordingDeps = { mailbox, prompts: d.prompts, maxSeconds: config.messages.maxSeconds, isExtension, log };
  const sweep = (): void => void mailbox.sweep().catch((err: Error) => log.warn({ err: err.message }, 'cannot sweep old voice messages'));
  sweep();
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();
  return {
    mailbox,
    recording,
    stop: () => {
      clearInterval(timer);
      mwi.close();
    },
  };
}
