import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callers, rowsWhenThere, startCallBench, until, type CallBench } from '../support/call-bench.js';
import { describeRun, flow, responsesOf } from '../support/sipp.js';

/**
 * Calls to a room, over real SIP through both benches: members join the room's conference on
 * the media server (muted if the room says so), a full room answers 486 without answering, a
 * hang-up leaves, and each member leaves a record. Each test has a room and a number of its own.
 */
let bench: CallBench;

beforeAll(async () => {
  bench = await startCallBench();
});

afterAll(async () => {
  await bench?.close();
});

async function room(number: string, extra: Record<string, unknown> = {}): Promise<number> {
  const roomId = (await bench.create('/v1/rooms', { number, name: `Room ${number}`, ...extra })).id as number;
  await bench.create('/v1/routes', { number, targetType: 'room', roomId });
  return roomId;
}

async function liveCalls(): Promise<{ callId: string; dialledNumber: string; state: string }[]> {
  return ((await bench.sb.api('/v1/calls')).body as { items: { callId: string; dialledNumber: string; state: string }[] }).items;
}

describe('a call to a room', () => {
  it('three callers meet in the room\'s conference, leave it as they hang up, and each leaves a record', async () => {
    await room('3000');
    const standIn = bench.freeswitch.standIn;
    const three = callers(bench, 'caller-hangup.xml', '3000', { calls: 3, rate: 20, pauseMs: 2500 });
    if (standIn) {
      const members = await standIn.model.waitFor(() => (standIn.model.membersOf('room-3000').length === 3 ? standIn.model.membersOf('room-3000') : undefined), {
        timeoutMs: 10_000,
        description: 'three members in room-3000',
      });
      expect(members.every((m) => m.canSpeak && m.canHear)).toBe(true);
    }
    const live = await until('three live room calls', async () => {
      const calls = (await liveCalls()).filter((c) => c.dialledNumber === '3000');
      return calls.length === 3 ? calls : undefined;
    });
    expect(live.every((c) => c.state === 'connected')).toBe(true);

    const run = await three;
    expect(run.passed, describeRun(run)).toBe(true);
    if (standIn) await standIn.model.waitFor(() => standIn.model.conference('room-3000') === undefined, { description: 'room-3000 gone with its last member' });

    const cdrs = await rowsWhenThere(bench, 'SELECT call_id, route_type, disposition, hangup_by FROM calls WHERE dialled_number = $1', 3, ['3000']);
    expect(cdrs.map(({ route_type, disposition, hangup_by }) => ({ route_type, disposition, hangup_by }))).toEqual(
      Array(3).fill({ route_type: 'room', disposition: 'answered', hangup_by: 'caller' }),
    );
    const legs = await rowsWhenThere(bench, 'SELECT role FROM call_legs WHERE call_id = ANY($1::uuid[])', 3, [cdrs.map((c) => c.call_id)]);
    expect(legs.map((l) => l.role)).toEqual(['caller', 'caller', 'caller']);
    expect((await liveCalls()).filter((c) => c.dialledNumber === '3000')).toEqual([]);
    // One call id tells the whole story, the stay in the room included.
    await rowsWhenThere(bench, 'SELECT 1 FROM room_members WHERE call_id = $1', 1, [cdrs[0]?.call_id]);
    const story = (await bench.sb.api(`/v1/cdrs/${String(cdrs[0]?.call_id)}`)).body as { roomStays: { roomNumber: string; role: string; leftAt: string }[] };
    expect(story.roomStays).toEqual([expect.objectContaining({ roomNumber: '3000', role: 'member', leftAt: expect.any(String) })]);
  });

  it('mutes on join when the room says so; a hang-up through the API ends the member\'s call', async () => {
    await room('3001', { muteOnJoin: true });
    const standIn = bench.freeswitch.standIn;
    const member = callers(bench, 'caller.xml', '3001', { calls: 1, timeoutMs: 15_000 });
    if (standIn) {
      const [m] = await standIn.model.waitFor(() => (standIn.model.membersOf('room-3001').length === 1 ? standIn.model.membersOf('room-3001') : undefined), { description: 'a member in room-3001' });
      expect(m).toMatchObject({ canSpeak: false, canHear: true });
    }
    const [live] = await until('the live room call', async () => {
      const calls = (await liveCalls()).filter((c) => c.dialledNumber === '3001');
      return calls.length === 1 ? calls : undefined;
    });
    const hangup = await bench.sb.api(`/v1/calls/${live?.callId ?? ''}/hangup`, { method: 'POST' });
    expect(hangup.status).toBe(204);
    const run = await member;
    expect(run.passed, describeRun(run)).toBe(true);
    expect(flow(run).slice(-2)).toEqual(['< BYE', '> 200 BYE']);
    const [cdr] = await rowsWhenThere(bench, 'SELECT route_type, disposition, hangup_by FROM calls WHERE dialled_number = $1', 1, ['3001']);
    expect(cdr).toEqual({ route_type: 'room', disposition: 'answered', hangup_by: 'system' });
  });

  it('a full room answers 486 without answering; a seat freed by a hang-up takes the next caller', async () => {
    await room('3002', { maxMembers: 2 });
    const standIn = bench.freeswitch.standIn;
    const two = callers(bench, 'caller-hangup.xml', '3002', { calls: 2, rate: 20, pauseMs: 1500 });
    await until('two members in room 3002', async () => ((await liveCalls()).filter((c) => c.dialledNumber === '3002').length === 2 ? true : undefined));
    const third = await callers(bench, 'caller-refused.xml', '3002', { calls: 1, timeoutMs: 10_000 });
    expect(third.passed, describeRun(third)).toBe(true);
    expect(flow(third).filter((l) => !l.includes(' 100 '))).toEqual(['> INVITE', '< 486 INVITE', '> ACK']);
    if (standIn) expect(standIn.model.membersOf('room-3002')).toHaveLength(2);
    expect((await two).passed).toBe(true);

    const later = await callers(bench, 'caller-hangup.xml', '3002', { calls: 1, pauseMs: 200, timeoutMs: 10_000 });
    expect(later.passed, describeRun(later)).toBe(true);
    expect(responsesOf(later, 'received', 200, 'INVITE')).toHaveLength(1);
    const cdrs = await rowsWhenThere<{ disposition: string; sip_status: number | null }>(
      bench, 'SELECT disposition, sip_status FROM calls WHERE dialled_number = $1 ORDER BY arrived_at', 4, ['3002'],
    );
    expect(cdrs.map((c) => c.disposition).sort()).toEqual(['answered', 'answered', 'answered', 'rejected']);
    expect(cdrs.find((c) => c.disposition === 'rejected')?.sip_status).toBe(486);
  });
});
