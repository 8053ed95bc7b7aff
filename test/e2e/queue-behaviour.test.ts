import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun, requestsOf, responsesOf, type SippResult } from '../support/sipp.js';

/**
 * How a queue treats its callers and operators, end to end over real SIP: order of service,
 * abandons, no-answers, rejections, ring-all, wrap-up, overflow, and the live API.
 * Each test has a queue, a route and operators of its own.
 */
let bench: CallBench;
const phones: Phone[] = [];
let seq = 0;

beforeAll(async () => {
  bench = await startCallBench();
});

afterEach(() => {
  for (const p of phones.splice(0)) p.run.kill();
});

afterAll(async () => {
  await bench?.close();
});

interface Setup {
  queueId: number;
  queueNumber: string;
  number: string;
  operators: { id: number; username: string; password: string }[];
}

/** A queue routed from a number of its own, with `operators` members logged in (penalty = index). */
async function setup(queue: Record<string, unknown>, operators: number, login = true): Promise<Setup> {
  seq++;
  const number = String(8100 + seq);
  const queueNumber = String(100 + seq);
  const queueId = (await bench.create('/v1/queues', { number: queueNumber, name: `Queue ${seq}`, announceIntervalS: 0, wrapupS: 0, ...queue })).id as number;
  await bench.create('/v1/routes', { number, targetType: 'queue', queueId });
  const ops = [];
  for (let i = 0; i < operators; i++) {
    const username = `op${seq}x${i}`;
    const password = `${username}-secret`;
    const id = (await bench.create('/v1/operators', { username, password, displayName: username, workNumber: `${seq}${i}00` })).id as number;
    await bench.sb.api(`/v1/queues/${queueId}/members/${id}`, { method: 'PUT', body: { penalty: i } });
    ops.push({ id, username, password });
  }
  // Let every instance's configuration cache see the new queue before calls arrive.
  await until('the configuration to reach the call path', async () => ((await bench.sb.api(`/v1/queues/${queueId}/calls`)).status === 200 ? true : undefined));
  if (login) for (const op of ops) await bench.sb.api(`/v1/operators/${op.id}/state`, { method: 'PUT', body: { state: 'available' } });
  return { queueId, queueNumber, number, operators: ops };
}

async function phone(op: { username: string; password: string }, scenarioFile: string, pauseMs = 0): Promise<Phone> {
  const p = await operatorPhone(bench, op.username, op.password, scenarioFile, { pauseMs });
  phones.push(p);
  return p;
}

async function stateOf(operatorId: number): Promise<{ state: string; missesInRow: number; callsTaken: number }> {
  return (await bench.sb.api(`/v1/operators/${operatorId}/state`)).body as { state: string; missesInRow: number; callsTaken: number };
}

interface CdrRow {
  call_id: string;
  caller_number: string;
  arrived_at: Date;
  offered_at: Date | null;
  answered_at: Date | null;
  ended_at: Date;
  disposition: string;
  hangup_by: string;
  operator_username: string | null;
  queue_number: string | null;
  wait_s: number;
}

function cdrs(dialled: string, count: number, timeoutMs?: number): Promise<CdrRow[]> {
  return rowsWhenThere<CdrRow & Record<string, unknown>>(bench, 'SELECT * FROM calls WHERE dialled_number = $1 ORDER BY arrived_at', count, [dialled], timeoutMs);
}

async function eventsOf(callId: string, count: number): Promise<{ event: string; operator_id: number | null }[]> {
  return rowsWhenThere(bench, 'SELECT event, operator_id FROM queue_events WHERE call_id = $1 ORDER BY at, event_id', count, [callId]);
}

function passed(r: SippResult): void {
  expect(r.passed, describeRun(r)).toBe(true);
}

describe('order of service', () => {
  it('answers 20 callers with 3 operators strictly in order of arrival, one record per call', async () => {
    const s = await setup({ ringTimeoutS: 10 }, 3);
    for (const op of s.operators) await phone(op, 'operator-hangup.xml', 300);
    const result = await callers(bench, 'caller.xml', s.number, { calls: 20, rate: 20, extraArgs: ['-l', '20'] });
    passed(result);
    expect(result.stats?.successful).toBe(20);

    const rows = await cdrs(s.number, 20);
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.disposition === 'answered')).toBe(true);
    expect(new Set(rows.map((r) => r.caller_number)).size).toBe(20);
    const offered = rows.map((r) => (r.offered_at as Date).getTime());
    for (let i = 1; i < offered.length; i++) expect(offered[i], `caller ${i} offered before caller ${i - 1}`).toBeGreaterThanOrEqual(offered[i - 1] as number);
    // Three phones answer in parallel, so two callers offered a moment apart may be connected
    // the other way round; but no caller is connected ahead of one who arrived 3 callers earlier.
    const connects = await rowsWhenThere<{ call_id: string }>(bench, `SELECT call_id FROM queue_events WHERE queue_id = $1 AND event = 'connect' ORDER BY at, event_id`, 20, [s.queueId]);
    const arrival = rows.map((r) => r.call_id);
    connects.forEach((c, rank) => expect(Math.abs(arrival.indexOf(c.call_id) - rank), `caller ${c.call_id}`).toBeLessThan(3));
    // Every operator took calls; nobody is left busy.
    expect(new Set(rows.map((r) => r.operator_username)).size).toBe(3);
    for (const op of s.operators) await until(`${op.username} free`, async () => ((await stateOf(op.id)).state === 'available' ? true : undefined));
  });
});

describe('strategies', () => {
  it('round-robin: each call goes to the operator after the one offered last', async () => {
    const s = await setup({ strategy: 'round-robin', ringTimeoutS: 10 }, 3);
    for (const op of s.operators) await phone(op, 'operator-hangup.xml', 200);
    passed(await callers(bench, 'caller.xml', s.number, { calls: 6, rate: 1, extraArgs: ['-l', '1'] }));
    const rows = await cdrs(s.number, 6);
    const names = s.operators.map((o) => o.username);
    expect(rows.map((r) => r.operator_username)).toEqual([...names, ...names]);
  });

  it('fewest-calls: the operator who answered fewest calls since login goes first', async () => {
    const s = await setup({ strategy: 'fewest-calls', ringTimeoutS: 10 }, 2);
    const [busy, fresh] = s.operators as [Setup['operators'][number], Setup['operators'][number]];
    await phone(busy, 'operator-hangup.xml', 200);
    await phone(fresh, 'operator-hangup.xml', 200);
    // The second operator logs in again, which clears their count; the first has taken calls.
    passed(await callers(bench, 'caller.xml', s.number, { calls: 2, rate: 1, extraArgs: ['-l', '1'] }));
    await bench.sb.api(`/v1/operators/${fresh.id}/state`, { method: 'PUT', body: { state: 'logged-out' } });
    await bench.sb.api(`/v1/operators/${fresh.id}/state`, { method: 'PUT', body: { state: 'available' } });
    passed(await callers(bench, 'caller.xml', s.number, { calls: 1, name: 'third' }));
    const rows = await cdrs(s.number, 3);
    expect(rows[2]?.operator_username).toBe(fresh.username);
  });
});

describe('waiting', () => {
  it('plays the queue\'s hold music and, at its interval, the caller\'s position', async () => {
    const standIn = bench.freeswitch.standIn;
    const s = await setup({ holdMusic: 'local_stream://moh', announceIntervalS: 1 }, 1, false);
    const caller = callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 3500 });
    if (standIn) {
      const channel = await until('the caller hearing hold music', async () => standIn.model.channels().find((c) => c.playing === 'local_stream://moh'));
      const heard = new Set<string>();
      await until('the position announced', async () => {
        const playing = standIn.model.channel(channel.uuid)?.playing;
        if (playing) heard.add(playing);
        return [...heard].some((p) => p.endsWith('/position.wav')) && [...heard].some((p) => p.startsWith('say:') && /\b1\b/.test(p)) ? true : undefined;
      }, 5_000);
      // After the announcement, back to the music.
      await until('the music again', async () => (standIn.model.channel(channel.uuid)?.playing === 'local_stream://moh' ? true : undefined), 3_000);
    }
    passed(await caller);
  });
});

describe('callers who give up', () => {
  it('records an abandon when the caller hangs up while waiting', async () => {
    const s = await setup({ noOperators: 'wait' }, 1, false);
    passed(await callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 1500 }));
    const [row] = await cdrs(s.number, 1);
    expect(row).toMatchObject({ disposition: 'abandoned', hangup_by: 'caller', answered_at: null, offered_at: null });
    expect(Number(row?.wait_s)).toBeGreaterThanOrEqual(1.3);
    expect((await eventsOf(row?.call_id as string, 2)).map((e) => e.event)).toEqual(['enter', 'abandon']);
    await until('the queue to be empty', async () => (((await bench.sb.api(`/v1/queues/${s.queueId}/calls`)).body as { items: unknown[] }).items.length === 0 ? true : undefined));
  });

  it('cancels the ringing phone at once and frees the operator when the caller hangs up', async () => {
    const s = await setup({ ringTimeoutS: 20 }, 1);
    const op = s.operators[0] as Setup['operators'][number];
    const ringing = await phone(op, 'operator-no-answer.xml');
    const caller = await callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 1500 });
    passed(caller);
    ringing.run.kill();
    const operator = await ringing.run.done;
    const byeAt = caller.messages.find((m) => m.label === '> BYE')?.time;
    const cancelAt = operator.messages.find((m) => m.label === '< CANCEL')?.time;
    expect(cancelAt, 'the operator phone got no CANCEL').toBeDefined();
    const gap = Date.parse(`${cancelAt?.replace(' ', 'T')}Z`) - Date.parse(`${byeAt?.replace(' ', 'T')}Z`);
    expect(gap).toBeLessThan(1000);
    const [row] = await cdrs(s.number, 1);
    expect(row).toMatchObject({ disposition: 'abandoned', hangup_by: 'caller' });
    expect((await eventsOf(row?.call_id as string, 3)).map((e) => e.event)).toEqual(['enter', 'offer', 'abandon']);
    const state = await until('operator freed', async () => {
      const st = await stateOf(op.id);
      return st.state === 'available' ? st : undefined;
    });
    expect(state.missesInRow).toBe(0);
  });
});

describe('operators who do not answer', () => {
  it('moves to the next operator after the ring timeout, and counts the miss', async () => {
    const s = await setup({ strategy: 'linear', ringTimeoutS: 1 }, 2);
    const [first, second] = s.operators as [Setup['operators'][number], Setup['operators'][number]];
    await phone(first, 'operator-no-answer.xml');
    await phone(second, 'operator-hangup.xml', 300);
    passed(await callers(bench, 'caller.xml', s.number, { calls: 1 }));
    const [row] = await cdrs(s.number, 1);
    expect(row).toMatchObject({ disposition: 'answered', operator_username: second.username });
    const events = await eventsOf(row?.call_id as string, 6);
    expect(events.map((e) => [e.event, e.operator_id])).toEqual([
      ['enter', null], ['offer', first.id], ['ring-no-answer', first.id], ['offer', second.id], ['connect', second.id], ['complete-operator', second.id],
    ]);
    expect((await stateOf(first.id)).missesInRow).toBe(1);
  });

  it('tries the next operator when one rejects, without counting a miss', async () => {
    const s = await setup({ strategy: 'linear', ringTimeoutS: 5 }, 2);
    const [first, second] = s.operators as [Setup['operators'][number], Setup['operators'][number]];
    const rejecting = await phone(first, 'operator-reject.xml', 100);
    await phone(second, 'operator-hangup.xml', 300);
    passed(await callers(bench, 'caller.xml', s.number, { calls: 1 }));
    const [row] = await cdrs(s.number, 1);
    expect(row).toMatchObject({ disposition: 'answered', operator_username: second.username });
    rejecting.run.kill();
    expect(responsesOf(await rejecting.run.done, 'sent', 486)).toHaveLength(1);
    expect((await stateOf(first.id)).missesInRow).toBe(0);
  });

  it('puts an operator on break after too many misses in a row', async () => {
    const s = await setup({ ringTimeoutS: 1, maxNoAnswer: 2 }, 1);
    const op = s.operators[0] as Setup['operators'][number];
    await phone(op, 'operator-no-answer.xml');
    const caller = callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 8000 });
    const onBreak = await until('the operator on break', async () => {
      const st = await stateOf(op.id);
      return st.state === 'on-break' ? st : undefined;
    }, 12_000);
    expect(onBreak.missesInRow).toBe(2);
    passed(await caller);
    const reasons = await rowsWhenThere<{ reason: string }>(bench, `SELECT reason FROM operator_events WHERE operator_id = $1 AND to_state = 'on-break'`, 1, [op.id]);
    expect(reasons[0]?.reason).toBe('2 offers missed in a row');
  });
});

describe('ring-all', () => {
  it('rings everyone and cancels the others with "Call completed elsewhere" when one answers', async () => {
    const s = await setup({ strategy: 'ring-all', ringTimeoutS: 10 }, 3);
    const [a, b, c] = s.operators as [Setup['operators'][number], Setup['operators'][number], Setup['operators'][number]];
    await phone(a, 'operator-answer.xml', 400);
    const others = [await phone(b, 'operator-no-answer.xml'), await phone(c, 'operator-no-answer.xml')];
    passed(await callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 2000 }));
    for (const o of others) {
      o.run.kill();
      const r = await o.run.done;
      const [cancel] = requestsOf(r, 'received', 'CANCEL');
      expect(cancel?.get('Reason')).toBe('SIP;cause=200;text="Call completed elsewhere"');
    }
    const [row] = await cdrs(s.number, 1);
    expect(row).toMatchObject({ disposition: 'answered', operator_username: a.username });
    for (const op of [b, c]) expect((await stateOf(op.id)).missesInRow).toBe(0);
  });
});

describe('wrap-up', () => {
  it('gives the operator the wrap-up time before the next offer', async () => {
    const s = await setup({ wrapupS: 2, ringTimeoutS: 10 }, 1);
    await phone(s.operators[0] as Setup['operators'][number], 'operator-hangup.xml', 300);
    passed(await callers(bench, 'caller.xml', s.number, { calls: 2, rate: 10 }));
    const [first, second] = await cdrs(s.number, 2);
    const gap = (second?.offered_at as Date).getTime() - (first?.ended_at as Date).getTime();
    expect(gap).toBeGreaterThanOrEqual(1900);
  });
});

describe('limits and overflow', () => {
  it('sends a caller who waited too long to the busy announcement and hangs up', async () => {
    const s = await setup({ maxWaitS: 1 }, 1, false);
    passed(await callers(bench, 'caller.xml', s.number, { calls: 1 }));
    const [row] = await cdrs(s.number, 1);
    expect(row).toMatchObject({ disposition: 'timeout', hangup_by: 'system' });
    expect((await eventsOf(row?.call_id as string, 2)).map((e) => e.event)).toEqual(['enter', 'exit-timeout']);
  });

  it('overflows a full queue into another queue', async () => {
    const target = await setup({ ringTimeoutS: 10 }, 1);
    const s = await setup({ maxLength: 1, overflowAction: 'queue', overflowTarget: target.queueNumber }, 1, false);
    await phone(target.operators[0] as Setup['operators'][number], 'operator-hangup.xml', 300);
    const first = callers(bench, 'caller-hangup.xml', s.number, { calls: 1, pauseMs: 3000, name: 'first' });
    await until('the first caller waiting', async () => (((await bench.sb.api(`/v1/queues/${s.queueId}/calls`)).body as { items: unknown[] }).items.length === 1 ? true : undefined));
    passed(await callers(bench, 'caller.xml', s.number, { calls: 1, name: 'second' }));
    passed(await first);
    const rows = await cdrs(s.number, 2);
    expect(rows.map((r) => [r.disposition, r.queue_number])).toEqual([
      ['abandoned', s.queueNumber],
      ['answered', target.queueNumber],
    ]);
    const events = await eventsOf(rows[1]?.call_id as string, 4);
    expect(events.map((e) => e.event).slice(0, 3)).toEqual(['exit-full', 'enter', 'offer']);
  });

  it('refuses callers with 480 when nobody is logged in and the queue says reject', async () => {
    const s = await setup({ noOperators: 'reject' }, 1, false);
    const result = await callers(bench, 'caller.xml', s.number, { calls: 1 });
    expect(result.passed).toBe(false);
    expect(result.messages.map((m) => m.label)).toContain('< 480 INVITE');
    const [row] = await cdrs(s.number, 1);
    expect(row).toMatchObject({ disposition: 'rejected', answered_at: null });
  });
});

describe('the live API', () => {
  it('shows positions, moves a caller to the front, and hangs up a call', async () => {
    const s = await setup({}, 1, false);
    const waiting = callers(bench, 'caller.xml', s.number, { calls: 3, rate: 10, extraArgs: ['-l', '3'], timeoutMs: 20_000 });
    type Item = { callId: string; position: number; callerNumber: string; waitS: number };
    const list = async (): Promise<Item[]> => ((await bench.sb.api(`/v1/queues/${s.queueId}/calls`)).body as { items: Item[] }).items;
    const three = await until('three callers waiting', async () => {
      const items = await list();
      return items.length === 3 ? items : undefined;
    });
    expect(three.map((i) => i.position)).toEqual([1, 2, 3]);
    const last = three[2] as Item;
    expect((await bench.sb.api(`/v1/calls/${last.callId}/move`, { method: 'POST', body: { to: 'front' } })).status).toBe(204);
    expect((await list()).map((i) => i.callId)).toEqual([last.callId, three[0]?.callId, three[1]?.callId]);
    const other = await setup({}, 0, false);
    expect((await bench.sb.api(`/v1/calls/${three[1]?.callId}/move`, { method: 'POST', body: { queueId: other.queueId } })).status).toBe(204);
    expect((await list()).map((i) => i.callId)).toEqual([last.callId, three[0]?.callId]);
    const moved = ((await bench.sb.api(`/v1/queues/${other.queueId}/calls`)).body as { items: Item[] }).items;
    expect(moved.map((i) => [i.callId, i.position])).toEqual([[three[1]?.callId, 1]]);
    for (const item of three) expect((await bench.sb.api(`/v1/calls/${item.callId}/hangup`, { method: 'POST' })).status).toBe(204);
    passed(await waiting);
    const rows = await cdrs(s.number, 3);
    expect(rows.every((r) => r.hangup_by === 'system')).toBe(true);
    expect((await bench.sb.api(`/v1/calls/${last.callId}/hangup`, { method: 'POST' })).status).toBe(404);
    const search = await bench.sb.api(`/v1/cdrs?number=${s.number}&limit=2`);
    expect(search.body).toMatchObject({ total: 3, limit: 2 });
    const story = await bench.sb.api(`/v1/cdrs/${last.callId}`);
    expect(story.body).toMatchObject({ callId: last.callId, legs: [expect.objectContaining({ role: 'caller' })] });
    const movedStory = (await bench.sb.api(`/v1/cdrs/${three[1]?.callId}`)).body as { queueNumber: string; queueEvents: { event: string }[] };
    expect(movedStory.queueNumber).toBe(other.queueNumber);
    expect(movedStory.queueEvents.map((e) => e.event)).toEqual(['enter', 'transfer', 'enter']);
  });
});
