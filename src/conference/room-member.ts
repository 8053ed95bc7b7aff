/**
 * One participant's stay in a room, from admission (after the PIN) to leaving, whichever way the
 * participant came (dialled in, or dialled out to from the API). It waits with music while the
 * room needs a moderator and has none, joins the media server's conference, keeps the member's
 * entry in Redis as the conference's events say (add-member, mute-member, del-member ...), carries
 * out the supervisor's commands through `conference NAME ...`, and writes the member's history row
 * when it leaves. The SIP dialog and the endpoint belong to the call that admitted it: when the
 * room puts the member out (kicked, conference ended) it says so through `out` and that call
 * hangs up.
 */
import { randomUUID } from 'node:crypto';
import type Mrf from 'drachtio-fsmrf';
import { bounded } from '../calls/arrival.js';
import type { CallContext } from '../calls/context.js';
import type { RoomMemberRecord } from '../cdr/records.js';
import type { Logger } from '../log.js';
import { DEFAULT_HOLD_MUSIC, HoldMusic } from '../media/hold.js';
import type { Room } from '../provisioning/types.js';
import { joinFlags, mustWait, readMemberEvent, type LeftHow, type MemberEvent } from './membership.js';
import type { MemberRole } from './pin-entry.js';
import { SEAT_RENEW_MS, type MemberEntry, type RoomStore } from './room-store.js';

// drachtio-fsmrf's join() waits for mod_conference's add-member event and never gives up by
// itself: a conference that refuses the member (locked, full on the media server) sends none.
const JOIN_TIMEOUT_MS = 5_000;
const MAINTENANCE = 'conference::maintenance';

/** The FreeSWITCH conference of a room: made on the first join, gone with the last member. */
export function conferenceName(room: Pick<Room, 'number'>): string {
  return `room-${room.number}`;
}

/** What the room needs from the rest of the switchboard (the Rooms service implements it). */
export interface MemberHost {
  readonly ctx: CallContext;
  readonly store: RoomStore;
  register(member: RoomMember): void;
  unregister(member: RoomMember): void;
  /** Ends the room for every member, on every instance. */
  endRoom(room: Room, how: LeftHow): Promise<unknown>;
}

export interface Participant {
  callId: string;
  log: Logger;
  number: string;
  name: string;
  role: MemberRole;
  direction: 'inbound' | 'outbound';
  operatorId: number | null;
  endpoint: Mrf.Endpoint;
  sessionId: string;
  joinedAt: number;
}

/** Why the room put a member out; the call hangs up on hearing it. */
export type OutHandler = (how: LeftHow, reason: string) => void;

export type CommandResult = 'done' | 'failed';

type Phase = 'admitted' | 'waiting' | 'joining' | 'joined' | 'out' | 'left';

export class RoomMember {
  private phase: Phase = 'admitted';
  private entry: MemberEntry;
  private music: HoldMusic | undefined;
  /** The waiting prompt is playing (before the music starts). */
  private prompting = false;
  /** Set by a supervisor before the member got into the conference; wins over mute_on_join. */
  private mutedByCommand: boolean | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private enteredAt: number | undefined;
  /** How the member leaves when the media server takes them out on the switchboard's request. */
  private pendingHow: LeftHow | undefined;
  private kickedByServer = false;
  /** A moderator-joined event came while this member was still deciding whether to wait. */
  private moderatorSeen = false;
  private leaving: Promise<void> | undefined;
  private readonly onMaintenance = (_body: unknown, evt: Mrf.EslEvent): void => {
    const event = readMemberEvent((name) => evt.getHeader(name));
    if (event) void this.onMemberEvent(event).catch((err: Error) => this.p.log.warn({ err: err.message }, 'cannot follow a conference event'));
  };

  constructor(
    private readonly host: MemberHost,
    readonly room: Room,
    private readonly p: Participant,
    private readonly out: OutHandler,
  ) {
    this.entry = {
      callId: p.callId,
      owner: host.ctx.instanceId,
      number: p.number,
      name: p.name,
      role: p.role,
      direction: p.direction,
      state: 'waiting',
      memberId: null,
      muted: false,
      joinedAt: p.joinedAt,
      operatorId: p.operatorId,
    };
  }

  get callId(): string {
    return this.p.callId;
  }

  get role(): MemberRole {
    return this.p.role;
  }

  /** Starts the stay: waits for a moderator or joins at once. */
  async start(): Promise<void> {
    this.host.register(this);
    // One listener for the member's conference events, kept for the whole stay (see SIP-NOTES).
    this.p.endpoint.addCustomEventListener(MAINTENANCE, this.onMaintenance);
    this.renewTimer = setInterval(() => void this.renew(), SEAT_RENEW_MS);
    this.publish('member-joined');
    const moderators = await this.moderatorsIn();
    if (mustWait(this.room, this.p.role, moderators) && !this.moderatorSeen) return this.waitForModerator();
    await this.join();
  }

  private async moderatorsIn(): Promise<number> {
    try {
      return (await this.host.store.members(this.room.id)).filter((m) => m.role === 'moderator' && m.state === 'joined').length;
    } catch (err) {
      this.p.log.warn({ err: (err as Error).message }, 'cannot read the room\'s members');
      return 0;
    }
  }

  private async waitForModerator(): Promise<void> {
    this.phase = 'waiting';
    this.p.log.info({ room: this.room.number }, 'waiting for a moderator');
    this.prompting = true;
    await this.p.endpoint.play(this.host.ctx.prompts.file('room-wait-moderator')).catch(() => undefined);
    this.prompting = false;
    if (this.phase !== 'waiting') return;
    // Rooms have no music setting of their own.
    this.music = new HoldMusic(this.p.endpoint, DEFAULT_HOLD_MUSIC, this.p.log);
    this.music.start();
  }

  /** A moderator joined somewhere: a waiting member goes in. */
  moderatorArrived(): void {
    if (this.phase === 'admitted') this.moderatorSeen = true;
    if (this.phase === 'waiting') void this.join();
  }

  private async join(): Promise<void> {
    if (this.phase !== 'admitted' && this.phase !== 'waiting') return;
    this.phase = 'joining';
    this.stopMusic();
    await this.save({ state: 'joining' });
    const name = conferenceName(this.room);
    const flags = joinFlags(this.room, this.p.role, this.mutedByCommand);
    let joined = false;
    const join = this.p.endpoint.join(name, { flags }).then((r) => {
      joined = true;
      return this.markJoined(r.memberId, flags.mute !== true);
    });
    await bounded(join, JOIN_TIMEOUT_MS);
    // A join used to replace the endpoint's other listeners in drachtio-fsmrf: put ours back if so.
    if (this.p.endpoint.listeners(MAINTENANCE).length === 0) this.p.endpoint.addCustomEventListener(MAINTENANCE, this.onMaintenance);
    if (joined || this.phase !== 'joining') return;
    this.p.log.warn({ room: this.room.number, conference: name }, 'the media server did not seat the member in the conference');
    this.putOut('system', 'could not join the conference');
  }

  private stopMusic(): void {
    const music = this.music;
    this.music = undefined;
    if (music) return music.stop();
    // The waiting prompt may still be playing: break it off so that what follows runs. Only
    // then: a break with nothing playing would cut the channel's next playback short.
    if (this.prompting) this.p.endpoint.api('uuid_break', `${this.p.endpoint.uuid} all`).catch(() => undefined);
  }

  private async markJoined(memberId: number, canSpeak: boolean): Promise<void> {
    if (this.phase !== 'joining') return;
    this.phase = 'joined';
    this.enteredAt = Date.now();
    await this.save({ state: 'joined', memberId, muted: !canSpeak });
    this.p.log.info({ room: this.room.number, memberId, role: this.p.role, muted: !canSpeak }, 'member joined the conference');
    if (this.p.role === 'moderator') this.publish('moderator-joined');
  }

  /** What mod_conference says about this member: the truth of who is connected. */
  private async onMemberEvent(e: MemberEvent): Promise<void> {
    switch (e.action) {
      case 'add-member':
        return this.markJoined(e.memberId, e.canSpeak);
      case 'mute-member':
      case 'unmute-member':
        if (e.memberId === this.entry.memberId) await this.save({ muted: e.action === 'mute-member' });
        return;
      case 'kick-member':
      case 'hup-member':
        this.kickedByServer = true;
        return;
      case 'del-member':
        if (e.memberId !== this.entry.memberId || this.phase !== 'joined') return;
        this.removedByServer();
        // Still seated until the call is hung up, but no longer in the conference.
        await this.save({ state: 'joining', memberId: null });
        return;
    }
  }

  /** The media server took the member out of the conference: say goodbye and end the call. */
  private removedByServer(): void {
    const how = this.pendingHow ?? (this.kickedByServer ? 'kicked' : 'system');
    this.putOut(how, how === 'system' ? 'the conference ended on the media server' : `member ${how}`);
  }

  private putOut(how: LeftHow, reason: string): void {
    if (this.phase === 'out' || this.phase === 'left') return;
    this.phase = 'out';
    this.stopMusic();
    this.p.log.info({ room: this.room.number, how, reason }, 'member put out of the room');
    void this.p.endpoint
      .play(this.host.ctx.prompts.file('goodbye'))
      .catch(() => undefined)
      .finally(() => this.out(how, reason));
  }

  // ---- commands (from the API, through this instance) ----

  private async conference(command: string): Promise<CommandResult> {
    try {
      const reply = (await this.p.endpoint.api('conference', `${conferenceName(this.room)} ${command}`)).getBody();
      if (/^\+OK/.test(reply)) return 'done';
      this.p.log.warn({ command, reply: reply.trim() }, 'the media server refused a conference command');
    } catch (err) {
      this.p.log.warn({ command, err: (err as Error).message }, 'conference command failed');
    }
    return 'failed';
  }

  /** Mutes or unmutes; a member not in the conference yet joins as it is now set. */
  async mute(muted: boolean): Promise<CommandResult> {
    if (this.phase === 'joined' && this.entry.memberId !== null) return this.conference(`${muted ? 'mute' : 'unmute'} ${this.entry.memberId}`);
    this.mutedByCommand = muted;
    await this.save({ muted });
    return 'done';
  }

  async kick(): Promise<CommandResult> {
    return this.remove('kicked', 'kick');
  }

  /** Takes the member out as part of ending the room. `hup` is mod_conference's kick without a sound. */
  async end(how: LeftHow): Promise<CommandResult> {
    return this.remove(how, 'hup');
  }

  private async remove(how: LeftHow, command: 'kick' | 'hup'): Promise<CommandResult> {
    if (this.phase === 'out' || this.phase === 'left') return 'done';
    if (this.phase !== 'joined' || this.entry.memberId === null) {
      this.putOut(how, `member ${how}`);
      return 'done';
    }
    this.pendingHow = how;
    const result = await this.conference(`${command} ${this.entry.memberId}`);
    if (result === 'failed') this.pendingHow = undefined;
    return result;
  }

  /** Runs a conference-wide command (lock, unlock) on the media server this member is on. */
  async roomCommand(command: 'lock' | 'unlock'): Promise<CommandResult> {
    if (this.phase !== 'joined') return 'failed';
    return this.conference(command);
  }

  get inConference(): boolean {
    return this.phase === 'joined';
  }

  // ---- Redis ----

  private async save(patch: Partial<MemberEntry>): Promise<void> {
    this.entry = { ...this.entry, ...patch };
    if (this.phase === 'left') return;
    try {
      await this.host.store.update(this.room.id, this.entry);
    } catch (err) {
      this.p.log.warn({ err: (err as Error).message }, 'cannot update the room member');
    }
  }

  private async renew(): Promise<void> {
    try {
      if (!(await this.host.store.renew(this.room.id, this.p.callId))) {
        // Lapsed (Redis lost it, or this instance stalled): take it again, over the limit and the
        // lock if need be; the member is in the room already.
        await this.host.store.admit(this.room.id, this.entry, null, this.p.sessionId, false);
      }
      // Safety net for a missed moderator-joined event.
      if (this.phase === 'waiting' && (await this.moderatorsIn()) > 0) await this.join();
    } catch (err) {
      this.p.log.warn({ err: (err as Error).message }, 'cannot renew the room seat');
    }
  }

  private publish(what: string): void {
    this.host.ctx.bus.publish({ type: 'room', what, roomId: this.room.id, callId: this.p.callId, role: this.p.role });
  }

  // ---- leaving ----

  /**
   * Ends the stay (the call is ending, for whatever reason): frees the seat, writes the history
   * row and, if the room needs a moderator and this was its last, ends the room for the others.
   */
  leave(how: LeftHow, at: number): Promise<void> {
    this.leaving ??= this.doLeave(how, at);
    return this.leaving;
  }

  private async doLeave(how: LeftHow, at: number): Promise<void> {
    this.phase = 'left';
    clearInterval(this.renewTimer);
    this.music?.stop();
    this.p.endpoint.removeCustomEventListener(MAINTENANCE, this.onMaintenance);
    this.host.unregister(this);
    await this.host.store.leave(this.room.id, this.p.callId).catch((err: Error) => this.p.log.warn({ err: err.message }, 'cannot free the room seat'));
    this.host.ctx.record({ kind: 'room-member', row: this.historyRow(how, at) });
    this.publish('member-left');
    this.p.log.info({ room: this.room.number, how }, 'member left the room');
    // A room being ended does not need ending again.
    if (this.p.role === 'moderator' && how !== 'ended' && how !== 'moderator-left') await this.lastModeratorCheck();
  }

  private historyRow(how: LeftHow, at: number): RoomMemberRecord {
    const iso = (ms: number): string => new Date(ms).toISOString();
    return {
      entryId: randomUUID(),
      roomId: this.room.id,
      roomNumber: this.room.number,
      sessionId: this.p.sessionId,
      callId: this.p.callId,
      instanceId: this.host.ctx.instanceId,
      memberNumber: this.p.number,
      memberName: this.p.name,
      role: this.p.role,
      direction: this.p.direction,
      operatorId: this.p.operatorId,
      joinedAt: iso(this.p.joinedAt),
      enteredAt: this.enteredAt === undefined ? null : iso(this.enteredAt),
      leftAt: iso(Math.max(at, this.p.joinedAt)),
      leftHow: how,
    };
  }

  private async lastModeratorCheck(): Promise<void> {
    if (!this.room.waitForModerator) return;
    try {
      const others = await this.host.store.members(this.room.id);
      const moderators = others.filter((m) => m.role === 'moderator').length;
      if (moderators > 0 || others.length === 0) return;
      this.p.log.info({ room: this.room.number, members: others.length }, 'the last moderator left: ending the room');
      await this.host.endRoom(this.room, 'moderator-left');
    } catch (err) {
      this.p.log.warn({ err: (err as Error).message }, 'cannot end the room after its last moderator left');
    }
  }
}
