/**
 * Rooms as the rest of the switchboard sees them: the members this instance holds, and control of
 * any room's members whichever instance holds them. The member list lives in Redis (RoomStore);
 * a command for a member goes to the instance that owns its call (`room-control` requests over
 * the bus, as CallControl does for calls), which carries it out on the media server with
 * `conference NAME ...`; what the media server then reports (mute-member, del-member ...) is
 * written back to Redis by that owner.
 */
import type { CallContext } from '../calls/context.js';
import type { Room } from '../provisioning/types.js';
import type { BusEvent } from '../redis/events.js';
import type { LeftHow } from './membership.js';
import type { CommandResult, MemberHost, RoomMember } from './room-member.js';
import type { MemberEntry, RoomState, RoomStore } from './room-store.js';

export type RoomResult = 'done' | 'not-found' | 'not-in-use' | 'failed' | 'unreachable';
export type MemberOp = 'mute' | 'unmute' | 'kick';

type RoomRequest =
  | { action: 'member'; roomId: number; callId: string; op: MemberOp }
  | { action: 'lock'; roomId: number; locked: boolean }
  | { action: 'end'; roomId: number; how: LeftHow };

const REQUEST_TYPE = 'room-control';

export interface RoomView {
  state: RoomState;
  members: MemberEntry[];
}

export class Rooms implements MemberHost {
  private readonly local = new Map<string, RoomMember>();

  constructor(
    readonly ctx: CallContext,
    readonly store: RoomStore,
  ) {
    ctx.bus.onRequest(REQUEST_TYPE, async (e) => ({ ok: true, result: await this.onRequest(e.request as RoomRequest) }));
    ctx.bus.onEvent('room', (e) => {
      if (e.what === 'moderator-joined') this.moderatorArrived(Number(e.roomId));
    });
  }

  register(member: RoomMember): void {
    this.local.set(member.callId, member);
  }

  unregister(member: RoomMember): void {
    if (this.local.get(member.callId) === member) this.local.delete(member.callId);
  }

  private localMembers(roomId: number): RoomMember[] {
    return [...this.local.values()].filter((m) => m.room.id === roomId);
  }

  private moderatorArrived(roomId: number): void {
    for (const m of this.localMembers(roomId)) m.moderatorArrived();
  }

  // ---- this instance's side of a request ----

  private async onRequest(r: RoomRequest): Promise<RoomResult> {
    switch (r.action) {
      case 'member':
        return this.memberLocally(r.roomId, r.callId, r.op);
      case 'lock':
        return this.lockLocally(r.roomId, r.locked);
      case 'end':
        return this.endLocally(r.roomId, r.how);
    }
  }

  private async memberLocally(roomId: number, callId: string, op: MemberOp): Promise<RoomResult> {
    const m = this.local.get(callId);
    if (!m || m.room.id !== roomId) return 'not-found';
    const result: CommandResult = op === 'kick' ? await m.kick() : await m.mute(op === 'mute');
    return result;
  }

  /** Locks the conference on the media server of one of this instance's members in it. */
  private async lockLocally(roomId: number, locked: boolean): Promise<RoomResult> {
    const m = this.localMembers(roomId).find((x) => x.inConference);
    if (!m) return 'not-found';
    return m.roomCommand(locked ? 'lock' : 'unlock');
  }

  private async endLocally(roomId: number, how: LeftHow): Promise<RoomResult> {
    const results = await Promise.all(this.localMembers(roomId).map((m) => m.end(how)));
    return results.every((r) => r === 'done') ? 'done' : 'failed';
  }

  // ---- the API's side, on any instance ----

  private async ask(owner: string, request: RoomRequest): Promise<RoomResult> {
    if (owner === this.ctx.instanceId) return this.onRequest(request);
    const reply: BusEvent | undefined = await this.ctx.bus.request(owner, { type: REQUEST_TYPE, request });
    return reply && typeof reply.result === 'string' ? (reply.result as RoomResult) : 'unreachable';
  }

  async view(roomId: number): Promise<RoomView> {
    const [state, members] = await Promise.all([this.store.state(roomId), this.store.members(roomId)]);
    return { state, members };
  }

  /** A member by conference member id (digits) or call id. */
  async find(roomId: number, ref: string): Promise<MemberEntry | undefined> {
    const members = await this.store.members(roomId);
    if (/^[0-9]+$/.test(ref)) return members.find((m) => m.memberId === Number(ref));
    return members.find((m) => m.callId === ref);
  }

  async memberCommand(roomId: number, ref: string, op: MemberOp): Promise<RoomResult> {
    const member = await this.find(roomId, ref);
    if (!member) return 'not-found';
    return this.ask(member.owner, { action: 'member', roomId, callId: member.callId, op });
  }

  /**
   * Locks or unlocks a room in use: new callers are refused (Redis, checked by every instance
   * when it admits someone) and the conference is locked on the media server through an owner
   * of a member in it. Unlocking a room nobody is in is a no-op; the lock ends with the room.
   */
  async setLocked(room: Room, locked: boolean): Promise<RoomResult> {
    if (!(await this.store.setLocked(room.id, locked))) return locked ? 'not-in-use' : 'done';
    const owners = new Set((await this.store.members(room.id)).filter((m) => m.state === 'joined').map((m) => m.owner));
    // The media server's side needs one member in the conference; any owner of one will do.
    let result: RoomResult = 'done';
    for (const owner of owners) {
      result = await this.ask(owner, { action: 'lock', roomId: room.id, locked });
      if (result === 'done' || result === 'failed') break;
    }
    if (result === 'done') this.ctx.bus.publish({ type: 'room', what: locked ? 'locked' : 'unlocked', roomId: room.id });
    // A member that left meanwhile takes the conference with it, or leaves others to hold it.
    return result === 'not-found' ? 'done' : result;
  }

  /** Ends the room for every member: each owner takes its members out and hangs them up. */
  async endRoom(room: Room, how: LeftHow): Promise<RoomResult> {
    const members = await this.store.members(room.id);
    if (members.length === 0) return 'not-in-use';
    const owners = [...new Set(members.map((m) => m.owner))];
    const results = await Promise.all(owners.map((owner) => this.ask(owner, { action: 'end', roomId: room.id, how })));
    this.ctx.bus.publish({ type: 'room', what: 'ended', roomId: room.id, how });
    if (results.every((r) => r === 'done' || r === 'not-found')) return 'done';
    return results.includes('unreachable') ? 'unreachable' : 'failed';
  }
}
