/**
 * The media model: which channels exist, which are bridged, who is in which conference with which
 * member id, and what each channel is playing. It is plain data changed by small methods; the
 * switch core calls them as FreeSWITCH would change its own state, and tests read it through
 * {@link MediaQuery} ("caller and operator are bridged", "three members in room 3000", "the caller
 * hears the queue's hold music"). Nothing here does I/O; `change` fires after every mutation so a
 * test can await a condition instead of sleeping.
 */
import { EventEmitter } from 'node:events';

export type ChannelState = 'ringing' | 'up' | 'hungup';

export interface ConferenceSeat {
  readonly name: string;
  readonly memberId: number;
}

export interface ChannelView {
  readonly uuid: string;
  /** FreeSWITCH channel name, e.g. "sofia/drachtio_mrf/drachtio@127.0.0.1". */
  readonly name: string;
  /** Call-ID of the SIP dialog between drachtio and the media server. */
  readonly callId: string;
  /** Headers of the INVITE that created the channel, names in lower case. */
  readonly sipHeaders: Readonly<Record<string, string>>;
  readonly state: ChannelState;
  readonly hangupCause: string | undefined;
  readonly bridgedWith: string | undefined;
  readonly parked: boolean;
  readonly conference: ConferenceSeat | undefined;
  /** File (or stream) an application is playing to this channel right now. */
  readonly playing: string | undefined;
  /** set_mute read: the channel's input is muted. */
  readonly muted: boolean;
  /** Every DTMF digit the channel has received, in order. */
  readonly dtmf: string;
}

export interface MemberView extends NewMember {
  /** File played to this member only (conference NAME play FILE MEMBER_ID). */
  readonly playing: string | undefined;
}

export interface ConferenceView {
  readonly name: string;
  readonly uuid: string;
  readonly profile: string;
  readonly locked: boolean;
  /** 0 means no limit, as in mod_conference. */
  readonly maxMembers: number;
  /** Members in the order they joined. */
  readonly members: readonly MemberView[];
  /** File played to the whole conference. */
  readonly playing: string | undefined;
}

/** What a channel hears right now, from the most specific source to the least. */
export type Hearing =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'channel'; readonly uuid: string }
  | { readonly kind: 'conference'; readonly name: string; readonly file: string | undefined }
  | { readonly kind: 'silence' };

export interface WaitOptions {
  readonly timeoutMs?: number;
  /** Named in the timeout error so a failing test says what it waited for. */
  readonly description?: string;
}

/** The read side of the model, as handed to tests. */
export interface MediaQuery {
  channel(uuid: string): ChannelView | undefined;
  /** Channels not hung up, oldest first. */
  channels(): ChannelView[];
  findChannel(predicate: (channel: ChannelView) => boolean): ChannelView | undefined;
  areBridged(a: string, b: string): boolean;
  bridgedWith(uuid: string): string | undefined;
  conference(name: string): ConferenceView | undefined;
  conferences(): ConferenceView[];
  membersOf(name: string): MemberView[];
  conferenceOf(uuid: string): ConferenceSeat | undefined;
  playing(uuid: string): string | undefined;
  hearing(uuid: string): Hearing;
  /** Resolves with the probe's first truthy value; rejects after the timeout (default 5 s). */
  waitFor<T>(probe: () => T | undefined | null | false, options?: WaitOptions): Promise<T>;
}

export interface NewChannel {
  readonly uuid: string;
  readonly name: string;
  readonly callId: string;
  readonly sipHeaders: Readonly<Record<string, string>>;
}

export interface NewMember {
  readonly id: number;
  readonly uuid: string;
  readonly canSpeak: boolean;
  readonly canHear: boolean;
  readonly moderator: boolean;
  readonly ghost: boolean;
  readonly endconf: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type ChannelRecord = Mutable<ChannelView>;
type MemberRecord = Mutable<MemberView>;
interface ConferenceRecord extends Omit<Mutable<ConferenceView>, 'members'> {
  members: MemberRecord[];
}

const DEFAULT_WAIT_MS = 5_000;
/** Hung-up channels kept for inspection; older ones are forgotten so long runs do not grow. */
const HUNG_UP_KEPT = 1_000;

export class MediaModel implements MediaQuery {
  private readonly channelRecords = new Map<string, ChannelRecord>();
  private readonly hungUp: string[] = [];
  private readonly conferenceRecords = new Map<string, ConferenceRecord>();
  private readonly changes = new EventEmitter();

  constructor() {
    // Every waitFor() listens for a moment; many at once in one test is normal.
    this.changes.setMaxListeners(0);
  }

  // ---- mutations (called by the switch core) ----

  addChannel(init: NewChannel): void {
    this.channelRecords.set(init.uuid, {
      ...init,
      state: 'ringing',
      hangupCause: undefined,
      bridgedWith: undefined,
      parked: false,
      conference: undefined,
      playing: undefined,
      muted: false,
      dtmf: '',
    });
    this.changed();
  }

  answer(uuid: string): void {
    this.patchChannel(uuid, { state: 'up' });
  }

  hangup(uuid: string, cause: string): void {
    const channel = this.channelRecords.get(uuid);
    if (!channel || channel.state === 'hungup') return;
    if (channel.bridgedWith) this.unbridge(uuid);
    this.patchChannel(uuid, { state: 'hungup', hangupCause: cause, parked: false, playing: undefined });
    this.hungUp.push(uuid);
    while (this.hungUp.length > HUNG_UP_KEPT) this.channelRecords.delete(this.hungUp.shift() as string);
  }

  bridge(a: string, b: string): void {
    this.patchChannel(a, { bridgedWith: b, parked: false });
    this.patchChannel(b, { bridgedWith: a, parked: false });
  }

  /** Ends the bridge `uuid` is in; returns the former partner. */
  unbridge(uuid: string): string | undefined {
    const partner = this.channelRecords.get(uuid)?.bridgedWith;
    this.patchChannel(uuid, { bridgedWith: undefined });
    if (partner) this.patchChannel(partner, { bridgedWith: undefined });
    return partner;
  }

  setParked(uuid: string, parked: boolean): void {
    this.patchChannel(uuid, { parked });
  }

  setPlaying(uuid: string, path: string | undefined): void {
    this.patchChannel(uuid, { playing: path });
  }

  setMuted(uuid: string, muted: boolean): void {
    this.patchChannel(uuid, { muted });
  }

  addDtmf(uuid: string, digit: string): void {
    const channel = this.channelRecords.get(uuid);
    if (channel) this.patchChannel(uuid, { dtmf: channel.dtmf + digit });
  }

  createConference(name: string, uuid: string, profile: string): void {
    this.conferenceRecords.set(name, { name, uuid, profile, locked: false, maxMembers: 0, members: [], playing: undefined });
    this.changed();
  }

  destroyConference(name: string): void {
    this.conferenceRecords.delete(name);
    this.changed();
  }

  patchConference(name: string, patch: Partial<Pick<ConferenceView, 'locked' | 'maxMembers' | 'playing'>>): void {
    const conference = this.conferenceRecords.get(name);
    if (!conference) return;
    Object.assign(conference, patch);
    this.changed();
  }

  addMember(name: string, member: NewMember): void {
    const conference = this.conferenceRecords.get(name);
    if (!conference) return;
    conference.members.push({ ...member, playing: undefined });
    this.patchChannel(member.uuid, { conference: { name, memberId: member.id }, parked: false });
  }

  patchMember(name: string, id: number, patch: Partial<Pick<MemberView, 'canSpeak' | 'canHear' | 'playing'>>): void {
    const member = this.conferenceRecords.get(name)?.members.find((candidate) => candidate.id === id);
    if (!member) return;
    Object.assign(member, patch);
    this.changed();
  }

  removeMember(name: string, id: number): void {
    const conference = this.conferenceRecords.get(name);
    const member = conference?.members.find((candidate) => candidate.id === id);
    if (!conference || !member) return;
    conference.members = conference.members.filter((candidate) => candidate.id !== id);
    this.patchChannel(member.uuid, { conference: undefined });
  }

  // ---- queries ----

  channel(uuid: string): ChannelView | undefined {
    return this.snapshotChannel(this.channelRecords.get(uuid));
  }

  channels(): ChannelView[] {
    return [...this.channelRecords.values()].filter((c) => c.state !== 'hungup').map((c) => ({ ...c }));
  }

  findChannel(predicate: (channel: ChannelView) => boolean): ChannelView | undefined {
    return this.channels().find(predicate);
  }

  areBridged(a: string, b: string): boolean {
    return this.channelRecords.get(a)?.bridgedWith === b && this.channelRecords.get(b)?.bridgedWith === a;
  }

  bridgedWith(uuid: string): string | undefined {
    return this.channelRecords.get(uuid)?.bridgedWith;
  }

  conference(name: string): ConferenceView | undefined {
    const conference = this.conferenceRecords.get(name);
    if (!conference) return undefined;
    return { ...conference, members: conference.members.map((member) => ({ ...member })) };
  }

  conferences(): ConferenceView[] {
    return [...this.conferenceRecords.keys()].map((name) => this.conference(name) as ConferenceView);
  }

  membersOf(name: string): MemberView[] {
    return [...(this.conference(name)?.members ?? [])];
  }

  conferenceOf(uuid: string): ConferenceSeat | undefined {
    return this.channelRecords.get(uuid)?.conference;
  }

  playing(uuid: string): string | undefined {
    return this.channelRecords.get(uuid)?.playing;
  }

  hearing(uuid: string): Hearing {
    const channel = this.channelRecords.get(uuid);
    if (!channel || channel.state === 'hungup') return { kind: 'silence' };
    if (channel.playing) return { kind: 'file', path: channel.playing };
    if (channel.bridgedWith) return { kind: 'channel', uuid: channel.bridgedWith };
    if (channel.conference) return this.conferenceHearing(channel.conference);
    return { kind: 'silence' };
  }

  waitFor<T>(probe: () => T | undefined | null | false, options: WaitOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    return new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        const value = probe();
        if (value === undefined || value === null || value === false) return false;
        cleanup();
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${options.description ?? 'a media model condition'}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.changes.off('change', check);
      };
      this.changes.on('change', check);
      check();
    });
  }

  private conferenceHearing(seat: ConferenceSeat): Hearing {
    const conference = this.conferenceRecords.get(seat.name);
    const member = conference?.members.find((candidate) => candidate.id === seat.memberId);
    if (member?.playing) return { kind: 'file', path: member.playing };
    if (member && !member.canHear) return { kind: 'silence' };
    return { kind: 'conference', name: seat.name, file: conference?.playing };
  }

  private snapshotChannel(channel: ChannelRecord | undefined): ChannelView | undefined {
    return channel ? { ...channel } : undefined;
  }

  private patchChannel(uuid: string, patch: Partial<ChannelRecord>): void {
    const channel = this.channelRecords.get(uuid);
    if (!channel) return;
    Object.assign(channel, patch);
    this.changed();
  }

  private changed(): void {
    this.changes.emit('change');
  }
}
