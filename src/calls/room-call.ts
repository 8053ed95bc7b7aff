/**
 * Calls to a room (a route with target type 'room'): the caller takes a seat (486 Busy Here when
 * the room is full, before anything is answered), is answered onto the media server and joins
 * the conference named after the room, muted if the room says so; hanging up leaves it. PINs,
 * moderators and dial-out come later; until then a room with a PIN refuses callers (403).
 */
import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import type { RoomSeats } from '../conference/room-seats.js';
import { SEAT_RENEW_MS } from '../conference/room-seats.js';
import { answerOntoMedia, CallerGone, isConnected } from '../media/answer.js';
import type { Room } from '../provisioning/types.js';
import { bounded, hangUpDialog, publishLive, settleOnce, unpublishLive, type Arrival } from './arrival.js';
import type { ActiveCall, CallContext } from './context.js';

// drachtio-fsmrf's join() waits for mod_conference's add-member event and never gives up by
// itself: a conference that refuses the member (locked, full on the media server) sends none.
const JOIN_TIMEOUT_MS = 5_000;

/** The FreeSWITCH conference of a room: made on the first join, gone with the last member. */
export function conferenceName(room: Pick<Room, 'number'>): string {
  return `room-${room.number}`;
}

export async function startRoomCall(ctx: CallContext, seats: RoomSeats, a: Arrival, room: Room): Promise<void> {
  if (room.pin !== null || room.moderatorPin !== null) {
    // PIN entry is not there yet: letting everyone in would quietly open a private room.
    a.log.warn({ room: room.number }, 'room has a PIN, which is not supported yet: caller refused');
    return a.refuse(403, 'Forbidden: room PINs not supported yet', 'rejected');
  }
  const ms = ctx.media.pick();
  if (!ms) return a.refuse(503, 'Service Unavailable: no media server', 'failed');
  let seated: boolean;
  try {
    seated = await seats.take(room.id, a.callId, room.maxMembers);
  } catch (err) {
    a.log.warn({ err: (err as Error).message }, 'cannot take a seat in the room');
    return a.refuse(503, 'Service Unavailable: room state unavailable', 'failed');
  }
  if (!seated) return a.refuse(486, `Busy Here: room full (${room.maxMembers ?? 0} members)`, 'rejected');
  const leave = (): Promise<void> => seats.leave(room.id, a.callId).catch(() => undefined);
  let answered;
  try {
    answered = await answerOntoMedia(ctx.srf, ms, a.req, a.res);
  } catch (err) {
    await leave();
    if (err instanceof CallerGone) return a.abandoned();
    a.log.warn({ err: (err as Error).message }, 'cannot answer onto the media server');
    return a.refuse(503, 'Service Unavailable: media server failed', 'failed');
  }
  const call = new RoomCall(ctx, seats, a, room, answered.dialog, answered.endpoint);
  ctx.calls.add(call);
  await call.enter();
}

export class RoomCall implements ActiveCall {
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  private renewTimer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(
    private readonly ctx: CallContext,
    private readonly seats: RoomSeats,
    private readonly a: Arrival,
    private readonly room: Room,
    private readonly dialog: Srf.Dialog,
    private readonly endpoint: Mrf.Endpoint,
  ) {
    const at = Date.now();
    a.recorder.answered(at);
    a.leg.answered(at);
    dialog.on('destroy', () => void this.finish('caller', 'caller hung up'));
    // Kicked, or the media server went away: the caller has nothing left to hear.
    endpoint.on('destroy', () => this.hangup('media server ended the caller\'s channel'));
  }

  get callId(): string {
    return this.a.callId;
  }

  waiting(): undefined {
    return undefined;
  }

  hangup(reason: string): void {
    if (this.finished) return;
    hangUpDialog(this.dialog);
    void this.finish('system', reason);
  }

  /** Joins the room's conference; a caller who cannot join is hung up. */
  async enter(): Promise<void> {
    const { a, room } = this;
    // A BYE right behind the ACK can end the dialog before its listener was attached (SIP-NOTES).
    if (!isConnected(this.dialog)) return this.finish('caller', 'caller hung up');
    this.renewTimer = setInterval(() => void this.renew(), SEAT_RENEW_MS);
    void publishLive(this.ctx, a, 'connected', null).catch((err: Error) => a.log.warn({ err: err.message }, 'cannot publish the live call'));
    const name = conferenceName(room);
    let joined = false;
    const join = this.endpoint.join(name, { flags: { mute: room.muteOnJoin } }).then((r) => {
      joined = true;
      a.log.info({ room: room.number, conference: name, memberId: r.memberId, muted: room.muteOnJoin }, 'caller joined the room');
    });
    await bounded(join, JOIN_TIMEOUT_MS);
    if (joined || this.finished) return;
    a.log.warn({ room: room.number, conference: name }, 'the media server did not seat the caller in the conference');
    this.hangup('could not join the conference');
  }

  private async renew(): Promise<void> {
    try {
      if (!(await this.seats.renew(this.room.id, this.a.callId))) {
        // Lapsed (Redis lost it, or this instance stalled): take it again, over the limit if
        // need be; the caller is in the conference already.
        await this.seats.take(this.room.id, this.a.callId, null);
      }
    } catch (err) {
      this.a.log.warn({ err: (err as Error).message }, 'cannot renew the room seat');
    }
  }

  private async finish(hangupBy: 'caller' | 'system', reason: string): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.renewTimer);
    const at = Date.now();
    // Hanging the media server's channel up takes the member out of the conference.
    await this.endpoint.destroy().catch(() => undefined);
    await this.seats.leave(this.room.id, this.a.callId).catch(() => undefined);
    this.a.leg.end(at, hangupBy, 200, reason);
    this.a.recorder.end({ at, hangupBy, sipStatus: 200, sipReason: reason });
    await unpublishLive(this.ctx, this.a.callId);
    this.a.log.info({ room: this.room.number, hangupBy, reason }, 'caller left the room');
    this.settled.resolve();
  }
}
