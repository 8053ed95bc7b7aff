import { callLogger, type Logger } from '../log.js';
import type { CallRegistry } from './context.js';

export const LINK_LOST_REASON = 'drachtio-server connection lost';

/**
 * The calls to end after the connection to drachtio-server was lost and made again.
 *
 * drachtio-server ties each dialog to the application connection that made it: once that
 * connection is gone it routes none of the dialog's requests (a BYE from a phone, a REFER, a
 * re-INVITE) to the new one, although it still sends the new connection's requests on the old
 * dialogs. A call in progress when the link dropped would go on deaf to its parties: a caller's
 * hang-up would never reach the switchboard and the operator would stay busy for ever. So every
 * call held when the link dropped is hung up as soon as it is back (the BYEs then reach the
 * phones and the media server) and recorded as ended by the switchboard.
 */
export class LinkLoss {
  private readonly held = new Set<string>();

  constructor(
    private readonly calls: Pick<CallRegistry, 'all' | 'get'>,
    private readonly log: Logger,
  ) {}

  /** The link dropped: the calls in progress now can no longer hear their parties. */
  lost(): void {
    for (const call of this.calls.all()) this.held.add(call.callId);
  }

  /** The link is back: ends the calls held when it dropped that have not ended since. */
  restored(): void {
    for (const callId of this.held) {
      const call = this.calls.get(callId);
      if (!call) continue;
      callLogger(this.log, callId).warn('ending the call: its SIP dialogs were on the lost drachtio-server connection');
      call.hangup(LINK_LOST_REASON);
    }
    this.held.clear();
  }
}
