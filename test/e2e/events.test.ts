import { EventEmitter } from 'node:events';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStream } from '../../src/events/stream.js';
import { createLogger } from '../../src/log.js';
import type { BusEvent } from '../../src/redis/events.js';
import { callers, operatorPhone, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun } from '../support/sipp.js';
import { SseClient } from '../support/sse.js';
import { SUPERVISOR_KEY, type TestSwitchboard } from '../support/switchboard.js';

/**
 * The live event stream across instances: two switchboards on one drachtio-server, Redis and
 * PostgreSQL; a client of either sees every step of every call, whichever instance holds it.
 */
let bench: CallBench;
let second: TestSwitchboard;
let operatorId: number;
let phone: Phone | undefined;
const streams: SseClient[] = [];

beforeAll(async () => {
  bench = await startCallBench({ INSTANCE_ID: 'sb-a' });
  second = await bench.another('sb-b');
  const queueId = (await bench.create('/v1/queues', { number: '300', name: 'Events', wrapupS: 0, announceIntervalS: 0, ringTimeoutS: 10 })).id as number;
  await bench.create('/v1/routes', { number: '8300', targetType: 'queue', queueId });
  operatorId = (await bench.create('/v1/operators', { username: 'eve', password: 'eve-secret', displayName: 'Eve', workNumber: '300' })).id as number;
  await bench.sb.api(`/v1/queues/${queueId}/members/${operatorId}`, { method: 'PUT', body: {} });
  phone = await operatorPhone(bench, 'eve', 'eve-secret', 'operator-hangup.xml', { pauseMs: 300, calls: 100 });
});

afterAll(async () => {
  for (const s of streams) s.close();
  phone?.run.kill();
  await second?.close();
  await bench?.close();
});

async function stream(sb: TestSwitchboard): Promise<SseClient> {
  const s = await SseClient.open(`${sb.url}/v1/events`, { authorization: `Bearer ${SUPERVISOR_KEY}` });
  streams.push(s);
  expect(s.status).toBe(200);
  await s.next((e) => e.event === 'hello');
  return s;
}

describe('the event stream across instances', () => {
  it('shows a client of either instance every call of both, from arrival to end, and the operator\'s states', async () => {
    const onA = await stream(bench.sb);
    const onB = await stream(second);
    expect((await onA.next((e) => e.event === 'hello')).json.instanceId).toBe('sb-a');
    expect((await onB.next((e) => e.event === 'hello')).json.instanceId).toBe('sb-b');

    await bench.sb.api(`/v1/operators/${operatorId}/state`, { method: 'PUT', body: { state: 'available' } });
    const result = await callers(bench, 'caller.xml', '8300', { calls: 4, rate: 2, extraArgs: ['-l', '1'] });
    expect(result.passed, describeRun(result)).toBe(true);

    const ended = await until('four calls ended on the stream of B', async () => {
      const list = onB.events.filter((e) => e.event === 'call' && e.json.event === 'ended');
      return list.length >= 4 ? list.map((e) => e.json) : undefined;
    }, 15_000);
    // drachtio-server spreads new calls over both instances.
    expect(new Set(ended.map((e) => e.instanceId))).toEqual(new Set(['sb-a', 'sb-b']));
    for (const e of ended) {
      const callId = String(e.callId);
      const story = ['arrived', 'queued', 'offered', 'connected', 'completed', 'ended'];
      await until(`every step of ${callId} on A`, async () => (onA.callEvents(callId).length >= story.length ? true : undefined));
      expect(onB.callEvents(callId), `call held by ${String(e.instanceId)}, seen on sb-b`).toEqual(story);
      expect(onA.callEvents(callId), `call held by ${String(e.instanceId)}, seen on sb-a`).toEqual(story);
      expect(e).toMatchObject({ disposition: 'answered', operatorId, callerNumber: expect.stringMatching(/^2000\d$/) as unknown, queueNumber: '300' });
    }
    const arrived = onB.events.find((e) => e.json.event === 'arrived')?.json;
    expect(arrived).toMatchObject({ type: 'call', dialledNumber: '8300', callerNumber: expect.stringMatching(/^2000\d$/) as unknown });
    // The operator rang, talked and was free again, four times, as every instance saw it.
    const states = onB.events.filter((e) => e.event === 'operator' && e.json.operatorId === operatorId).map((e) => e.json.state);
    expect(states.filter((s) => s === 'busy')).toHaveLength(4);
    expect(states[0]).toBe('available');
  });

  it('ends open streams at once when the switchboard stops', async () => {
    const s = await stream(second);
    const started = Date.now();
    await second.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    await s.ended;
    expect(s.events.at(-1)?.event).toBe('bye');
  });
});

describe('heartbeats', () => {
  it('keep a quiet stream alive with a comment line at the set interval', async () => {
    const feed = new EventEmitter();
    const events = new EventStream(
      { onEvent: (type: string, handler: (e: BusEvent) => void) => feed.on(type, handler) },
      { heartbeatMs: 100, instanceId: 'hb', log: createLogger('silent', 'hb') },
    );
    const app = Fastify();
    app.get('/events', async (_req, reply) => {
      reply.hijack();
      events.add(reply.raw, { masked: false });
    });
    app.addHook('preClose', async () => events.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const s = await SseClient.open(`http://127.0.0.1:${String((app.server.address() as { port: number }).port)}/events`);
      streams.push(s);
      await s.next((e) => e.event === 'hello');
      await until('three heartbeats', async () => (s.comments >= 3 ? true : undefined), 2_000);
      feed.emit('queue', { type: 'queue', queueId: 7, reason: 'entered' });
      expect((await s.next((e) => e.event === 'queue')).json).toEqual({ type: 'queue', queueId: 7, reason: 'entered' });
    } finally {
      await app.close();
    }
  });
});
