import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestSwitchboard, type TestSwitchboard } from '../support/switchboard.js';

/**
 * Every route of the OpenAPI document (GET /docs/json), walked with hostile requests: invalid
 * path parameters, wrong query types, wrong body types, unknown fields, SQL-like strings, a body
 * over the limit, non-JSON content types, broken and pathological JSON. Each must get a 4xx (a
 * 2xx only where the request is in fact valid, e.g. a name that happens to look like SQL),
 * never a 5xx, always in the API's error format, and the database must be intact afterwards.
 */
interface Schema {
  type?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
}
interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  schema: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
interface Probe {
  method: string;
  path: string;
  what: string;
  body?: string;
  contentType?: string;
  /** The operation takes a JSON body (others ignore one). */
  hasBody?: boolean;
  /** Sent without an API key. */
  anonymous?: boolean;
}
interface Outcome {
  probe: Probe;
  status: number;
  body: unknown;
}

const SQL = "'; DROP TABLE operators; --";
const SQL_VALUES = [SQL, "1' OR '1'='1"];
const BAD_INTEGERS = ['abc', '-1', '1.5', '99999999999999999999999', encodeURIComponent(SQL)];
const BAD_STRINGS = [encodeURIComponent(SQL), 'x'.repeat(3000), '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '%E0%A4%A'];
const BODY_LIMIT = 64 * 1024;

let sb: TestSwitchboard;
let db: pg.Client;
let spec: { paths: Record<string, Record<string, Operation>> };
const ids: Record<string, string> = {};
let tablesBefore: string[] = [];
let countsBefore: Record<string, number> = {};
const outcomes: Outcome[] = [];

const TABLES = ['operators', 'queues', 'queue_members', 'routes', 'rooms', 'calls', 'call_legs', 'queue_events', 'operator_events'];

async function tableList(): Promise<string[]> {
  const { rows } = await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
  return rows.map((r) => r.table_name);
}

async function counts(): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const table of TABLES) {
    const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    result[table] = Number(rows[0]?.n);
  }
  return result;
}

/** The path with its parameters filled from the fixtures, one of them replaced by `bad`. */
function fill(path: string, bad?: { name: string; value: string }): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => (bad?.name === name ? bad.value : (ids[name] ?? 'x')));
}

/** Wrong-type values for a property of this schema. */
function wrongTypes(schema: Schema): unknown[] {
  const all: unknown[] = [{ $gt: '' }, [1, 2], 'abc', 1.5, 1e23, true];
  return all.filter((v) => {
    if (schema.type === 'string') return typeof v !== 'string';
    if (schema.type === 'integer' || schema.type === 'number') return typeof v !== 'number' || !Number.isInteger(v);
    if (schema.type === 'boolean') return typeof v !== 'boolean';
    return true;
  });
}

function probesFor(path: string, method: string, op: Operation): Probe[] {
  const m = method.toUpperCase();
  const probes: Probe[] = [];
  const params = op.parameters ?? [];
  const jsonSchema = op.requestBody?.content['application/json']?.schema;

  for (const p of params.filter((x) => x.in === 'path')) {
    const values = p.schema.type === 'integer' ? BAD_INTEGERS : BAD_STRINGS;
    for (const value of values) probes.push({ method: m, path: fill(path, { name: p.name, value }), what: `path ${p.name}=${value.slice(0, 30)}` });
  }
  // Everything below uses valid path parameters; a DELETE with them would just delete.
  if (m === 'DELETE') return probes;
  const base = fill(path);

  for (const p of params.filter((x) => x.in === 'query')) {
    const values = p.schema.type === 'integer' ? BAD_INTEGERS : [...BAD_STRINGS, ...SQL_VALUES.map(encodeURIComponent)];
    for (const value of values) probes.push({ method: m, path: `${base}?${p.name}=${value}`, what: `query ${p.name}=${value.slice(0, 30)}` });
    probes.push({ method: m, path: `${base}?${p.name}=1&${p.name}=2&${p.name}[]=3`, what: `query ${p.name} repeated` });
  }
  if (m === 'GET') return probes;

  const hasBody = jsonSchema !== undefined;
  const raw = (what: string, body: string, contentType: string): Probe => ({ method: m, path: base, what, body, contentType, hasBody });
  const json = (what: string, value: unknown): Probe => raw(what, JSON.stringify(value), 'application/json');
  for (const [name, schema] of Object.entries(jsonSchema?.properties ?? {})) {
    for (const value of wrongTypes(schema)) probes.push(json(`body ${name}=${JSON.stringify(value).slice(0, 30)}`, { [name]: value }));
    if (schema.type === 'string' || schema.enum) for (const value of SQL_VALUES) probes.push(json(`body ${name}=sql`, { [name]: value }));
  }
  probes.push(json('unknown field', { bogus: 1, [SQL]: SQL }));
  probes.push(json('array body', [{ state: 'available' }]));
  probes.push(json('string body', SQL));
  probes.push(json('null body', null));
  probes.push(json('prototype pollution', JSON.parse('{"__proto__": {"role": "admin"}, "constructor": {"prototype": {"x": 1}}}')));
  probes.push(raw('huge body', JSON.stringify({ name: 'x'.repeat(BODY_LIMIT + 1024) }), 'application/json'));
  probes.push(raw('deep nesting', '['.repeat(30_000) + ']'.repeat(30_000), 'application/json'));
  probes.push(raw('broken JSON', '{"name": "x",', 'application/json'));
  probes.push(raw('empty JSON body', '', 'application/json'));
  probes.push(raw('text/plain', SQL, 'text/plain'));
  probes.push(raw('form', `name=${encodeURIComponent(SQL)}`, 'application/x-www-form-urlencoded'));
  probes.push(raw('xml', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', 'application/xml'));
  probes.push(raw('bad charset', '{}', 'application/json; charset=utf-1000'));
  return probes;
}

/** One request with the admin key; a request left unanswered for 10 s counts as status 0. */
async function send(probe: Probe): Promise<Outcome> {
  const headers: Record<string, string> = { ...(probe.anonymous ? {} : { authorization: `Bearer ${ADMIN_KEY}` }), ...(probe.contentType ? { 'content-type': probe.contentType } : {}) };
  try {
    const res = await fetch(sb.url + probe.path, { method: probe.method, headers, body: probe.body ?? null, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON (e.g. the metrics page): the text is the body.
    }
    return { probe, status: res.status, body };
  } catch (err) {
    return { probe, status: 0, body: (err as Error).message };
  }
}

function isErrorBody(status: number, body: unknown): boolean {
  const e = (body as { error?: { status?: unknown; code?: unknown; message?: unknown } } | undefined)?.error;
  return e?.status === status && typeof e.code === 'string' && typeof e.message === 'string';
}

beforeAll(async () => {
  sb = await startTestSwitchboard();
  db = new pg.Client({ connectionString: sb.config.databaseUrl });
  await db.connect();
  const create = async (path: string, body: Record<string, unknown>): Promise<string> => {
    const res = await sb.api(path, { method: 'POST', body });
    if (res.status !== 201) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return String((res.body as { id: number }).id);
  };
  ids.id = await create('/v1/queues', { number: '100', name: 'Front desk' });
  ids.operatorId = await create('/v1/operators', { username: 'alice', password: 'alice-secret', displayName: 'Alice', workNumber: '1001' });
  await sb.api(`/v1/queues/${ids.id}/members/${ids.operatorId}`, { method: 'PUT', body: {} });
  await create('/v1/routes', { number: '8000', targetType: 'queue', queueId: Number(ids.id) });
  await create('/v1/rooms', { number: '900', name: 'Room' });
  ids.callId = '6f1c1f5e-8b5e-4a1e-9a55-3a8e7c0c9b11';
  ids.member = '1';
  const docs = await sb.api('/docs/json');
  spec = docs.body as typeof spec;
  tablesBefore = await tableList();
  countsBefore = await counts();
});

afterAll(async () => {
  await db?.end();
  await sb?.close();
});

describe('hostile HTTP requests on every route of the OpenAPI document', () => {
  it('walks every operation: never a 5xx, every refusal in the error format', async () => {
    const operations = Object.entries(spec.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
    // The live event stream with a valid key never ends; its hostile token is tried below.
    const walked = operations.filter((o) => o.path !== '/v1/events');
    expect(walked.length).toBeGreaterThan(40);
    const probes = walked.flatMap(({ path, method, op }) => probesFor(path, method, op));
    // A few at a time: hostile clients do not wait for each other either.
    for (let i = 0; i < probes.length; i += 8) outcomes.push(...(await Promise.all(probes.slice(i, i + 8).map(send))));
    outcomes.push(await send({ method: 'GET', path: `/v1/events?token=${encodeURIComponent(SQL)}`, what: 'event token', anonymous: true }));

    const describe = (o: Outcome): string => `${o.probe.method} ${o.probe.path.slice(0, 80)} (${o.probe.what}) -> ${o.status} ${String(JSON.stringify(o.body)).slice(0, 200)}`;
    expect(outcomes.filter((o) => o.status >= 500 || o.status === 0).map(describe)).toEqual([]);
    expect(outcomes.filter((o) => o.status >= 400 && !isErrorBody(o.status, o.body)).map(describe)).toEqual([]);
    // Refusals for what the probe is about, where the answer is certain.
    // Operations without a body ignore one, as fastify does; those with one refuse it.
    const statusOf = (what: string): number[] => [...new Set(outcomes.filter((o) => o.probe.what === what && o.probe.hasBody !== false).map((o) => o.status))];
    expect(statusOf('huge body')).toEqual([413]);
    // fastify reads text/plain as a string, which the body schema then refuses.
    expect(statusOf('text/plain')).toEqual([400]);
    expect(statusOf('form')).toEqual([415]);
    expect(statusOf('xml')).toEqual([415]);
    expect(statusOf('broken JSON')).toEqual([400]);
    expect(statusOf('unknown field').every((s) => s >= 400 && s < 500)).toBe(true);
    expect(statusOf('event token')).toEqual([401]);
    const pathProbes = outcomes.filter((o) => o.probe.what.startsWith('path '));
    expect(pathProbes.filter((o) => o.status < 400).map(describe)).toEqual([]);
    console.info(`hostile HTTP: ${walked.length} operations, ${outcomes.length} requests, statuses ${JSON.stringify(tally(outcomes))}`);
  }, 240_000);

  it('leaves the database intact: every table, every row, SQL-like strings stored as plain text', async () => {
    expect(await tableList()).toEqual(tablesBefore);
    expect(await counts()).toEqual(countsBefore);
    const { rows } = await db.query<{ username: string }>('SELECT username FROM operators WHERE id = $1', [ids.operatorId]);
    expect(rows).toEqual([{ username: 'alice' }]);
    // A PATCH that accepted a SQL-like string stored exactly that string.
    const accepted = outcomes.filter((o) => o.probe.method === 'PATCH' && o.status === 200 && o.probe.what.endsWith('=sql'));
    expect(accepted.length).toBeGreaterThan(0);
    for (const o of accepted) {
      const [[field, value]] = Object.entries(JSON.parse(o.probe.body ?? '{}') as Record<string, string>) as [[string, string]];
      // The password is never shown (only its HA1 is stored).
      if (field !== 'password') expect((o.body as Record<string, unknown>)[field], o.probe.what).toBe(value);
    }
    const health = await sb.api('/health');
    expect(health.status).toBeLessThan(600);
    expect(health.body).toHaveProperty('status');
  });
});

function tally(list: Outcome[]): Record<number, number> {
  const t: Record<number, number> = {};
  for (const o of list) t[o.status] = (t[o.status] ?? 0) + 1;
  return t;
}
