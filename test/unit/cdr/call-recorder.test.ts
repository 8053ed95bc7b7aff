import { describe, expect, it } from 'vitest';
import { CallRecorder } from '../../../src/cdr/call-recorder.js';
import type { CallRecord, HistoryRecord, LegRecord, QueueEventRecord } from '../../../src/cdr/records.js';

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);
const queue = { id: 3, number: '100' };
const alice = { id: 7, username: 'alice' };
const bob = { id: 8, username: 'bob' };

function recorder(): { rec: CallRecorder; out: HistoryRecord[] } {
  const out: HistoryRecord[] = [];
  let n = 0;
  const rec = new CallRecorder(
    { callId: 'call-1', instanceId: 'i1', callerNumber: '5551234', callerName: 'Guest', dialledNumber: '8000', arrivedAt: T0 },
    (r) => out.push(r),
    () => `id-${++n}`,
  );
  return { rec, out };
}

const calls = (out: HistoryRecord[]): CallRecord[] => out.flatMap((r) => (r.kind === 'call' ? [r.row] : []));
const events = (out: HistoryRecord[]): QueueEventRecord[] => out.flatMap((r) => (r.kind === 'queue-event' ? [r.row] : []));
const legs = (out: HistoryRecord[]): LegRecord[] => out.flatMap((r) => (r.kind === 'leg' ? [r.row] : []));

describe('CallRecorder', () => {
  it('records an answered queue call: events as they happen, the row at the end', () => {
    const { rec, out } = recorder();
    rec.routed('queue');
    rec.enterQueue(queue, 2, T0 + 100);
    rec.offer(alice, T0 + 10_100);
    rec.ringNoAnswer(alice, 15_000, T0 + 25_100, 'no answer');
    rec.offer(bob, T0 + 25_200);
    rec.connect(bob, 3_000, T0 + 28_200);
    expect(calls(out)).toEqual([]);
    rec.end({ at: T0 + 88_200, hangupBy: 'caller', sipStatus: 200, sipReason: 'BYE' });

    expect(events(out).map((e) => [e.event, e.operatorId])).toEqual([
      ['enter', null], ['offer', 7], ['ring-no-answer', 7], ['offer', 8], ['connect', 8], ['complete-caller', 8],
    ]);
    expect(events(out)[0]).toMatchObject({ position: 2, queueId: 3, queueNumber: '100', callId: 'call-1' });
    expect(events(out)[2]).toMatchObject({ ringS: 15, data: { reason: 'no answer' } });
    expect(events(out)[4]).toMatchObject({ waitS: 28.1, ringS: 3 });
    expect(events(out)[5]).toMatchObject({ talkS: 60, waitS: 28.1, holdS: 0 });
    expect(calls(out)).toEqual([
      {
        callId: 'call-1', instanceId: 'i1', callerNumber: '5551234', callerName: 'Guest', dialledNumber: '8000',
        routeType: 'queue', queueId: 3, queueNumber: '100', operatorId: 8, operatorUsername: 'bob', operators: ['bob'],
        arrivedAt: new Date(T0).toISOString(), queuedAt: new Date(T0 + 100).toISOString(),
        offeredAt: new Date(T0 + 10_100).toISOString(), answeredAt: new Date(T0 + 28_200).toISOString(),
        endedAt: new Date(T0 + 88_200).toISOString(), waitS: 28.1, talkS: 60, holdS: 0,
        disposition: 'answered', hangupBy: 'caller', sipStatus: 200, sipReason: 'BYE', priority: 0, skill: null,
        intercept: null, interceptNewNumber: null, rating: null, ratingResult: null, ratingOperatorId: null,
      },
    ]);
  });

  it('records the priority and skill a caller waited with, on the row and the enter event', () => {
    const { rec, out } = recorder();
    rec.waitsWith(7, 'fr');
    rec.enterQueue(queue, 1, T0);
    rec.leaveQueue('abandon', T0 + 1000);
    rec.end({ at: T0 + 1000, hangupBy: 'caller' });
    expect(events(out)[0]?.data).toEqual({ callerNumber: '5551234', priority: 7, skill: 'fr' });
    expect(calls(out)[0]).toMatchObject({ priority: 7, skill: 'fr' });
  });

  it('records an abandon with the time waited', () => {
    const { rec, out } = recorder();
    rec.enterQueue(queue, 1, T0);
    rec.leaveQueue('abandon', T0 + 12_345);
    rec.end({ at: T0 + 12_345, hangupBy: 'caller' });
    expect(events(out).map((e) => e.event)).toEqual(['enter', 'abandon']);
    expect(events(out)[1]?.waitS).toBe(12.345);
    expect(calls(out)[0]).toMatchObject({ disposition: 'abandoned', waitS: 12.345, talkS: 0, answeredAt: null, operatorId: null });
  });

  it('calls a max-wait exit a timeout and a full queue an overflow', () => {
    const a = recorder();
    a.rec.enterQueue(queue, 1, T0);
    a.rec.leaveQueue('exit-timeout', T0 + 60_000);
    a.rec.end({ at: T0 + 65_000, hangupBy: 'system' });
    expect(calls(a.out)[0]).toMatchObject({ disposition: 'timeout', waitS: 65 });
    const b = recorder();
    b.rec.enterQueue(queue, 11, T0);
    b.rec.leaveQueue('exit-full', T0);
    b.rec.end({ at: T0 + 3000, hangupBy: 'system' });
    expect(calls(b.out)[0]).toMatchObject({ disposition: 'overflow' });
  });

  it('takes an explicit disposition for rejections and failures', () => {
    const { rec, out } = recorder();
    rec.routed('reject');
    rec.end({ at: T0, hangupBy: 'system', sipStatus: 403, sipReason: 'Forbidden', disposition: 'rejected' });
    expect(calls(out)[0]).toMatchObject({ disposition: 'rejected', sipStatus: 403, routeType: 'reject', queueId: null });
    expect(events(out)).toEqual([]);
  });

  it('says when the dialled number was intercepted, and where the caller went on to', () => {
    const told = recorder();
    told.rec.intercepted('withdrawn', null);
    told.rec.end({ at: T0 + 4000, hangupBy: 'system', sipStatus: 410, sipReason: 'Gone', disposition: 'rejected' });
    expect(calls(told.out)[0]).toMatchObject({ intercept: 'withdrawn', interceptNewNumber: null, disposition: 'rejected', routeType: null });

    const connected = recorder();
    connected.rec.intercepted('connected', '8001');
    connected.rec.routed('queue');
    connected.rec.enterQueue(queue, 1, T0 + 4000);
    connected.rec.connect(alice, 1000, T0 + 6000);
    connected.rec.end({ at: T0 + 9000, hangupBy: 'caller' });
    expect(calls(connected.out)[0]).toMatchObject({ intercept: 'connected', interceptNewNumber: '8001', routeType: 'queue', disposition: 'answered', waitS: 2 });
  });

  it('takes hold time out of talk time', () => {
    const { rec, out } = recorder();
    rec.enterQueue(queue, 1, T0);
    rec.connect(alice, 1000, T0 + 1000);
    rec.hold(T0 + 11_000);
    rec.unhold(T0 + 21_000);
    rec.hold(T0 + 31_000);
    rec.end({ at: T0 + 41_000, hangupBy: 'operator' });
    expect(calls(out)[0]).toMatchObject({ talkS: 20, holdS: 20 });
    expect(events(out).at(-1)).toMatchObject({ event: 'complete-operator', talkS: 20, holdS: 20 });
  });

  it('records the rating of the operator who hung up first; talk time ends at their hang-up, not after the rating', () => {
    const { rec, out } = recorder();
    rec.enterQueue(queue, 1, T0);
    rec.connect(alice, 1000, T0 + 1000);
    rec.rated(alice.id, 4);
    rec.end({ at: T0 + 50_000, hangupBy: 'operator', talkEndedAt: T0 + 31_000 });
    expect(calls(out)[0]).toMatchObject({ talkS: 30, rating: 4, ratingResult: 'rated', ratingOperatorId: alice.id, endedAt: new Date(T0 + 50_000).toISOString() });
    expect(events(out).at(-1)).toMatchObject({ event: 'complete-operator', talkS: 30, at: new Date(T0 + 31_000).toISOString() });
  });

  it('tells "not rated" (asked, no valid answer) from not asked', () => {
    const asked = recorder();
    asked.rec.enterQueue(queue, 1, T0);
    asked.rec.connect(alice, 1000, T0 + 1000);
    asked.rec.rated(alice.id, null);
    asked.rec.end({ at: T0 + 20_000, hangupBy: 'operator' });
    expect(calls(asked.out)[0]).toMatchObject({ rating: null, ratingResult: 'not-rated', ratingOperatorId: alice.id });
    const notAsked = recorder();
    notAsked.rec.enterQueue(queue, 1, T0);
    notAsked.rec.end({ at: T0 + 20_000, hangupBy: 'caller' });
    expect(calls(notAsked.out)[0]).toMatchObject({ rating: null, ratingResult: null, ratingOperatorId: null });
  });

  it('emits the row once even if ended twice, and legs once each', () => {
    const { rec, out } = recorder();
    const leg = rec.leg('caller', 'inbound', 'sip-call-1', '5551234', T0);
    leg.answered(T0 + 10);
    leg.end(T0 + 100, 'caller', 200, 'BYE');
    leg.end(T0 + 200, 'system');
    rec.end({ at: T0 + 100, hangupBy: 'caller' });
    rec.end({ at: T0 + 200, hangupBy: 'system' });
    expect(calls(out)).toHaveLength(1);
    expect(legs(out)).toEqual([
      {
        legId: 'id-1', callId: 'call-1', role: 'caller', direction: 'inbound', sipCallId: 'sip-call-1', party: '5551234', operatorId: null,
        startedAt: new Date(T0).toISOString(), answeredAt: new Date(T0 + 10).toISOString(), endedAt: new Date(T0 + 100).toISOString(),
        endStatus: 200, endReason: 'BYE', hangupBy: 'caller',
      },
    ]);
  });

  it('lists every operator the caller talked to, first one as the operator', () => {
    const { rec, out } = recorder();
    rec.answered(T0 + 5, alice);
    rec.answered(T0 + 50, bob);
    rec.end({ at: T0 + 100, hangupBy: 'caller' });
    expect(calls(out)[0]).toMatchObject({ operatorId: 7, operatorUsername: 'alice', operators: ['alice', 'bob'], disposition: 'answered', answeredAt: new Date(T0 + 5).toISOString() });
  });
});
