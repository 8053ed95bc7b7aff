import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callers, startCallBench, type CallBench } from '../support/call-bench.js';
import { describeRun, flow } from '../support/sipp.js';
import type { TestSwitchboard } from '../support/switchboard.js';
import { createRoom, historyWhen, mediaDriver, membersWhen, post, roomView, type MediaDriver, type RoomMemberView } from './room-bench.js';

/**
 * One room, two switchboard instances on one drachtio-server (which spreads new calls over
 * both): every instance lists the same members, and a command given to either instance's API is
 * carried out by the instance that holds the member's call.
 */
let bench: CallBench;
let second: TestSwitchboard;
let media: MediaDriver;

beforeAll(async () => {
  bench = await startCallBench({ INSTANCE_ID: 'sb-a' });
  second = await bench.another('sb-b');
  media = await mediaDriver(bench);
});

afterAll(async () => {
  media?.close();
  await second?.close();
  await bench?.close();
});

describe('a room across two instances', () => {
  it('members on either instance are listed, muted, kicked and ended through the other\'s API', async () => {
    const roomId = await createRoom(bench, '3300');
    const runs: ReturnType<typeof callers>[] = [];
    let members: RoomMemberView[] = [];
    // New calls go round-robin over the instances: call until each holds a member.
    for (let i = 1; i <= 4 && new Set(members.map((m) => m.owner)).size < 2; i++) {
      runs.push(callers(bench, 'caller.xml', '3300', { calls: 1, keys: { prefix: `230${i}` }, timeoutMs: 30_000 }));
      members = await membersWhen(bench.sb, roomId, `${i} members`, (items) => items.length === i && items.every((m) => m.state === 'joined'));
    }
    const onA = members.find((m) => m.owner === 'sb-a');
    const onB = members.find((m) => m.owner === 'sb-b');
    expect(onA && onB, JSON.stringify(members)).toBeTruthy();
    expect((await roomView(second, roomId)).items).toEqual((await roomView(bench.sb, roomId)).items);
    const standIn = bench.freeswitch.standIn;
    const seat = (m: RoomMemberView | undefined) => standIn?.model.membersOf('room-3300').find((x) => x.id === m?.memberId);

    // B's member muted through A; what B then hears from the media server shows on A.
    expect((await post(bench.sb, `/v1/rooms/${roomId}/members/${onB?.memberId}/mute`)).status).toBe(204);
    expect((await media.conference('room-3300')).find((m) => m.id === onB?.memberId)?.flags).not.toContain('speak');
    if (standIn) expect(seat(onB)).toMatchObject({ canSpeak: false });
    await membersWhen(bench.sb, roomId, 'B\'s member muted', (items) => items.find((m) => m.callId === onB?.callId)?.muted === true);

    // A's member kicked through B.
    expect((await post(second, `/v1/rooms/${roomId}/members/${onA?.callId}/kick`)).status).toBe(204);
    await membersWhen(second, roomId, 'A\'s member gone', (items) => !items.some((m) => m.callId === onA?.callId));
    expect((await media.conference('room-3300')).some((m) => m.id === onA?.memberId)).toBe(false);
    if (standIn) expect(seat(onA)).toBeUndefined();

    // Locked through B, ended through A.
    expect((await post(second, `/v1/rooms/${roomId}/lock`)).status).toBe(204);
    expect((await roomView(bench.sb, roomId)).locked).toBe(true);
    expect(await media.isLocked('room-3300')).toBe(true);
    if (standIn) expect(standIn.model.conference('room-3300')?.locked).toBe(true);
    expect((await post(bench.sb, `/v1/rooms/${roomId}/end`)).status).toBe(204);
    for (const run of runs) {
      const result = await run;
      expect(result.passed, describeRun(result)).toBe(true);
      expect(flow(result).slice(-2)).toEqual(['< BYE', '> 200 BYE']);
    }
    expect((await roomView(second, roomId)).items).toEqual([]);

    const history = await historyWhen(second, roomId, runs.length);
    expect(history).toHaveLength(runs.length);
    expect(new Set(history.map((h) => h.instanceId))).toEqual(new Set(['sb-a', 'sb-b']));
    expect(history.find((h) => h.callId === onA?.callId)?.leftHow).toBe('kicked');
    expect(history.filter((h) => h.callId !== onA?.callId).every((h) => h.leftHow === 'ended')).toBe(true);
    for (const h of history) expect(Date.parse(h.leftAt)).toBeGreaterThanOrEqual(Date.parse(h.joinedAt));
    // The lock went with the room: the next caller gets in.
    const later = callers(bench, 'caller-hangup.xml', '3300', { calls: 1, keys: { prefix: '2309' }, pauseMs: 500, timeoutMs: 10_000 });
    expect((await later).passed).toBe(true);
    const from = new Date(Date.now() - 60_000).toISOString();
    const all = await historyWhen(bench.sb, roomId, runs.length + 1, `?from=${encodeURIComponent(from)}`);
    expect(all.at(-1)?.callerNumber).toBe('23091');
  });
});
