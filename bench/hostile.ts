/**
 * Memory under hostile input: a whole switchboard (in this process, against the stand-ins or the
 * real servers named in the environment, like the end-to-end tests) takes thousands of broken
 * SIP requests (INVITEs with no, garbage or codec-less SDP, stray in-dialog requests), hostile
 * HTTP requests (wrong types, unknown fields, SQL-like strings, oversized and non-JSON bodies)
 * and a REGISTER flood with wrong passwords from SIPp. Heap is measured after a warm-up and after
 * the run, each after a forced GC and a settle. Prints the figures; exits 1 if the heap grew by
 * more than --max-growth-mb, if any HTTP answer was a 5xx, or if a media session was left.
 *
 *   npm run bench:hostile -- [--rounds 2000] [--max-growth-mb 20]
 */
import { freeswitchSessions } from './lib/esl.js';
import { scenario, startCallBench, type CallBench } from '../test/support/call-bench.js';
import { RawSipClient } from '../test/support/raw-sip.js';
import { runSipp } from '../test/support/sipp.js';
import { ADMIN_KEY, SIP_DOMAIN } from '../test/support/switchboard.js';

const SQL = "'; DROP TABLE operators; --";
const GOOD = ['v=0', 'o=x 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const gc = (globalThis as { gc?: () => void }).gc;

async function heapAfterSettle(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 1_000));
  }
  return process.memoryUsage().heapUsed;
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

class Tally {
  readonly counts: Record<string, number> = {};
  add(kind: string, status: number | undefined): void {
    const key = `${kind} ${status ?? 'none'}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }
  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
}

/** One round of hostile SIP: each request waits for its answer (or 2 s of silence). */
async function sipRound(sip: RawSipClient, tally: Tally): Promise<void> {
  const uri = sip.uri('8000');
  const requests = [
    { kind: 'INVITE no SDP', r: { method: 'INVITE', uri } },
    { kind: 'INVITE garbage SDP', r: { method: 'INVITE', uri, headers: { 'Content-Type': 'application/sdp' }, body: 'garbage\r\n' } },
    { kind: 'INVITE unknown codecs', r: { method: 'INVITE', uri, headers: { 'Content-Type': 'application/sdp' }, body: [...GOOD, 'm=audio 4000 RTP/AVP 97', 'a=rtpmap:97 SPEEX/8000', ''].join('\r\n') } },
    { kind: 'INFO unknown dialog', r: { method: 'INFO', uri, toTag: 'none' } },
    { kind: 'BYE unknown dialog', r: { method: 'BYE', uri, toTag: 'none' } },
  ];
  await Promise.all(requests.map(async ({ kind, r }) => tally.add(kind, (await sip.request(r, 2_000))?.status)));
}

async function httpRound(bench: CallBench, tally: Tally, round: number): Promise<void> {
  const base = bench.sb.url;
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const requests: { kind: string; path: string; init: RequestInit }[] = [
    { kind: 'POST wrong types', path: '/v1/queues', init: { method: 'POST', headers: json, body: JSON.stringify({ number: { $gt: '' }, name: [1] }) } },
    { kind: 'PATCH unknown field', path: '/v1/operators/1', init: { method: 'PATCH', headers: json, body: JSON.stringify({ bogus: SQL }) } },
    { kind: 'GET bad id', path: `/v1/queues/${encodeURIComponent(SQL)}`, init: { headers: auth } },
    { kind: 'GET sql query', path: `/v1/cdrs?number=${encodeURIComponent(SQL)}`, init: { headers: auth } },
    { kind: 'POST text/plain', path: '/v1/routes', init: { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: SQL } },
  ];
  if (round % 10 === 0) {
    requests.push({ kind: 'POST huge body', path: '/v1/rooms', init: { method: 'POST', headers: json, body: JSON.stringify({ name: 'x'.repeat(100_000) }) } });
  }
  await Promise.all(
    requests.map(async ({ kind, path, init }) => {
      const res = await fetch(base + path, init);
      await res.arrayBuffer();
      tally.add(kind, res.status);
    }),
  );
}

async function main(): Promise<number> {
  const rounds = option('rounds', 2000);
  const maxGrowthMb = option('max-growth-mb', 20);
  if (!gc) console.log('bench:hostile: no --expose-gc, heap figures include garbage');
  const bench = await startCallBench();
  try {
    const queueId = (await bench.create('/v1/queues', { number: '100', name: 'Q', announceIntervalS: 0 })).id as number;
    await bench.create('/v1/routes', { number: '8000', targetType: 'queue', queueId });
    await bench.create('/v1/operators', { username: 'alice', password: 'alice-secret', displayName: 'Alice', workNumber: '1001' });
    const sip = await RawSipClient.udp(bench.drachtio.sipAddress);
    const sessions = (): Promise<number> => freeswitchSessions(bench.freeswitch.address, bench.freeswitch.port, bench.freeswitch.secret);
    const sessionsBefore = await sessions();

    const warm = new Tally();
    for (let i = 0; i < Math.min(200, rounds); i++) await Promise.all([sipRound(sip, warm), httpRound(bench, warm, i)]);
    const heapBefore = await heapAfterSettle();
    const rssBefore = process.memoryUsage().rss;

    const tally = new Tally();
    const started = Date.now();
    const flood = runSipp({
      scenario: scenario('register-wrong-password.xml'),
      remote: bench.drachtio.sipAddress,
      transport: 'udp',
      service: 'alice',
      keys: { domain: SIP_DOMAIN },
      calls: Math.max(100, rounds / 2),
      rate: 50,
      timeoutMs: 600_000,
      extraArgs: ['-i', '127.0.0.2', '-au', 'alice', '-ap', 'wrong', '-l', '20'],
      name: 'bench-hostile-register-flood',
      // Only the figures are kept: the parsed message log would weigh on the heap measured.
    }).then((r) => ({ passed: r.passed, successful: r.stats?.successful ?? 0 }));
    for (let i = 0; i < rounds; i++) await Promise.all([sipRound(sip, tally), httpRound(bench, tally, i)]);
    const floodResult = await flood;
    const seconds = (Date.now() - started) / 1000;
    const heapAfter = await heapAfterSettle();
    const rssAfter = process.memoryUsage().rss;
    sip.close();
    const sessionsAfter = await sessions();

    const registers = floodResult.successful * 2;
    const serverErrors = Object.entries(tally.counts).filter(([k]) => !k.startsWith('INVITE') && !k.includes('dialog') && / 5\d\d$/.test(k));
    const growth = heapAfter - heapBefore;
    console.log(`bench:hostile: ${rounds} rounds in ${seconds.toFixed(0)} s: ${tally.total} hostile SIP and HTTP requests, ${registers} REGISTERs with a wrong password (SIPp ${floodResult.passed ? 'passed' : 'failed'})`);
    for (const [k, n] of Object.entries(tally.counts).sort()) console.log(`  ${k.padEnd(32)} ${n}`);
    console.log(`heap after warm-up ${mb(heapBefore)} MB, after the run ${mb(heapAfter)} MB: growth ${mb(growth)} MB (limit ${maxGrowthMb} MB)`);
    console.log(`rss ${mb(rssBefore)} MB -> ${mb(rssAfter)} MB; media server sessions ${sessionsBefore} before, ${sessionsAfter} after`);
    console.log(`health: ${JSON.stringify((await bench.sb.api('/health')).body)}`);
    const failed = growth > maxGrowthMb * 1024 * 1024 || serverErrors.length > 0 || sessionsAfter !== sessionsBefore || !floodResult.passed;
    return failed ? 1 : 0;
  } finally {
    await bench.close();
  }
}

process.exit(await main());
