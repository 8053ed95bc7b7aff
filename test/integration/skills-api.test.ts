import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createLogger } from '../../src/log.js';
import { ConfigCache } from '../../src/provisioning/cache.js';
import { SUPERVISOR_KEY, startTestSwitchboard, type TestSwitchboard } from '../support/switchboard.js';

/**
 * Priority callers and skills through the API against a real PostgreSQL: caller lists (CRUD,
 * admin only), memberships with skills and a grade, the queues' skill settings, routes that need
 * a skill; and what the call path's configuration cache makes of them.
 */
type Json = Record<string, unknown>;

let sb: TestSwitchboard;
let pool: Pool;

beforeAll(async () => {
  sb = await startTestSwitchboard();
  pool = createPool(sb.db.url);
});
afterAll(async () => {
  await pool?.end();
  await sb?.close();
});

async function create(path: string, body: Json): Promise<Json> {
  const res = await sb.api(path, { method: 'POST', body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Json;
}

function expectError(res: { status: number; body: unknown }, status: number, field?: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  if (field !== undefined) expect((res.body as { error: { field?: string } }).error.field).toBe(field);
}

async function loadedCache(): Promise<ConfigCache> {
  const cache = new ConfigCache(pool, createLogger('silent', 'test'));
  await cache.refresh();
  return cache;
}

describe('caller lists', () => {
  it('are created, listed by priority, changed and deleted; supervisors read, only admins write', async () => {
    const vip = await create('/v1/caller-lists', { name: 'VIP', priority: 50, numbers: ['5550001', '+4930123'] });
    expect(vip).toMatchObject({ name: 'VIP', priority: 50, numbers: ['5550001', '+4930123'] });
    const lines = await create('/v1/caller-lists', { name: 'Private lines', priority: 10 });
    expect(lines.numbers).toEqual([]);

    const list = await sb.api('/v1/caller-lists', { key: SUPERVISOR_KEY });
    expect((list.body as { items: Json[] }).items.map((i) => i.name)).toEqual(['VIP', 'Private lines']);
    expectError(await sb.api('/v1/caller-lists', { method: 'POST', key: SUPERVISOR_KEY, body: { name: 'x', priority: 1 } }), 403);

    const changed = await sb.api(`/v1/caller-lists/${String(lines.id)}`, { method: 'PATCH', body: { numbers: ['5550001', '5550002'] } });
    expect(changed.body).toMatchObject({ priority: 10, numbers: ['5550001', '5550002'] });
    expect((await sb.api(`/v1/caller-lists/${String(lines.id)}`, { method: 'DELETE' })).status).toBe(204);
    expectError(await sb.api(`/v1/caller-lists/${String(lines.id)}`), 404);
  });

  it('refuses priorities out of 0-99, bad numbers, duplicates and a name taken', async () => {
    expectError(await sb.api('/v1/caller-lists', { method: 'POST', body: { name: 'Too high', priority: 100 } }), 400, 'priority');
    expectError(await sb.api('/v1/caller-lists', { method: 'POST', body: { name: 'Bad', priority: 1, numbers: ['55 5'] } }), 400);
    expectError(await sb.api('/v1/caller-lists', { method: 'POST', body: { name: 'Twice', priority: 1, numbers: ['1', '1'] } }), 400);
    expectError(await sb.api('/v1/caller-lists', { method: 'POST', body: { name: 'VIP', priority: 1 } }), 409, 'name');
  });

  it('a number on several lists waits with the highest priority; others with 0', async () => {
    await create('/v1/caller-lists', { name: 'Gold', priority: 70, numbers: ['5550009'] });
    await create('/v1/caller-lists', { name: 'Silver', priority: 20, numbers: ['5550009', '5550010'] });
    const cache = await loadedCache();
    expect(cache.callerPriority('5550009')).toBe(70);
    expect(cache.callerPriority('5550010')).toBe(20);
    expect(cache.callerPriority('5550001')).toBe(50);
    expect(cache.callerPriority('5559999')).toBe(0);
  });
});

describe('skills', () => {
  it('memberships carry skills and a grade; the cache falls back to the operator\'s grade', async () => {
    const q = await create('/v1/queues', { number: '610', name: 'Languages' });
    const ann = await create('/v1/operators', { username: 'ann', password: 'longenough', displayName: 'Ann', workNumber: '61001', grade: 3 });
    const bo = await create('/v1/operators', { username: 'bo', password: 'longenough', displayName: 'Bo', workNumber: '61002' });
    const annPath = `/v1/queues/${String(q.id)}/members/${String(ann.id)}`;
    const added = await sb.api(annPath, { method: 'PUT', body: { skills: ['fr', 'de'] } });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ penalty: 0, skills: ['fr', 'de'], grade: null });
    const boAdded = await sb.api(`/v1/queues/${String(q.id)}/members/${String(bo.id)}`, { method: 'PUT', body: { skills: ['fr'], grade: 4 } });
    expect(boAdded.body).toMatchObject({ skills: ['fr'], grade: 4 });

    const cache = await loadedCache();
    const members = cache.members(q.id as number).map((m) => [m.operatorId, m.skills, m.grade]);
    expect(members.sort()).toEqual([[ann.id, ['fr', 'de'], 3], [bo.id, ['fr'], 4]].sort());

    // PUT sets the whole membership: what it does not name goes back to the default.
    expect((await sb.api(annPath, { method: 'PUT', body: { penalty: 1 } })).body).toMatchObject({ penalty: 1, skills: [], grade: null });
    expectError(await sb.api(annPath, { method: 'PUT', body: { skills: ['French'] } }), 400);
    expectError(await sb.api(annPath, { method: 'PUT', body: { grade: 5 } }), 400, 'grade');
  });

  it('queues have a skill wait and an optional menu of digits to skills', async () => {
    const q = await create('/v1/queues', { number: '611', name: 'Menu' });
    expect(q).toMatchObject({ skillWaitS: 30, skillMenu: null, skillMenuPrompt: 'skill-menu' });
    const res = await sb.api(`/v1/queues/${String(q.id)}`, { method: 'PATCH', body: { skillWaitS: 5, skillMenu: { 1: 'en', 2: 'fr' }, skillMenuPrompt: 'languages' } });
    expect(res.body).toMatchObject({ skillWaitS: 5, skillMenu: { 1: 'en', 2: 'fr' }, skillMenuPrompt: 'languages' });
    expectError(await sb.api(`/v1/queues/${String(q.id)}`, { method: 'PATCH', body: { skillMenu: { 12: 'en' } } }), 400);
    expectError(await sb.api(`/v1/queues/${String(q.id)}`, { method: 'PATCH', body: { skillMenu: { 1: 'English' } } }), 400);
    expectError(await sb.api(`/v1/queues/${String(q.id)}`, { method: 'PATCH', body: { skillMenu: {} } }), 400);
    expectError(await sb.api(`/v1/queues/${String(q.id)}`, { method: 'PATCH', body: { skillWaitS: -1 } }), 400, 'skillWaitS');
    const cache = await loadedCache();
    expect(cache.queue(q.id as number)).toMatchObject({ skillWaitS: 5, skillMenu: { 1: 'en', 2: 'fr' }, skillMenuPrompt: 'languages' });
  });

  it('a route to a queue may need a skill; other routes may not', async () => {
    const q = await create('/v1/queues', { number: '612', name: 'French line' });
    const route = await create('/v1/routes', { number: '6120', targetType: 'queue', queueId: q.id, skill: 'fr' });
    expect(route).toMatchObject({ skill: 'fr' });
    expect((await create('/v1/routes', { number: '6121', targetType: 'queue', queueId: q.id })).skill).toBeNull();
    expectError(await sb.api('/v1/routes', { method: 'POST', body: { number: '6122', targetType: 'reject', rejectStatus: 403, skill: 'fr' } }), 400, 'skill');
    expectError(await sb.api(`/v1/routes/${String(route.id)}`, { method: 'PATCH', body: { targetType: 'reject', rejectStatus: 403 } }), 400, 'skill');
    const cache = await loadedCache();
    expect(cache.route('6120')?.skill).toBe('fr');
  });
});
