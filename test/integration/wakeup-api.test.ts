import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_KEY, SUPERVISOR_KEY, startTestSwitchboard, type TestSwitchboard } from '../support/switchboard.js';

/** Booking, listing, changing and cancelling wake-up calls through the API, on real PostgreSQL. */
type Json = Record<string, unknown>;
let sb: TestSwitchboard;

beforeAll(async () => {
  sb = await startTestSwitchboard({ WAKEUP_RETRIES: '3', WAKEUP_RETRY_INTERVAL_SECONDS: '120' });
  for (const number of ['101', '102']) {
    const res = await sb.api('/v1/extensions', { method: 'POST', body: { number, name: `Room ${number}`, password: `room-${number}-secret` } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  expect((await sb.api('/v1/queues', { method: 'POST', body: { number: '100', name: 'Front desk' } })).status).toBe(201);
});

afterAll(async () => {
  await sb?.close();
});

async function book(body: Json, key?: string): Promise<{ status: number; body: Json }> {
  const res = await sb.api('/v1/wakeup-calls', { method: 'POST', body, ...(key === undefined ? {} : { key }) });
  return { status: res.status, body: res.body as Json };
}

describe('wake-up calls API', () => {
  it('books a one-off call for tomorrow in the guest\'s zone, with the defaults from the environment', async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const res = await book({ extension: '101', time: '06:30', timeZone: 'America/New_York', date: tomorrow, note: 'Mr Smith' }, OPERATOR_KEY);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ extension: '101', time: '06:30', repeat: 'once', retries: 3, retryIntervalS: 120, ringTimeoutS: 30, status: 'scheduled', attempt: 0, createdBy: 'operator/alice', escalationQueue: null });
    const due = new Date(res.body.nextDueAt as string);
    // 06:30 in New York is 11:30 or 10:30 UTC, depending on the season.
    expect([10, 11]).toContain(due.getUTCHours());
    expect(due.getUTCMinutes()).toBe(30);
  });

  it('refuses what cannot be placed, naming the field', async () => {
    const cases: [Json, string][] = [
      [{ extension: '999', time: '07:00', timeZone: 'UTC' }, 'extension'],
      [{ extension: '101', time: '7:00', timeZone: 'UTC' }, 'time'],
      [{ extension: '101', time: '07:00', timeZone: 'Mars/Olympus' }, 'timeZone'],
      [{ extension: '101', time: '07:00', timeZone: 'UTC', date: '2020-01-01' }, 'date'],
      [{ extension: '101', time: '07:00', timeZone: 'UTC', date: '2027-02-30' }, 'date'],
      [{ extension: '101', time: '07:00', timeZone: 'UTC', escalationQueue: '555' }, 'escalationQueue'],
      [{ extension: '101', time: '07:00', timeZone: 'UTC', retries: 11 }, 'retries'],
      [{ extension: '101', time: '07:00', timeZone: 'UTC', room: '101' }, 'room'],
      [{ extension: '101', time: '07:00', timeZone: 'UTC', note: 'Smith\r\nX-Evil: 1' }, 'note'],
    ];
    for (const [body, field] of cases) {
      const res = await book(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((res.body.error as Json).field, JSON.stringify(res.body)).toBe(field);
    }
  });

  it('lists by extension and status, changes, cancels, and shows attempts', async () => {
    const daily = await book({ extension: '102', time: '07:15', timeZone: 'Europe/Berlin', repeat: 'daily', escalationQueue: '100' }, SUPERVISOR_KEY);
    expect(daily.status).toBe(201);
    const id = daily.body.id as number;
    const list = await sb.api('/v1/wakeup-calls?extension=102&status=scheduled', { key: OPERATOR_KEY });
    expect(list.status).toBe(200);
    expect((list.body as { items: Json[] }).items.map((i) => i.id)).toEqual([id]);

    const changed = await sb.api(`/v1/wakeup-calls/${String(id)}`, { method: 'PATCH', body: { time: '08:45', retries: 0 } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body).toMatchObject({ time: '08:45', retries: 0, repeat: 'daily', escalationQueue: '100', status: 'scheduled' });
    expect(new Date((changed.body as Json).nextDueAt as string).getUTCMinutes()).toBe(45);

    expect((await sb.api(`/v1/wakeup-calls/${String(id)}/attempts`)).body).toEqual({ items: [] });
    expect((await sb.api(`/v1/wakeup-calls/${String(id)}`, { method: 'DELETE', key: OPERATOR_KEY })).status).toBe(204);
    const cancelled = await sb.api(`/v1/wakeup-calls/${String(id)}`);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', nextDueAt: null });
    expect((await sb.api(`/v1/wakeup-calls/${String(id)}`, { method: 'PATCH', body: { time: '09:00' } })).status).toBe(409);
    expect((await sb.api('/v1/wakeup-calls/999999')).status).toBe(404);
    expect((await sb.api('/v1/wakeup-calls/999999/attempts')).status).toBe(404);
    expect((await sb.api('/v1/wakeup-calls?status=cancelled')).body).toMatchObject({ total: 1 });
  });

  it('needs a key', async () => {
    expect((await sb.api('/v1/wakeup-calls', { key: null })).status).toBe(401);
  });
});
