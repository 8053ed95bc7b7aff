import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_KEY, SUPERVISOR_KEY, startTestSwitchboard, type TestSwitchboard } from '../support/switchboard.js';

/**
 * Statistics from a known set of queue and operator events, checked figure by figure against
 * numbers worked out by hand below. The story, on 2024-05-06 (UTC), queue A with T = 20 s and
 * queue B with T = 30 s, operators alice and bob:
 *
 *   c1  A  enter 10:00:00, offer alice 10:00:02, connect 10:00:05 (wait 5), complete 10:02:05
 *          (talk 110, hold 10); alice wraps up 10:02:05-10:02:20 (15)
 *   c2  A  enter 10:01:00, offer bob 10:01:01, no answer 10:01:16, offer bob 10:01:20, connect
 *          10:01:30 (wait 30), complete 10:05:30 (talk 240); bob wraps up 10:05:30-10:05:40 (10)
 *   c3  A  enter 10:03:00, abandon 10:03:03 (wait 3: short, within T)
 *   c4  A  enter 10:04:00, abandon 10:04:40 (wait 40)
 *   c5  A  enter 10:05:00, exit-timeout 10:07:00 (wait 120);
 *       B  enter 10:07:01, offer alice 10:07:08, connect 10:07:11 (wait 10), complete 10:09:11
 *          (talk 120); alice wraps up 10:09:11-10:09:31 (20)
 *   c6  A  exit-full 10:16:00 (refused at once: a visit with wait 0)
 *   c7  A  enter 10:20:00, still waiting
 *   c8  A  enter 10:40:00, offer alice 10:40:05, connect 10:40:10 (wait 10), complete 10:41:00
 *          (talk 40, hold 10); alice wraps up 10:41:00-10:41:30 (30), then a break to 10:50:00
 *   c9  B  enter 10:31:00, exit-empty 10:31:30 (wait 30: one visit, not two)
 *   c10 A  enter 10:50:00, moved to B 10:52:00 (wait 120);
 *       B  enter 10:52:01, abandon 10:53:01 (wait 60)
 *
 * alice: available 09:55:00, ringing 10:00:02, busy 10:00:05, wrap-up 10:02:05, available
 *   10:02:20, ringing 10:07:08, busy 10:07:11, wrap-up 10:09:11, available 10:09:31, ringing
 *   10:40:05, busy 10:40:10, wrap-up 10:41:00, on-break 10:41:30, available 10:50:00,
 *   logged-out 11:00:00.
 * bob: available 10:00:30, ringing 10:01:01, available 10:01:16, ringing 10:01:20, busy 10:01:30,
 *   wrap-up 10:05:30, available 10:05:40, on-break 10:30:00, logged-out 10:45:00.
 */

let sb: TestSwitchboard;
let db: pg.Client;
let qa: number;
let qb: number;
let alice: number;
let bob: number;

const at = (hms: string): string => `2024-05-06T${hms}Z`;
const calls = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`c${i + 1}`, randomUUID()])) as Record<string, string>;

async function qe(call: string, queue: number, event: string, time: string, more: { op?: number; talk?: number; hold?: number } = {}): Promise<void> {
  await db.query(
    `INSERT INTO queue_events (event_id, at, call_id, queue_id, queue_number, operator_id, event, talk_s, hold_s)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [randomUUID(), at(time), calls[call], queue, String(queue), more.op ?? null, event, more.talk ?? null, more.hold ?? null],
  );
}

/** One operator event per state change; from_state_s is worked out from the previous change. */
async function timeline(op: number, changes: [string, string, string?][]): Promise<void> {
  let state = 'logged-out';
  let since: number | undefined;
  for (const [time, to, call] of changes) {
    const t = Date.parse(at(time));
    await db.query(
      `INSERT INTO operator_events (event_id, at, operator_id, from_state, to_state, from_state_s, call_id) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [randomUUID(), at(time), op, state, to, since === undefined ? 0 : (t - since) / 1000, call === undefined ? null : calls[call]],
    );
    state = to;
    since = t;
  }
}

async function seed(): Promise<void> {
  await qe('c1', qa, 'enter', '10:00:00');
  await qe('c1', qa, 'offer', '10:00:02', { op: alice });
  await qe('c1', qa, 'connect', '10:00:05', { op: alice });
  await qe('c1', qa, 'complete-caller', '10:02:05', { op: alice, talk: 110, hold: 10 });
  await qe('c2', qa, 'enter', '10:01:00');
  await qe('c2', qa, 'offer', '10:01:01', { op: bob });
  await qe('c2', qa, 'ring-no-answer', '10:01:16', { op: bob });
  await qe('c2', qa, 'offer', '10:01:20', { op: bob });
  await qe('c2', qa, 'connect', '10:01:30', { op: bob });
  await qe('c2', qa, 'complete-operator', '10:05:30', { op: bob, talk: 240, hold: 0 });
  await qe('c3', qa, 'enter', '10:03:00');
  await qe('c3', qa, 'abandon', '10:03:03');
  await qe('c4', qa, 'enter', '10:04:00');
  await qe('c4', qa, 'abandon', '10:04:40');
  await qe('c5', qa, 'enter', '10:05:00');
  await qe('c5', qa, 'exit-timeout', '10:07:00');
  await qe('c5', qb, 'enter', '10:07:01');
  await qe('c5', qb, 'offer', '10:07:08', { op: alice });
  await qe('c5', qb, 'connect', '10:07:11', { op: alice });
  await qe('c5', qb, 'complete-caller', '10:09:11', { op: alice, talk: 120, hold: 0 });
  await qe('c6', qa, 'exit-full', '10:16:00');
  await qe('c7', qa, 'enter', '10:20:00');
  await qe('c8', qa, 'enter', '10:40:00');
  await qe('c8', qa, 'offer', '10:40:05', { op: alice });
  await qe('c8', qa, 'connect', '10:40:10', { op: alice });
  await qe('c8', qa, 'complete-caller', '10:41:00', { op: alice, talk: 40, hold: 10 });
  await qe('c9', qb, 'enter', '10:31:00');
  await qe('c9', qb, 'exit-empty', '10:31:30');
  await qe('c10', qa, 'enter', '10:50:00');
  await qe('c10', qa, 'transfer', '10:52:00');
  await qe('c10', qb, 'enter', '10:52:01');
  await qe('c10', qb, 'abandon', '10:53:01');

  await timeline(alice, [
    ['09:55:00', 'available'], ['10:00:02', 'ringing', 'c1'], ['10:00:05', 'busy', 'c1'], ['10:02:05', 'wrap-up', 'c1'],
    ['10:02:20', 'available'], ['10:07:08', 'ringing', 'c5'], ['10:07:11', 'busy', 'c5'], ['10:09:11', 'wrap-up', 'c5'],
    ['10:09:31', 'available'], ['10:40:05', 'ringing', 'c8'], ['10:40:10', 'busy', 'c8'], ['10:41:00', 'wrap-up', 'c8'],
    ['10:41:30', 'on-break'], ['10:50:00', 'available'], ['11:00:00', 'logged-out'],
  ]);
  await timeline(bob, [
    ['10:00:30', 'available'], ['10:01:01', 'ringing', 'c2'], ['10:01:16', 'available'], ['10:01:20', 'ringing', 'c2'],
    ['10:01:30', 'busy', 'c2'], ['10:05:30', 'wrap-up', 'c2'], ['10:05:40', 'available'], ['10:30:00', 'on-break'],
    ['10:45:00', 'logged-out'],
  ]);
}

beforeAll(async () => {
  sb = await startTestSwitchboard();
  db = new pg.Client({ connectionString: sb.db.url });
  await db.connect();
  const create = async (path: string, body: Record<string, unknown>): Promise<number> => {
    const res = await sb.api(path, { method: 'POST', body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return (res.body as { id: number }).id;
  };
  qa = await create('/v1/queues', { number: '100', name: 'A', serviceLevelS: 20 });
  qb = await create('/v1/queues', { number: '200', name: 'B', serviceLevelS: 30 });
  alice = await create('/v1/operators', { username: 'alice', password: 'alice-secret', displayName: 'Alice', workNumber: '1' });
  bob = await create('/v1/operators', { username: 'bob', password: 'bob-secret-1', displayName: 'Bob', workNumber: '2' });
  await seed();
});

afterAll(async () => {
  await db?.end();
  await sb?.close();
});

type Interval = Record<string, unknown> & { start: string; end: string };
type Item = Record<string, unknown> & { intervals: Interval[] };

async function report(path: string, key?: string): Promise<{ status: number; items: Item[]; body: Record<string, unknown> }> {
  const res = await sb.api(path, key === undefined ? {} : { key });
  const body = res.body as Record<string, unknown>;
  return { status: res.status, items: (body.items ?? []) as Item[], body };
}

function itemOf(items: Item[], field: string, id: number): Item {
  const item = items.find((i) => i[field] === id);
  if (!item) throw new Error(`no item with ${field} ${id}`);
  return item;
}

/** Every figure of an interval of no calls at all. */
const emptyQueueInterval = {
  offered: 0, answered: 0, answeredWithinT: 0, abandoned: 0, abandonedWithinT: 0, shortAbandoned: 0, timedOut: 0,
  overflowed: 0, transferred: 0, waiting: 0, serviceLevel: null, serviceLevelWithAbandons: null, abandonRate: null,
  abandonRateWithoutShort: null, avgSpeedOfAnswerS: null, longestWaitS: null, handled: 0, talkS: 0, holdS: 0, wrapupS: 0,
  avgHandleS: null, operatorsAnswering: 0, callsPerOperator: null, rated: 0, notRated: 0, avgRating: null,
};

describe('queue statistics', () => {
  it('per 15 minutes: every figure of queue A as worked out by hand, empty intervals with zeros', async () => {
    const r = await report(`/v1/stats/queues?from=${at('10:00:00')}&to=${at('11:00:00')}&interval=15m&shortAbandonS=5`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ from: '2024-05-06T10:00:00.000Z', to: '2024-05-06T11:00:00.000Z', interval: '15m', tz: 'UTC', shortAbandonS: 5 });
    expect(r.items.map((i) => i.number)).toEqual(['100', '200']);
    const a = itemOf(r.items, 'queueId', qa);
    expect(a).toMatchObject({ number: '100', name: 'A', serviceLevelS: 20 });
    expect(a.intervals.map((i) => [i.start, i.end])).toEqual([
      ['2024-05-06T10:00:00.000Z', '2024-05-06T10:15:00.000Z'],
      ['2024-05-06T10:15:00.000Z', '2024-05-06T10:30:00.000Z'],
      ['2024-05-06T10:30:00.000Z', '2024-05-06T10:45:00.000Z'],
      ['2024-05-06T10:45:00.000Z', '2024-05-06T11:00:00.000Z'],
    ]);
    // 10:00-10:15: c1 (answered, wait 5), c2 (answered, wait 30), c3 (abandoned, 3), c4 (abandoned, 40),
    // c5 (timed out, 120).
    expect(a.intervals[0]).toMatchObject({
      offered: 5,
      answered: 2,
      answeredWithinT: 1, // c1: 5 <= 20; c2: 30 > 20
      abandoned: 2,
      abandonedWithinT: 1, // c3: 3 <= 20
      shortAbandoned: 1, // c3: 3 < 5
      timedOut: 1,
      overflowed: 0,
      transferred: 0,
      waiting: 0,
      serviceLevel: 0.5, // 1 / 2
      serviceLevelWithAbandons: 0.5, // (1 + 1) / (2 + 2)
      abandonRate: 0.5, // 2 / (2 + 2)
      abandonRateWithoutShort: 0.3333, // (2 - 1) / (2 + 2 - 1) = 1/3
      avgSpeedOfAnswerS: 17.5, // (5 + 30) / 2
      longestWaitS: 120, // c5
      handled: 2,
      talkS: 350, // 110 + 240
      holdS: 10,
      wrapupS: 25, // alice 15 after c1, bob 10 after c2
      avgHandleS: 192.5, // ((110 + 10 + 15) + (240 + 0 + 10)) / 2 = (135 + 250) / 2
      operatorsAnswering: 2,
      callsPerOperator: 1, // 2 / 2
    });
    // 10:15-10:30: c6 refused because full (wait 0), c7 still waiting.
    expect(a.intervals[1]).toEqual({
      ...emptyQueueInterval, start: '2024-05-06T10:15:00.000Z', end: '2024-05-06T10:30:00.000Z', offered: 2, overflowed: 1, waiting: 1, longestWaitS: 0,
    });
    // 10:30-10:45: c8 answered after 10 s, talk 40 + hold 10 + wrap-up 30 = 80.
    expect(a.intervals[2]).toEqual({
      ...emptyQueueInterval, start: '2024-05-06T10:30:00.000Z', end: '2024-05-06T10:45:00.000Z',
      offered: 1, answered: 1, answeredWithinT: 1, serviceLevel: 1, serviceLevelWithAbandons: 1, abandonRate: 0, abandonRateWithoutShort: 0,
      avgSpeedOfAnswerS: 10, longestWaitS: 10, handled: 1, talkS: 40, holdS: 10, wrapupS: 30, avgHandleS: 80, operatorsAnswering: 1, callsPerOperator: 1,
    });
    // 10:45-11:00: c10 moved to queue B after 120 s.
    expect(a.intervals[3]).toEqual({
      ...emptyQueueInterval, start: '2024-05-06T10:45:00.000Z', end: '2024-05-06T11:00:00.000Z', offered: 1, transferred: 1, longestWaitS: 120,
    });
  });

  it('per 15 minutes: queue B, a caller overflowing into it and one leaving when nobody is logged in', async () => {
    const r = await report(`/v1/stats/queues?from=${at('10:00:00')}&to=${at('11:00:00')}&interval=15m&queueId=${qb}`);
    expect(r.items).toHaveLength(1);
    const b = itemOf(r.items, 'queueId', qb);
    expect(b.serviceLevelS).toBe(30);
    // 10:00-10:15: c5 answered by alice after 10 s; talk 120 + wrap-up 20 = 140.
    expect(b.intervals[0]).toMatchObject({ offered: 1, answered: 1, answeredWithinT: 1, serviceLevel: 1, avgSpeedOfAnswerS: 10, longestWaitS: 10, handled: 1, avgHandleS: 140 });
    expect(b.intervals[1]).toMatchObject({ offered: 0, answered: 0, serviceLevel: null, longestWaitS: null });
    // 10:30-10:45: c9 left after 30 s when nobody was logged in: one visit (its enter and its exit), overflowed.
    expect(b.intervals[2]).toMatchObject({ offered: 1, overflowed: 1, answered: 0, abandoned: 0, longestWaitS: 30 });
    // 10:45-11:00: c10 hung up after 60 s in B: > T (30) and not short.
    expect(b.intervals[3]).toMatchObject({ offered: 1, abandoned: 1, abandonedWithinT: 0, shortAbandoned: 0, abandonRate: 1, abandonRateWithoutShort: 1, serviceLevelWithAbandons: 0 });
  });

  it('over the whole range as one interval, with and without short abandons', async () => {
    const r = await report(`/v1/stats/queues?from=${at('10:00:00')}&to=${at('11:00:00')}`);
    expect(r.body.interval).toBeNull();
    const a = itemOf(r.items, 'queueId', qa);
    expect(a.intervals).toHaveLength(1);
    // c1..c8 and c10: 9 visits; answered c1, c2, c8; within T c1 (5) and c8 (10).
    expect(a.intervals[0]).toMatchObject({
      offered: 9, answered: 3, answeredWithinT: 2, abandoned: 2, abandonedWithinT: 1, shortAbandoned: 1, timedOut: 1, overflowed: 1, transferred: 1, waiting: 1,
      serviceLevel: 0.6667, // 2 / 3
      serviceLevelWithAbandons: 0.6, // (2 + 1) / (3 + 2)
      abandonRate: 0.4, // 2 / (3 + 2)
      abandonRateWithoutShort: 0.25, // 1 / (5 - 1)
      avgSpeedOfAnswerS: 15, // (5 + 30 + 10) / 3
      longestWaitS: 120,
      handled: 3, talkS: 390, holdS: 20, wrapupS: 55,
      avgHandleS: 155, // (135 + 250 + 80) / 3
      operatorsAnswering: 2,
      callsPerOperator: 1.5, // 3 / 2
    });
    const b = itemOf(r.items, 'queueId', qb);
    // c5 answered (10 s), c9 overflowed (30 s), c10 abandoned (60 s).
    expect(b.intervals[0]).toMatchObject({
      offered: 3, answered: 1, abandoned: 1, overflowed: 1, serviceLevel: 1, serviceLevelWithAbandons: 0.5, abandonRate: 0.5, avgSpeedOfAnswerS: 10, longestWaitS: 60,
    });

    const noShort = await report(`/v1/stats/queues?from=${at('10:00:00')}&to=${at('11:00:00')}&queueId=${qa}&shortAbandonS=0`);
    expect(noShort.body.shortAbandonS).toBe(0);
    expect(itemOf(noShort.items, 'queueId', qa).intervals[0]).toMatchObject({ shortAbandoned: 0, abandonRate: 0.4, abandonRateWithoutShort: 0.4 });
  });

  it('per hour and per day, in a time zone: days begin at local midnight', async () => {
    const hours = await report(`/v1/stats/queues?from=${at('09:00:00')}&to=${at('11:00:00')}&interval=1h&queueId=${qa}`);
    const a = itemOf(hours.items, 'queueId', qa);
    expect(a.intervals.map((i) => i.offered)).toEqual([0, 9]);
    // Berlin is UTC+2 in May: 2024-05-06 there is 2024-05-05T22:00Z to 2024-05-06T22:00Z.
    const days = await report(`/v1/stats/queues?from=2024-05-05T22:00:00Z&to=2024-05-07T22:00:00Z&interval=1d&tz=Europe/Berlin&queueId=${qa}`);
    expect(days.body.tz).toBe('Europe/Berlin');
    const d = itemOf(days.items, 'queueId', qa);
    expect(d.intervals.map((i) => [i.start, i.offered])).toEqual([
      ['2024-05-05T22:00:00.000Z', 9],
      ['2024-05-06T22:00:00.000Z', 0],
    ]);
    // In UTC the same range cuts three days: the first only from 22:00.
    const utc = await report(`/v1/stats/queues?from=2024-05-05T22:00:00Z&to=2024-05-07T22:00:00Z&interval=1d&queueId=${qa}`);
    expect(itemOf(utc.items, 'queueId', qa).intervals.map((i) => [i.start, i.end, i.offered])).toEqual([
      ['2024-05-05T22:00:00.000Z', '2024-05-06T00:00:00.000Z', 0],
      ['2024-05-06T00:00:00.000Z', '2024-05-07T00:00:00.000Z', 9],
      ['2024-05-07T00:00:00.000Z', '2024-05-07T22:00:00.000Z', 0],
    ]);
  });

  it('has days of 23 hours when the clocks go forward, and hours on the local hour in :30 zones', async () => {
    // Berlin went from UTC+1 to UTC+2 on 2024-03-31: that day lasted 23 hours.
    const dst = await report(`/v1/stats/queues?from=2024-03-30T23:00:00Z&to=2024-04-01T22:00:00Z&interval=1d&tz=Europe/Berlin&queueId=${qa}`);
    expect(itemOf(dst.items, 'queueId', qa).intervals.map((i) => [i.start, i.end])).toEqual([
      ['2024-03-30T23:00:00.000Z', '2024-03-31T22:00:00.000Z'],
      ['2024-03-31T22:00:00.000Z', '2024-04-01T22:00:00.000Z'],
    ]);
    // India is UTC+5:30: its hours begin at half past in UTC.
    const india = await report(`/v1/stats/queues?from=${at('09:30:00')}&to=${at('11:30:00')}&interval=1h&tz=Asia/Kolkata&queueId=${qa}`);
    expect(itemOf(india.items, 'queueId', qa).intervals.map((i) => [i.start, i.offered])).toEqual([
      ['2024-05-06T09:30:00.000Z', 7], // c1..c7, who entered 10:00-10:20
      ['2024-05-06T10:30:00.000Z', 2], // c8 (10:40) and c10 (10:50)
    ]);
  });
});

describe('operator statistics', () => {
  it('per 15 minutes: calls, handle time, time in each state split over the intervals, occupancy', async () => {
    const r = await report(`/v1/stats/operators?from=${at('10:00:00')}&to=${at('11:00:00')}&interval=15m`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.items.map((i) => i.username)).toEqual(['alice', 'bob']);
    const a = itemOf(r.items, 'operatorId', alice);
    expect(a.displayName).toBe('Alice');
    expect(a.intervals[0]).toMatchObject({
      offered: 2, answered: 2, missed: 0, // c1, c5
      handled: 2, talkS: 230, holdS: 10, wrapupS: 35, // c1 110+10+15, c5 120+0+20
      avgHandleS: 137.5, // (135 + 140) / 2
      // available 10:00:00-10:00:02 (2, cut at the start), 10:02:20-10:07:08 (288), 10:09:31-10:15:00 (329)
      availableS: 619,
      ringingS: 6, // 3 + 3
      busyS: 240, // 120 + 120
      wrapUpStateS: 35, // 15 + 20
      onBreakS: 0,
      loggedInS: 900,
      occupancy: 0.3056, // (240 + 35) / 900
    });
    expect(a.intervals[1]).toMatchObject({ offered: 0, answered: 0, handled: 0, avgHandleS: null, availableS: 900, loggedInS: 900, occupancy: 0 });
    expect(a.intervals[2]).toMatchObject({
      offered: 1, answered: 1, handled: 1, avgHandleS: 80, // c8: 40 + 10 + 30
      availableS: 605, // 10:30:00-10:40:05
      ringingS: 5, busyS: 50, wrapUpStateS: 30,
      onBreakS: 210, // 10:41:30-10:45:00
      loggedInS: 900,
      occupancy: 0.1159, // (50 + 30) / (900 - 210) = 80 / 690
    });
    expect(a.intervals[3]).toMatchObject({ onBreakS: 300, availableS: 600, loggedInS: 900, occupancy: 0 });

    const b = itemOf(r.items, 'operatorId', bob);
    expect(b.intervals[0]).toMatchObject({
      offered: 2, answered: 1, missed: 1,
      handled: 1, talkS: 240, holdS: 0, wrapupS: 10, avgHandleS: 250,
      availableS: 595, // 10:00:30-10:01:01 (31), 10:01:16-10:01:20 (4), 10:05:40-10:15:00 (560)
      ringingS: 25, // 15 + 10
      busyS: 240, wrapUpStateS: 10,
      loggedInS: 870, // from 10:00:30
      occupancy: 0.2874, // (240 + 10) / 870
    });
    // All of 10:30-10:45 on break: nothing to be occupied in.
    expect(b.intervals[2]).toMatchObject({ onBreakS: 900, loggedInS: 900, occupancy: null });
    expect(b.intervals[3]).toMatchObject({ loggedInS: 0, occupancy: null, offered: 0 });
  });

  it('over the whole range for one operator', async () => {
    const r = await report(`/v1/stats/operators?from=${at('10:00:00')}&to=${at('11:00:00')}&operatorId=${alice}`);
    expect(r.items).toHaveLength(1);
    expect(itemOf(r.items, 'operatorId', alice).intervals[0]).toMatchObject({
      offered: 3, answered: 3, handled: 3, talkS: 270, holdS: 20, wrapupS: 65,
      avgHandleS: 118.333, // (135 + 140 + 80) / 3
      loggedInS: 3600, onBreakS: 510, availableS: 2724, ringingS: 11, busyS: 290, wrapUpStateS: 65,
      occupancy: 0.1149, // (290 + 65) / (3600 - 510) = 355 / 3090
    });
  });
});

describe('statistics requests', () => {
  const range = `from=${at('10:00:00')}&to=${at('11:00:00')}`;

  it('are for supervisors and admins', async () => {
    expect((await report(`/v1/stats/queues?${range}`, SUPERVISOR_KEY)).status).toBe(200);
    expect((await report(`/v1/stats/operators?${range}`, SUPERVISOR_KEY)).status).toBe(200);
    expect((await report(`/v1/stats/queues?${range}`, OPERATOR_KEY)).status).toBe(403);
    expect((await report(`/v1/stats/operators?${range}`, OPERATOR_KEY)).status).toBe(403);
  });

  it('refuse a bad range, interval, time zone or threshold, naming the field', async () => {
    const field = async (path: string): Promise<unknown> => {
      const r = await sb.api(path);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      return (r.body as { error: { field?: string } }).error.field;
    };
    expect(await field(`/v1/stats/queues?to=${at('11:00:00')}`)).toBe('from');
    expect(await field(`/v1/stats/queues?from=${at('11:00:00')}&to=${at('10:00:00')}`)).toBe('to');
    expect(await field(`/v1/stats/queues?${range}&interval=5m`)).toBe('interval');
    expect(await field(`/v1/stats/queues?from=2020-01-01T00:00:00Z&to=2024-01-01T00:00:00Z&interval=15m`)).toBe('interval');
    expect(await field(`/v1/stats/queues?${range}&tz=Mars/Olympus`)).toBe('tz');
    expect(await field(`/v1/stats/queues?${range}&shortAbandonS=-1`)).toBe('shortAbandonS');
    expect(await field(`/v1/stats/operators?${range}&tz=Nowhere`)).toBe('tz');
  });

  it('answer 404 for a queue or operator that does not exist', async () => {
    expect((await sb.api(`/v1/stats/queues?${range}&queueId=9999`)).status).toBe(404);
    expect((await sb.api(`/v1/stats/operators?${range}&operatorId=9999`)).status).toBe(404);
  });
});

describe('ratings', () => {
  /** A call row as the recorder writes it, ended at `ended` on 2024-05-07 with a rating outcome. */
  async function ratedCall(queue: number, op: number, ended: string, rating: number | null, result: 'rated' | 'not-rated' | null): Promise<void> {
    const end = `2024-05-07T${ended}Z`;
    await db.query(
      `INSERT INTO calls (call_id, instance_id, caller_number, dialled_number, queue_id, operator_id, arrived_at, ended_at, disposition,
                          rating, rating_result, rating_operator_id)
       VALUES ($1, 'sb-1', '555', '8000', $2, $3, $4, $4, 'answered', $5, $6, $7)`,
      [randomUUID(), queue, op, end, rating, result, result === null ? null : op],
    );
  }

  it('counts rated and not-rated calls and averages the ratings per queue and per operator, by when the call ended', async () => {
    await ratedCall(qa, alice, '09:10:00', 5, 'rated');
    await ratedCall(qa, alice, '09:20:00', 2, 'rated');
    await ratedCall(qa, bob, '09:25:00', null, 'not-rated');
    await ratedCall(qb, bob, '09:30:00', 4, 'rated');
    await ratedCall(qa, bob, '09:40:00', null, null); // not asked: counts nowhere
    await ratedCall(qa, alice, '10:10:00', 3, 'rated'); // the next hour

    const range = 'from=2024-05-07T09:00:00Z&to=2024-05-07T11:00:00Z&interval=1h';
    const queues = await report(`/v1/stats/queues?${range}`);
    expect(queues.status).toBe(200);
    expect(itemOf(queues.items, 'queueId', qa).intervals.map((i) => [i.rated, i.notRated, i.avgRating])).toEqual([[2, 1, 3.5], [1, 0, 3]]);
    expect(itemOf(queues.items, 'queueId', qb).intervals.map((i) => [i.rated, i.notRated, i.avgRating])).toEqual([[1, 0, 4], [0, 0, null]]);

    const operators = await report(`/v1/stats/operators?${range}`);
    expect(operators.status).toBe(200);
    expect(itemOf(operators.items, 'operatorId', alice).intervals.map((i) => [i.rated, i.notRated, i.avgRating])).toEqual([[2, 0, 3.5], [1, 0, 3]]);
    expect(itemOf(operators.items, 'operatorId', bob).intervals.map((i) => [i.rated, i.notRated, i.avgRating])).toEqual([[1, 1, 4], [0, 0, null]]);
  });

  it('refuses a rating outside 1-5, and a rating without the rated result', async () => {
    await expect(ratedCall(qa, alice, '12:00:00', 6, 'rated')).rejects.toThrow(/check constraint/);
    await expect(ratedCall(qa, alice, '12:00:00', 3, 'not-rated')).rejects.toThrow(/calls_rating_given/);
    await expect(ratedCall(qa, alice, '12:00:00', null, 'rated')).rejects.toThrow(/calls_rating_given/);
  });
});
