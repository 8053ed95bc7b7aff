import { describe, expect, it } from 'vitest';
import { afterLateMatch, freeFitting, HOLD_MUSIC_GRACE_MS, holdMusicDelayMs, matchPlausible, ringsFirstOnArrival } from '../../../src/calls/ring-first.js';

describe('ring first', () => {
  it('finds a match plausible only with more fitting operators free than callers ahead', () => {
    expect(matchPlausible(1, 0)).toBe(true);
    expect(matchPlausible(3, 2)).toBe(true);
    expect(matchPlausible(2, 2)).toBe(false);
    expect(matchPlausible(0, 0)).toBe(false);
  });

  it('holds the music back only for a caller an operator is free for', () => {
    expect(holdMusicDelayMs(1, 0)).toBe(HOLD_MUSIC_GRACE_MS);
    expect(holdMusicDelayMs(3, 2)).toBe(HOLD_MUSIC_GRACE_MS);
    expect(holdMusicDelayMs(2, 2)).toBe(0);
    expect(holdMusicDelayMs(0, 0)).toBe(0);
  });

  it('rings first on arrival only while the queue has room for the caller', () => {
    expect(ringsFirstOnArrival(2, 1, null)).toBe(true);
    expect(ringsFirstOnArrival(2, 1, 2)).toBe(true);
    expect(ringsFirstOnArrival(3, 2, 2)).toBe(false);
    // A queue that takes nobody (maximum length 0) never rings first.
    expect(ringsFirstOnArrival(5, 0, 0)).toBe(false);
    expect(ringsFirstOnArrival(1, 1, null)).toBe(false);
  });

  it('counts the available members with the skill, any available member for none', () => {
    const members = [
      { operatorId: 1, skills: ['fr'] },
      { operatorId: 2, skills: [] },
      { operatorId: 3, skills: ['fr', 'de'] },
      { operatorId: 4, skills: ['fr'] },
    ];
    const states: Record<number, string> = { 1: 'available', 2: 'available', 3: 'ringing', 4: 'on-break' };
    const settings = { members: () => members } as unknown as Parameters<typeof freeFitting>[0];
    const statuses = { get: (id: number) => (states[id] ? { state: states[id] } : undefined) } as unknown as Parameters<typeof freeFitting>[1];
    expect(freeFitting(settings, statuses, 7, '')).toBe(2);
    expect(freeFitting(settings, statuses, 7, 'fr')).toBe(1);
    expect(freeFitting(settings, statuses, 7, 'de')).toBe(0);
  });

  describe('a match that is late', () => {
    const late = { arrivedAt: 10_000, maxMs: 5_000, waitMs: 1_000, free: 2, ahead: 1 };

    it('keeps the caller waiting unanswered and looks again a wait later while a match is plausible', () => {
      expect(afterLateMatch({ ...late, now: 11_000 })).toEqual({ keep: true, checkInMs: 1_000 });
      expect(afterLateMatch({ ...late, now: 13_000 })).toEqual({ keep: true, checkInMs: 1_000 });
    });

    it('looks for the last time when RING_FIRST_MAX_SECONDS since arrival run out, not a wait later', () => {
      expect(afterLateMatch({ ...late, now: 14_400 })).toEqual({ keep: true, checkInMs: 600 });
      expect(afterLateMatch({ ...late, now: 15_000 })).toEqual({ keep: false });
      expect(afterLateMatch({ ...late, now: 16_000 })).toEqual({ keep: false });
    });

    it('answers the caller to wait once no match is plausible (operators taken, callers ahead)', () => {
      expect(afterLateMatch({ ...late, now: 11_000, free: 1 })).toEqual({ keep: false });
      expect(afterLateMatch({ ...late, now: 11_000, free: 0, ahead: 0 })).toEqual({ keep: false });
      expect(afterLateMatch({ ...late, now: 11_000, ahead: Infinity })).toEqual({ keep: false });
    });

    it('never keeps a caller when the wait is as long as the limit (RING_FIRST_MAX_SECONDS=1)', () => {
      expect(afterLateMatch({ ...late, maxMs: 1_000, now: 11_000 })).toEqual({ keep: false });
    });
  });
});
