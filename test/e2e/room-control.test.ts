import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun, flow } from '../support/sipp.js';
import { OPERATOR_KEY, SUPERVISOR_KEY } from '../support/switchboard.js';
import { createRoom, roomEnv, historyWhen, mediaDriver, membersWhen, post, type MediaDriver } from './room-bench.js';

/**
 * Running rooms through the API, over real SIP through both benches: members listed, muted,
 * unmuted and kicked, the conference ended, members waiting with music for a moderator (and sent
 * home when the last moderator leaves), an operator dialled out to join, and the room's history.
 * Where the stand-in runs, its model shows the media server's side of each change.
 */
let bench: CallBench;
let media: MediaDriver;
const phones: Phone[] = [];

beforeAll(async () => {
  bench = await startCallBench(roomEnv({ DIRECT_RING_TIMEOUT_SECONDS: '3' }));
  media = await mediaDriver(bench);
});

beforeEach(() => media.reset());

afterEach(() => {
  for (const p of phones.splice(0)) p.run.kill();
});

afterAll(async () => {
  media?.close();
  await bench?.close();
});

function caller(number: string, prefix: string, timeoutMs = 30_000): ReturnType<typeof callers> {
  return callers(bench, 'caller.xml', number, { calls: 1, keys: { prefix }, timeoutMs });
}

async function endedByBye(run: ReturnType<typeof callers>): Promise<void> {
  const result = await run;
  expect(result.passed, describeRun(result)).toBe(true);
  expect(flow(result).slice(-2)).toEqual(['< BYE', '> 200 BYE']);
}

describe('controlling a room', () => {
  it('lists, mutes, unmutes and kicks members through the API; ending the room hangs up the rest', async () => {
    const roomId = await createRoom(bench, '3201');
    const a = caller('3201', '2211');
    await membersWhen(bench.sb, roomId, 'the first member', (items) => items.length === 1 && items[0]?.state === 'joined');
    const b = caller('3201', '2212');
    const [ma, mb] = await membersWhen(bench.sb, roomId, 'two members', (items) => items.filter((i) => i.state === 'joined').length === 2);
    expect(ma).toMatchObject({ callerNumber: '22111', moderator: false, muted: false, owner: bench.sb.config.instanceId });
    const standIn = bench.freeswitch.standIn;
    const seat = (memberId: number | null | undefined) => standIn?.model.membersOf('room-3201').find((m) => m.id === memberId);
    // What `conference room-3201 list` says of a member's flags: the same on a real FreeSWITCH.
    const flagsOf = async (memberId: number | null | undefined): Promise<string[] | undefined> => (await media.conference('room-3201')).find((m) => m.id === memberId)?.flags;

    expect((await post(bench.sb, `/v1/rooms/${roomId}/members/${ma?.memberId}/mute`, undefined, OPERATOR_KEY)).status).toBe(403);
    expect((await post(bench.sb, `/v1/rooms/${roomId}/members/${ma?.memberId}/mute`, undefined, SUPERVISOR_KEY)).status).toBe(204);
    expect(await flagsOf(ma?.memberId)).not.toContain('speak');
    if (standIn) expect(seat(ma?.memberId)).toMatchObject({ canSpeak: false, canHear: true });
    await membersWhen(bench.sb, roomId, 'the member shown muted', (items) => items[0]?.muted === true);

    expect((await post(bench.sb, `/v1/rooms/${roomId}/members/${ma?.callId}/unmute`)).status).toBe(204);
    expect(await flagsOf(ma?.memberId)).toContain('speak');
    if (standIn) expect(seat(ma?.memberId)).toMatchObject({ canSpeak: true });
    await membersWhen(bench.sb, roomId, 'the member shown unmuted', (items) => items[0]?.muted === false);

    expect((await post(bench.sb, `/v1/rooms/${roomId}/members/99999/kick`)).status).toBe(404);
    expect((await post(bench.sb, `/v1/rooms/${roomId}/members/${mb?.memberId}/kick`)).status).toBe(204);
    await endedByBye(b);
    expect((await media.conference('room-3201')).map((m) => m.id)).toEqual([ma?.memberId]);
    if (standIn) expect(standIn.model.membersOf('room-3201').map((m) => m.id)).toEqual([ma?.memberId]);
    await membersWhen(bench.sb, roomId, 'one member left', (items) => items.length === 1);

    expect((await post(bench.sb, `/v1/rooms/${roomId}/end`)).status).toBe(204);
    await endedByBye(a);
    await until('room-3201 gone from the media server', async () => ((await media.conference('room-3201')).length === 0 ? true : undefined));
    expect((await post(bench.sb, `/v1/rooms/${roomId}/end`)).status).toBe(409);

    const history = await historyWhen(bench.sb, roomId, 2);
    expect(history.map((h) => [h.callerNumber, h.leftHow])).toEqual([['22111', 'ended'], ['22121', 'kicked']]);
    for (const h of history) expect(Date.parse(h.leftAt)).toBeGreaterThanOrEqual(Date.parse(h.joinedAt));
    // The member's call keeps its own story: one caller leg, the room route.
    const legs = await rowsWhenThere(bench, 'SELECT l.role, c.route_type FROM call_legs l JOIN calls c USING (call_id) WHERE c.call_id = $1', 1, [history[0]?.callId]);
    expect(legs).toEqual([{ role: 'caller', route_type: 'room' }]);
  });

  it('members wait with music until the moderator joins (a mute set meanwhile holds), and are sent home when the last moderator leaves', async () => {
    const roomId = await createRoom(bench, '3200', { pin: '1111', moderatorPin: '2222', waitForModerator: true });
    const standIn = bench.freeswitch.standIn;
    const member = caller('3200', '2201');
    const memberChannel = await media.nextPrompt('room-pin');
    await media.dtmf(memberChannel, '1111#');
    await media.nextPrompt('room-wait-moderator');
    const [waiting] = await membersWhen(bench.sb, roomId, 'a waiting member', (items) => items[0]?.state === 'waiting');
    expect(waiting).toMatchObject({ memberId: null, moderator: false });
    await until('the member hears music', async () => (media.lastPlayback(memberChannel) === 'local_stream://moh' ? true : undefined));
    expect(await media.conference('room-3200')).toEqual([]);
    if (standIn) expect(standIn.model.hearing(memberChannel)).toEqual({ kind: 'file', path: 'local_stream://moh' });
    expect((await post(bench.sb, `/v1/rooms/${roomId}/members/${waiting?.callId}/mute`)).status).toBe(204);

    const moderator = caller('3200', '2202');
    await media.dtmf(await media.nextPrompt('room-pin'), '2222#');
    const joined = await membersWhen(bench.sb, roomId, 'member and moderator in the conference', (items) => items.length === 2 && items.every((i) => i.state === 'joined'));
    expect(joined.map((i) => [i.callerNumber, i.moderator, i.muted])).toEqual([['22011', false, true], ['22021', true, false]]);
    const seats = await media.conference('room-3200');
    expect(seats.find((m) => m.uuid === memberChannel)?.flags).toEqual(['hear']);
    expect(seats.find((m) => m.uuid !== memberChannel)?.flags).toEqual(expect.arrayContaining(['hear', 'speak', 'moderator']));
    if (standIn) expect(standIn.model.membersOf('room-3200').find((m) => m.uuid === memberChannel)).toMatchObject({ canSpeak: false, moderator: false });

    // The moderator leaves (hung up through the API here, so that the test, not a timer, says when).
    const moderatorCall = joined[1]?.callId ?? '';
    expect((await bench.sb.api(`/v1/calls/${moderatorCall}/hangup`, { method: 'POST' })).status).toBe(204);
    await endedByBye(moderator);
    await media.nextPrompt('goodbye');
    await endedByBye(member);
    const history = await historyWhen(bench.sb, roomId, 2);
    const byNumber = new Map(history.map((h) => [h.callerNumber, h]));
    expect(byNumber.get('22021')).toMatchObject({ role: 'moderator', leftHow: 'system' });
    expect(byNumber.get('22011')).toMatchObject({ role: 'member', leftHow: 'moderator-left' });
    const m = byNumber.get('22011');
    expect(Date.parse(m?.enteredAt ?? '')).toBeGreaterThan(Date.parse(m?.joinedAt ?? ''));
    expect(new Set(history.map((h) => h.sessionId)).size).toBe(1);
  });
});

describe('dial-out', () => {
  async function operator(username: string, workNumber: string, scenarioFile: string, pauseMs = 200): Promise<{ id: number; phone: Phone }> {
    const { id } = await addOperator(bench, username, workNumber, { displayName: `Op ${username}` });
    const phone = await operatorPhone(bench, username, `${username}-secret`, scenarioFile, { calls: 1, pauseMs, timeoutMs: 30_000 });
    phones.push(phone);
    return { id, phone };
  }

  it('rings an operator\'s phone and adds them to the room when they answer, with a call record of its own', async () => {
    const roomId = await createRoom(bench, '3202');
    const op = await operator('roomop1', '68021', 'operator-answer.xml');
    await bench.create('/v1/routes', { number: '7802', targetType: 'operator', operatorId: op.id });
    const a = caller('3202', '2221');
    await membersWhen(bench.sb, roomId, 'the first member', (items) => items.length === 1 && items[0]?.state === 'joined');

    expect((await post(bench.sb, `/v1/rooms/${roomId}/dial-out`, { number: '9999' })).status).toBe(400);
    expect((await post(bench.sb, `/v1/rooms/${roomId}/dial-out`, { operatorId: 99999 })).status).toBe(404);
    const res = await post(bench.sb, `/v1/rooms/${roomId}/dial-out`, { number: '7802' });
    expect(res.status).toBe(202);
    const { callId } = res.body as { callId: string };
    const items = await membersWhen(bench.sb, roomId, 'the operator in the room', (list) => list.length === 2 && list.every((i) => i.state === 'joined'));
    expect(items[1]).toMatchObject({ callId, direction: 'outbound', operatorId: op.id, callerNumber: '7802' });
    expect(await media.conference('room-3202')).toHaveLength(2);
    expect(((await bench.sb.api(`/v1/operators/${op.id}/state`)).body as { state: string }).state).toBe('busy');
    // Busy in the room: a second dial-out to the same operator is refused at once.
    expect((await post(bench.sb, `/v1/rooms/${roomId}/dial-out`, { operatorId: op.id })).status).toBe(409);

    expect((await post(bench.sb, `/v1/rooms/${roomId}/end`)).status).toBe(204);
    await endedByBye(a);
    const phoneRun = await op.phone.run.done;
    expect(phoneRun.passed, describeRun(phoneRun)).toBe(true);
    const [cdr] = await rowsWhenThere(bench, 'SELECT route_type, disposition, caller_number, dialled_number, operator_id FROM calls WHERE call_id = $1', 1, [callId]);
    expect(cdr).toEqual({ route_type: 'room', disposition: 'answered', caller_number: '3202', dialled_number: '7802', operator_id: op.id });
    const legs = await rowsWhenThere(bench, 'SELECT role, direction, party, operator_id FROM call_legs WHERE call_id = $1', 1, [callId]);
    expect(legs).toEqual([{ role: 'guest', direction: 'outbound', party: 'roomop1', operator_id: op.id }]);
    await until('the operator available again', async () => (((await bench.sb.api(`/v1/operators/${op.id}/state`)).body as { state: string }).state === 'available' ? true : undefined));
    const history = await historyWhen(bench.sb, roomId, 2);
    expect(history.map((h) => [h.direction, h.leftHow])).toEqual([['inbound', 'ended'], ['outbound', 'ended']]);
  });

  it('a phone that declines leaves a failed call record; an operator with no phone is refused at once', async () => {
    const roomId = await createRoom(bench, '3203');
    const op = await operator('roomop2', '68031', 'operator-reject.xml');
    const { id: noPhone } = await addOperator(bench, 'roomop3', '68032', { displayName: 'No phone' });
    expect((await post(bench.sb, `/v1/rooms/${roomId}/dial-out`, { operatorId: noPhone })).status).toBe(409);

    const res = await post(bench.sb, `/v1/rooms/${roomId}/dial-out`, { number: '68031' });
    expect(res.status).toBe(202);
    const { callId } = res.body as { callId: string };
    const [cdr] = await rowsWhenThere(bench, 'SELECT route_type, disposition, sip_status FROM calls WHERE call_id = $1', 1, [callId]);
    expect(cdr).toEqual({ route_type: 'room', disposition: 'failed', sip_status: 486 });
    await until('the operator available again', async () => (((await bench.sb.api(`/v1/operators/${op.id}/state`)).body as { state: string }).state === 'available' ? true : undefined));
  });
});
