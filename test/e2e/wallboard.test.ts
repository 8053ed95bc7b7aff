import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callers, operatorPhone, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun, type SippResult } from '../support/sipp.js';
import { SUPERVISOR_KEY } from '../support/switchboard.js';

/**
 * The wallboard page in headless Chromium (Debian's package, driven by playwright-core, which
 * never downloads a browser) against a switchboard with calls talking and waiting over real SIP,
 * and today's history in PostgreSQL: the page must show the right numbers, and follow the event
 * stream as callers give up and calls end.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const SCREENSHOT = path.join(os.tmpdir(), 'switchboard-wallboard.png');
// "Today" is the page's (the browser's) day. Near midnight UTC the test takes a zone where it is
// the small hours, so that the history it seeds (ten minutes back) and the test's calls share a day.
const PAGE_TZ = [23, 0].includes(new Date().getUTCHours()) ? 'Europe/Moscow' : 'UTC';

let bench: CallBench;
let browser: BrowserContext | undefined;
let profile: string | undefined;
let page: Page;
let queueId: number;
let otherQueueId: number;
const ops: Record<string, number> = {};
let phone: Phone | undefined;

/**
 * Today's history before the test's calls, ten minutes back: four callers to the front desk
 * (T = 20 s), three answered (after 5, 10 and 30 s) and one who hung up after 8 s.
 */
async function seedToday(): Promise<void> {
  const base = Date.now() - 600_000;
  const event = async (call: string, name: string, offsetS: number, operatorId: number | null = null): Promise<void> => {
    await bench.db.query(
      `INSERT INTO queue_events (event_id, at, call_id, queue_id, queue_number, operator_id, event) VALUES ($1, $2, $3, $4, '500', $5, $6)`,
      [randomUUID(), new Date(base + offsetS * 1000), call, queueId, operatorId, name],
    );
  };
  const [s1, s2, s3, s4] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  await event(s1, 'enter', 0);
  await event(s1, 'connect', 5, ops.alice);
  await event(s2, 'enter', 10);
  await event(s2, 'connect', 20, ops.alice);
  await event(s3, 'enter', 20);
  await event(s3, 'connect', 50, ops.alice);
  await event(s4, 'enter', 30);
  await event(s4, 'abandon', 38);
}

beforeAll(async () => {
  bench = await startCallBench();
  queueId = (await bench.create('/v1/queues', { number: '500', name: 'Front desk', serviceLevelS: 20, wrapupS: 0, announceIntervalS: 0, ringTimeoutS: 10 })).id as number;
  otherQueueId = (await bench.create('/v1/queues', { number: '510', name: 'Reception' })).id as number;
  await bench.create('/v1/routes', { number: '8500', targetType: 'queue', queueId });
  for (const [i, name] of ['alice', 'bob', 'carol'].entries()) {
    ops[name] = (await bench.create('/v1/operators', { username: name, password: `${name}-secret`, displayName: name[0]?.toUpperCase() + name.slice(1), workNumber: `50${i}` })).id as number;
    await bench.sb.api(`/v1/queues/${queueId}/members/${String(ops[name])}`, { method: 'PUT', body: {} });
  }
  await bench.sb.api(`/v1/operators/${String(ops.alice)}/state`, { method: 'PUT', body: { state: 'available' } });
  await bench.sb.api(`/v1/operators/${String(ops.bob)}/state`, { method: 'PUT', body: { state: 'available' } });
  await bench.sb.api(`/v1/operators/${String(ops.bob)}/state`, { method: 'PUT', body: { state: 'on-break' } });
  phone = await operatorPhone(bench, 'alice', 'alice-secret', 'operator-answer.xml', { calls: 1 });
  await seedToday();

  profile = await mkdtemp(path.join(os.tmpdir(), 'wallboard-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timezoneId: PAGE_TZ,
    viewport: { width: 1280, height: 720 },
  });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  phone?.run.kill();
  await bench?.close();
});

const cell = (row: string, field: string): Promise<string> => page.locator(`${row} td[data-field="${field}"]`).innerText();
const queueRow = (id: number | string): string => `tr[data-queue-id="${String(id)}"]`;
const operatorRow = (id: number | undefined): string => `tr[data-operator-id="${String(id)}"]`;

/** "m:ss" or "h:mm:ss" in seconds. */
function seconds(text: string): number {
  return text.split(':').reduce((total, part) => total * 60 + Number(part), 0);
}

async function shows(row: string, expected: Record<string, string>, timeoutMs = 10_000): Promise<void> {
  await until(`the page to show ${JSON.stringify(expected)} in ${row}`, async () => {
    for (const [field, text] of Object.entries(expected)) if ((await cell(row, field)) !== text) return undefined;
    return true;
  }, timeoutMs).catch(async (err: Error) => {
    const actual: Record<string, string> = {};
    for (const field of Object.keys(expected)) actual[field] = await cell(row, field).catch(() => '(missing)');
    throw new Error(`${err.message}; it shows ${JSON.stringify(actual)}`);
  });
}

describe('the wallboard', () => {
  it('shows waiting callers, the longest wait, operators\' states and today\'s figures, live', async () => {
    await page.goto(`${bench.sb.url}/wallboard/#key=${SUPERVISOR_KEY}`);
    // The key leaves the address bar for the tab's session storage.
    expect(new URL(page.url()).hash).toBe('');
    await until('the stream connected', async () => ((await page.locator('#status').innerText()) === 'live' ? true : undefined));
    // Before any call: only the history.
    await shows(queueRow(queueId), { waiting: '0', longestWait: '–', offered: '4', answered: '3', abandoned: '1', serviceLevel: '66.7%', abandonRate: '25%' });
    await shows(queueRow(otherQueueId), { queue: '510 Reception', waiting: '0', offered: '0', serviceLevel: '–', abandonRate: '–' });

    // One caller talks to alice; two more wait, since nobody else takes calls.
    const talking = callers(bench, 'caller-hangup.xml', '8500', { calls: 1, pauseMs: 14_000, name: 'talking' });
    await shows(operatorRow(ops.alice), { state: 'busy' });
    const waiting = callers(bench, 'caller-hangup.xml', '8500', { calls: 2, rate: 5, pauseMs: 7_000, name: 'waiting' });

    // Offered 4 + 3; answered 3 + 1, within T (20 s) 2 + 1: 3/4; abandoned 1 of 4 + 1.
    await shows(queueRow(queueId), { waiting: '2', offered: '7', answered: '4', abandoned: '1', serviceLevel: '75%', abandonRate: '20%' });
    await shows(queueRow('all'), { waiting: '2', offered: '7', answered: '4', serviceLevel: '75%', abandonRate: '20%' });
    await shows(operatorRow(ops.bob), { state: 'on-break' });
    await shows(operatorRow(ops.carol), { state: 'logged-out', callsTaken: '0' });
    await shows(operatorRow(ops.alice), { callsTaken: '1' });

    // The longest wait and time in state tick on the page as on the server.
    await new Promise((r) => setTimeout(r, 2_000));
    const calls = ((await bench.sb.api('/v1/calls')).body as { items: { state: string; waitS: number }[] }).items;
    const longest = Math.max(...calls.filter((c) => c.state === 'waiting').map((c) => c.waitS));
    expect(Math.abs(seconds(await cell(queueRow(queueId), 'longestWait')) - longest)).toBeLessThanOrEqual(2);
    expect(longest).toBeGreaterThanOrEqual(2);
    const bob = (await bench.sb.api(`/v1/operators/${String(ops.bob)}/state`)).body as { inStateS: number };
    expect(Math.abs(seconds(await cell(operatorRow(ops.bob), 'inState')) - bob.inStateS)).toBeLessThanOrEqual(2);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // The two waiting callers give up: the stream says so and the page follows.
    const gaveUp = await waiting;
    expect(gaveUp.passed, describeRun(gaveUp)).toBe(true);
    await shows(queueRow(queueId), { waiting: '0', longestWait: '–', offered: '7', answered: '4', abandoned: '3', serviceLevel: '75%', abandonRate: '42.9%' });

    // The call ends; alice is free again (no wrap-up in this queue).
    const talked: SippResult = await talking;
    expect(talked.passed, describeRun(talked)).toBe(true);
    await shows(operatorRow(ops.alice), { state: 'available', callsTaken: '1' });
  }, 60_000);

  it('asks for a key when it has none, and refuses a wrong one', async () => {
    const fresh = await browser?.newPage();
    if (!fresh) throw new Error('no browser');
    await fresh.goto(`${bench.sb.url}/wallboard/`);
    await fresh.locator('#login').waitFor({ state: 'visible' });
    await fresh.fill('#login-key', 'not-a-real-key-0123456789');
    await fresh.click('#login button');
    await until('the key refused', async () => ((await fresh.locator('#login-message').innerText()).includes('refused') ? true : undefined));
    await fresh.close();
  });
});
