/**
 * Conferences through drachtio-fsmrf: createConference (a muted control leg with endconf),
 * join, mute/unmute, deaf, lock, list, kick, leaving by hanging up, playing into the room and
 * ending it. conference::maintenance events reach both the member's endpoint (join) and the
 * Conference object (its control leg filters on Conference-Unique-ID).
 *
 * The control leg is a 3PCC channel that never gets a far end, and FreeSWITCH (1.10.12, checked)
 * runs no queued sendmsg for such a member while it sits in the room: Conference#destroy(), an
 * execute of `hangup`, waits until the leg leaves. These tests end rooms with uuid_kill.
 */
import { randomBytes } from 'node:crypto';

import type Mrf from 'drachtio-fsmrf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nextEvent, phoneOffer, startBench, withTimeout, type Bench, type TestEndpoint } from './harness.js';

describe('drachtio-fsmrf and the FreeSWITCH stand-in: conferences', () => {
  let bench: Bench;
  let port = 42_000;

  const roomName = (): string => `sb-test-${randomBytes(3).toString('hex')}`;
  const member = (): Promise<TestEndpoint> => bench.createEndpoint(phoneOffer((port += 10)));

  /** Ends a room by killing its control leg (endconf): the members are hung up. */
  async function endRoom(conference: Mrf.Conference): Promise<void> {
    const gone = nextEvent(conference.endpoint, 'destroy', 5_000);
    expect(await bench.ms.api(`uuid_kill ${conference.endpoint.uuid}`)).toBe('+OK\n');
    await gone;
  }

  beforeAll(async () => {
    bench = await startBench();
  });

  afterAll(async () => {
    await bench?.stop();
  });

  it('creates a room with its control leg, refuses a second room of the same name', async () => {
    const name = roomName();
    const conference = await withTimeout(bench.ms.createConference(name), 5_000, 'createConference');
    expect(conference.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(await conference.getSize()).toBe(1);
    const model = bench.freeswitch.standIn?.model;
    if (model) {
      expect(model.membersOf(name)).toEqual([expect.objectContaining({ id: conference.memberId, canSpeak: false, endconf: true })]);
    }
    await expect(bench.ms.createConference(name)).rejects.toBe('conference exists');
    await endRoom(conference);
  });

  it('joins three members into one room with consistent member ids', async () => {
    const name = roomName();
    const conference = await bench.ms.createConference(name);
    const parties = [await member(), await member(), await member()];
    const joined: Mrf.JoinResult[] = [];
    for (const party of parties) joined.push(await withTimeout(party.join(conference), 5_000, 'join'));
    expect(joined.every((entry) => entry.confUuid === conference.uuid)).toBe(true);
    expect(new Set(joined.map((entry) => entry.memberId)).size).toBe(3);
    expect(await conference.getSize()).toBe(4);
    const listing = (await conference.list()).getBody();
    for (const [index, party] of parties.entries()) {
      expect(listing).toMatch(new RegExp(`^${joined[index]?.memberId};[^;]+;${party.uuid};`, 'm'));
    }
    const model = bench.freeswitch.standIn?.model;
    if (model) {
      const ids = model.membersOf(name).filter((entry) => entry.id !== conference.memberId);
      expect(ids.map((entry) => [entry.id, entry.uuid])).toEqual(parties.map((party, index) => [joined[index]?.memberId, party.uuid]));
      for (const party of parties) expect(model.hearing(party.uuid)).toEqual({ kind: 'conference', name, file: undefined });
    }
    await endRoom(conference);
  });

  it('mutes, unmutes and deafens a member; the conference hears about it', async () => {
    const name = roomName();
    const conference = await bench.ms.createConference(name);
    const guest = await member();
    const { memberId } = await guest.join(conference);
    const muted = nextEvent(conference, 'muteMember');
    expect(await guest.confMute()).toBe(`+OK mute ${memberId}\n`);
    await muted;
    const model = bench.freeswitch.standIn?.model;
    const seat = (): { canSpeak: boolean; canHear: boolean } | undefined => model?.membersOf(name).find((entry) => entry.id === memberId);
    if (model) expect(seat()?.canSpeak).toBe(false);
    expect(await guest.confUnmute()).toBe(`+OK unmute ${memberId}\n`);
    expect(await guest.confDeaf()).toBe(`+OK deaf ${memberId}\n`);
    if (model) expect(seat()).toMatchObject({ canSpeak: true, canHear: false });
    expect(await conference.mute('all')).toMatch(/^\+OK mute/m);
    await endRoom(conference);
  });

  it('locks and unlocks the room and sets its size limit', async () => {
    const name = roomName();
    const conference = await bench.ms.createConference(name);
    expect(await conference.lock()).toBe(`+OK ${name} locked\n`);
    if (bench.freeswitch.standIn) expect(bench.freeswitch.standIn.model.conference(name)?.locked).toBe(true);
    expect(await conference.unlock()).toBe(`+OK ${name} unlocked\n`);
    expect(await conference.set('max_members', '5')).toBe('0');
    await endRoom(conference);
  });

  it('kicks a member, who stays connected and can be played to again', async () => {
    const name = roomName();
    const conference = await bench.ms.createConference(name);
    const guest = await member();
    const { memberId } = await guest.join(conference);
    const gone = nextEvent(conference, 'delMember');
    expect(await guest.confKick()).toBe(`+OK kicked ${memberId}\n`);
    await gone;
    expect(await conference.getSize()).toBe(1);
    const model = bench.freeswitch.standIn?.model;
    if (model) {
      await model.waitFor(() => !model.conferenceOf(guest.uuid) && model.channel(guest.uuid)?.parked, { description: 'guest back in park' });
    }
    expect(guest.connected).toBe(true);
    await withTimeout(guest.play('silence_stream://100'), 3_000, 'play after the kick');
    await endRoom(conference);
  });

  it('a member who hangs up leaves the room', async () => {
    const name = roomName();
    const conference = await bench.ms.createConference(name);
    const guest = await member();
    await guest.join(conference);
    const gone = nextEvent(conference, 'delMember');
    await guest.destroy();
    await gone;
    expect(await conference.getSize()).toBe(1);
    await endRoom(conference);
  });

  it('plays a file into the room; the promise resolves on play-file-done', async () => {
    const name = roomName();
    const conference = await bench.ms.createConference(name);
    const guest = await member();
    await guest.join(conference);
    const model = bench.freeswitch.standIn?.model;
    const played = withTimeout(conference.play('silence_stream://300'), 5_000, 'conference play');
    if (model) {
      await model.waitFor(() => model.conference(name)?.playing === 'silence_stream://300', { description: 'room playing' });
      expect(model.hearing(guest.uuid)).toEqual({ kind: 'conference', name, file: 'silence_stream://300' });
    }
    expect(await played).toMatchObject({ seconds: expect.any(Number) });
    await endRoom(conference);
  });

  it('ending the room (its endconf control leg leaves) hangs the members up', async () => {
    const name = roomName();
    const conference = await bench.ms.createConference(name);
    const guest = await member();
    await guest.join(conference);
    const guestGone = nextEvent(guest, 'destroy');
    await endRoom(conference);
    await guestGone;
    const model = bench.freeswitch.standIn?.model;
    if (model) await model.waitFor(() => !model.conference(name), { description: 'the room gone' });
    expect(await bench.ms.api(`conference ${name} list count`)).toMatch(/not found/);
  });

  it('Conference#destroy() waits while the control leg is in the room, and completes once it is out', async () => {
    const name = roomName();
    const conference = await bench.ms.createConference(name);
    const destroying = conference.destroy();
    // The queued hangup has had every chance to run: a round trip on the control leg's socket.
    await conference.endpoint.api('uuid_exists', conference.endpoint.uuid);
    const model = bench.freeswitch.standIn?.model;
    if (model) expect(model.conference(name)?.members).toHaveLength(1);
    expect(await bench.ms.api(`conference ${name} kick all`)).toBe(`+OK kicked ${conference.memberId}\n`);
    await withTimeout(destroying, 5_000, 'Conference#destroy after the kick');
    expect(await bench.ms.api(`uuid_exists ${conference.endpoint.uuid}`)).toBe('false');
  });
});
