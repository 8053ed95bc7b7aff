import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseStamps } from '../../bench/lib/dispatch.js';
import { parseOptions, type BenchOptions } from '../../bench/lib/options.js';
import { startSipp as startBenchSipp } from '../../bench/lib/sipp.js';
import { runBench } from '../../bench/run.js';
import { getFreePorts } from '../support/ports.js';
import { describeRun, runSipp, startSipp } from '../support/sipp.js';
import { SCENARIOS } from '../support/call-bench.js';

/**
 * The load-testing bench itself (bench/), for a few seconds at a low rate against the stand-ins
 * (or the real servers the environment names): it starts the switchboard as a process, registers
 * operators with SIPp, drives a step and the backlog phase, and reports a well-formed result in
 * which every call placed left exactly one CDR and nothing is left behind. And the two transfer
 * phones of sipp-scenarios/, against the switchboard's side as the RFCs have it (peers/): the
 * switchboard does not transfer yet, so nothing here depends on it.
 */
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('bench', () => {
  it('runs a short ramp against the switchboard and reports it', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'bench-smoke-'));
    dirs.push(out);
    const opts = parseOptions([
      '--targets', 'switchboard-direct', '--overload-factor', '0', '--ramp', '4', '--step-s', '3', '--operators', '4', '--warmup-calls', '0',
      '--backlog-operators', '2', '--backlog-calls', '6', '--talk-ms', '500', '--patience-ms', '8000',
      '--log-level', 'warn', '--out', out,
    ]) as BenchOptions;
    const { report, dir, markdown } = await runBench(opts, () => undefined);

    const [sb] = report.targets;
    expect(sb?.error).toBeUndefined();
    expect(sb?.name).toBe('switchboard-direct');
    const step = sb?.steps.find((s) => s.kind === 'step');
    const backlog = sb?.steps.find((s) => s.kind === 'backlog');
    expect(step).toMatchObject({ rate: 4, placed: 12, failed: 0, passed: true });
    expect(step?.answerMs.n).toBe(12);
    expect(step?.app.toOperatorMs.n).toBe(12);
    // Every caller's INVITE matched with the operator's INVITE offering it (the SIPps' logs).
    expect(step?.dispatchMs.n).toBe(12);
    expect(step?.notOffered).toBe(0);
    expect(step?.use.app?.cpuMs).toBeGreaterThan(0);
    expect(backlog).toMatchObject({ placed: 6, failed: 0 });
    // Callers waited behind two operators: each freed operator was offered the next caller.
    expect(backlog?.app.freeToOfferMs?.n).toBeGreaterThan(0);
    expect(sb?.maxPassedRate).toBe(4);
    expect(sb?.totalPlaced).toBe(18);
    expect(sb?.end).toMatchObject({ callsInProgress: 0, stuckOperators: {}, cdrRows: 18, mediaSessions: 0, logErrors: 0 });

    const json = JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8')) as typeof report;
    expect(json.targets[0]?.end?.cdrRows).toBe(18);
    expect(await readFile(path.join(dir, 'report.md'), 'utf8')).toContain('| CDR rows = calls placed | yes (18 / 18) |');
    expect(markdown).toContain('## switchboard-direct (free');
  }, 60_000); // the switchboard is a child process started from source with tsx: 20 s of start-up on a busy 2-core machine
});

describe('the bench\'s caller', () => {
  it('takes a 503 as a clean refusal, timed as refused, and stamps every INVITE it sends', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'bench-503-'));
    dirs.push(out);
    const [peerPort, callerPort] = await getFreePorts(2, 'both');
    const peer = await startBenchSipp({ name: 'full', scenario: 'peers/refuse-503.xml', localPort: peerPort as number, dir: path.join(out, 'peer'), calls: 4, timeoutS: 15 });
    await peer.ready;
    const logFile = path.join(out, 'caller', 'invites.log');
    const caller = await startBenchSipp({
      name: 'caller',
      scenario: 'caller-load.xml',
      remote: `127.0.0.1:${peerPort}`,
      localPort: callerPort as number,
      dir: path.join(out, 'caller'),
      service: '8000',
      keys: { prefix: 7990 },
      rate: 10,
      calls: 4,
      recvTimeoutMs: 5000,
      timeoutS: 15,
      logFile,
    });
    const result = await caller.done;
    await peer.done;
    expect(result.final).toMatchObject({ created: 4, successful: 4, failed: 0 });
    expect(result.rtt.filter((e) => e.name === 'refused')).toHaveLength(4);
    expect(result.rtt.filter((e) => e.name === 'answer')).toHaveLength(0);
    const stamps = parseStamps(await readFile(logFile, 'utf8'), 'invite');
    expect(stamps.map((st) => st.number).sort()).toEqual(['79901', '79902', '79903', '79904']);
  });
});

describe('transfer phones against the RFCs\' switchboard side', () => {
  it('blind transfer: REFER, 202, NOTIFYs with sipfrag, BYE', async () => {
    const [phonePort] = await getFreePorts(1, 'both');
    const phone = await startSipp({
      scenario: path.join(SCENARIOS, 'operator-blind-transfer.xml'),
      transport: 'udp',
      localPort: phonePort,
      keys: { answer_ms: 0, talk_ms: 200, transfer_to: 7002 },
      timeoutMs: 10_000,
    });
    await phone.ready;
    const peer = await runSipp({
      scenario: path.join(SCENARIOS, 'peers/blind-transfer-peer.xml'),
      remote: `127.0.0.1:${phonePort}`,
      transport: 'udp',
      timeoutMs: 10_000,
    });
    const done = await phone.done;
    expect(peer.passed, describeRun(peer)).toBe(true);
    expect(done.passed, describeRun(done)).toBe(true);
  });

  it('attended transfer: consultation call (with digest), REFER with Replaces, NOTIFYs, BYEs of both calls', async () => {
    const [phonePort, peerPort] = await getFreePorts(2, 'both');
    const phone = await startSipp({
      scenario: path.join(SCENARIOS, 'operator-attended-transfer.xml'),
      transport: 'udp',
      localPort: phonePort,
      keys: { answer_ms: 0, talk_ms: 200, consult_ms: 200, transfer_to: 7002 },
      extraArgs: ['-au', 'op1', '-ap', 'op1-secret', '-auth_uri', `7002@127.0.0.1:${peerPort}`],
      timeoutMs: 10_000,
    });
    await phone.ready;
    const peer = await runSipp({
      scenario: path.join(SCENARIOS, 'peers/attended-transfer-peer.xml'),
      remote: `127.0.0.1:${phonePort}`,
      localPort: peerPort,
      transport: 'udp',
      timeoutMs: 10_000,
    });
    const done = await phone.done;
    expect(peer.passed, describeRun(peer)).toBe(true);
    expect(done.passed, describeRun(done)).toBe(true);
    const refer = done.messages.find((m) => m.label === '> REFER');
    expect(refer?.text).toMatch(/Refer-To: <sip:7002@127\.0\.0\.1:\d+\?Replaces=consult%2F%2F%2F[^%]+%40127\.0\.0\.1%3Bto-tag%3Dconstag%3Bfrom-tag%3D\w+>/);
  });
});
