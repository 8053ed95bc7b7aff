import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone, type TestOperator } from '../support/call-bench.js';
import { describeRun, type SippResult } from '../support/sipp.js';
import { mediaDriver, roomEnv, type MediaDriver } from './room-bench.js';

/**
 * Priority callers and skills end to end over real SIP, through both benches: a caller on a
 * caller list jumps the queue; a call that needs a skill goes to an operator with it although
 * another has been free longer; it widens to anyone after the queue's skill wait; the skill can
 * come from a menu choice by DTMF; and a call whose skill nobody has neither blocks the callers
 * behind it nor waits for ever. Each test has a queue, routes, operators and caller numbers of
 * its own.
 */
let bench: CallBench;
let media: MediaDriver;
const phones: Phone[] = [];
let seq = 0;

beforeAll(async () => {
  bench = await startCallBench(roomEnv());
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

interface Member {
  name: string;
  skills?: string[];
  grade?: number;
}

interface Setup {
  queueId: number;
  /** Routes: '' for the plain one, or a skill's name. */
  numbers: Record<string, string>;
  ops: Record<string, TestOperator>;
}

/** A queue with a plain route and one route per skill in `skillRoutes`, and its members (logged out). */
async function setup(queue: Record<string, unknown>, members: Member[], skillRoutes: string[] = []): Promise<Setup> {
  seq++;
  const queueId = (await bench.create('/v1/queues', { number: String(600 + seq), name: `Skills ${seq}`, announceIntervalS: 0, wrapupS: 0, ...queue })).id as number;
  const numbers: Record<string, string> = {};
  for (const [i, skill] of ['', ...skillRoutes].entries()) {
    const number = `86${seq}${i}`;
    await bench.create('/v1/routes', { number, targetType: 'queue', queueId, ...(skill ? { skill } : {}) });
    numbers[skill] = number;
  }
  const ops: Record<string, TestOperator> = {};
  for (const [i, m] of members.entries()) {
    const username = `sk${seq}${m.name}`;
    const password = `${username}-secret`;
    const id = (await bench.create('/v1/operators', { username, password, displayName: username, workNumber: `6${seq}${i}0` })).id as number;
    const res = await bench.sb.api(`/v1/queues/${queueId}/members/${id}`, { method: 'PUT', body: { skills: m.skills ?? [], ...(m.grade ? { grade: m.grade } : {}) } });
    expect(res.status).toBe(201);
    ops[m.name] = { id, username, password };
  }
  await until('the configuration to reach the call path', async () => ((await bench.sb.api(`/v1/queues/${queueId}/calls`)).status === 200 ? true : undefined));
  return { queueId, numbers, ops };
}

async function setState(op: TestOperator, state: 'available' | 'on-break' | 'logged-out'): Promise<void> {
  const res = await bench.sb.api(`/v1/operators/${op.id}/state`, { method: 'PUT', body: { state } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** The operator's phone answers, talks 300 ms and hangs up, for as many calls as come. */
async function phone(op: TestOperator): Promise<Phone> {
  const p = await operatorPhone(bench, op.username, op.password, 'operator-hangup.xml', { pauseMs: 300 });
  phones.push(p);
  return p;
}

/** One caller, number `<prefix>1`, who stays until the switchboard hangs up. */
function caller(number: string, prefix: string): Promise<SippResult> {
  return callers(bench, 'caller.xml', number, { calls: 1, keys: { prefix }, timeoutMs: 40_000 });
}

interface Waiting {
  callerNumber: string;
  priority: number;
  skill: string | null;
}

async function waitingIn(queueId: number, count: number): Promise<Waiting[]> {
  return until(`${count} callers waiting in queue ${queueId}`, async () => {
    const { items } = (await bench.sb.api(`/v1/queues/${queueId}/calls`)).body as { items: Waiting[] };
    return items.length === count ? items : undefined;
  });
}

interface CdrRow {
  call_id: string;
  caller_number: string;
  operator_username: string | null;
  disposition: string;
  queued_at: Date;
  offered_at: Date | null;
  wait_s: string;
  priority: number;
  skill: string | null;
}

async function cdrOf(callerNumber: string): Promise<CdrRow> {
  const [row] = await rowsWhenThere<CdrRow & Record<string, unknown>>(bench, 'SELECT * FROM calls WHERE caller_number = $1', 1, [callerNumber]);
  return row as CdrRow;
}

async function offersOf(callId: string): Promise<number[]> {
  const rows = await rowsWhenThere<{ operator_id: string }>(bench, `SELECT operator_id FROM queue_events WHERE call_id = $1 AND event = 'offer' ORDER BY at`, 1, [callId]);
  return rows.map((r) => Number(r.operator_id));
}

function passed(r: SippResult): void {
  expect(r.passed, describeRun(r)).toBe(true);
}

describe('priority callers', () => {
  it('a caller on a caller list goes ahead of callers who came earlier', async () => {
    // Created before the queue: once the call path knows the queue, it knows the list too.
    await bench.create('/v1/caller-lists', { name: 'VIP 1', priority: 50, numbers: ['61021'] });
    const s = await setup({}, [{ name: 'ann' }]);
    const early = caller(s.numbers[''] as string, '6101');
    await waitingIn(s.queueId, 1);
    const vip = caller(s.numbers[''] as string, '6102');
    const waiting = await waitingIn(s.queueId, 2);
    expect(waiting.map((w) => [w.callerNumber, w.priority])).toEqual([['61021', 50], ['61011', 0]]);

    await phone(s.ops.ann as TestOperator);
    await setState(s.ops.ann as TestOperator, 'available');
    passed(await vip);
    passed(await early);
    const [v, e] = [await cdrOf('61021'), await cdrOf('61011')];
    expect(v).toMatchObject({ disposition: 'answered', priority: 50, operator_username: (s.ops.ann as TestOperator).username });
    expect(e).toMatchObject({ disposition: 'answered', priority: 0 });
    expect((v.offered_at as Date).getTime()).toBeLessThan((e.offered_at as Date).getTime());
    expect(v.queued_at.getTime()).toBeGreaterThan(e.queued_at.getTime());
  });
});

describe('skills', () => {
  it('a call that needs a skill goes to the operator with it although another has been free longer', async () => {
    const s = await setup({ skillWaitS: 60 }, [{ name: 'plain' }, { name: 'french', skills: ['fr'] }], ['fr']);
    const [plain, french] = [s.ops.plain as TestOperator, s.ops.french as TestOperator];
    await phone(plain);
    await phone(french);
    await setState(plain, 'available');
    await setState(french, 'available');
    passed(await caller(s.numbers.fr as string, '6201'));
    const row = await cdrOf('62011');
    expect(row).toMatchObject({ disposition: 'answered', operator_username: french.username, skill: 'fr' });
    expect(await offersOf(row.call_id)).toEqual([french.id]);
  });

  it('widens to any member after the skill wait when the operators with the skill are on a break', async () => {
    const s = await setup({ skillWaitS: 2 }, [{ name: 'plain' }, { name: 'french', skills: ['fr'] }], ['fr']);
    const [plain, french] = [s.ops.plain as TestOperator, s.ops.french as TestOperator];
    await phone(plain);
    await phone(french);
    await setState(french, 'available');
    await setState(french, 'on-break');
    await setState(plain, 'available');
    const run = caller(s.numbers.fr as string, '6301');
    const [waiting] = await waitingIn(s.queueId, 1);
    expect(waiting).toMatchObject({ callerNumber: '63011', skill: 'fr' });
    passed(await run);
    const row = await cdrOf('63011');
    expect(row).toMatchObject({ disposition: 'answered', operator_username: plain.username, skill: 'fr' });
    // Not offered before the wait was over, and never to the operator on a break.
    expect(Number(row.wait_s)).toBeGreaterThanOrEqual(2);
    expect(await offersOf(row.call_id)).toEqual([plain.id]);
  });

  it('the skill comes from the menu: the caller presses 2 for French', async () => {
    const s = await setup({ skillWaitS: 60, skillMenu: { 1: 'en', 2: 'fr' } }, [{ name: 'plain', skills: ['en'] }, { name: 'french', skills: ['fr'] }]);
    const [plain, french] = [s.ops.plain as TestOperator, s.ops.french as TestOperator];
    await phone(plain);
    await phone(french);
    await setState(plain, 'available');
    await setState(french, 'available');
    const run = caller(s.numbers[''] as string, '6401');
    await media.dtmf(await media.nextPrompt('skill-menu'), '2');
    passed(await run);
    const row = await cdrOf('64011');
    expect(row).toMatchObject({ disposition: 'answered', operator_username: french.username, skill: 'fr' });
    const [enter] = await rowsWhenThere<{ data: Record<string, unknown> }>(bench, `SELECT data FROM queue_events WHERE call_id = $1 AND event = 'enter'`, 1, [row.call_id]);
    expect(enter?.data).toMatchObject({ skill: 'fr' });
  });

  it('nobody has the skill: the caller behind is served first, and the call goes to another after the wait', async () => {
    const s = await setup({ skillWaitS: 4 }, [{ name: 'plain' }], ['de']);
    const plain = s.ops.plain as TestOperator;
    await phone(plain);
    await setState(plain, 'available');
    const german = caller(s.numbers.de as string, '6501');
    await waitingIn(s.queueId, 1);
    passed(await caller(s.numbers[''] as string, '6502'));
    passed(await german);
    const [g, p] = [await cdrOf('65011'), await cdrOf('65021')];
    expect(g).toMatchObject({ disposition: 'answered', operator_username: plain.username, skill: 'de' });
    expect(p).toMatchObject({ disposition: 'answered', operator_username: plain.username, skill: null });
    // The later caller was offered first: no head-of-line blocking by the call nobody could take.
    expect((p.offered_at as Date).getTime()).toBeLessThan((g.offered_at as Date).getTime());
    expect(Number(g.wait_s)).toBeGreaterThanOrEqual(4);
  });
});
