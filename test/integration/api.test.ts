import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, OPERATOR_KEY, SIP_DOMAIN, SUPERVISOR_KEY, startTestSwitchboard, type TestSwitchboard } from '../support/switchboard.js';

type Json = Record<string, unknown>;
type ErrorJson = { error: { status: number; code: string; message: string; field?: string } };

let sb: TestSwitchboard;
let db: pg.Client;

beforeAll(async () => {
  sb = await startTestSwitchboard();
  db = new pg.Client({ connectionString: sb.db.url });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await sb?.close();
});

async function count(table: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]?.n ?? -1;
}

async function create(path: string, body: Json): Promise<Json> {
  const res = await sb.api(path, { method: 'POST', body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Json;
}

function expectError(res: { status: number; body: unknown }, status: number, field?: string): ErrorJson['error'] {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  const { error } = res.body as ErrorJson;
  expect(error.status).toBe(status);
  expect(typeof error.code).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  if (field !== undefined) expect(error.field).toBe(field);
  return error;
}

describe('authentication', () => {
  it('refuses requests without a key', async () => {
    const e = expectError(await sb.api('/v1/operators', { key: null }), 401);
    expect(e.code).toBe('unauthorized');
  });

  it('refuses a wrong key, and a key that is only a prefix of a real one', async () => {
    expectError(await sb.api('/v1/operators', { key: 'wrong-key-0123456789' }), 401);
    expectError(await sb.api('/v1/operators', { key: ADMIN_KEY.slice(0, -1) }), 401);
  });

  it('refuses a malformed Authorization header', async () => {
    expectError(await sb.api('/v1/operators', { key: null, headers: { authorization: `Basic ${ADMIN_KEY}` } }), 401);
  });

  it('accepts the key as a bearer token or in X-API-Key', async () => {
    expect((await sb.api('/v1/operators')).status).toBe(200);
    expect((await sb.api('/v1/operators', { key: null, headers: { 'x-api-key': ADMIN_KEY } })).status).toBe(200);
  });

  it('refuses unknown routes without a key before saying they do not exist', async () => {
    expectError(await sb.api('/v1/nothing', { key: null }), 401);
    expectError(await sb.api('/v1/nothing'), 404);
  });

  it('lets a supervisor read the configuration but not change it', async () => {
    expect((await sb.api('/v1/queues', { key: SUPERVISOR_KEY })).status).toBe(200);
    const e = expectError(await sb.api('/v1/queues', { method: 'POST', key: SUPERVISOR_KEY, body: { number: '700', name: 'x' } }), 403);
    expect(e.code).toBe('forbidden');
    expect(await count('queues')).toBe(0);
  });

  it('keeps operator keys out of the configuration', async () => {
    expectError(await sb.api('/v1/operators', { key: OPERATOR_KEY }), 403);
    expectError(await sb.api('/v1/routes', { method: 'POST', key: OPERATOR_KEY, body: { number: '1', targetType: 'reject', rejectStatus: 403 } }), 403);
  });
});

describe('health and documentation', () => {
  it('reports every component without a key, 503 while drachtio-server and FreeSWITCH are away', async () => {
    const res = await sb.api('/health', { key: null });
    expect(res.status).toBe(503);
    const body = res.body as { status: string; components: Record<string, { up: boolean; required: boolean }> };
    expect(body.status).toBe('down');
    expect(body.components.postgres).toMatchObject({ up: true, required: false });
    expect(body.components.redis).toMatchObject({ up: true, required: true });
    expect(body.components.drachtio).toMatchObject({ up: false, required: true });
    expect(body.components.freeswitch).toMatchObject({ up: false, required: true });
  });

  it('serves the OpenAPI document and a browsable UI', async () => {
    const doc = await sb.api('/docs/json', { key: null });
    expect(doc.status).toBe(200);
    const paths = Object.keys((doc.body as { paths: Json }).paths);
    expect(paths).toEqual(
      expect.arrayContaining(['/health', '/v1/operators', '/v1/operators/{id}', '/v1/queues', '/v1/queues/{id}/members/{operatorId}', '/v1/routes', '/v1/rooms']),
    );
    const ui = await sb.api('/docs/', { key: null });
    expect(ui.status).toBe(200);
    expect(String(ui.body)).toContain('swagger');
  });
});

describe('operators', () => {
  it('stores the digest hash of the password, never the password, and never returns either', async () => {
    const op = await create('/v1/operators', { username: 'alice', password: 'correct horse', displayName: 'Alice', workNumber: '67354' });
    expect(op).toMatchObject({ username: 'alice', displayName: 'Alice', workNumber: '67354', grade: 1 });
    expect(op).not.toHaveProperty('password');
    expect(op).not.toHaveProperty('ha1');
    const { rows } = await db.query('SELECT ha1 FROM operators WHERE id = $1', [op.id]);
    const expected = createHash('md5').update(`alice:${SIP_DOMAIN}:correct horse`).digest('hex');
    expect(rows[0]).toEqual({ ha1: expected });
    const fetched = await sb.api(`/v1/operators/${String(op.id)}`);
    expect(fetched.body).toEqual(op);
  });

  it('accepts a ready-made HA1 instead of a password', async () => {
    const ha1 = 'a'.repeat(32);
    const op = await create('/v1/operators', { username: 'bob', ha1, displayName: 'Bob', workNumber: '67355', grade: 3 });
    const { rows } = await db.query('SELECT ha1, grade FROM operators WHERE id = $1', [op.id]);
    expect(rows[0]).toEqual({ ha1, grade: 3 });
  });

  it('needs a password or an HA1', async () => {
    expectError(await sb.api('/v1/operators', { method: 'POST', body: { username: 'carol', displayName: 'C', workNumber: '1' } }), 400, 'password');
  });

  it('refuses both a password and an HA1', async () => {
    const body = { username: 'carol', password: 'longenough', ha1: 'b'.repeat(32), displayName: 'C', workNumber: '1' };
    expectError(await sb.api('/v1/operators', { method: 'POST', body }), 400, 'ha1');
  });

  it.each([
    [{ username: 'has space' }, 'username'],
    [{ workNumber: '12a' }, 'workNumber'],
    [{ grade: 5 }, 'grade'],
    [{ grade: '3' }, 'grade'],
    [{ password: 'short' }, 'password'],
    [{ displayName: '' }, 'displayName'],
    [{ colour: 'red' }, 'colour'],
    [{ username: undefined }, 'username'],
    [{ username: "x'; DROP TABLE operators; --" }, 'username'],
  ])('answers bad input %j with 400 naming %s, writing nothing', async (patch, field) => {
    const before = await count('operators');
    const body = { username: 'dave', password: 'longenough', displayName: 'Dave', workNumber: '67399', ...patch };
    expectError(await sb.api('/v1/operators', { method: 'POST', body }), 400, field);
    expect(await count('operators')).toBe(before);
  });

  it('answers duplicate user names and work numbers with 409 naming the field', async () => {
    const before = await count('operators');
    const dupUser = { username: 'alice', password: 'longenough', displayName: 'A2', workNumber: '99999' };
    expectError(await sb.api('/v1/operators', { method: 'POST', body: dupUser }), 409, 'username');
    const dupNumber = { username: 'alice2', password: 'longenough', displayName: 'A2', workNumber: '67354' };
    expectError(await sb.api('/v1/operators', { method: 'POST', body: dupNumber }), 409, 'workNumber');
    expect(await count('operators')).toBe(before);
  });

  it('changes only the fields a PATCH names', async () => {
    const op = await create('/v1/operators', { username: 'erin', password: 'longenough', displayName: 'Erin', workNumber: '67356', grade: 2 });
    const res = await sb.api(`/v1/operators/${String(op.id)}`, { method: 'PATCH', body: { displayName: 'Erin B.' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ username: 'erin', displayName: 'Erin B.', workNumber: '67356', grade: 2 });
  });

  it('needs a new password to rename an operator, since the hash includes the user name', async () => {
    const op = await create('/v1/operators', { username: 'frank', password: 'longenough', displayName: 'F', workNumber: '67357' });
    expectError(await sb.api(`/v1/operators/${String(op.id)}`, { method: 'PATCH', body: { username: 'franky' } }), 400, 'password');
    const res = await sb.api(`/v1/operators/${String(op.id)}`, { method: 'PATCH', body: { username: 'franky', password: 'newpassword' } });
    expect(res.status).toBe(200);
    const { rows } = await db.query('SELECT username, ha1 FROM operators WHERE id = $1', [op.id]);
    expect(rows[0]).toEqual({ username: 'franky', ha1: createHash('md5').update(`franky:${SIP_DOMAIN}:newpassword`).digest('hex') });
  });

  it('refuses an empty PATCH', async () => {
    expectError(await sb.api('/v1/operators/1', { method: 'PATCH', body: {} }), 400);
  });

  it('lists with paging and a total', async () => {
    const all = await sb.api('/v1/operators?limit=2&offset=1');
    expect(all.status).toBe(200);
    const page = all.body as { items: Json[]; total: number; limit: number; offset: number };
    expect(page.total).toBe(await count('operators'));
    expect(page.items).toHaveLength(2);
    expect(page.limit).toBe(2);
    expect(page.offset).toBe(1);
    expect(page.items.every((i) => !('ha1' in i))).toBe(true);
    expectError(await sb.api('/v1/operators?limit=0'), 400, 'limit');
    expectError(await sb.api('/v1/operators?limit=abc'), 400, 'limit');
    expectError(await sb.api('/v1/operators?sort=name'), 400, 'sort');
  });

  it('answers 404 for a missing operator and 400 for an id that is not a number', async () => {
    expectError(await sb.api('/v1/operators/999999'), 404);
    expectError(await sb.api('/v1/operators/999999', { method: 'PATCH', body: { grade: 2 } }), 404);
    expectError(await sb.api('/v1/operators/999999', { method: 'DELETE' }), 404);
    expectError(await sb.api('/v1/operators/abc'), 400, 'id');
  });
});

describe('extensions', () => {
  it('stores the digest hash for the number as user name and never returns it', async () => {
    const ext = await create('/v1/extensions', { number: '101', name: 'Room 101', password: 'room-101-pw' });
    expect(ext).toMatchObject({ number: '101', name: 'Room 101' });
    expect(ext).not.toHaveProperty('ha1');
    const { rows } = await db.query('SELECT ha1 FROM extensions WHERE id = $1', [ext.id]);
    expect(rows[0]).toEqual({ ha1: createHash('md5').update(`101:${SIP_DOMAIN}:room-101-pw`).digest('hex') });
    expect((await sb.api('/v1/extensions', { key: SUPERVISOR_KEY })).body).toMatchObject({ items: [{ number: '101' }], total: 1 });
  });

  it('needs a password, a new one to change the number, and refuses a number that is an operator\'s username', async () => {
    expectError(await sb.api('/v1/extensions', { method: 'POST', body: { number: '102' } }), 400, 'password');
    await create('/v1/operators', { username: '4455', password: 'operator-pw', displayName: 'Digits', workNumber: '99001' });
    expect(expectError(await sb.api('/v1/extensions', { method: 'POST', body: { number: '4455', password: 'some-password' } }), 409).message).toContain('operator');
    const ext = await create('/v1/extensions', { number: '103', password: 'room-103-pw' });
    expectError(await sb.api(`/v1/extensions/${String(ext.id)}`, { method: 'PATCH', body: { number: '104' } }), 400, 'password');
    expectError(await sb.api('/v1/extensions', { method: 'POST', body: { number: '103', password: 'room-103-pw' } }), 409, 'number');
    expectError(await sb.api('/v1/extensions', { method: 'POST', body: { number: 'r103', password: 'room-103-pw' } }), 400);
  });
});

describe('queues and memberships', () => {
  it('fills in the documented defaults', async () => {
    const q = await create('/v1/queues', { number: '100', name: 'Front desk' });
    expect(q).toMatchObject({
      number: '100', name: 'Front desk', strategy: 'longest-idle', ringTimeoutS: 15, maxWaitS: null, maxLength: null,
      wrapupS: 5, maxNoAnswer: 3, overflowAction: 'busy', overflowTarget: null, noOperators: 'wait',
      holdMusic: 'local_stream://moh', announceIntervalS: 30, serviceLevelS: 20, mediaMode: 'direct',
    });
  });

  it('keeps a queue\'s media mode, direct or anchored, and refuses others', async () => {
    const q = await create('/v1/queues', { number: '104', name: 'Phone to phone', mediaMode: 'direct' });
    expect(q.mediaMode).toBe('direct');
    const res = await sb.api(`/v1/queues/${String(q.id)}`, { method: 'PATCH', body: { mediaMode: 'anchored' } });
    expect(res.body).toMatchObject({ mediaMode: 'anchored' });
    expect((await sb.api(`/v1/queues/${String(q.id)}`)).body).toMatchObject({ mediaMode: 'anchored' });
    expectError(await sb.api(`/v1/queues/${String(q.id)}`, { method: 'PATCH', body: { mediaMode: 'bypass' } }), 400, 'mediaMode');
  });

  it('does not reset other settings to their defaults on PATCH', async () => {
    const q = await create('/v1/queues', { number: '101', name: 'Sales', strategy: 'ring-all', wrapupS: 30 });
    const res = await sb.api(`/v1/queues/${String(q.id)}`, { method: 'PATCH', body: { name: 'Sales desk' } });
    expect(res.body).toMatchObject({ name: 'Sales desk', strategy: 'ring-all', wrapupS: 30 });
  });

  it('checks the overflow target against the overflow action', async () => {
    expectError(await sb.api('/v1/queues', { method: 'POST', body: { number: '102', name: 'x', overflowAction: 'queue' } }), 400, 'overflowTarget');
    expectError(await sb.api('/v1/queues', { method: 'POST', body: { number: '102', name: 'x', overflowTarget: '100' } }), 400, 'overflowTarget');
    const q = await create('/v1/queues', { number: '102', name: 'Overflowing', overflowAction: 'queue', overflowTarget: '100', maxWaitS: 120 });
    expectError(await sb.api(`/v1/queues/${String(q.id)}`, { method: 'PATCH', body: { overflowAction: 'busy' } }), 400, 'overflowTarget');
    const res = await sb.api(`/v1/queues/${String(q.id)}`, { method: 'PATCH', body: { overflowAction: 'busy', overflowTarget: null } });
    expect(res.body).toMatchObject({ overflowAction: 'busy', overflowTarget: null, maxWaitS: 120 });
  });

  it('rejects an unknown strategy, naming the allowed ones', async () => {
    const e = expectError(await sb.api('/v1/queues', { method: 'POST', body: { number: '103', name: 'x', strategy: 'random' } }), 400, 'strategy');
    expect(e.message).toContain('longest-idle');
  });

  it('answers a duplicate queue number with 409', async () => {
    expectError(await sb.api('/v1/queues', { method: 'POST', body: { number: '100', name: 'again' } }), 409, 'number');
  });

  it('adds operators with a penalty, changes it, lists and removes them', async () => {
    const q = await create('/v1/queues', { number: '110', name: 'Members' });
    const op = await create('/v1/operators', { username: 'gina', password: 'longenough', displayName: 'Gina', workNumber: '67360' });
    const path = `/v1/queues/${String(q.id)}/members/${String(op.id)}`;
    const added = await sb.api(path, { method: 'PUT', body: { penalty: 2 } });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ queueId: q.id, operatorId: op.id, penalty: 2 });
    const changed = await sb.api(path, { method: 'PUT', body: { penalty: 5 } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ penalty: 5 });
    const list = await sb.api(`/v1/queues/${String(q.id)}/members`);
    expect((list.body as { items: Json[] }).items).toEqual([expect.objectContaining({ operatorId: op.id, penalty: 5 })]);
    expectError(await sb.api(path, { method: 'PUT', body: { penalty: -1 } }), 400, 'penalty');
    expect((await sb.api(path, { method: 'DELETE' })).status).toBe(204);
    expectError(await sb.api(path, { method: 'DELETE' }), 404);
  });

  it('answers 404 for memberships of a missing queue or operator', async () => {
    const q = await create('/v1/queues', { number: '111', name: 'Lonely' });
    expectError(await sb.api(`/v1/queues/${String(q.id)}/members/999999`, { method: 'PUT', body: {} }), 404);
    expectError(await sb.api('/v1/queues/999999/members/1', { method: 'PUT', body: {} }), 404);
    expectError(await sb.api('/v1/queues/999999/members'), 404);
  });

  it('drops memberships with the operator', async () => {
    const q = await create('/v1/queues', { number: '112', name: 'Cascade' });
    const op = await create('/v1/operators', { username: 'hank', password: 'longenough', displayName: 'Hank', workNumber: '67361' });
    await sb.api(`/v1/queues/${String(q.id)}/members/${String(op.id)}`, { method: 'PUT', body: {} });
    expect((await sb.api(`/v1/operators/${String(op.id)}`, { method: 'DELETE' })).status).toBe(204);
    const list = await sb.api(`/v1/queues/${String(q.id)}/members`);
    expect((list.body as { items: Json[] }).items).toEqual([]);
  });
});

describe('rooms', () => {
  it('creates a room with PINs', async () => {
    const r = await create('/v1/rooms', { number: '3000', name: 'Board room', pin: '1234', moderatorPin: '9876', waitForModerator: true });
    expect(r).toMatchObject({ number: '3000', pin: '1234', moderatorPin: '9876', waitForModerator: true, muteOnJoin: false, maxMembers: null });
  });

  it('refuses a moderator PIN equal to the PIN, and waiting for a moderator without one', async () => {
    expectError(await sb.api('/v1/rooms', { method: 'POST', body: { number: '3001', name: 'x', pin: '1111', moderatorPin: '1111' } }), 400, 'moderatorPin');
    expectError(await sb.api('/v1/rooms', { method: 'POST', body: { number: '3001', name: 'x', waitForModerator: true } }), 400, 'moderatorPin');
    expectError(await sb.api('/v1/rooms', { method: 'POST', body: { number: '3001', name: 'x', pin: '12a4' } }), 400, 'pin');
  });
});

describe('routes', () => {
  let queueId: number;
  let operatorId: number;
  let roomId: number;

  beforeAll(async () => {
    queueId = (await create('/v1/queues', { number: '200', name: 'Routed' })).id as number;
    operatorId = (await create('/v1/operators', { username: 'ivan', password: 'longenough', displayName: 'Ivan', workNumber: '67370' })).id as number;
    roomId = (await create('/v1/rooms', { number: '3200', name: 'Routed room' })).id as number;
  });

  it('routes a number to each kind of target', async () => {
    expect(await create('/v1/routes', { number: '8000', targetType: 'queue', queueId })).toMatchObject({ targetType: 'queue', queueId, operatorId: null, allowOutside: false });
    expect(await create('/v1/routes', { number: '8001', targetType: 'operator', operatorId, allowOutside: true })).toMatchObject({ operatorId, allowOutside: true });
    expect(await create('/v1/routes', { number: '8002', targetType: 'room', roomId })).toMatchObject({ roomId });
    expect(await create('/v1/routes', { number: '+4930*9', targetType: 'reject', rejectStatus: 403, description: 'barred' })).toMatchObject({ rejectStatus: 403 });
  });

  it('needs the target its type names, and only that one', async () => {
    const before = await count('routes');
    expectError(await sb.api('/v1/routes', { method: 'POST', body: { number: '8100', targetType: 'queue' } }), 400, 'queueId');
    expectError(await sb.api('/v1/routes', { method: 'POST', body: { number: '8100', targetType: 'queue', queueId, roomId } }), 400, 'roomId');
    expectError(await sb.api('/v1/routes', { method: 'POST', body: { number: '8100', targetType: 'reject', rejectStatus: 200 } }), 400, 'rejectStatus');
    expectError(await sb.api('/v1/routes', { method: 'POST', body: { number: '8100', targetType: 'voicemail' } }), 400, 'targetType');
    expectError(await sb.api('/v1/routes', { method: 'POST', body: { number: '81 00', targetType: 'room', roomId } }), 400, 'number');
    expect(await count('routes')).toBe(before);
  });

  it('names the field when the target does not exist', async () => {
    expectError(await sb.api('/v1/routes', { method: 'POST', body: { number: '8101', targetType: 'queue', queueId: 999999 } }), 400, 'queueId');
  });

  it('answers a duplicate number with 409', async () => {
    expectError(await sb.api('/v1/routes', { method: 'POST', body: { number: '8000', targetType: 'room', roomId } }), 409, 'number');
  });

  it('clears the old target when the type of target changes', async () => {
    const r = await create('/v1/routes', { number: '8200', targetType: 'queue', queueId });
    expectError(await sb.api(`/v1/routes/${String(r.id)}`, { method: 'PATCH', body: { targetType: 'reject' } }), 400, 'rejectStatus');
    const res = await sb.api(`/v1/routes/${String(r.id)}`, { method: 'PATCH', body: { targetType: 'reject', rejectStatus: 404 } });
    expect(res.body).toMatchObject({ targetType: 'reject', rejectStatus: 404, queueId: null });
    const again = await sb.api(`/v1/routes/${String(r.id)}`, { method: 'PATCH', body: { description: 'gone' } });
    expect(again.body).toMatchObject({ targetType: 'reject', rejectStatus: 404, description: 'gone' });
  });

  it('will not delete a queue, operator or room that a route still uses', async () => {
    const e = expectError(await sb.api(`/v1/queues/${String(queueId)}`, { method: 'DELETE' }), 409);
    expect(e.message).toContain('routes');
    expectError(await sb.api(`/v1/operators/${String(operatorId)}`, { method: 'DELETE' }), 409);
    expectError(await sb.api(`/v1/rooms/${String(roomId)}`, { method: 'DELETE' }), 409);
    expect((await sb.api(`/v1/queues/${String(queueId)}`)).status).toBe(200);
  });
});

describe('malformed requests', () => {
  it('answers broken JSON with 400', async () => {
    expectError(await sb.api('/v1/queues', { method: 'POST', body: '{"number": ' }), 400);
  });

  it('answers a body over 64 KiB with 413', async () => {
    expectError(await sb.api('/v1/queues', { method: 'POST', body: { number: '900', name: 'x'.repeat(70_000) } }), 413);
  });

  it('answers a body that is not an object with 400', async () => {
    expectError(await sb.api('/v1/queues', { method: 'POST', body: '[1,2]' }), 400);
  });

  it('answers an unsupported content type with 415', async () => {
    expectError(await sb.api('/v1/queues', { method: 'POST', body: '<queue/>', headers: { 'content-type': 'application/xml' } }), 415);
  });
});
