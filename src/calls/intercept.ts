/**
 * Calls to a changed or withdrawn number while its intercept runs (sql/005_number_changes.sql).
 * The caller hears the announcement as early media, 183 Session Progress with the media server's
 * SDP, the way telephone networks play intercepts: unanswered, so nobody is charged for being
 * told. Then either the call goes on as if the new number had been dialled (the path that takes
 * it answers with the same endpoint, so the 200 OK carries the SDP of the 183), or it ends with
 * 410 Gone (Q.850 cause 22 "number changed" maps to 410, RFC 3398 §7.2.4.1). The record's
 * `intercept` says which.
 */
import type Mrf from 'drachtio-fsmrf';
import { outcomeOf, spokenDigits, type NumberChange } from '../numbers/number-changes.js';
import { releaseEndpoint } from '../media/endpoint.js';
import { settleOnce, type Arrival } from './arrival.js';
import type { ActiveCall, CallContext } from './context.js';

/**
 * Announces the change to the caller of `a`, then calls `connect` (connectToNew) or refuses the
 * call. `connect` routes the new number; the arrival's early media goes with it.
 */
export async function startIntercept(ctx: CallContext, a: Arrival, change: NumberChange, connect: () => Promise<void>): Promise<void> {
  const outcome = outcomeOf(change);
  a.recorder.intercepted(outcome, change.newNumber);
  a.log.info({ outcome, newNumber: change.newNumber, numberChangeId: change.id }, 'dialled number intercepted');
  const ms = ctx.media.pick();
  if (!ms) return a.refuse(503, 'Service Unavailable: no media server', 'failed');
  if (a.refusedMedia()) return;
  const call = new Intercept(ctx, a, change);
  ctx.calls.add(call);
  if (await call.announce(ms)) await connect();
}

class Intercept implements ActiveCall {
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  /** Ended, or handed on to the new number's path. */
  private over = false;

  constructor(
    private readonly ctx: CallContext,
    private readonly a: Arrival,
    private readonly change: NumberChange,
  ) {
    a.req.on('cancel', () => this.end(() => a.abandoned()));
  }

  get callId(): string {
    return this.a.callId;
  }

  waiting(): undefined {
    return undefined;
  }

  hangup(reason: string): void {
    this.end(() => this.a.refuse(480, reason, 'failed'));
  }

  /** Plays the announcement; true when the caller is to be connected to the new number. */
  async announce(ms: Mrf.MediaServer): Promise<boolean> {
    const { a, change } = this;
    let endpoint: Mrf.Endpoint;
    try {
      endpoint = await ms.createEndpoint({ remoteSdp: a.req.body });
    } catch (err) {
      a.log.warn({ err: (err as Error).message }, 'cannot make the caller\'s endpoint on the media server');
      this.end(() => a.refuse(503, 'Service Unavailable: media server failed', 'failed'));
      return false;
    }
    if (this.over) {
      // Cancelled (or hung up through the API) while the endpoint was being made.
      await releaseEndpoint(endpoint);
      return false;
    }
    // From here the arrival owns the endpoint: refusing or abandoning the call releases it.
    a.holdEarlyMedia(endpoint);
    try {
      a.res.send(183, { headers: { 'Content-Type': 'application/sdp' }, body: endpoint.local.sdp });
    } catch (err) {
      // The caller's CANCEL got in first; its event ends the call.
      a.log.debug({ err: (err as Error).message }, 'cannot send 183');
    }
    const digits = change.newNumber === null ? '' : spokenDigits(change.newNumber);
    await this.ctx.prompts.intercept(endpoint, change.newNumber, digits, change.connectToNew);
    if (this.over) return false;
    if (change.connectToNew) {
      this.over = true;
      this.settled.resolve();
      a.log.info({ newNumber: change.newNumber }, 'connecting the intercepted caller to the new number');
      return true;
    }
    const reason = change.newNumber === null ? 'Gone: number no longer in service' : 'Gone: number changed';
    this.end(() => a.refuse(410, reason, 'rejected'));
    return false;
  }

  private end(how: () => void): void {
    if (this.over) return;
    this.over = true;
    how();
    this.settled.resolve();
  }
}
