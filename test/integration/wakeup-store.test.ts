import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { SQL_DIR } from '../../src/paths.js';
import { afterAttempt } from '../../src/wakeup/plan.js';
import { progressOf, WakeupStore, type BookingSettings } from '../../src/wakeup/store.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';

/**
 * The bookings' claim on real PostgreSQL: two instances (two pools, so two connections) racing
 * for the same due booking, the lease running out, and the fencing of a lost claim's writes.
 */
let db: TestDatabase;
let poolA: Pool;
let poolB: Pool;
let a: WakeupStore;
let b: WakeupStore;

const settings: BookingSettings = {
  extension: '101',
  time: '07:00',
  timeZone: 'Europe/Berlin',
  repeat: 'once',
  date: null,
  retries: 2,
  retryIntervalS: 60,
  ringTimeoutS: 20,
  escalationQueue: null,
  note: '',
};

function held<T>(claim: T | undefined): T {
  if (claim === undefined) throw new Error('no claim');
  return claim;
}

/** A booking due `agoMs` ago (the database's clock decides what is due). */
async function dueBooking(agoMs = 1_000): Promise<number> {
  const at = Date.now() - agoMs;
  const booking = await a.create(settings, { status: 'scheduled', occurrenceAt: at, nextDueAt: at, attempt: 0, lastOutcome: null }, 'test');
  return booking.id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  poolA = createPool(db.url);
  poolB = createPool(db.url);
  await migrate(poolA, await loadMigrations(SQL_DIR));
  a = new WakeupStore(poolA);
  b = new WakeupStore(poolB);
});

afterAll(async () => {
  await poolA?.end();
  await poolB?.end();
  await db?.drop();
});

beforeEach(async () => {
  await poolA.query('TRUNCATE wakeup_calls CASCADE');
});

describe('claiming due bookings', () => {
  it('two instances racing for one due booking: exactly one wins, every round', async () => {
    for (let round = 0; round < 20; round++) {
      await poolA.query('TRUNCATE wakeup_calls CASCADE');
      const id = await dueBooking();
      const claims = await Promise.all([a.claimDue('sb-a', 30_000), b.claimDue('sb-b', 30_000), a.claimDue('sb-a', 30_000), b.claimDue('sb-b', 30_000)]);
      const won = claims.filter((c) => c !== undefined);
      expect(won).toHaveLength(1);
      expect(won[0]?.booking.id).toBe(id);
    }
  });

  it('many due bookings are shared out, none twice', async () => {
    const ids = new Set<number>();
    for (let i = 0; i < 10; i++) ids.add(await dueBooking(1_000 + i));
    const claimed: number[] = [];
    await Promise.all(
      [a, b, a, b].map(async (store, n) => {
        for (;;) {
          const c = await store.claimDue(`sb-${String(n)}`, 30_000);
          if (!c) return;
          claimed.push(c.booking.id);
        }
      }),
    );
    expect(claimed.sort()).toEqual([...ids].sort());
  });

  it('ignores bookings not yet due', async () => {
    await dueBooking(-60_000);
    expect(await a.claimDue('sb-a', 30_000)).toBeUndefined();
  });

  it('a lease that runs out is taken over; the old owner\'s open attempt counts as failed and its writes are refused', async () => {
    const id = await dueBooking();
    const first = await a.claimDue('sb-a', 300);
    expect(first?.booking.id).toBe(id);
    if (!first) return;
    const attemptId = await a.startAttempt(first, first.booking.occurrenceAt as string, 1, 'sb-a', null);
    expect(attemptId).toBeDefined();
    expect(await b.claimDue('sb-b', 30_000)).toBeUndefined(); // still leased
    await new Promise((r) => setTimeout(r, 400));

    const second = held(await b.claimDue('sb-b', 30_000));
    expect(second.booking.id).toBe(id);
    expect(second.staleAttempt).toBe(true);
    const [stale] = await b.attempts(id);
    expect(stale).toMatchObject({ attempt: 1, instanceId: 'sb-a', result: 'failed' });
    expect(stale?.endedAt).not.toBeNull();

    // The first owner comes back: none of its writes land.
    expect(await a.renew(id, first.token, 30_000)).toBe(false);
    expect(await a.startAttempt(first, first.booking.occurrenceAt as string, 2, 'sb-a', null)).toBeUndefined();
    const p = afterAttempt(first.booking, progressOf(first.booking), 'answered', Date.now());
    expect(await a.settle(first, p)).toBe(false);
    expect((await a.get(id))?.status).toBe('scheduled');

    // The second owner's do.
    const q = afterAttempt(second.booking, progressOf(second.booking), 'no-answer', Date.now());
    expect(await b.settle(second, q)).toBe(true);
    expect(await b.get(id)).toMatchObject({ status: 'scheduled', attempt: 1 });
  });

  it('a renewed lease is not taken over', async () => {
    const id = await dueBooking();
    const claim = held(await a.claimDue('sb-a', 300));
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 150));
      expect(await a.renew(id, claim.token, 300)).toBe(true);
      expect(await b.claimDue('sb-b', 30_000)).toBeUndefined();
    }
  });

  it('a cancelled booking is never claimed and its claim is void', async () => {
    const id = await dueBooking();
    const claim = held(await a.claimDue('sb-a', 30_000));
    expect(await a.cancel(id)).toBe(true);
    expect(await a.renew(id, claim.token, 30_000)).toBe(false);
    expect(await b.claimDue('sb-b', 30_000)).toBeUndefined();
    expect(await a.list({ status: 'cancelled', limit: 10, offset: 0 })).toMatchObject({ total: 1 });
  });
});
