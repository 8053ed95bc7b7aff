import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_KEY, SUPERVISOR_KEY, startTestSwitchboard, type TestSwitchboard } from '../support/switchboard.js';

/** Directory enquiries and number changes through the API, on real PostgreSQL. */
type Json = Record<string, unknown>;
type Hit = Json & { id: number; name: string; match: string | null };

let sb: TestSwitchboard;

beforeAll(async () => {
  sb = await startTestSwitchboard();
});
afterAll(async () => {
  await sb?.close();
});

async function add(entry: Json): Promise<number> {
  const res = await sb.api('/v1/directory', { method: 'POST', body: entry });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return (res.body as { id: number }).id;
}

async function search(query: string, key?: string): Promise<{ items: Hit[]; total: number }> {
  const res = await sb.api(`/v1/directory?${query}`, key === undefined ? {} : { key });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { items: Hit[]; total: number };
}

const names = (r: { items: Hit[] }): string[] => r.items.map((i) => i.name);

async function importCsv(csv: string, query = ''): Promise<{ status: number; body: Json }> {
  const res = await sb.api(`/v1/directory/import${query}`, { method: 'POST', body: csv, headers: { 'content-type': 'text/csv; charset=utf-8' } });
  return { status: res.status, body: res.body as Json };
}

describe('directory entries', () => {
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    ids.jo = await add({ name: 'Jo', department: 'Front Desk', extension: '100', numbers: [{ label: 'desk', number: '+44 20 7946 0001' }] });
    ids.joanna = await add({ name: 'Joanna Smith', department: 'Sales', numbers: [{ number: '07700-900123' }] });
    ids.mary = await add({ name: 'Mary Jo Brown', department: 'Housekeeping', extension: '2100' });
    ids.ann = await add({ name: 'Ann Lee', department: 'Jobs and Careers', notes: 'part time' });
    ids.guest = await add({ name: 'Jolene Guest', department: 'Guests', extension: '312', private: true, notes: 'do not disclose' });
    ids.muller = await add({ name: 'Jürgen Müller', department: 'Spa' });
  });

  it('creates with defaults and reads back', async () => {
    const res = await sb.api(`/v1/directory/${ids.ann}`);
    expect(res.body).toMatchObject({ id: ids.ann, name: 'Ann Lee', extension: null, numbers: [], private: false, notes: 'part time' });
    expect(res.headers.get('content-type')).toMatch(/json/);
  });

  it('ranks the exact name, then names starting with q, then words, then departments', async () => {
    const found = await search('q=jo');
    expect(found.items.map((i) => [i.name, i.match])).toEqual([
      ['Jo', 'name'],
      ['Joanna Smith', 'name-prefix'],
      ['Jolene Guest', 'name-prefix'],
      ['Mary Jo Brown', 'word'],
      ['Ann Lee', 'department'],
    ]);
    expect(found.total).toBe(5);
  });

  it('finds every word of q as the start of a word, ignoring case and accents', async () => {
    expect(names(await search('q=smith%20jo'))).toEqual(['Joanna Smith']);
    expect(names(await search('q=MULLER'))).toEqual(['Jürgen Müller']);
  });

  it('finds numbers and extensions with spaces and dashes ignored, exact ones first', async () => {
    expect(names(await search('number=07700%20900%20123'))).toEqual(['Joanna Smith']);
    expect(names(await search('q=7946-0001'))).toEqual(['Jo']);
    expect(names(await search('number=100'))).toEqual(['Jo', 'Mary Jo Brown']);
    expect(names(await search('number=21'))).toEqual(['Mary Jo Brown']);
  });

  it('narrows by department', async () => {
    expect(names(await search('q=jo&department=front'))).toEqual(['Jo']);
    expect(names(await search('department=sales'))).toEqual(['Joanna Smith']);
  });

  it('pages with the total of all matches, also past the last page', async () => {
    const first = await search('q=jo&limit=2');
    expect(first.items).toHaveLength(2);
    expect(first.total).toBe(5);
    const past = await search('q=jo&limit=2&offset=10');
    expect(past).toMatchObject({ items: [], total: 5, limit: 2, offset: 10 });
  });

  it('hides unlisted entries from operator keys, not from supervisors', async () => {
    expect(names(await search('q=jolene', OPERATOR_KEY))).toEqual([]);
    expect((await search('q=jo', OPERATOR_KEY)).total).toBe(4);
    expect(names(await search('q=jolene', SUPERVISOR_KEY))).toEqual(['Jolene Guest']);
    expect((await sb.api(`/v1/directory/${ids.guest}`, { key: OPERATOR_KEY })).status).toBe(404);
    expect((await sb.api(`/v1/directory/${ids.jo}`, { key: OPERATOR_KEY })).status).toBe(200);
  });

  it('lets only admins change entries', async () => {
    for (const key of [OPERATOR_KEY, SUPERVISOR_KEY]) {
      expect((await sb.api('/v1/directory', { method: 'POST', body: { name: 'X' }, key })).status).toBe(403);
      expect((await sb.api(`/v1/directory/${ids.ann}`, { method: 'DELETE', key })).status).toBe(403);
      expect((await sb.api('/v1/directory/import', { method: 'POST', body: 'name\nX\n', headers: { 'content-type': 'text/csv' }, key })).status).toBe(403);
    }
    expect((await sb.api('/v1/directory.csv', { key: OPERATOR_KEY })).status).toBe(403);
  });

  it('replaces (PUT) and deletes, with 404 for unknown ids and 400 naming a bad field', async () => {
    const id = await add({ name: 'Temp' });
    const put = await sb.api(`/v1/directory/${id}`, { method: 'PUT', body: { name: 'Temp Two', extension: '555' } });
    expect(put.body).toMatchObject({ name: 'Temp Two', extension: '555', department: '' });
    expect(names(await search('number=555'))).toEqual(['Temp Two']);
    const bad = await sb.api(`/v1/directory/${id}`, { method: 'PUT', body: { name: 'T', numbers: [{ number: 'call me' }] } });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { field: string } }).error.field).toBe('numbers.0.number');
    expect((await sb.api(`/v1/directory/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await sb.api(`/v1/directory/${id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await sb.api(`/v1/directory/${id}`, { method: 'PUT', body: { name: 'Gone' } })).status).toBe(404);
  });
});

describe('directory CSV', () => {
  it('exports as CSV, and an edited export imports back: updates by id, new lines added', async () => {
    const exported = await sb.api('/v1/directory.csv', { key: SUPERVISOR_KEY });
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toMatch(/^text\/csv/);
    const csv = exported.body as string;
    expect(csv.split('\r\n')[0]).toBe('id,name,department,extension,numbers,notes,private');
    expect(csv).toContain('desk: +44 20 7946 0001');
    const edited = csv.replace(',Sales,', ',Sales and Marketing,') + ',New Person,IT,700,,,false\r\n';
    const res = await importCsv(edited);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ created: 1, updated: 6, deleted: 0, errors: [] });
    expect(names(await search('department=marketing'))).toEqual(['Joanna Smith']);
    // 700 exactly first, then the numbers containing it.
    expect(names(await search('number=700'))).toEqual(['New Person', 'Joanna Smith']);
  });

  it('all or nothing by default: any bad line and nothing is written, every error reported', async () => {
    const before = (await search('limit=100')).total;
    const res = await importCsv('name,extension,id\nGood,1,\n,2,\nBad,3,999999\n');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { status: 400, code: 'invalid', message: '2 lines have errors; nothing was imported' } });
    expect((res.body.errors as Json[]).map((e) => [e.line, e.field])).toEqual([[3, 'name'], [4, 'id']]);
    expect((await search('limit=100')).total).toBe(before);
  });

  it('mode=partial writes the good lines and reports the others', async () => {
    const res = await importCsv('name,extension,id\nPartial One,801,\n,2,\nBad,3,999999\n', '?mode=partial');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ created: 1, updated: 0, deleted: 0 });
    expect((res.body.errors as Json[]).map((e) => e.line)).toEqual([3, 4]);
    expect(names(await search('number=801'))).toEqual(['Partial One']);
  });

  it('sync=true makes the directory the file: entries it does not name are deleted', async () => {
    const keep = (await search('q=jo')).items.find((i) => i.name === 'Jo') as Hit;
    const res = await importCsv(`id,name\n${keep.id},Jo\n,Fresh\n`, '?sync=true');
    expect(res.body).toMatchObject({ created: 1, updated: 1, errors: [] });
    expect(res.body.deleted).toBeGreaterThan(5);
    expect(names(await search('limit=100'))).toEqual(['Fresh', 'Jo']);
    expect((await importCsv('name\nx\n', '?sync=true&mode=partial')).status).toBe(400);
  });

  it('refuses a broken file, a body that is not CSV, and a file over DIRECTORY_IMPORT_MAX_BYTES', async () => {
    const broken = await importCsv('name\n"never closed\n');
    expect(broken.status).toBe(400);
    expect(broken.body.errors).toEqual([{ line: 2, message: 'a quoted field is never closed' }]);
    expect((await sb.api('/v1/directory/import', { method: 'POST', body: { name: 'json' } })).status).toBe(415);
    const big = `name\n${'x'.repeat(100)}\n`.repeat(60_000);
    expect((await importCsv(big)).status).toBe(413);
  });
});

describe('number changes API', () => {
  it('creates with the default intercept period, lets supervisors read and only admins write', async () => {
    const res = await sb.api('/v1/number-changes', { method: 'POST', body: { oldNumber: '5100', newNumber: '5200', connectToNew: true } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const item = res.body as { id: number; effectiveFrom: string; interceptUntil: string };
    expect(Date.parse(item.interceptUntil) - Date.parse(item.effectiveFrom)).toBe(90 * 86_400_000);
    expect(res.body).toMatchObject({ oldNumber: '5100', newNumber: '5200', connectToNew: true, note: '' });
    expect((await sb.api(`/v1/number-changes/${item.id}`, { key: SUPERVISOR_KEY })).status).toBe(200);
    expect((await sb.api('/v1/number-changes', { key: OPERATOR_KEY })).status).toBe(403);
    expect((await sb.api('/v1/number-changes', { method: 'POST', body: { oldNumber: '5101' }, key: SUPERVISOR_KEY })).status).toBe(403);
    const dup = await sb.api('/v1/number-changes', { method: 'POST', body: { oldNumber: '5100' } });
    expect(dup.status).toBe(409);
    const patched = await sb.api(`/v1/number-changes/${item.id}`, { method: 'PATCH', body: { newNumber: null } });
    expect(patched.status).toBe(400);
    expect((patched.body as { error: { field: string } }).error.field).toBe('connectToNew');
    const withdrawn = await sb.api(`/v1/number-changes/${item.id}`, { method: 'PATCH', body: { newNumber: null, connectToNew: false } });
    expect(withdrawn.body).toMatchObject({ newNumber: null, connectToNew: false });
    expect((await sb.api(`/v1/number-changes/${item.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('refuses a new number equal to the old one and a period that ends before it starts', async () => {
    const same = await sb.api('/v1/number-changes', { method: 'POST', body: { oldNumber: '5102', newNumber: '5102' } });
    expect((same.body as { error: { field: string } }).error.field).toBe('newNumber');
    const backwards = await sb.api('/v1/number-changes', { method: 'POST', body: { oldNumber: '5103', effectiveFrom: '2027-01-02T00:00:00Z', interceptUntil: '2027-01-01T00:00:00Z' } });
    expect(backwards.status).toBe(400);
    expect((backwards.body as { error: { field: string } }).error.field).toBe('interceptUntil');
  });
});
