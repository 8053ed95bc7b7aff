import type Mrf from 'drachtio-fsmrf';
import Srf from 'drachtio-srf';
import type { Logger } from '../log.js';
import { modifyEndpoint, releaseEndpoint } from '../media/endpoint.js';
import { hangUpDialog } from './arrival.js';

/** drachtio-srf queues a dialog's incoming requests while this is set (its typings lack it). */
export function holdRequests(dialog: Srf.Dialog, hold: boolean): void {
  (dialog as unknown as { queueRequests: boolean }).queueRequests = hold;
}

export const COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"';

export interface RingTarget {
  /** Contact URIs of the operator's registered phones: all ring at once. */
  contacts: string[];
  /** Request-URI user and To header: the operator's user name. */
  username: string;
  domain: string;
  /** What the phone shows: the caller's number, and a display name such as "Front desk: 555". */
  fromNumber: string;
  fromName: string;
  headers: Record<string, string>;
  /**
   * With a media server: ring with no SDP (RFC 3261 §13.2.1). The phone that answers makes the
   * offer in its 200 OK, an endpoint made then answers it, and that answer goes in the ACK: one
   * INVITE to the media server per answered ring, where ringing from an endpoint made first
   * costs that INVITE, a re-INVITE with the phone's answer and two commands to read the
   * endpoint back (drachtio-fsmrf's modify()). The media server's CPU is what limits anchored
   * calls (issue 9). For the phones of operators registered here: RFC 3261 has every user
   * agent accept an INVITE without SDP; a phone that answers one without an offer is hung up.
   */
  lateOffer?: boolean;
}

/** drachtio-srf's answer to an INVITE sent with noAck: the 200 OK, to be ACKed with our SDP. */
interface Unacked {
  sdp: string;
  ack(localSdp: string): Promise<Srf.Dialog>;
  /** ACKs and hangs up a leg not wanted. */
  destroy(): Promise<void>;
}

/**
 * drachtio-srf ACKs a 200 OK without SDP to an INVITE without SDP itself and gives its dialog:
 * the phone answered without making an offer.
 */
function isUnacked(answer: Srf.Dialog | Unacked): answer is Unacked {
  return !(answer instanceof Srf.Dialog);
}

/** Direct media: the phones are offered the caller's own description and answer with theirs. */
export interface DirectOffer {
  offer: string;
}

/** Where the operator's media goes: a media server (an endpoint of its own) or a caller's offer. */
export type RingMedia = Mrf.MediaServer | DirectOffer;

/** The endpoint an answered ring comes with: none for direct media. */
export type RingEndpoint<M extends RingMedia> = M extends DirectOffer ? undefined : Mrf.Endpoint;

export interface RingEvents<M extends RingMedia = Mrf.MediaServer> {
  answered(dialog: Srf.Dialog, endpoint: RingEndpoint<M>): void;
  failed(status: number, reason: string): void;
}

interface Fork {
  request?: Srf.SrfRequest;
  cancelled: boolean;
}

function quote(name: string): string {
  return `"${name.replace(/["\\]/g, '')}"`;
}

/** Of several failures, the one to report: a busy phone says more than an unreachable one. */
function better(a: { status: number }, b: { status: number }): boolean {
  const rank = (s: number): number => (s === 486 || s === 600 ? 3 : s === 603 ? 2 : s === 487 ? 0 : 1);
  return rank(b.status) > rank(a.status);
}

/**
 * Rings one operator's phones from a media server endpoint of their own (the operator's leg is
 * anchored like the caller's), or with a caller's own offer (direct media: no endpoint). The
 * first phone to answer wins and the others are cancelled.
 * Reports exactly one of answered/failed; cancel() stops it at any point, and a phone that
 * answers anyway is reported as answered, for the caller of cancel() to decide.
 */
export class OperatorRing<M extends RingMedia = Mrf.MediaServer> {
  private readonly forks: Fork[] = [];
  private endpoint: Mrf.Endpoint | undefined;
  private cancelled = false;
  private cancelHeaders: Record<string, string> = {};
  private settled = false;
  private failure = { status: 480, reason: 'Temporarily Unavailable' };

  constructor(
    private readonly srf: Srf,
    private readonly media: M,
    private readonly target: RingTarget,
    private readonly events: RingEvents<M>,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.target.contacts.length === 0) return this.fail(480, 'no phone registered');
    if (!('offer' in this.media) && !this.lateOfferServer()) {
      try {
        this.endpoint = await this.media.createEndpoint();
      } catch (err) {
        return this.fail(503, `media server: ${(err as Error).message}`);
      }
    }
    if (this.cancelled) return this.destroyAndFail(487, 'cancelled');
    const results = await Promise.allSettled(this.target.contacts.map((contact) => this.fork(contact)));
    if (!this.settled && results.every((r) => r.status === 'rejected')) await this.destroyAndFail(this.failure.status, this.failure.reason);
  }

  /** The media server a late offer is answered on; undefined when the phones get an offer. */
  private lateOfferServer(): Mrf.MediaServer | undefined {
    return this.target.lateOffer && !('offer' in this.media) ? (this.media as Mrf.MediaServer) : undefined;
  }

  private async fork(contact: string): Promise<void> {
    const fork: Fork = { cancelled: false };
    this.forks.push(fork);
    const endpoint = this.endpoint;
    const late = this.lateOfferServer();
    const t = this.target;
    // With noAck and no SDP, drachtio-srf resolves with the unacknowledged 200 OK, not a dialog.
    const offer = late ? { noAck: true } : { localSdp: endpoint ? endpoint.local.sdp : (this.media as DirectOffer).offer };
    let answer: Srf.Dialog | Unacked;
    try {
      answer = await this.srf.createUAC(
        contact,
        {
          ...offer,
          headers: {
            From: `${quote(t.fromName)} <sip:${t.fromNumber}@${t.domain}>`,
            To: `<sip:${t.username}@${t.domain}>`,
            ...t.headers,
          },
        },
        {
          cbRequest: (_err: unknown, req: Srf.SrfRequest) => {
            fork.request = req;
            if (this.cancelled) this.cancelFork(fork);
          },
        } as never,
      );
    } catch (err) {
      const e = err as { status?: number; reason?: string; message?: string };
      const failure = { status: e.status ?? 503, reason: e.reason ?? e.message ?? 'failed' };
      if (better(this.failure, failure) || this.failure.status === 480) this.failure = failure;
      throw err;
    }
    if (!late) return this.won(fork, answer as Srf.Dialog, endpoint);
    if (isUnacked(answer)) return this.wonLate(fork, answer, late);
    // Answered without an offer: there is no media to connect.
    fork.cancelled = true;
    hangUpDialog(answer);
    if (this.failure.status === 480) this.failure = { status: 488, reason: 'the phone answered without SDP' };
    throw new Error('the phone answered without SDP');
  }

  /**
   * A phone answered: true if it is the first, the other forks then cancelled; false if another
   * phone of the same operator answered before (this one is not needed: its caller hangs it up).
   */
  private claim(winner: Fork): boolean {
    winner.cancelled = true;
    if (this.settled) return false;
    this.settled = true;
    for (const fork of this.forks) this.cancelFork(fork, { Reason: COMPLETED_ELSEWHERE });
    return true;
  }

  private async won(winner: Fork, dialog: Srf.Dialog, endpoint: Mrf.Endpoint | undefined): Promise<void> {
    // Hold the phone's requests (a re-INVITE, a REFER, a BYE) until whoever takes the call over
    // listens; drachtio-srf would otherwise answer them itself and they would be lost.
    holdRequests(dialog, true);
    if (!this.claim(winner)) return hangUpDialog(dialog);
    if (endpoint) {
      try {
        await modifyEndpoint(endpoint, dialog.remote.sdp);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'media server refused the operator phone\'s answer');
      }
    }
    // Without a media server the ring has no endpoint; with one it has (start() made it).
    this.events.answered(dialog, endpoint as RingEndpoint<M>);
  }

  /**
   * The first phone to answer a late offer: its offer goes to a new endpoint, whose answer ACKs
   * the phone. If the media server cannot take it, the phone is ACKed and hung up and the ring
   * fails (503), as it would have before ringing with an offer.
   */
  private async wonLate(winner: Fork, answer: Unacked, server: Mrf.MediaServer): Promise<void> {
    if (!this.claim(winner)) return void answer.destroy();
    let endpoint: Mrf.Endpoint;
    try {
      endpoint = await server.createEndpoint({ remoteSdp: answer.sdp });
    } catch (err) {
      void answer.destroy();
      this.events.failed(503, `media server: ${(err as Error).message}`);
      return;
    }
    this.endpoint = endpoint;
    let dialog: Srf.Dialog;
    try {
      dialog = await answer.ack(endpoint.local.sdp);
    } catch (err) {
      await releaseEndpoint(endpoint);
      this.events.failed(500, (err as Error).message);
      return;
    }
    holdRequests(dialog, true);
    this.events.answered(dialog, endpoint as RingEndpoint<M>);
  }

  private cancelFork(fork: Fork, headers: Record<string, string> = this.cancelHeaders): void {
    if (fork.cancelled || !fork.request) return;
    fork.cancelled = true;
    try {
      fork.request.cancel({ headers } as never);
    } catch {
      // Already answered or failed: nothing left to cancel.
    }
  }

  private fail(status: number, reason: string): void {
    if (this.settled) return;
    this.settled = true;
    this.events.failed(status, reason);
  }

  private async destroyAndFail(status: number, reason: string): Promise<void> {
    await releaseEndpoint(this.endpoint);
    this.fail(status, reason);
  }

  /** Stops ringing; `headers` go on the CANCEL (e.g. Reason: call completed elsewhere). */
  cancel(headers: Record<string, string> = {}): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.cancelHeaders = headers;
    for (const fork of this.forks) this.cancelFork(fork, headers);
  }
}
