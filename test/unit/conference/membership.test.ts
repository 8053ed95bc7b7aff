import { describe, expect, it } from 'vitest';
import { endsWithLeaving, joinFlags, mustWait, readMemberEvent } from '../../../src/conference/membership.js';

describe('joining the conference', () => {
  it('gives moderators the moderator flag and never mutes them on entry', () => {
    expect(joinFlags({ muteOnJoin: true }, 'moderator', undefined)).toEqual({ moderator: true });
    expect(joinFlags({ muteOnJoin: false }, 'moderator', undefined)).toEqual({ moderator: true });
  });

  it('mutes members when the room says so, unless a supervisor decided otherwise while they waited', () => {
    expect(joinFlags({ muteOnJoin: true }, 'member', undefined)).toEqual({ mute: true });
    expect(joinFlags({ muteOnJoin: false }, 'member', undefined)).toEqual({});
    expect(joinFlags({ muteOnJoin: true }, 'member', false)).toEqual({});
    expect(joinFlags({ muteOnJoin: false }, 'member', true)).toEqual({ mute: true });
  });
});

describe('waiting for a moderator', () => {
  it('makes members of a room that needs a moderator wait while none is in', () => {
    expect(mustWait({ waitForModerator: true }, 'member', 0)).toBe(true);
    expect(mustWait({ waitForModerator: true }, 'member', 1)).toBe(false);
    expect(mustWait({ waitForModerator: true }, 'moderator', 0)).toBe(false);
    expect(mustWait({ waitForModerator: false }, 'member', 0)).toBe(false);
  });

  it('ends such a room for the others when its last moderator leaves', () => {
    expect(endsWithLeaving({ waitForModerator: true }, 'moderator', 0, 2)).toBe(true);
    expect(endsWithLeaving({ waitForModerator: true }, 'moderator', 1, 2)).toBe(false);
    expect(endsWithLeaving({ waitForModerator: true }, 'moderator', 0, 0)).toBe(false);
    expect(endsWithLeaving({ waitForModerator: true }, 'member', 0, 2)).toBe(false);
    expect(endsWithLeaving({ waitForModerator: false }, 'moderator', 0, 2)).toBe(false);
  });
});

describe('conference events of a member\'s channel', () => {
  const event = (headers: Record<string, string>) => (name: string): string | undefined => headers[name];
  const base = { 'Event-Subclass': 'conference::maintenance', 'Member-ID': '12' };

  it('reads add-member with the member\'s id, speak flag and type', () => {
    expect(readMemberEvent(event({ ...base, Action: 'add-member', Speak: 'false', 'Member-Type': 'moderator' }))).toEqual({
      action: 'add-member',
      memberId: 12,
      canSpeak: false,
      moderator: true,
    });
  });

  it('reads mute, unmute, kick, hup and del-member', () => {
    for (const action of ['mute-member', 'unmute-member', 'kick-member', 'hup-member', 'del-member']) {
      expect(readMemberEvent(event({ ...base, Action: action }))).toEqual({ action, memberId: 12 });
    }
  });

  it('leaves out other subclasses, other actions and events without a member', () => {
    expect(readMemberEvent(event({ ...base, 'Event-Subclass': 'other::thing', Action: 'add-member' }))).toBeUndefined();
    expect(readMemberEvent(event({ ...base, Action: 'play-file-member' }))).toBeUndefined();
    expect(readMemberEvent(event({ 'Event-Subclass': 'conference::maintenance', Action: 'lock' }))).toBeUndefined();
  });
});
