import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callers, rowsWhenThere, startCallBench, until, type CallBench } from '../support/call-bench.js';
import { getFreePort } from '../support/ports.js';
import { describeRun, responsesOf, type SippResult } from '../support/sipp.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * Admission control over real SIP: past a limit new callers get 503 with Retry-After and a
 * Warning before anything is answered, their calls are recorded as rejected, the calls in
 * progress go on, and new callers get in again once the load is back under the limit. Each
 * limit has a switchboard of its own. The media server's session count is its last HEARTBEAT
 * (every 20 s from a real FreeSWITCH and from the stand-in here) plus the switchboard's own
 * endpoints since: no test waits for a HEARTBEAT.
 */

interface LiveCall {
  callId: string;
  state: string;
  callerNumber: string;
}
type CallRow = {
  caller_number: string;
  disposition: string;
  sip_status: number | null;
  sip_reason: string | null;
};

async function liveCalls(bench: CallBench): Promise<LiveCall[]> {
  return ((await bench.sb.api('/v1/calls')).body as { items: LiveCall[] }).items;
}

/** Samples of /metrics keyed by `name{labels}` as written. */
async function metrics(bench: CallBench): Promise<Map<string, number>> {
  const res = await bench.sb.api('/metrics');
  const text = typeof res.body === 'string' ? res.body : '';
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+(?:\{.*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1] as string, Number(m[2]));
  }
  return samples;
}

/** What the switchboard sees of its (one) media server: `sessions` or `pending` (endpoints in flight). */
async function mediaGauge(bench: CallBench, what: 'sessions' | 'pending'): Promise<number | undefined> {
  for (const [key, value] of await metrics(bench)) if (key.startsWith(`switchboard_media_${what}{`)) return value;
  return undefined;
}

/** A queue nobody answers (callers wait with music) and the number routed to it. */
async function waitingQueue(bench: CallBench, number: string): Promise<void> {
  const queueId = (await bench.create('/v1/queues', { number: number.slice(1), name: `Admission ${number}`, announceIntervalS: 0, wrapupS: 0 })).id as number;
  await bench.create('/v1/routes', { number, targetType: 'queue', queueId });
  await until('the configuration to reach the call path', async () => ((await bench.sb.api(`/v1/queues/${queueId}/calls`)).status === 200 ? true : undefined));
}

/** Starts a caller who waits until the switchboard hangs up, and waits until it is in the queue. */
async function waitingCaller(bench: CallBench, number: string, prefix: string): Promise<{ callId: string; done: Promise<SippResult> }> {
  const done = callers(bench, 'caller.xml', number, { calls: 1, name: `waiting-${prefix}`, keys: { prefix } });
  const call = await until(`caller ${prefix} waiting`, async () => (await liveCalls(bench)).find((c) => c.callerNumber === `${prefix}1` && c.state === 'waiting'));
  return { callId: call.callId, done };
}

async function hangUp(bench: CallBench, caller: { callId: string; done: Promise<SippResult> }): Promise<void> {
  expect((await bench.sb.api(`/v1/calls/${caller.callId}/hangup`, { method: 'POST' })).status).toBeLessThan(300);
  const run = await caller.done;
  expect(run.passed, describeRun(run)).toBe(true);
}

/** The 503 a refused caller got (SIPp's caller-refused passes on any refusal, so check which). */
function the503(run: SippResult): { retryAfter: string | undefined; warning: string | undefined } {
  expect(run.passed, describeRun(run)).toBe(true);
  const [response] = responsesOf(run, 'received', 503, 'INVITE');
  expect(response, describeRun(run)).toBeDefined();
  expect(responsesOf(run, 'received', 200, 'INVITE')).toEqual([]);
  return { retryAfter: response?.get('Retry-After'), warning: response?.get('Warning') };
}

async function noChannelsLeft(bench: CallBench): Promise<void> {
  const standIn = bench.freeswitch.standIn;
  if (standIn) expect(await until('no media channels left', async () => (standIn.model.channels().length === 0 ? true : undefined))).toBe(true);
}

describe('MAX_EVENT_LOOP_DELAY_MS', () => {
  let bench: CallBench;
  const NUMBER = '8792';

  beforeAll(async () => {
    bench = await startCallBench({ MAX_EVENT_LOOP_DELAY_MS: '200', ADMISSION_RETRY_AFTER_SECONDS: '4' });
    await waitingQueue(bench, NUMBER);
  }, 60_000);

  afterAll(async () => {
    await bench?.close();
  });

  it('refuses a new caller with 503 while the switchboard runs behind, and admits again once it has caught up', async () => {
    // The switchboard runs in this process: holding its event loop is what a CPU-starved one lives.
    const busyUntil = Date.now() + 600;
    while (Date.now() < busyUntil) {
      // busy: nothing else runs meanwhile
    }
    const refused = the503(await callers(bench, 'caller-refused.xml', NUMBER, { calls: 1, name: 'late', keys: { prefix: '4201' } }));
    expect(refused.retryAfter).toBe('4');
    expect(refused.warning).toMatch(/^399 switchboard "over capacity: the switchboard runs \d+ ms behind \(limit 200 ms\)"$/);
    expect((await metrics(bench)).get('switchboard_calls_refused_total{reason="event-loop"}')).toBe(1);
    const [row] = await rowsWhenThere<CallRow>(bench, "SELECT caller_number, disposition, sip_status, sip_reason FROM calls WHERE caller_number = '42011'", 1);
    expect(row).toMatchObject({ disposition: 'rejected', sip_status: 503 });

    // Two quiet windows later (half a second each) it runs a few ms behind again.
    await new Promise((r) => setTimeout(r, 1_600));
    const after = await callers(bench, 'caller-hangup.xml', NUMBER, { calls: 1, name: 'caught-up', keys: { prefix: '4202' }, pauseMs: 300 });
    expect(after.passed, describeRun(after)).toBe(true);
    expect(responsesOf(after, 'received', 503, 'INVITE')).toEqual([]);
    await noChannelsLeft(bench);
  });
});

describe('MAX_CALLS', () => {
  let bench: CallBench;
  const NUMBER = '8791';

  beforeAll(async () => {
    bench = await startCallBench({ MAX_CALLS: '2', ADMISSION_RETRY_AFTER_SECONDS: '9' });
    await waitingQueue(bench, NUMBER);
  }, 60_000);

  afterAll(async () => {
    await bench?.close();
  });

  it('refuses the third concurrent caller with 503, Retry-After and a record, keeps the two, and admits again when one leaves', async () => {
    const first = await waitingCaller(bench, NUMBER, '4101');
    const second = await waitingCaller(bench, NUMBER, '4102');

    const refused = the503(await callers(bench, 'caller-refused.xml', NUMBER, { calls: 1, name: 'refused', keys: { prefix: '4103' } }));
    expect(refused.retryAfter).toBe('9');
    expect(refused.warning).toBe('399 switchboard "over capacity: 2 calls in progress (limit 2)"');
    expect((await metrics(bench)).get('switchboard_calls_refused_total{reason="calls"}')).toBe(1);
    // The two in progress are untouched.
    expect((await liveCalls(bench)).map((c) => c.state)).toEqual(['waiting', 'waiting']);

    await hangUp(bench, first);
    const after = await callers(bench, 'caller-hangup.xml', NUMBER, { calls: 1, name: 'after', keys: { prefix: '4104' }, pauseMs: 300 });
    expect(after.passed, describeRun(after)).toBe(true);
    await hangUp(bench, second);

    // Four calls recorded; only the third refused (the others were answered and queued).
    const rows = await rowsWhenThere<CallRow>(bench, 'SELECT caller_number, disposition, sip_status, sip_reason FROM calls ORDER BY caller_number', 4);
    expect(rows.map((r) => r.caller_number)).toEqual(['41011', '41021', '41031', '41041']);
    expect(rows.filter((r) => r.disposition === 'rejected' || r.sip_status !== null)).toEqual([
      { caller_number: '41031', disposition: 'rejected', sip_status: 503, sip_reason: 'over capacity: 2 calls in progress (limit 2)' },
    ]);
    await noChannelsLeft(bench);
  }, 90_000);
});

describe('the media server at its session cap', () => {
  let bench: CallBench;
  const NUMBER = '8792';

  beforeAll(async () => {
    bench = await startCallBench({ MEDIA_MAX_SESSIONS: '2' });
    await waitingQueue(bench, NUMBER);
  }, 60_000);

  afterAll(async () => {
    await bench?.close();
  });

  it('refuses new callers as soon as the cap is reached, and admits them again once it drops, between HEARTBEATs', async () => {
    const first = await waitingCaller(bench, NUMBER, '4201');
    const second = await waitingCaller(bench, NUMBER, '4202');
    // One media server session per waiting caller, counted as the switchboard made them.
    expect(await mediaGauge(bench, 'sessions')).toBe(2);

    const refused = the503(await callers(bench, 'caller-refused.xml', NUMBER, { calls: 1, name: 'refused', keys: { prefix: '4203' } }));
    expect(refused.retryAfter).toBe('5');
    expect(refused.warning).toMatch(/^399 switchboard "over capacity: media server at \d+ sessions \(limit 2\)"$/);
    expect((await metrics(bench)).get('switchboard_calls_refused_total{reason="media-sessions"}')).toBe(1);

    await hangUp(bench, first);
    await hangUp(bench, second);
    // Their channels' event sockets close as FreeSWITCH ends them.
    await until('both sessions gone', async () => ((await mediaGauge(bench, 'sessions')) === 0 ? true : undefined));
    const after = await callers(bench, 'caller-hangup.xml', NUMBER, { calls: 1, name: 'after', keys: { prefix: '4204' }, pauseMs: 300 });
    expect(after.passed, describeRun(after)).toBe(true);

    const rows = await rowsWhenThere<CallRow>(bench, 'SELECT caller_number, disposition, sip_status, sip_reason FROM calls ORDER BY caller_number', 4);
    expect(rows.map((r) => r.caller_number)).toEqual(['42011', '42021', '42031', '42041']);
    expect(rows.filter((r) => r.disposition === 'rejected' || r.sip_status !== null).map((r) => [r.caller_number, r.disposition, r.sip_status])).toEqual([
      ['42031', 'rejected', 503],
    ]);
    await noChannelsLeft(bench);
  }, 90_000);
});

describe('MEDIA_MAX_PENDING', () => {
  let bench: CallBench;
  let slowFreeswitch: TcpProxy | undefined;
  const NUMBER = '8794';

  beforeAll(async () => {
    // FreeSWITCH connects back for each endpoint to the advertised address and the switchboard's
    // listening port: advertising another loopback address with a relay on it that the test
    // holds makes FreeSWITCH slow to connect back, the way an overloaded one is.
    bench = await startCallBench(async ({ freeswitch }) => {
      const port = await getFreePort('tcp');
      slowFreeswitch = await TcpProxy.listenOn({ host: '127.0.0.2', port }, freeswitch.listenAddress, port);
      return { MEDIA_MAX_PENDING: '1', MEDIA_LISTEN_PORT: String(port), MEDIA_ADVERTISED_ADDRESS: '127.0.0.2' };
    });
    await waitingQueue(bench, NUMBER);
  }, 60_000);

  afterAll(async () => {
    await bench?.close();
    await slowFreeswitch?.close();
  });

  it('refuses a new caller while an endpoint is still being set up, answers the first once FreeSWITCH catches up, then admits again', async () => {
    const relay = slowFreeswitch as TcpProxy;
    relay.hold();
    const first = callers(bench, 'caller.xml', NUMBER, { calls: 1, name: 'slow', keys: { prefix: '4401' } });
    // drachtio-fsmrf gives up on an endpoint after 4 s: the refusal must come well within that.
    await until('an endpoint in flight', async () => ((await mediaGauge(bench, 'pending')) === 1 ? true : undefined), 2_000);
    const refused = the503(await callers(bench, 'caller-refused.xml', NUMBER, { calls: 1, name: 'refused', keys: { prefix: '4402' } }));
    relay.release();
    expect(refused.retryAfter).toBe('5');
    expect(refused.warning).toBe('399 switchboard "over capacity: media server endpoints in flight: 1 (limit 1)"');
    expect((await metrics(bench)).get('switchboard_calls_refused_total{reason="media-pending"}')).toBe(1);

    // The first caller was not touched: answered and waiting once FreeSWITCH connected back.
    const waiting = await until('the first caller waiting', async () => (await liveCalls(bench)).find((c) => c.callerNumber === '44011' && c.state === 'waiting'));
    expect(await mediaGauge(bench, 'pending')).toBe(0);
    const after = await callers(bench, 'caller-hangup.xml', NUMBER, { calls: 1, name: 'after', keys: { prefix: '4403' }, pauseMs: 300 });
    expect(after.passed, describeRun(after)).toBe(true);
    await hangUp(bench, { callId: waiting.callId, done: first });

    const rows = await rowsWhenThere<CallRow>(bench, 'SELECT caller_number, disposition, sip_status, sip_reason FROM calls ORDER BY caller_number', 3);
    expect(rows.map((r) => r.caller_number)).toEqual(['44011', '44021', '44031']);
    // Only the second was refused; the first was answered and queued (then hung up from the API).
    expect(rows.filter((r) => r.disposition === 'rejected' || r.sip_status !== null)).toEqual([
      { caller_number: '44021', disposition: 'rejected', sip_status: 503, sip_reason: 'over capacity: media server endpoints in flight: 1 (limit 1)' },
    ]);
    await noChannelsLeft(bench);
  }, 90_000);
});

describe('MAX_CALLS_PER_SECOND', () => {
  let bench: CallBench;
  const NUMBER = '8793';
  const RATE = 3;
  const BURST = 12;

  beforeAll(async () => {
    bench = await startCallBench({ MAX_CALLS_PER_SECOND: String(RATE) });
    await waitingQueue(bench, NUMBER);
  }, 60_000);

  afterAll(async () => {
    await bench?.close();
  });

  it('refuses the excess of a burst with 503 and serves the callers it let in', async () => {
    const run = await callers(bench, 'caller-hangup-or-refused.xml', NUMBER, { calls: BURST, rate: 100, name: 'burst', keys: { prefix: '43' }, pauseMs: 500 });
    expect(run.passed, describeRun(run)).toBe(true);
    const admitted = responsesOf(run, 'received', 200, 'INVITE').length;
    const refused = responsesOf(run, 'received', 503, 'INVITE');
    expect(admitted + refused.length).toBe(BURST);
    // A full bucket lets one second's worth in at once; the burst is over long before it refills.
    expect(admitted).toBeGreaterThanOrEqual(RATE);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) expect(r.get('Warning')).toBe(`399 switchboard "over capacity: more than ${RATE} new calls per second"`);
    expect((await metrics(bench)).get('switchboard_calls_refused_total{reason="rate"}')).toBe(refused.length);

    const rows = await rowsWhenThere<CallRow>(bench, 'SELECT caller_number, disposition, sip_status FROM calls', BURST);
    const byDisposition = (d: string): number => rows.filter((r) => r.disposition === d).length;
    expect(byDisposition('rejected')).toBe(refused.length);
    expect(rows.filter((r) => r.disposition === 'rejected').every((r) => r.sip_status === 503)).toBe(true);
    // Everyone let in was answered and hung up themselves while waiting: no failures.
    expect(byDisposition('abandoned')).toBe(admitted);
    await noChannelsLeft(bench);
  }, 90_000);
});
