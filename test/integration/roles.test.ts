import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperatorStore } from '../../src/acd/operator-store.js';
import { QueueStore, type LiveCall } from '../../src/acd/queue-store.js';
import { ApiKeyAuth } from '../../src/api/auth.js';
import { createRedis, type Redis } from '../../src/redis/client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { testServices } from '../support/services.js';
import { SseClient } from '../support/sse.js';
import { startTestSwitchboard, type TestSwitchboard } from '../support/switchboard.js';

/**
 * Every boundary between the roles, over real HTTP: admins may do everything; supervisors read
 * everything and control calls and operators but not the configuration; operator keys see and
 * change their own operator's state and see their own calls only. Callers' numbers are masked
 * for supervisors and operators here (MASK_CALLER_NUMBERS=operator,supervisor), not for admins.
 */
const ADMIN = 'roles-admin-key-0123456789';
const SUPER = 'roles-supervisor-key-0123456789';
const ALICE = 'roles-alice-key-0123456789';
const BOB = 'roles-bob-key-0123456789';
const NOBODY = 'roles-nobody-key-0123456789';
const API_KEYS = `admin:${ADMIN},supervisor:${SUPER},operator/alice:${ALICE},operator/bob:${BOB},operator/nobody:${NOBODY}`;
const NUMBER = '+441234567890';
const MASKED = '***********90';

let sb: TestSwitchboard;
let db: pg.Client;
let redis: Redis;
let queueId: number;
let alice: number;
let bob: number;
const callA = randomUUID(); // talking to alice
const callB = randomUUID(); // talking to bob
const callW = randomUUID(); // waiting in the queue
const callR = randomUUID(); // ringing alice
const cdrA = randomUUID(); // answered by alice
const cdrB = randomUUID(); // answered by bob
const cdrT = randomUUID(); // answered by bob, transferred to alice

type Json = Record<string, unknown>;
type Items = { items: Json[] };

const get = (path: string, key: string | null): Promise<{ status: number; body: unknown }> => sb.api(path, { key });
const call = (path: string, key: string | null, method: string, body?: unknown): Promise<{ status: number; body: unknown }> =>
  sb.api(path, { key, method, ...(body === undefined ? {} : { body }) });

function liveCall(callId: string, operatorId: number | null, state: LiveCall['state']): LiveCall {
  const now = Date.now();
  return {
    callId, owner: sb.config.instanceId, callerNumber: NUMBER, callerName: 'Ann Caller', dialledNumber: '8000', arrivedAt: now - 5_000,
    state, queueId, queuedAt: now - 4_000, priority: 0, score: null, operatorId, answeredAt: state === 'connected' ? now - 1_000 : null,
  };
}

async function cdr(callId: string, operatorId: number, username: string, operators: string[]): Promise<void> {
  await db.query(
    `INSERT INTO calls (call_id, instance_id, caller_number, caller_name, dialled_number, route_type, queue_id, queue_number, operator_id,
       operator_username, operators, arrived_at, ended_at, disposition)
     VALUES ($1, 'x', $2, 'Ann Caller', '8000', 'queue', $3, '100', $4, $5, $6, now() - interval '1 minute', now(), 'answered')`,
    [callId, NUMBER, queueId, operatorId, username, operators],
  );
  await db.query(
    `INSERT INTO call_legs (leg_id, call_id, role, direction, sip_call_id, party, started_at, ended_at)
     VALUES ($1, $2, 'caller', 'inbound', 'sip-1', $3, now(), now()), ($4, $2, 'operator', 'outbound', 'sip-2', $5, now(), now())`,
    [randomUUID(), callId, NUMBER, randomUUID(), username],
  );
  await db.query(
    `INSERT INTO queue_events (event_id, at, call_id, queue_id, queue_number, event, data) VALUES ($1, now(), $2, $3, '100', 'enter', $4)`,
    [randomUUID(), callId, queueId, JSON.stringify({ callerNumber: NUMBER })],
  );
}

beforeAll(async () => {
  sb = await startTestSwitchboard({ API_KEYS, MASK_CALLER_NUMBERS: 'operator,supervisor' });
  db = new pg.Client({ connectionString: sb.db.url });
  await db.connect();
  const create = async (path: string, body: Json): Promise<number> => {
    const res = await sb.api(path, { method: 'POST', body, key: ADMIN });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return (res.body as { id: number }).id;
  };
  queueId = await create('/v1/queues', { number: '100', name: 'Desk' });
  alice = await create('/v1/operators', { username: 'alice', password: 'alice-secret', displayName: 'Alice', workNumber: '1' });
  bob = await create('/v1/operators', { username: 'bob', password: 'bob-secret-1', displayName: 'Bob', workNumber: '2' });
  // The configuration reaches the API's cache through the event bus.
  for (let i = 0; i < 100 && (await get('/v1/operator-states', ALICE)).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));

  redis = createRedis(testServices().redisUrl, 'roles-test');
  await redis.connect();
  const keys = new RedisKeys(sb.config.redisPrefix);
  const queues = new QueueStore(redis, keys);
  const operators = new OperatorStore(redis, keys);
  await operators.apply(alice, { type: 'login' });
  await operators.apply(alice, { type: 'reserve', callId: callR, instance: sb.config.instanceId, leaseMs: 600_000 });
  await queues.saveCall(liveCall(callA, alice, 'connected'));
  await queues.saveCall(liveCall(callB, bob, 'connected'));
  await queues.saveCall(liveCall(callR, null, 'waiting'));
  await queues.saveCall(liveCall(callW, null, 'waiting'));
  await queues.enqueue(queueId, callW, 1);

  await cdr(cdrA, alice, 'alice', ['alice']);
  await cdr(cdrB, bob, 'bob', ['bob']);
  await cdr(cdrT, bob, 'bob', ['bob', 'alice']);
});

afterAll(async () => {
  await redis?.quit();
  await db?.end();
  await sb?.close();
});

describe('configuration', () => {
  const reads = ['/v1/queues', '/v1/operators', '/v1/routes', '/v1/rooms'];

  it('admins and supervisors read it; operators do not', async () => {
    for (const path of [...reads, `/v1/queues/${queueId}/members`, `/v1/queues/${queueId}`]) {
      expect((await get(path, ADMIN)).status, path).toBe(200);
      expect((await get(path, SUPER)).status, path).toBe(200);
      expect((await get(path, ALICE)).status, path).toBe(403);
    }
  });

  it('only admins change it', async () => {
    for (const key of [SUPER, ALICE]) {
      expect((await call('/v1/queues', key, 'POST', { number: '900', name: 'x' })).status).toBe(403);
      expect((await call(`/v1/queues/${queueId}`, key, 'PATCH', { name: 'y' })).status).toBe(403);
      expect((await call(`/v1/queues/${queueId}/members/${bob}`, key, 'PUT', {})).status).toBe(403);
      expect((await call(`/v1/operators/${bob}`, key, 'DELETE')).status).toBe(403);
    }
    expect((await call(`/v1/queues/${queueId}`, ADMIN, 'PATCH', { name: 'Front desk' })).status).toBe(200);
  });

  it('keys are required everywhere but on /health, /docs and the wallboard page', async () => {
    expect((await get('/v1/calls', null)).status).toBe(401);
    expect((await get('/metrics', null)).status).toBe(401);
    expect((await call('/v1/events/tokens', null, 'POST')).status).toBe(401);
    expect((await get('/health', null)).status).not.toBe(401);
    expect((await get('/wallboard/', null)).status).toBe(200);
  });
});

describe('calls in progress', () => {
  it('admins see every call with the caller\'s number', async () => {
    const items = ((await get('/v1/calls', ADMIN)).body as Items).items;
    expect(new Set(items.map((c) => c.callId))).toEqual(new Set([callA, callB, callW, callR]));
    expect(items.every((c) => c.callerNumber === NUMBER && c.callerName === 'Ann Caller')).toBe(true);
  });

  it('supervisors see every call, numbers masked and names dropped', async () => {
    const items = ((await get('/v1/calls', SUPER)).body as Items).items;
    expect(items).toHaveLength(4);
    expect(items.every((c) => c.callerNumber === MASKED && c.callerName === '')).toBe(true);
    const one = (await get(`/v1/calls/${callB}`, SUPER)).body as Json;
    expect(one.callerNumber).toBe(MASKED);
  });

  it('an operator sees only the calls talking to or ringing them, masked', async () => {
    const items = ((await get('/v1/calls', ALICE)).body as Items).items;
    expect(new Set(items.map((c) => c.callId))).toEqual(new Set([callA, callR]));
    expect(items.every((c) => c.callerNumber === MASKED)).toBe(true);
    expect((await get(`/v1/calls/${callA}`, ALICE)).status).toBe(200);
    expect((await get(`/v1/calls/${callB}`, ALICE)).status).toBe(404);
    expect((await get(`/v1/calls/${callW}`, ALICE)).status).toBe(404);
    const bobs = ((await get('/v1/calls', BOB)).body as Items).items;
    expect(bobs.map((c) => c.callId)).toEqual([callB]);
  });

  it('queue contents are for admins and supervisors (masked for supervisors)', async () => {
    const admin = ((await get(`/v1/queues/${queueId}/calls`, ADMIN)).body as Items).items;
    expect(admin.map((c) => [c.callId, c.callerNumber])).toEqual([[callW, NUMBER]]);
    const sup = ((await get(`/v1/queues/${queueId}/calls`, SUPER)).body as Items).items;
    expect(sup.map((c) => [c.callId, c.callerNumber])).toEqual([[callW, MASKED]]);
    expect((await get(`/v1/queues/${queueId}/calls`, ALICE)).status).toBe(403);
  });

  it('supervisors control calls; operators do not, not even their own', async () => {
    // The calls here are records in Redis with no SIP behind them: the instance that "owns" them
    // does not know them, hence 404 once the role is let through.
    expect((await call(`/v1/calls/${callA}/hangup`, SUPER, 'POST')).status).toBe(404);
    expect((await call(`/v1/calls/${callW}/move`, SUPER, 'POST', { to: 'front' })).status).toBe(404);
    expect((await call(`/v1/calls/${callA}/hangup`, ALICE, 'POST')).status).toBe(403);
    expect((await call(`/v1/calls/${callW}/move`, ALICE, 'POST', { to: 'front' })).status).toBe(403);
  });
});

describe('operator states', () => {
  it('an operator reads only their own state', async () => {
    const all = ((await get('/v1/operator-states', SUPER)).body as Items).items;
    expect(all.map((s) => s.username)).toEqual(['alice', 'bob']);
    const own = ((await get('/v1/operator-states', ALICE)).body as Items).items;
    expect(own.map((s) => s.username)).toEqual(['alice']);
    expect((await get(`/v1/operators/${alice}/state`, ALICE)).status).toBe(200);
    expect((await get(`/v1/operators/${bob}/state`, ALICE)).status).toBe(403);
  });

  it('an operator changes only their own state; supervisors change anyone\'s', async () => {
    const mine = await call(`/v1/operators/${bob}/state`, BOB, 'PUT', { state: 'available' });
    expect(mine.status, JSON.stringify(mine.body)).toBe(200);
    expect((mine.body as Json).state).toBe('available');
    expect((await call(`/v1/operators/${alice}/state`, BOB, 'PUT', { state: 'on-break' })).status).toBe(403);
    expect((await call(`/v1/operators/${bob}/state`, SUPER, 'PUT', { state: 'on-break' })).status).toBe(200);
    expect((await call(`/v1/operators/${bob}/state`, BOB, 'PUT', { state: 'available' })).status).toBe(200);
  });

  it('a key for an operator the configuration does not have gets nothing', async () => {
    expect((await get('/v1/operator-states', NOBODY)).status).toBe(403);
    expect((await get('/v1/calls', NOBODY)).status).toBe(403);
    expect((await call('/v1/events/tokens', NOBODY, 'POST')).status).toBe(403);
  });
});

describe('call records', () => {
  it('an operator finds the calls they answered, numbers masked; not someone else\'s', async () => {
    const items = ((await get('/v1/cdrs', ALICE)).body as Items).items;
    expect(items.map((c) => c.callId)).toEqual([cdrA]);
    expect(items[0]?.callerNumber).toBe(MASKED);
    expect((await get(`/v1/cdrs?operatorId=${bob}`, ALICE)).status).toBe(403);
    expect(((await get(`/v1/cdrs?operatorId=${alice}`, ALICE)).body as Items).items.map((c) => c.callId)).toEqual([cdrA]);
  });

  it('an operator reads the story of a call they took part in, masked everywhere', async () => {
    const story = (await get(`/v1/cdrs/${cdrA}`, ALICE)).body as Json & { legs: Json[]; queueEvents: { data: Json }[] };
    expect(story.callerNumber).toBe(MASKED);
    expect(story.callerName).toBe('');
    expect(story.legs.map((l) => l.party)).toEqual(expect.arrayContaining([MASKED, 'alice']));
    expect(story.queueEvents[0]?.data.callerNumber).toBe(MASKED);
    // Transferred to alice after bob answered: she talked to the caller too.
    expect((await get(`/v1/cdrs/${cdrT}`, ALICE)).status).toBe(200);
    expect((await get(`/v1/cdrs/${cdrB}`, ALICE)).status).toBe(404);
  });

  it('supervisors see every record masked and cannot search by number; admins can', async () => {
    const sup = ((await get('/v1/cdrs', SUPER)).body as Items).items;
    expect(sup).toHaveLength(3);
    expect(sup.every((c) => c.callerNumber === MASKED)).toBe(true);
    expect((await get(`/v1/cdrs?number=${encodeURIComponent(NUMBER)}`, SUPER)).status).toBe(403);
    const admin = ((await get(`/v1/cdrs?number=${encodeURIComponent(NUMBER)}`, ADMIN)).body as Items).items;
    expect(admin.every((c) => c.callerNumber === NUMBER)).toBe(true);
    const story = (await get(`/v1/cdrs/${cdrB}`, ADMIN)).body as Json & { legs: Json[] };
    expect(story.legs.map((l) => l.party)).toContain(NUMBER);
  });
});

describe('metrics and statistics', () => {
  it('are for admins and supervisors', async () => {
    expect((await get('/metrics', ADMIN)).status).toBe(200);
    expect((await get('/metrics', SUPER)).status).toBe(200);
    expect((await get('/metrics', ALICE)).status).toBe(403);
    const range = 'from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z';
    expect((await get(`/v1/stats/queues?${range}`, SUPER)).status).toBe(200);
    expect((await get(`/v1/stats/operators?${range}`, ALICE)).status).toBe(403);
  });
});

describe('the event stream', () => {
  const streams: SseClient[] = [];
  afterAll(() => {
    for (const s of streams) s.close();
  });
  const open = async (query: string, headers: Record<string, string> = {}): Promise<SseClient> => {
    const s = await SseClient.open(`${sb.url}/v1/events${query}`, headers);
    streams.push(s);
    return s;
  };
  const publish = (event: Json): Promise<number> => redis.publish(`${sb.config.redisPrefix}events`, JSON.stringify(event));

  it('shows each role what it may see, masked as configured', async () => {
    const admin = await open('', { authorization: `Bearer ${ADMIN}` });
    const sup = await open('', { 'x-api-key': SUPER });
    const aliceStream = await open('', { authorization: `Bearer ${ALICE}` });
    for (const s of [admin, sup, aliceStream]) {
      expect(s.status).toBe(200);
      expect(s.contentType).toMatch(/^text\/event-stream/);
      await s.next((e) => e.event === 'hello');
    }
    expect((await aliceStream.next((e) => e.event === 'hello')).json).toMatchObject({ operatorId: alice, masked: true });

    await publish({ type: 'call', event: 'connected', callId: callB, operatorId: bob, callerNumber: NUMBER, callerName: 'Ann Caller', at: new Date().toISOString() });
    await publish({ type: 'queue', queueId, reason: 'entered' });
    await new OperatorStore(redis, new RedisKeys(sb.config.redisPrefix)).apply(bob, { type: 'break' });
    await publish({ type: 'call', event: 'connected', callId: callA, operatorId: alice, callerNumber: NUMBER, at: new Date().toISOString() });
    await publish({ type: 'call', event: 'ended', callId: cdrT, operatorId: bob, operators: ['bob', 'alice'], callerNumber: NUMBER, at: new Date().toISOString() });

    for (const s of [admin, sup, aliceStream]) await s.next((e) => e.json.callId === cdrT, 5_000, 'the last event');
    const seen = (s: SseClient): string[] => s.events.filter((e) => e.event !== 'hello').map((e) => `${e.event}:${String(e.json.callId ?? e.json.operatorId ?? e.json.queueId)}`);
    const everything = [`call:${callB}`, `queue:${queueId}`, `operator:${bob}`, `call:${callA}`, `call:${cdrT}`];
    expect(seen(admin)).toEqual(everything);
    expect(seen(sup)).toEqual(everything);
    // Alice: her own call, and the call she took over; nothing of bob's, no queue events.
    expect(seen(aliceStream)).toEqual([`call:${callA}`, `call:${cdrT}`]);

    const calls = (s: SseClient): Json[] => s.events.filter((e) => e.event === 'call').map((e) => e.json);
    expect(calls(admin).map((c) => c.callerNumber)).toEqual([NUMBER, NUMBER, NUMBER]);
    expect(calls(admin)[0]?.callerName).toBe('Ann Caller');
    expect(calls(sup).map((c) => c.callerNumber)).toEqual([MASKED, MASKED, MASKED]);
    expect(calls(sup)[0]?.callerName).toBe('');
    expect(calls(aliceStream).map((c) => c.callerNumber)).toEqual([MASKED, MASKED]);
    const op = admin.events.find((e) => e.event === 'operator')?.json;
    expect(op).toMatchObject({ type: 'operator', operatorId: bob, username: 'bob', state: 'on-break', callId: null });
  });

  it('opens in a browser with a short-lived token instead of a header, and nowhere else', async () => {
    const issued = await call('/v1/events/tokens', ALICE, 'POST');
    expect(issued.status).toBe(201);
    const { token, url, expiresAt } = issued.body as { token: string; url: string; expiresAt: string };
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(50_000);
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
    const s = await SseClient.open(`${sb.url}${url}`);
    streams.push(s);
    expect(s.status).toBe(200);
    expect((await s.next((e) => e.event === 'hello')).json.operatorId).toBe(alice);
    // The token is no key: it opens nothing but the stream.
    expect((await get(`/v1/calls?token=${encodeURIComponent(token)}`, null)).status).toBe(401);
    expect((await get(`/v1/operator-states?token=${encodeURIComponent(token)}`, null)).status).toBe(401);
  });

  it('refuses forged, expired and foreign tokens, and keys in the query string', async () => {
    const real = (await call('/v1/events/tokens', SUPER, 'POST')).body as { token: string };
    const forged = `${real.token.slice(0, -2)}${real.token.endsWith('A') ? 'BB' : 'AA'}`;
    const keys = [{ key: ADMIN, role: 'admin' as const }, { key: SUPER, role: 'supervisor' as const }, { key: ALICE, role: 'operator' as const, operator: 'alice' },
      { key: BOB, role: 'operator' as const, operator: 'bob' }, { key: NOBODY, role: 'operator' as const, operator: 'nobody' }];
    const expired = new ApiKeyAuth(keys).issueToken({ role: 'admin' }, Date.now() - 61_000).token;
    const foreign = new ApiKeyAuth([{ key: 'some-other-admin-key-012345', role: 'admin' }]).issueToken({ role: 'admin' }).token;
    for (const token of [forged, expired, foreign, 'garbage', `${ADMIN}`]) {
      const s = await open(`?token=${encodeURIComponent(token)}`);
      expect(s.status, token).toBe(401);
    }
    // The same key set signs the same way: a token from a switchboard with these keys is good here.
    const twin = new ApiKeyAuth(keys).issueToken({ role: 'supervisor' }).token;
    expect((await open(`?token=${encodeURIComponent(twin)}`)).status).toBe(200);
  });
});

describe('without MASK_CALLER_NUMBERS', () => {
  it('nobody sees numbers masked', async () => {
    const plain = await startTestSwitchboard({ API_KEYS });
    try {
      const keys = new RedisKeys(plain.config.redisPrefix);
      await new QueueStore(redis, keys).saveCall({ ...liveCall(randomUUID(), null, 'waiting'), owner: plain.config.instanceId });
      const items = ((await plain.api('/v1/calls', { key: SUPER })).body as Items).items;
      expect(items.map((c) => c.callerNumber)).toEqual([NUMBER]);
    } finally {
      await plain.close();
    }
  });
});
