/**
 * mod_conference, without the mixer: conferences, their members with ids from one global pool
 * (next_member_id()), flags, lock and size limits, files played to the room or to one member,
 * and the conference::maintenance events with the headers conference_event_add_data() and
 * conference_member_add_event_data() put on them.
 */
import { randomUUID } from 'node:crypto';

import type { FsEvent } from '../esl/event.js';
import { addBasicChannelData } from '../core/channel-data.js';
import type { Frame } from '../core/executor.js';
import type { Session } from '../core/session.js';
import type { Switch } from '../core/switch.js';
import type { MemberFlags } from './join-args.js';

export const CONFERENCE_MAINTENANCE = 'conference::maintenance';

/** The default profile of drachtio's media-server image: 8 kHz, energy-level 100. */
const PROFILE_RATE = 8000;
const PROFILE_ENERGY_LEVEL = 100;

export interface Member {
  readonly id: number;
  readonly session: Session;
  readonly frame: Frame;
  readonly flags: MemberFlags;
  kicked: boolean;
  tag: string | undefined;
  /** Files queued for this member only; the first is playing. */
  readonly files: string[];
  fileTimer: NodeJS.Timeout | undefined;
}

export interface Conference {
  readonly name: string;
  readonly uuid: string;
  readonly profile: string;
  /** Newest first, as conference_member_add() links them (and `list` prints them). */
  members: Member[];
  count: number;
  ghosts: number;
  locked: boolean;
  maxMembers: number;
  pin: string;
  readonly runTime: number;
  endconfGraceTime: number;
  destroying: boolean;
  /** Files queued for the whole room; the first is playing. */
  readonly files: string[];
  fileTimer: NodeJS.Timeout | undefined;
  /** Member id holding the audio floor, 0 for none. */
  floorHolder: number;
}

const ORIGIN = { file: 'conference_event.c', func: 'conference_event_add_data', line: 0 };

export class Conferences {
  private readonly rooms = new Map<string, Conference>();
  private idPool = 0;

  constructor(private readonly sw: Switch) {}

  find(name: string): Conference | undefined {
    return this.rooms.get(name);
  }

  all(): Conference[] {
    return [...this.rooms.values()];
  }

  memberOf(conference: Conference, id: number): Member | undefined {
    return conference.members.find((member) => member.id === id);
  }

  create(name: string, profile: string): Conference {
    const conference: Conference = {
      name,
      uuid: randomUUID(),
      profile,
      members: [],
      count: 0,
      ghosts: 0,
      locked: false,
      maxMembers: 0,
      pin: '',
      runTime: Math.floor(Date.now() / 1000),
      endconfGraceTime: 0,
      destroying: false,
      files: [],
      fileTimer: undefined,
      floorHolder: 0,
    };
    this.rooms.set(name, conference);
    this.sw.model.createConference(name, conference.uuid, profile);
    this.fire(this.conferenceEvent(conference, 'conference-create'));
    return conference;
  }

  /** conference_member_add(): the member is linked first in the list and announced. */
  addMember(conference: Conference, session: Session, frame: Frame, flags: MemberFlags): Member {
    const member: Member = { id: ++this.idPool, session, frame, flags, kicked: false, tag: undefined, files: [], fileTimer: undefined };
    conference.members.unshift(member);
    if (flags.ghost) conference.ghosts++;
    else conference.count++;
    session.setVariable('conference_name', conference.name);
    session.setVariable('conference_uuid', conference.uuid);
    session.setVariable('conference_member_id', String(member.id));
    this.sw.model.addMember(conference.name, {
      id: member.id,
      uuid: session.uuid,
      canSpeak: flags.canSpeak,
      canHear: flags.canHear,
      moderator: flags.moderator,
      ghost: flags.ghost,
      endconf: flags.endconf,
    });
    this.fire(this.memberEvent(conference, member, 'add-member'));
    this.assignFloor(conference);
    return member;
  }

  /**
   * The conference thread gives a free floor to the first running member of its list (the
   * newest); without audio nobody ever talks it away. floor-change carries Old-ID and New-ID.
   */
  private assignFloor(conference: Conference): void {
    setImmediate(() => {
      const next = conference.members[0];
      if (conference.floorHolder || !next || conference.destroying) return;
      this.changeFloor(conference, next);
    });
  }

  private changeFloor(conference: Conference, holder: Member | undefined): void {
    const old = conference.floorHolder;
    conference.floorHolder = holder?.id ?? 0;
    const event = this.conferenceEvent(conference, 'floor-change').add('Old-ID', old ? old : 'none');
    if (holder) this.addMemberData(event.add('Floor', 'true'), holder);
    this.fire(event.add('New-ID', holder ? holder.id : 'none'));
  }

  /** conference_member_del(): counted out, announced, and the room ends when it should. */
  removeMember(conference: Conference, member: Member): void {
    if (!conference.members.includes(member)) return;
    this.stopMemberFiles(conference, member);
    conference.members = conference.members.filter((candidate) => candidate !== member);
    if (member.flags.ghost) conference.ghosts--;
    else conference.count--;
    this.sw.model.removeMember(conference.name, member.id);
    if (conference.floorHolder === member.id) this.changeFloor(conference, undefined);
    this.fire(this.memberEvent(conference, member, 'del-member'));
    const empty = conference.count + conference.ghosts === 0;
    if (member.flags.endconf || empty) {
      this.destroy(conference);
      return;
    }
    this.assignFloor(conference);
  }

  /**
   * The conference thread's end (conference_thread_run()): members still inside are hung up
   * unless hangup_after_conference=false, then conference-destroy.
   */
  destroy(conference: Conference): void {
    if (conference.destroying) return;
    conference.destroying = true;
    this.stopRoomFiles(conference);
    for (const member of conference.members) {
      if (member.session.getVariable('hangup_after_conference') === 'false') member.frame.interruption.interrupt('leave');
      else this.sw.hangup(member.session);
    }
    // The members leave on their own threads; the room is gone once they have.
    setImmediate(() => {
      this.rooms.delete(conference.name);
      this.sw.model.destroyConference(conference.name);
      this.fire(this.conferenceEvent(conference, 'conference-destroy'));
    });
  }

  /** conference_function(): join-only and no such room. */
  rejectedJoinOnly(session: Session, name: string, profile: string): FsEvent {
    const event = this.sw.newEvent('CUSTOM', ORIGIN, CONFERENCE_MAINTENANCE);
    addBasicChannelData(event, session);
    return event.add('Conference-Name', name).add('Conference-Profile-Name', profile).add('Action', 'rejected-join-only');
  }

  // ---- member operations (conference_api_sub_*) ----

  setSpeak(conference: Conference, member: Member, canSpeak: boolean): void {
    member.flags.canSpeak = canSpeak;
    this.sw.model.patchMember(conference.name, member.id, { canSpeak });
    this.fire(this.memberEvent(conference, member, canSpeak ? 'unmute-member' : 'mute-member'));
  }

  setHear(conference: Conference, member: Member, canHear: boolean): void {
    member.flags.canHear = canHear;
    this.sw.model.patchMember(conference.name, member.id, { canHear });
    this.fire(this.memberEvent(conference, member, canHear ? 'undeaf-member' : 'deaf-member'));
  }

  kick(conference: Conference, member: Member): void {
    member.kicked = true;
    this.fire(this.memberEvent(conference, member, 'kick-member'));
    member.frame.interruption.interrupt('leave');
  }

  hup(conference: Conference, member: Member): void {
    this.fire(this.memberEvent(conference, member, 'hup-member'));
    member.frame.interruption.interrupt('leave');
  }

  setLocked(conference: Conference, locked: boolean): void {
    conference.locked = locked;
    this.sw.model.patchConference(conference.name, { locked });
    this.fire(this.conferenceEvent(conference, locked ? 'lock' : 'unlock'));
  }

  setMaxMembers(conference: Conference, maxMembers: number): void {
    conference.maxMembers = maxMembers;
    this.sw.model.patchConference(conference.name, { maxMembers });
  }

  setTag(conference: Conference, member: Member, tag: string | undefined): void {
    member.tag = tag;
    this.fire(this.memberEvent(conference, member, 'tag').add('Tag', tag ?? ''));
  }

  // ---- files ----

  /** conference_file_play(): false when the room is empty or the file is missing. */
  playToRoom(conference: Conference, file: string): boolean {
    if (conference.count === 0 || this.sw.media.lengthOf(file) === 'missing') return false;
    conference.files.push(file);
    this.fire(this.conferenceEvent(conference, 'play-file').add('File', file).add('Async', 'false'));
    if (conference.files.length === 1) this.startRoomFile(conference);
    return true;
  }

  playToMember(conference: Conference, member: Member, file: string): boolean {
    if (this.sw.media.lengthOf(file) === 'missing') return false;
    member.files.push(file);
    this.fire(this.memberEvent(conference, member, 'play-file-member').add('File', file));
    if (member.files.length === 1) this.startMemberFile(conference, member);
    return true;
  }

  /** conference_file_stop(): returns how many files were stopped. */
  stopRoomFiles(conference: Conference, which: 'current' | 'all' = 'all'): number {
    return this.stopQueue(conference.files, conference, undefined, which);
  }

  stopMemberFiles(conference: Conference, member: Member, which: 'current' | 'all' = 'all'): number {
    return this.stopQueue(member.files, conference, member, which);
  }

  private stopQueue(files: string[], conference: Conference, member: Member | undefined, which: 'current' | 'all'): number {
    const holder = member ?? conference;
    if (files.length === 0) return 0;
    clearTimeout(holder.fileTimer);
    holder.fileTimer = undefined;
    const stopped = which === 'all' ? files.length : 1;
    const current = files.shift() as string;
    if (which === 'all') files.length = 0;
    this.fileDone(conference, member, current, 0);
    if (files.length > 0) this.startNext(conference, member);
    else this.showPlaying(conference, member, undefined);
    return stopped;
  }

  private startNext(conference: Conference, member: Member | undefined): void {
    if (member) this.startMemberFile(conference, member);
    else this.startRoomFile(conference);
  }

  private startRoomFile(conference: Conference): void {
    const file = conference.files[0];
    if (file === undefined) return;
    this.showPlaying(conference, undefined, file);
    conference.fileTimer = this.fileTimer(file, () => {
      conference.files.shift();
      conference.fileTimer = undefined;
      this.fileDone(conference, undefined, file, this.lengthMs(file));
      if (conference.files.length > 0) this.startRoomFile(conference);
      else this.showPlaying(conference, undefined, undefined);
    });
  }

  private startMemberFile(conference: Conference, member: Member): void {
    const file = member.files[0];
    if (file === undefined) return;
    this.showPlaying(conference, member, file);
    member.fileTimer = this.fileTimer(file, () => {
      member.files.shift();
      member.fileTimer = undefined;
      this.fileDone(conference, member, file, this.lengthMs(file));
      if (member.files.length > 0) this.startMemberFile(conference, member);
      else this.showPlaying(conference, member, undefined);
    });
  }

  private fileTimer(file: string, done: () => void): NodeJS.Timeout | undefined {
    const length = this.sw.media.lengthOf(file);
    if (length === 'forever' || length === 'missing') return undefined;
    return setTimeout(done, length);
  }

  private lengthMs(file: string): number {
    const length = this.sw.media.lengthOf(file);
    return typeof length === 'number' ? length : 0;
  }

  private showPlaying(conference: Conference, member: Member | undefined, file: string | undefined): void {
    if (member) this.sw.model.patchMember(conference.name, member.id, { playing: file });
    else this.sw.model.patchConference(conference.name, { playing: file });
  }

  /** conference_file_close(): play-file-done / play-file-member-done with the time played. */
  private fileDone(conference: Conference, member: Member | undefined, file: string, ms: number): void {
    const samples = Math.round((ms * PROFILE_RATE) / 1000);
    const event = this.conferenceEvent(conference)
      .add('seconds', Math.floor(ms / 1000))
      .add('milliseconds', Math.floor(ms))
      .add('samples', samples);
    if (member) {
      event.add('Action', 'play-file-member-done');
      this.addMemberData(event, member);
    } else {
      event.add('Action', 'play-file-done');
    }
    this.fire(event.add('File', file));
  }

  // ---- events ----

  conferenceEvent(conference: Conference, action?: string): FsEvent {
    const event = this.sw.newEvent('CUSTOM', ORIGIN, CONFERENCE_MAINTENANCE);
    this.addConferenceData(event, conference);
    if (action) event.add('Action', action);
    return event;
  }

  memberEvent(conference: Conference, member: Member, action: string): FsEvent {
    const event = this.sw.newEvent('CUSTOM', ORIGIN, CONFERENCE_MAINTENANCE);
    this.addConferenceData(event, conference);
    event.add('Floor', String(conference.floorHolder === member.id));
    this.addMemberData(event, member);
    return event.add('Action', action);
  }

  private addConferenceData(event: FsEvent, conference: Conference): void {
    event
      .add('Conference-Name', conference.name)
      .add('Conference-Domain', this.sw.identity.ipv4)
      .add('Conference-Size', conference.count)
      .add('Conference-Ghosts', conference.ghosts)
      .add('Conference-Profile-Name', conference.profile)
      .add('Conference-Unique-ID', conference.uuid);
  }

  /** conference_member_add_event_data() without verbose events: basic channel data only. */
  private addMemberData(event: FsEvent, member: Member): void {
    addBasicChannelData(event, member.session);
    const flags = member.flags;
    event
      .add('Video', 'false')
      .add('Hear', String(flags.canHear))
      .add('See', String(flags.canBeSeen))
      .add('Speak', String(flags.canSpeak))
      .add('Talking', 'false')
      .add('Mute-Detect', String(flags.muteDetect))
      .add('Hold', 'false')
      .add('Member-ID', member.id)
      .add('Member-Type', flags.moderator ? 'moderator' : 'member')
      .add('Member-Ghost', String(flags.ghost))
      .add('Energy-Level', PROFILE_ENERGY_LEVEL)
      .add('Current-Energy', 0);
  }

  private fire(event: FsEvent): void {
    this.sw.fire(event);
  }

  /** conference_list(): "id;name;uuid;cid-name;cid-number;flags;vol-in;vol-out;energy" per member. */
  listLines(conference: Conference, delimiter: string): string {
    return conference.members.map((member) => this.listLine(conference, member, delimiter)).join('');
  }

  private listLine(conference: Conference, member: Member, d: string): string {
    const session = member.session;
    const flags: string[] = [];
    if (member.flags.canHear) flags.push('hear');
    if (member.flags.canSpeak) flags.push('speak');
    if (conference.floorHolder === member.id) flags.push('floor');
    if (member.flags.moderator) flags.push('moderator');
    if (member.flags.ghost) flags.push('ghost');
    const profile = session.profile;
    return (
      `${member.id}${d}${session.name}${d}${session.uuid}${d}${profile.callerIdName}${d}${profile.callerIdNumber}${d}` +
      `${flags.join('|')}${d}0${d}0${d}${PROFILE_ENERGY_LEVEL}\n`
    );
  }

  /** Clears every timer, for a stand-in being stopped. */
  stopAll(): void {
    for (const conference of this.rooms.values()) {
      clearTimeout(conference.fileTimer);
      for (const member of conference.members) clearTimeout(member.fileTimer);
    }
  }
}
