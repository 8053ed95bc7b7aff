/**
 * Calls to a room (a route with target type 'room'). A room that is full already answers 486
 * before anything is answered (a busy signal costs no media). Otherwise the caller is answered
 * onto the media server, told if the room is locked, asked for the PIN when the room has one
 * (the moderator PIN makes a moderator), admitted (the lock and the limit are checked again,
 * atomically, in Redis) and handed to a RoomMember, which waits for a moderator or joins the
 * conference. A caller refused after the answer hears why (locked, full, goodbye after wrong
 * PINs) and is hung up; the call's record says 'rejected' with the reason.
 */
import { randomUUID } from 'node:crypto';
import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import type { Disposition } from '../cdr/records.js';
import type { LeftHow } from '../conference/membership.js';
import type { MemberRole } from '../conference/pin-entry.js';
import { askForPin } from '../conference/pin-prompt.js';
import { RoomMember } from '../conference/room-member.js';
import type { MemberEntry } from '../conference/room-store.js';
import type { Rooms } from '../conference/rooms.js';
import { isConnected } from '../media/answer.js';
import type { RoomPrompt } from '../media/prompts.js';
import type { Room } from '../provisioning/types.js';
import { hangUpDialog, publishLive, settleOnce, unpublishLive, type Arrival } from './arrival.js';
import type { ActiveCall, CallContext } from './context.js';
import { releaseEndpoint } from '../media/endpoint.js';

export async function startRoomCall(ctx: CallContext, rooms: Rooms, a: Arrival, room: Room): Promise<void> {
  const ms = a.pickMedia();
  if (!ms) return a.refuse(503, 'Service Unavailable: no media server', 'failed');
  let members: number;
  try {
    members = await rooms.store.count(room.id);
  } catch (err) {
    a.log.warn({ err: (err as Error).message }, 'cannot count the room\'s members');
    return a.refuse(503, 'Service Unavailable: room state unavailable', 'failed');
  }
  if (room.maxMembers !== null && members >= room.maxMembers) return a.refuse(486, `Busy Here: room full (${room.maxMembers} members)`, 'rejected');
  const answered = await a.answerOnto(ms);
  if (!answered) return;
  const call = new RoomCall(ctx, rooms, a, room, answered.dialog, answered.endpoint);
  ctx.calls.add(call);
  await call.enter();
}

interface Ending {
  how: LeftHow;
  hangupBy: 'caller' | 'system';
  reason: string;
  disposition?: Extract<Disposition, 'rejected' | 'failed'>;
}

export class RoomCall implements ActiveCall {
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  private member: RoomMember | undefined;
  private finished = false;

  constructor(
    private readonly ctx: CallContext,
    private readonly rooms: Rooms,
    private readonly a: Arrival,
    private readonly room: Room,
    private readonly dialog: Srf.Dialog,
    private readonly endpoint: Mrf.Endpoint,
  ) {
    a.leg.answered(Date.now());
    dialog.on('destroy', () => void this.finish({ how: 'hangup', hangupBy: 'caller', reason: 'caller hung up' }));
    // The media server went away (or hung the channel up): the caller has nothing left to hear.
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
    void this.finish({ how: 'system', hangupBy: 'system', reason });
  }

  /** From the answer to a seat in the room: lock, PIN, admission. */
  async enter(): Promise<void> {
    const { a, room } = this;
    // A BYE right behind the ACK can end the dialog before its listener was attached (SIP-NOTES).
    if (!isConnected(this.dialog)) return this.finish({ how: 'hangup', hangupBy: 'caller', reason: 'caller hung up' });
    void publishLive(this.ctx, a, 'connected', null).catch((err: Error) => a.log.warn({ err: err.message }, 'cannot publish the live call'));
    // Told at once rather than after the PIN; admission checks the lock again anyway.
    if ((await this.rooms.store.state(room.id).catch(() => undefined))?.locked) return this.refuseInside('room-locked', 'room locked');
    const pin = await askForPin(this.endpoint, room, this.ctx.prompts, a.log);
    if (this.finished || pin.kind === 'gone') return;
    if (pin.kind === 'refuse') return this.refuseInside('goodbye', pin.reason);
    await this.admit(pin.role);
  }

  private async admit(role: MemberRole): Promise<void> {
    const { a, room } = this;
    const at = Date.now();
    const entry: MemberEntry = {
      callId: a.callId,
      owner: this.ctx.instanceId,
      number: a.caller.number,
      name: a.caller.name,
      role,
      direction: 'inbound',
      state: 'waiting',
      memberId: null,
      muted: false,
      joinedAt: at,
      operatorId: null,
    };
    let admission;
    try {
      admission = await this.rooms.store.admit(room.id, entry, room.maxMembers, randomUUID());
    } catch (err) {
      a.log.warn({ err: (err as Error).message }, 'cannot take a seat in the room');
      return this.refuseInside('goodbye', 'room state unavailable', 'failed');
    }
    if (this.finished) {
      await this.rooms.store.leave(room.id, a.callId).catch(() => undefined);
      return;
    }
    if (!admission.admitted) return this.refuseInside(admission.why === 'locked' ? 'room-locked' : 'room-full', `room ${admission.why}`);
    // The call counts as answered once the caller is in the room (a caller who hangs up during
    // the PIN is an abandoned call, like one who hangs up in a queue).
    a.recorder.answered(at);
    this.member = new RoomMember(
      this.rooms,
      room,
      { callId: a.callId, log: a.log, number: a.caller.number, name: a.caller.name, role, direction: 'inbound', operatorId: null, endpoint: this.endpoint, sessionId: admission.sessionId, joinedAt: at },
      (how, reason) => this.putOut(how, reason),
    );
    await this.member.start();
  }

  /** The room put the caller out (kicked, ended, could not join): hang up. */
  private putOut(how: LeftHow, reason: string): void {
    if (this.finished) return;
    hangUpDialog(this.dialog);
    void this.finish({ how, hangupBy: 'system', reason });
  }

  /** Tells an answered caller why they cannot come in, then hangs up. */
  private async refuseInside(prompt: RoomPrompt, reason: string, disposition: Ending['disposition'] = 'rejected'): Promise<void> {
    this.a.log.info({ room: this.room.number, reason }, 'caller refused entry to the room');
    await this.endpoint.play(this.ctx.prompts.file(prompt)).catch(() => undefined);
    if (this.finished) return;
    hangUpDialog(this.dialog);
    await this.finish({ how: 'system', hangupBy: 'system', reason, disposition });
  }

  private async finish(e: Ending): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const at = Date.now();
    await this.member?.leave(e.how, at);
    // Hanging the media server's channel up takes the member out of the conference.
    await releaseEndpoint(this.endpoint);
    this.a.leg.end(at, e.hangupBy, 200, e.reason);
    this.a.recorder.end({ at, hangupBy: e.hangupBy, sipStatus: 200, sipReason: e.reason, ...(e.disposition ? { disposition: e.disposition } : {}) });
    await unpublishLive(this.ctx, this.a.callId);
    this.a.log.info({ room: this.room.number, hangupBy: e.hangupBy, how: e.how, reason: e.reason }, 'room call ended');
    this.settled.resolve();
  }
}
