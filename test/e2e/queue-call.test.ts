import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callers, mediaChannels, operatorPhone, rowsWhenThere, startCallBench, testMediaMode, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun, requestsOf, responsesOf } from '../support/sipp.js';

/**
 * One caller, one queue, one operator, over real SIP through both benches: the basic path of
 * the call core, checked on the wire, on the media server and in the records.
 */
let bench: CallBench;
let queueId: number;
let operatorId: number;
let phone: Phone | undefined;

beforeAll(async () => {
  bench = await startCallBench();
  queueId = (await bench.create('/v1/queues', { number: '100', name: 'Front desk', ringTimeoutS: 5, wrapupS: 1, announceIntervalS: 0 })).id as number;
  await bench.create('/v1/routes', { number: '8000', targetType: 'queue', queueId });
  operatorId = (await bench.create('/v1/operators', { username: 'alice', password: 'alice-secret', displayName: 'Alice', workNumber: '67354' })).id as number;
  await bench.sb.api(`/v1/queues/${queueId}/members/${operatorId}`, { method: 'PUT', body: {} });
});

afterAll(async () => {
  phone?.run.kill();
  await bench?.close();
});

describe('a call through a queue to an operator', () => {
  it('rings the operator with the caller\'s number, the queue\'s name and the call id, bridges them, and records it all', async () => {
    phone = await operatorPhone(bench, 'alice', 'alice-secret', 'operator-hangup.xml', { pauseMs: 1500, calls: 1 });
    const login = await bench.sb.api(`/v1/operators/${operatorId}/state`, { method: 'PUT', body: { state: 'available' } });
    expect(login.body).toMatchObject({ state: 'available' });

    const call = callers(bench, 'caller.xml', '8000', { calls: 1 });
    // While they talk, anchored: the media server has the two legs bridged; direct: it has
    // none (the operator was free, so the caller was answered with the operator's media).
    const standIn = bench.freeswitch.standIn;
    if (standIn && testMediaMode() === 'anchored') {
      const bridged = await until('caller and operator bridged', async () => standIn.model.channels().find((c) => standIn.model.bridgedWith(c.uuid) !== undefined), 10_000);
      expect(standIn.model.bridgedWith(bridged.uuid)).toBeDefined();
    }
    if (testMediaMode() === 'direct') {
      await until('the caller\'s media server channel to be released', async () => ((await mediaChannels(bench)) === 0 ? true : undefined), 10_000);
    }
    const live = await until('the call to show as connected', async () => {
      const res = await bench.sb.api('/v1/calls');
      const items = (res.body as { items: { state: string; operatorId: number }[] }).items;
      return items.find((c) => c.state === 'connected');
    });
    expect(live.operatorId).toBe(operatorId);

    const caller = await call;
    expect(caller.passed, describeRun(caller)).toBe(true);
    const operator = await phone.run.done;
    expect(operator.passed, describeRun(operator)).toBe(true);

    const [invite] = requestsOf(operator, 'received', 'INVITE');
    // Direct, operator free: the operator's phone is offered the caller's own media before the
    // caller is answered, and the caller is answered with the operator's (ringback meanwhile): the
    // media server never has the call, so no re-INVITE moves anyone.
    const reinvites = requestsOf(caller, 'received', 'INVITE');
    const [answer] = responsesOf(caller, 'received', 200, 'INVITE');
    expect(reinvites).toHaveLength(0);
    if (testMediaMode() === 'direct') {
      expect(invite?.body).toContain('o=caller 53655765 2353687637');
      expect(answer?.body).toContain('o=operator 53655765 2353687637');
      expect(responsesOf(caller, 'received', 180, 'INVITE').length).toBeGreaterThanOrEqual(1);
    } else {
      // Anchored: the phone is rung without SDP, its 200 OK makes the offer and the media
      // server's answer comes in the ACK; no re-INVITE follows to give the media server the
      // phone's description.
      expect(invite?.body ?? '').toBe('');
      expect(requestsOf(operator, 'received', 'INVITE')).toHaveLength(1);
      const [ack] = requestsOf(operator, 'received', 'ACK');
      expect(ack?.body).toMatch(/^v=0\r?\n/);
      expect(ack?.body).not.toContain('o=operator');
      expect(answer?.body).not.toContain('o=operator');
    }
    expect(invite?.get('From')).toMatch(/^"Front desk: Guest 1" <sip:20001@/);
    expect(invite?.get('X-Queue')).toBe('Front desk');
    const callId = invite?.get('X-Call-ID');
    expect(callId).toMatch(/^[0-9a-f-]{36}$/);

    const [cdr] = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE call_id = $1', 1, [callId]);
    expect(cdr).toMatchObject({
      caller_number: '20001',
      caller_name: 'Guest 1',
      dialled_number: '8000',
      route_type: 'queue',
      queue_number: '100',
      operator_username: 'alice',
      disposition: 'answered',
      hangup_by: 'operator',
    });
    // The phone hangs up 1.5 s after its 200; the talk counts from the bridge, which comes a
    // little later on a loaded machine. A talk time that was not measured would be about 0.
    expect(Number(cdr?.talk_s)).toBeGreaterThanOrEqual(1.0);
    const legs = await rowsWhenThere(bench, 'SELECT role, direction, hangup_by FROM call_legs WHERE call_id = $1 ORDER BY started_at', 2, [callId]);
    expect(legs).toEqual([
      { role: 'caller', direction: 'inbound', hangup_by: 'operator' },
      { role: 'operator', direction: 'outbound', hangup_by: 'operator' },
    ]);
    const events = await rowsWhenThere<{ event: string }>(bench, 'SELECT event FROM queue_events WHERE call_id = $1 ORDER BY at', 4, [callId]);
    expect(events.map((e) => e.event)).toEqual(['enter', 'offer', 'connect', 'complete-operator']);

    // Wrap-up, then free again.
    const free = await until('alice to be available after wrap-up', async () => {
      const res = await bench.sb.api(`/v1/operators/${operatorId}/state`);
      const s = res.body as { state: string; callsTaken: number };
      return s.state === 'available' ? s : undefined;
    });
    expect(free.callsTaken).toBe(1);
    const states = await rowsWhenThere<{ from_state: string; to_state: string }>(
      bench, 'SELECT from_state, to_state FROM operator_events WHERE operator_id = $1 ORDER BY at', 5, [operatorId],
    );
    expect(states.map((s) => `${s.from_state}>${s.to_state}`)).toEqual([
      'logged-out>available', 'available>ringing', 'ringing>busy', 'busy>wrap-up', 'wrap-up>available',
    ]);
    if (standIn) expect(standIn.model.channels()).toEqual([]);
  });
});
