import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callers, rowsWhenThere, startCallBench, type CallBench } from '../support/call-bench.js';
import { describeRun, flow } from '../support/sipp.js';
import { createRoom, roomEnv, historyWhen, mediaDriver, membersWhen, post, roomView, type MediaDriver } from './room-bench.js';

/**
 * PINs and locks of rooms, over real SIP through both benches: callers are asked for the PIN
 * (DTMF is sent to their media-server channel with uuid_recv_dtmf, against the stand-in or a real
 * FreeSWITCH alike); the room PIN makes a member, the moderator PIN a moderator, wrong or missing
 * PINs end in goodbye; a locked room tells a new caller so and hangs up. Each test has a room of
 * its own and callers with numbers of their own.
 */
let bench: CallBench;
let media: MediaDriver;

beforeAll(async () => {
  bench = await startCallBench(roomEnv());
  media = await mediaDriver(bench);
});

beforeEach(() => media.reset());

afterAll(async () => {
  media?.close();
  await bench?.close();
});

/** A caller who stays until the switchboard hangs up. */
function caller(number: string, prefix: string, timeoutMs = 30_000): ReturnType<typeof callers> {
  return callers(bench, 'caller.xml', number, { calls: 1, keys: { prefix }, timeoutMs });
}

async function cdrOf(callerNumber: string): Promise<Record<string, unknown>> {
  const [row] = await rowsWhenThere(bench, 'SELECT call_id, route_type, disposition, hangup_by, sip_status, sip_reason, answered_at FROM calls WHERE caller_number = $1', 1, [callerNumber]);
  return row as Record<string, unknown>;
}

describe('PIN entry', () => {
  it('the room PIN lets a caller in as a member, the moderator PIN as the moderator', async () => {
    const roomId = await createRoom(bench, '3100', { pin: '1234', moderatorPin: '9876' });
    const member = caller('3100', '2101');
    await media.dtmf(await media.nextPrompt('room-pin'), '1234#');
    const [m] = await membersWhen(bench.sb, roomId, 'the member in the room', (items) => items.length === 1 && items[0]?.state === 'joined');
    expect(m).toMatchObject({ callerNumber: '21011', moderator: false, muted: false, direction: 'inbound' });

    const moderator = caller('3100', '2102');
    // A digit during the prompt cuts it short; the PIN may follow at once.
    await media.dtmf(await media.nextPrompt('room-pin'), '9876#');
    const both = await membersWhen(bench.sb, roomId, 'the moderator in the room', (items) => items.filter((i) => i.state === 'joined').length === 2);
    expect(both.map((i) => [i.callerNumber, i.moderator])).toEqual([['21011', false], ['21021', true]]);
    // The media server's side: two members, one with the moderator flag, both speaking.
    const seats = await media.conference('room-3100');
    expect(seats.map((x) => x.flags.includes('moderator')).sort()).toEqual([false, true]);
    expect(seats.every((x) => x.flags.includes('speak'))).toBe(true);
    const standIn = bench.freeswitch.standIn;
    if (standIn) expect(standIn.model.membersOf('room-3100').map((x) => x.moderator).sort()).toEqual([false, true]);

    expect((await post(bench.sb, `/v1/rooms/${roomId}/end`)).status).toBe(204);
    for (const run of [await member, await moderator]) {
      expect(run.passed, describeRun(run)).toBe(true);
      expect(flow(run).slice(-2)).toEqual(['< BYE', '> 200 BYE']);
    }
    const history = await historyWhen(bench.sb, roomId, 2);
    expect(history.map((h) => [h.callerNumber, h.role, h.leftHow])).toEqual([['21011', 'member', 'ended'], ['21021', 'moderator', 'ended']]);
    expect(await cdrOf('21011')).toMatchObject({ route_type: 'room', disposition: 'answered', hangup_by: 'system' });
  });

  it('a wrong PIN is asked again with the wrong-PIN prompt; after three, goodbye and hang-up', async () => {
    const roomId = await createRoom(bench, '3101', { pin: '4321' });
    const run = caller('3101', '2111');
    for (let attempt = 1; attempt <= 3; attempt++) {
      await media.dtmf(await media.nextPrompt('room-pin'), '1111#');
      if (attempt < 3) await media.nextPrompt('room-pin-wrong');
    }
    await media.nextPrompt('goodbye');
    const result = await run;
    expect(result.passed, describeRun(result)).toBe(true);
    expect(flow(result).slice(-2)).toEqual(['< BYE', '> 200 BYE']);
    expect(await cdrOf('21111')).toMatchObject({ route_type: 'room', disposition: 'rejected', hangup_by: 'system', sip_reason: 'wrong PIN', answered_at: null });
    expect((await roomView(bench.sb, roomId)).items).toEqual([]);
  });

  it('no entry at all: the prompt three times (5 s each), then goodbye', async () => {
    await createRoom(bench, '3102', { pin: '4321' });
    const started = Date.now();
    const result = await caller('3102', '2121', 40_000);
    expect(result.passed, describeRun(result)).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(3 * 5_000);
    expect(await cdrOf('21211')).toMatchObject({ disposition: 'rejected', sip_reason: 'no PIN entered' });
  }, 45_000);

  it('a room with only a moderator PIN lets members in with the pound key and knows its moderator', async () => {
    const roomId = await createRoom(bench, '3103', { moderatorPin: '55' });
    const member = caller('3103', '2131');
    await media.dtmf(await media.nextPrompt('room-pin'), '#');
    await membersWhen(bench.sb, roomId, 'the member', (items) => items.length === 1 && items[0]?.state === 'joined');
    const moderator = caller('3103', '2132');
    await media.dtmf(await media.nextPrompt('room-pin'), '55');
    const items = await membersWhen(bench.sb, roomId, 'the moderator', (list) => list.length === 2 && list.every((i) => i.state === 'joined'));
    expect(items.map((i) => i.moderator)).toEqual([false, true]);
    expect((await post(bench.sb, `/v1/rooms/${roomId}/end`)).status).toBe(204);
    expect((await member).passed).toBe(true);
    expect((await moderator).passed).toBe(true);
  });

  it('a caller who hangs up during the PIN is an abandoned call and no member', async () => {
    const roomId = await createRoom(bench, '3105', { pin: '4321' });
    const result = await callers(bench, 'caller-hangup.xml', '3105', { calls: 1, keys: { prefix: '2151' }, pauseMs: 300, timeoutMs: 10_000 });
    expect(result.passed, describeRun(result)).toBe(true);
    expect(await cdrOf('21511')).toMatchObject({ disposition: 'abandoned', hangup_by: 'caller' });
    expect((await roomView(bench.sb, roomId)).items).toEqual([]);
  });
});

describe('locking', () => {
  it('a locked room tells a new caller so and hangs up; unlocked, the next one gets in', async () => {
    const roomId = await createRoom(bench, '3104');
    const standIn = bench.freeswitch.standIn;
    expect((await post(bench.sb, `/v1/rooms/${roomId}/lock`)).status).toBe(409);
    const first = caller('3104', '2141');
    await membersWhen(bench.sb, roomId, 'the first member', (items) => items.length === 1 && items[0]?.state === 'joined');

    expect((await post(bench.sb, `/v1/rooms/${roomId}/lock`)).status).toBe(204);
    expect((await roomView(bench.sb, roomId)).locked).toBe(true);
    expect(await media.isLocked('room-3104')).toBe(true);
    if (standIn) expect(standIn.model.conference('room-3104')?.locked).toBe(true);
    const refused = caller('3104', '2142');
    await media.nextPrompt('room-locked');
    const result = await refused;
    expect(result.passed, describeRun(result)).toBe(true);
    expect(flow(result).slice(-2)).toEqual(['< BYE', '> 200 BYE']);
    expect(await cdrOf('21421')).toMatchObject({ disposition: 'rejected', sip_reason: 'room locked' });

    expect((await post(bench.sb, `/v1/rooms/${roomId}/unlock`)).status).toBe(204);
    expect(await media.isLocked('room-3104')).toBe(false);
    if (standIn) expect(standIn.model.conference('room-3104')?.locked).toBe(false);
    const third = caller('3104', '2143');
    await membersWhen(bench.sb, roomId, 'the third member', (items) => items.length === 2);
    expect((await post(bench.sb, `/v1/rooms/${roomId}/end`)).status).toBe(204);
    expect((await first).passed).toBe(true);
    expect((await third).passed).toBe(true);
  });
});
