/**
 * The body of a message-waiting NOTIFY (RFC 3842 §5.2, application/simple-message-summary):
 * whether anything new waits, whose mailbox it is, and the voice messages as new/old. The
 * urgent counts are always (0/0): the switchboard has no urgent messages.
 */
export interface MessageCounts {
  /** Not heard yet. */
  newCount: number;
  /** Heard or kept ("old" in RFC 3842). */
  savedCount: number;
}

export const MESSAGE_SUMMARY_TYPE = 'application/simple-message-summary';

export function messageSummary(account: string, counts: MessageCounts): string {
  const waiting = counts.newCount > 0 ? 'yes' : 'no';
  return `Messages-Waiting: ${waiting}\r\nMessage-Account: ${account}\r\nVoice-Message: ${counts.newCount}/${counts.savedCount} (0/0)\r\n`;
}

/** The mailbox's address as phones expect it in Message-Account. */
export function messageAccount(extension: string, domain: string): string {
  return `sip:${extension}@${domain}`;
}
