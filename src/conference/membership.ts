/**
 * The rules of being in a room, free of I/O: how a member joins the media server's conference
 * (flags), who waits for a moderator, when a room ends because its last moderator left, and how
 * the conference::maintenance events of a member's channel read.
 */
import type { Room } from '../provisioning/types.js';
import type { MemberRole } from './pin-entry.js';

/** How a member's stay in a room ended (room_members.left_how). */
export type LeftHow = 'hangup' | 'kicked' | 'ended' | 'moderator-left' | 'system';

/**
 * mod_conference member flags for the join (drachtio-fsmrf turns { mute: true } into
 * `+flags{mute}`): moderators get the moderator flag and are never muted on entry; members
 * enter muted when the room says so, or when a supervisor muted them while they waited.
 */
export function joinFlags(room: Pick<Room, 'muteOnJoin'>, role: MemberRole, mutedWhileWaiting: boolean | undefined): Record<string, boolean> {
  const flags: Record<string, boolean> = {};
  if (role === 'moderator') flags.moderator = true;
  const muted = mutedWhileWaiting ?? (role === 'member' && room.muteOnJoin);
  if (muted) flags.mute = true;
  return flags;
}

/** A member of a room that needs a moderator waits with music while no moderator is in. */
export function mustWait(room: Pick<Room, 'waitForModerator'>, role: MemberRole, moderatorsIn: number): boolean {
  return room.waitForModerator && role === 'member' && moderatorsIn === 0;
}

/**
 * Whether the room ends for everyone as this member leaves: in a room that needs a moderator,
 * when its last moderator leaves (the members would otherwise talk on unmoderated, or wait for
 * music that may never end; mod_conference's endconf flag does the same).
 */
export function endsWithLeaving(room: Pick<Room, 'waitForModerator'>, role: MemberRole, moderatorsLeft: number, othersLeft: number): boolean {
  return room.waitForModerator && role === 'moderator' && moderatorsLeft === 0 && othersLeft > 0;
}

/** A conference::maintenance event about one member, as the switchboard uses it. */
export type MemberEvent =
  | { action: 'add-member'; memberId: number; canSpeak: boolean; moderator: boolean }
  | { action: 'del-member'; memberId: number }
  | { action: 'mute-member' | 'unmute-member'; memberId: number }
  | { action: 'kick-member' | 'hup-member'; memberId: number };

const ACTIONS = new Set(['add-member', 'del-member', 'mute-member', 'unmute-member', 'kick-member', 'hup-member']);

/**
 * Reads an event of the member's channel (drachtio-fsmrf's connection delivers only its own
 * channel's events). Anything else (play-file-member, talking, conference-wide events) is
 * undefined.
 */
export function readMemberEvent(header: (name: string) => string | null | undefined): MemberEvent | undefined {
  if (header('Event-Subclass') !== 'conference::maintenance') return undefined;
  const action = header('Action') ?? '';
  const memberId = Number.parseInt(header('Member-ID') ?? '', 10);
  if (!ACTIONS.has(action) || !(memberId > 0)) return undefined;
  if (action === 'add-member') {
    return { action, memberId, canSpeak: header('Speak') !== 'false', moderator: header('Member-Type') === 'moderator' };
  }
  return { action, memberId } as MemberEvent;
}
