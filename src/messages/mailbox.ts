/**
 * Extensions' mailboxes: the rows (MessageStore) and the files (MessageFiles) kept together, the
 * limits (MESSAGES_MAX_PER_EXTENSION, MESSAGE_MAX_AGE_DAYS), and the message-waiting indication
 * after every change. A row is written only once its file is there, and a file is deleted only
 * after its row is, so a crash between the two leaves at worst a stray file, never a row without
 * audio.
 */
import type { Logger } from '../log.js';
import type { MessageFiles } from './files.js';
import type { Message, MessageStore, NewMessage } from './store.js';
import type { MessageCounts } from './summary.js';

export interface MailboxLimits {
  maxPerExtension: number;
  maxAgeDays: number;
}

const DAY_MS = 86_400_000;

export class Mailbox {
  constructor(
    private readonly store: MessageStore,
    readonly files: MessageFiles,
    private readonly limits: MailboxLimits,
    /** Tells the extension's phones (MWI). */
    private readonly changed: (extension: string) => Promise<void>,
    private readonly log: Logger,
  ) {}

  list(extension: string): Promise<Message[]> {
    return this.store.list(extension);
  }

  get(extension: string, id: number): Promise<Message | undefined> {
    return this.store.get(extension, id);
  }

  counts(extension: string): Promise<MessageCounts> {
    return this.store.counts(extension);
  }

  /** No room for another message (MESSAGES_MAX_PER_EXTENSION). */
  async full(extension: string): Promise<boolean> {
    const c = await this.store.counts(extension);
    return c.newCount + c.savedCount >= this.limits.maxPerExtension;
  }

  /** Files a recorded message; its file must already be in place. */
  async deposit(m: NewMessage): Promise<Message> {
    const message = await this.store.add(m);
    this.log.info({ extension: m.extension, messageId: message.id, durationS: m.durationS, sizeBytes: m.sizeBytes }, 'voice message stored');
    await this.tell(m.extension);
    return message;
  }

  async markSaved(extension: string, id: number): Promise<void> {
    if (await this.store.markSaved(extension, id)) await this.tell(extension);
  }

  /** Deletes a message (row, then file); false if there is no such message. */
  async remove(extension: string, id: number): Promise<boolean> {
    const removed = await this.store.remove(extension, id);
    if (!removed) return false;
    await this.files.remove(removed.path).catch((err: Error) => this.log.warn({ err: err.message, path: removed.path }, 'cannot delete a message file'));
    this.log.info({ extension, messageId: id }, 'voice message deleted');
    await this.tell(extension);
    return true;
  }

  /** Deletes messages older than MESSAGE_MAX_AGE_DAYS; returns how many. */
  async sweep(now = Date.now()): Promise<number> {
    const removed = await this.store.removeOlderThan(new Date(now - this.limits.maxAgeDays * DAY_MS));
    for (const m of removed) await this.files.remove(m.path).catch(() => undefined);
    for (const extension of new Set(removed.map((m) => m.extension))) await this.tell(extension);
    if (removed.length > 0) this.log.info({ deleted: removed.length, maxAgeDays: this.limits.maxAgeDays }, 'old voice messages deleted');
    return removed.length;
  }

  private async tell(extension: string): Promise<void> {
    await this.changed(extension).catch((err: Error) => this.log.warn({ err: err.message, extension }, 'cannot send the message-waiting indication'));
  }
}
