/**
 * One target's run: servers, the app, K operators' phones, a warm-up, the rate ramp,
 * the backlog phase, and the checks at the end. Every step's callers are SIPp processes of their
 * own (several above --sipp-rate), with caller numbers that say which step they belong to, so
 * the app's records can be matched to the step.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { getFreePorts } from '../../test/support/ports.js';
import { matchDispatch, parseStamps } from './dispatch.js';
import { isSwitchboard, type BenchOptions, type Shape, type TargetName } from './options.js';
import { eslApi } from './esl.js';
import { Sampler, type WindowUse } from './processes.js';
import { useDrachtio, useFreeswitch, type Drachtio, type Freeswitch } from './servers.js';
import { startOperatorPhones, startSipp, type SippResult, type SippRun, type SippStats } from './sipp.js';
import { mean, percentiles, ratePerSecond, slope, type Percentiles } from './stats.js';
import { DIALLED, startBaselineTarget, startSwitchboardTarget, type AppSide, type EndCheck, type Target } from './targets.js';

export interface StepResult {
  label: string;
  kind: 'warmup' | 'step' | 'overload' | 'backlog';
  /** Nominal calls per second and seconds of calls. */
  rate: number;
  seconds: number;
  startedAt: number;
  endedAt: number;
  placed: number;
  successful: number;
  /** Accepted calls that failed (a refusal is not a failure of the call: see refused). */
  failed: number;
  /** Calls refused with 503 (admission control). */
  refused: number;
  /** (failed + refused) / calls the step should have placed, %: a ramp step must carry its rate. */
  failedPct: number;
  /** failed / calls not refused, %: what admission control must keep low past capacity. */
  acceptedFailedPct: number | null;
  /**
   * SIPp's failure counters, summed over the step's caller processes, plus NotPlaced (calls SIPp
   * did not start) and ReleasedBeforeTalk (callers hung up on sooner than answer + talk time:
   * never served, though SIPp saw a proper BYE).
   */
  failures: Record<string, number>;
  /** Calls the operators' phones failed during the step (a CANCEL while talking, a timeout ...). */
  operatorFailures: number;
  retransmissions: number;
  /** Measured: INVITEs per second sent, calls per second ended by the far side. */
  offeredCps: number | null;
  completedCps: number | null;
  /** INVITE sent -> 200 OK, as the callers saw it. */
  answerMs: Percentiles;
  /**
   * Caller INVITE sent -> the operator's phone received the INVITE for that caller, from the two
   * SIPps' logs (bench/lib/dispatch.ts); in the wait shape it includes the wait.
   */
  dispatchMs: Percentiles;
  /** Callers of the step never offered to an operator. */
  notOffered: number;
  /** The whole call as the caller saw it, less the operator's ring and talk time: setup + teardown (served calls). */
  overheadMs: Percentiles;
  app: AppSide;
  /** Mean calls in progress (the callers' SIPp CurrentCall). */
  concurrentCalls: number | null;
  /** CPU and memory of each measured process during the step. */
  use: Record<string, WindowUse | undefined>;
  machineBusyPct: number | null;
  /**
   * The busiest SIPp process's CPU during the step, % of one core: SIPp is single-threaded, so
   * near 100 % the load generator, not the system under test, is the limit.
   */
  sippMaxCpuPct: number | null;
  cpuMsPerCall: number | null;
  cpuPctPerConcurrentCall: number | null;
  rssKbPerConcurrentCall: number | null;
  passed: boolean;
  dirs: string[];
  errorsSample: string;
}

export interface TargetResult {
  name: TargetName;
  shape: Shape;
  /** Which of --rounds runs of this target and shape (from 1). */
  round: number;
  /** The switchboard's queue media mode as run. */
  mediaMode?: string;
  servers: { drachtio: string; freeswitch: string };
  operators: number;
  mediaSessionsBefore: number | null;
  idleRssMb: number | null;
  steps: StepResult[];
  totalPlaced: number;
  end?: EndCheck;
  /**
   * Cost of one more call in progress, from the ramp's passed steps: least-squares slopes of the
   * app's CPU (% of a core) and mean RSS (KB) over the mean number of calls in progress.
   */
  perConcurrentCall: { cpuPct: number | null; rssKb: number | null };
  /** The highest ramp step that passed (calls/s), null if none did. */
  maxPassedRate: number | null;
  firstFailedStep: { rate: number; failedPct: number; why: string } | null;
  /** The step at --overload-factor x the highest passed rate, if run. */
  overload?: StepResult;
  /** The system under test exited during the run (it must not). */
  appExit?: { code: number | string; at: string; during: string; output: string };
  error?: string;
  dir: string;
}

const pad = (n: number): string => String(n).padStart(2, '0');
/** Per SIPp process directory: the <log> lines of its scenario (dispatch time stamps). */
const OFFERS_LOG = 'offers.log';
const INVITES_LOG = 'invites.log';
// Operators per SIPp phone process: few processes even for the thousands an overload step at
// hundreds of calls/s needs (each is a process competing for the same cores).
const OPERATORS_PER_PHONE = 500;

export async function runTarget(name: TargetName, shape: Shape, opts: BenchOptions, runDir: string, log: (line: string) => void, round = 1): Promise<TargetResult> {
  const dir = path.join(runDir, opts.rounds > 1 ? `${name}-${shape}-round-${round}` : `${name}-${shape}`);
  const label = `${name} (${shape}${opts.rounds > 1 ? `, round ${round}` : ''})`;
  await mkdir(dir, { recursive: true });
  const result: TargetResult = {
    name,
    shape,
    round,
    servers: { drachtio: '', freeswitch: '' },
    operators: opts.operators,
    mediaSessionsBefore: null,
    idleRssMb: null,
    steps: [],
    totalPlaced: 0,
    perConcurrentCall: { cpuPct: null, rssKb: null },
    maxPassedRate: null,
    firstFailedStep: null,
    dir,
  };
  let drachtio: Drachtio | undefined;
  let freeswitch: Freeswitch | undefined;
  let target: Target | undefined;
  const phones: SippRun[] = [];
  let sampler: Sampler | undefined;
  let stopping = false;
  try {
    drachtio = await useDrachtio(path.join(dir, 'drachtio-stand-in.log'));
    freeswitch = await useFreeswitch(path.join(dir, 'freeswitch-stand-in.log'));
    result.servers = {
      drachtio: drachtio.external ? `real (apps ${drachtio.host}:${drachtio.port}, SIP ${drachtio.sipAddress})` : `stand-in (SIP ${drachtio.sipAddress})`,
      freeswitch: freeswitch.external ? `real (event socket ${freeswitch.host}:${freeswitch.port})` : `stand-in (event socket ${freeswitch.host}:${freeswitch.port})`,
    };
    result.mediaSessionsBefore = await freeswitch.sessions().catch(() => null);
    if (freeswitch.external && (result.mediaSessionsBefore ?? 0) > 0) {
      // Left by an earlier run (the FreeSWITCH must be the bench's alone): clear them first.
      log(`${name}: ${result.mediaSessionsBefore} FreeSWITCH sessions before the run; hupall`);
      await eslApi(freeswitch.host, freeswitch.port, freeswitch.password, 'hupall NORMAL_CLEARING').catch(() => undefined);
    }

    // K operators spread over a few SIPp phones (one port each).
    const portCount = Math.max(1, Math.ceil(opts.operators / OPERATORS_PER_PHONE));
    const ports = await getFreePorts(portCount, 'both');
    const operators = Array.from({ length: opts.operators }, (_, i) => ({ username: `op${i + 1}`, password: `op${i + 1}-secret`, port: ports[i % portCount] as number }));

    log(`${label}: starting (${result.servers.drachtio}; ${result.servers.freeswitch}; ${opts.operators} operators)`);
    const ctx = { dir, drachtio, freeswitch, operators, opts, shape };
    const nodeArgs = opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : undefined;
    target = isSwitchboard(name) ? await startSwitchboardTarget({ ...ctx, target: name, nodeArgs }) : await startBaselineTarget(name, ctx);
    result.mediaMode = target.mediaMode;

    const runSeconds = opts.ramp.length * (opts.stepS + opts.patienceMs / 1000 + 30);
    await startOperatorPhones(ports, dir, { answerMs: opts.answerMs, talkMs: opts.talkMs, timeoutS: runSeconds + 600, offersLog: OFFERS_LOG }, phones);

    let current = 'start-up';
    const app = target;
    void app.proc.exited.then((code) => {
      if (stopping) return;
      result.appExit = { code, at: new Date().toISOString(), during: current, output: app.proc.tail().slice(-1500) };
      log(`${label}: the app process EXITED (${code}) during ${current}`);
    });
    const pids = new Map<string, number>([['app', target.proc.pid]]);
    if (drachtio.pid) pids.set('drachtio', drachtio.pid);
    if (freeswitch.pid) pids.set('freeswitch', freeswitch.pid);
    for (const p of phones) pids.set(`sipp ${p.spec.name}`, p.proc.pid);
    sampler = new Sampler(pids, 500);
    sampler.start();

    const step = (label: string, kind: StepResult['kind'], index: number, rate: number, calls: number): Promise<StepResult> => {
      current = label;
      return callerStep({ label, kind, index, rate, calls, shape, opts, dir, drachtio: drachtio as Drachtio, target: app, phones, sampler: sampler as Sampler, idleRssMb: result.idleRssMb });
    };

    if (opts.warmupCalls > 0) {
      const warm = await step('warm-up', 'warmup', 0, Math.min(5, opts.ramp[0] ?? 5), opts.warmupCalls);
      result.steps.push(warm);
      log(`${label}: ${describe(warm)}`);
    }
    await sleep(1500);
    const idleFrom = Date.now();
    await sleep(2000);
    result.idleRssMb = sampler.window('app', idleFrom, Date.now())?.rssMeanMb ?? null;

    for (const [i, rate] of opts.ramp.entries()) {
      const s = await step(`${rate} calls/s`, 'step', i + 1, rate, Math.max(1, Math.round(rate * opts.stepS)));
      result.steps.push(s);
      log(`${label}: ${describe(s)}`);
      if (!s.passed) {
        const why =
          s.failedPct > opts.maxFailedPct || s.placed === 0
            ? `${s.failedPct.toFixed(1)} % failed${s.refused > 0 ? ` or refused` : ''}`
            : `completed ${s.completedCps?.toFixed(1) ?? '?'}/s of ${s.offeredCps?.toFixed(1) ?? '?'}/s offered`;
        result.firstFailedStep = { rate, failedPct: s.failedPct, why };
        break;
      }
      result.maxPassedRate = rate;
      await sleep(1000);
    }
    if (opts.overloadFactor > 0 && result.maxPassedRate !== null) {
      // Past capacity: what is accepted must still succeed; the rest should be refused cleanly.
      await sleep(2000);
      const rate = Math.round(opts.overloadFactor * result.maxPassedRate);
      const s = await step(`overload: ${rate} calls/s (${opts.overloadFactor}× ${result.maxPassedRate})`, 'overload', 97, rate, Math.max(1, Math.round(rate * opts.stepS)));
      result.steps.push(s);
      result.overload = s;
      log(`${label}: ${describe(s)}`);
      await sleep(1000);
    }
    // The backlog times "operator free -> next offer"; in the wait shape every caller's skill wait
    // would be in that gap, so the free shape alone runs it.
    if (opts.backlog && target.keepLoggedIn && shape === 'free') {
      // Operators still busy from the last step (or stuck) are left out: callers wait behind
      // the few that are free.
      await sleep(2000);
      const few = await target.keepLoggedIn(opts.backlogOperators);
      if (few.length === 0) {
        log(`${label}: no operator is available for the backlog phase; skipped`);
      } else {
        const capacity = (few.length * 1000) / (opts.answerMs + opts.talkMs + 200);
        const rate = Math.max(1, Math.round(2 * capacity));
        const s = await step(`backlog: ${opts.backlogCalls} callers at ${rate}/s, ${few.length} operators`, 'backlog', 98, rate, opts.backlogCalls);
        result.steps.push(s);
        log(`${label}: ${describe(s)}`);
      }
    }
    result.totalPlaced = result.steps.reduce((a, s) => a + s.placed, 0);
    const ramp = result.steps.filter((s) => s.kind === 'step' && s.passed && s.concurrentCalls !== null && s.use.app);
    result.perConcurrentCall = {
      cpuPct: slope(ramp.map((s) => ({ x: s.concurrentCalls as number, y: s.use.app?.cpuPercent as number })), 2),
      rssKb: slope(ramp.map((s) => ({ x: s.concurrentCalls as number, y: (s.use.app?.rssMeanMb as number) * 1024 })), 2),
    };
    log(`${label}: checking what is left ...`);
    current = 'the checks at the end';
    result.end = await target.endCheck(result.totalPlaced);
    if (freeswitch.external && (result.end.mediaSessions ?? 0) > 0) {
      // Channels left on a real FreeSWITCH would weigh on the next target's run: clear them.
      log(`${label}: ${result.end.mediaSessions} FreeSWITCH sessions left behind; hupall`);
      await eslApi(freeswitch.host, freeswitch.port, freeswitch.password, 'hupall NORMAL_CLEARING').catch(() => undefined);
    }
  } catch (err) {
    result.error = (err as Error).stack ?? String(err);
    log(`${label}: FAILED: ${(err as Error).message}`);
  } finally {
    stopping = true;
    sampler?.stop();
    for (const p of phones) p.softStop();
    await Promise.all(phones.map((p) => Promise.race([p.done, sleep(5000)])));
    await Promise.all(phones.map((p) => p.proc.stop(2000)));
    await target?.stop().catch(() => undefined);
    await freeswitch?.stop().catch(() => undefined);
    await drachtio?.stop().catch(() => undefined);
  }
  return result;
}

function describe(s: StepResult): string {
  const f = (v: number | null, d = 1): string => (v === null ? '-' : v.toFixed(d));
  const refused = s.refused > 0 ? `, ${s.refused} refused (503)` : '';
  return `${s.label}: ${s.placed} placed, ${s.failed} failed${refused} (${f(s.failedPct, 2)} %), dispatch p50 ${f(s.dispatchMs.p50, 0)} p99 ${f(s.dispatchMs.p99, 0)} ms, offered ${f(s.offeredCps)}/s, completed ${f(s.completedCps)}/s, INVITE->200 p50 ${f(s.answerMs.p50, 0)} p99 ${f(s.answerMs.p99, 0)} ms, app CPU ${f(s.use.app?.cpuPercent ?? null, 0)} %${s.passed ? '' : '  << FAILED'}`;
}

interface StepContext {
  label: string;
  kind: StepResult['kind'];
  shape: Shape;
  index: number;
  rate: number;
  calls: number;
  opts: BenchOptions;
  dir: string;
  drachtio: Drachtio;
  target: Target;
  phones: SippRun[];
  sampler: Sampler;
  idleRssMb: number | null;
}

async function callerStep(c: StepContext): Promise<StepResult> {
  const { opts } = c;
  const procs = Math.max(1, Math.ceil(c.rate / opts.sippRate));
  const ports = await getFreePorts(procs, 'udp');
  const callMs = opts.answerMs + opts.talkMs;
  const seconds = c.calls / c.rate;
  const prefixes: string[] = [];
  const runs: SippRun[] = [];
  const before = await Promise.all(c.phones.map((p) => p.now()));
  const startedAt = Date.now();
  for (let i = 0; i < procs; i++) {
    const prefix = `7${pad(c.index)}${i}`;
    prefixes.push(prefix);
    const share = Math.floor(c.calls / procs) + (i < c.calls % procs ? 1 : 0);
    runs.push(
      await startSipp({
        name: `callers-${c.index}-${i}`,
        scenario: 'caller-load.xml',
        logFile: path.join(c.dir, `step-${pad(c.index)}-callers-${i}`, INVITES_LOG),
        remote: c.drachtio.sipAddress,
        localPort: ports[i] as number,
        dir: path.join(c.dir, `step-${pad(c.index)}-callers-${i}`),
        service: DIALLED,
        keys: { prefix },
        rate: c.rate / procs,
        calls: share,
        limit: Math.ceil((c.rate / procs) * ((callMs + opts.patienceMs) / 1000) + 50),
        recvTimeoutMs: opts.patienceMs,
        timeoutS: seconds + (callMs + opts.patienceMs) / 1000 + 60,
      }),
    );
  }
  for (const r of runs) c.sampler.add(`sipp ${r.spec.name}`, r.proc.pid);
  const results: SippResult[] = await Promise.all(runs.map((r) => r.done));
  const endedAt = Date.now();
  const after = await Promise.all(c.phones.map((p) => p.now()));
  const rtt = results.flatMap((r) => r.rtt);
  const answers = rtt.filter((e) => e.name === 'answer');
  const ends = rtt.filter((e) => e.name === 'call');
  // A caller released before an operator could have talked to them for talk-ms was not served,
  // though SIPp counts the call as successful (it got its BYE).
  const releasedEarly = ends.filter((e) => e.ms < callMs).length;
  // A 503 ends a caller cleanly (SIPp counts it successful): refused, not served.
  const refused = rtt.filter((e) => e.name === 'refused').length;
  const placed = sum(results.map((r) => r.final?.created ?? 0));
  const successful = sum(results.map((r) => r.final?.successful ?? 0)) - releasedEarly - refused;
  const failed = sum(results.map((r) => r.final?.failed ?? 0)) + Math.max(0, c.calls - placed) + releasedEarly;
  const failures: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.final?.failures ?? {})) failures[k] = (failures[k] ?? 0) + v;
  if (placed < c.calls) failures.NotPlaced = c.calls - placed;
  if (releasedEarly > 0) failures.ReleasedBeforeTalk = releasedEarly;
  const app = await c.target.appSide({ from: startedAt, to: endedAt, prefixes, placed });
  // In the wait shape operators are free while callers sit out their skill wait: the gap from an
  // operator's release to their next offer is the callers' wait, not the dispatcher's.
  if (c.shape === 'wait') delete app.freeToOfferMs;
  const use: Record<string, WindowUse | undefined> = {};
  for (const name of c.sampler.series.keys()) use[name] = c.sampler.window(name, startedAt, endedAt);
  // Calls in progress over the step: the mean of each caller process's per-second count.
  const concurrent = sum(results.map((r) => mean(r.lines.filter((l) => l.at <= endedAt).map((l) => l.current)) ?? 0));
  const appUse = use.app;
  const failedPct = c.calls > 0 ? ((failed + refused) / c.calls) * 100 : 0;
  const accepted = c.calls - refused;
  const dispatch = await dispatchOf(results.map((r) => r.dir), c.phones);
  const opFailed = (s: (SippStats | undefined)[]): number => sum(s.map((x) => x?.failed ?? 0));
  const offeredCps = ratePerSecond(answers.map((e) => e.at - e.ms));
  const completedCps = ratePerSecond(ends.filter((e) => e.ms >= callMs).map((e) => e.at));
  return {
    label: c.label,
    kind: c.kind,
    rate: c.rate,
    seconds,
    startedAt,
    endedAt,
    placed,
    successful,
    failed,
    refused,
    failedPct,
    acceptedFailedPct: accepted > 0 ? (failed / accepted) * 100 : null,
    failures,
    operatorFailures: opFailed(after) - opFailed(before),
    retransmissions: sum(results.map((r) => r.final?.retransmissions ?? 0)),
    offeredCps,
    completedCps,
    answerMs: percentiles(answers.map((e) => e.ms)),
    dispatchMs: percentiles(dispatch.ms),
    notOffered: dispatch.notOffered,
    overheadMs: percentiles(ends.filter((e) => e.ms >= callMs).map((e) => e.ms - callMs)),
    app,
    concurrentCalls: concurrent > 0 ? concurrent : null,
    use,
    machineBusyPct: c.sampler.machineBusy(startedAt, endedAt) ?? null,
    sippMaxCpuPct: maxOf(Object.entries(use).filter(([name]) => name.startsWith('sipp ')).map(([, u]) => u?.cpuPercent)),
    cpuMsPerCall: appUse && placed > 0 ? appUse.cpuMs / placed : null,
    cpuPctPerConcurrentCall: appUse && concurrent > 0 ? appUse.cpuPercent / concurrent : null,
    rssKbPerConcurrentCall: appUse && concurrent > 0 && c.idleRssMb !== null ? ((appUse.rssMeanMb - c.idleRssMb) * 1024) / concurrent : null,
    // Passed: few enough failures, and the calls completed about as fast as they were offered
    // (a system that falls behind completes them over a longer span than they arrived in).
    // The backlog phase completes slower than it offers on purpose: only its failures count.
    // The overload step is judged by its accepted calls alone: refusing the excess is the point.
    passed:
      c.kind === 'overload'
        ? placed > 0 && (accepted === 0 || (failed / accepted) * 100 <= opts.maxFailedPct)
        : failedPct <= opts.maxFailedPct && placed > 0 && (c.kind === 'backlog' || keptUp(offeredCps, completedCps, ends.length)),
    dirs: results.map((r) => r.dir),
    errorsSample: results.map((r) => r.errors).filter(Boolean).join('\n').slice(0, 3000),
  };
}

/**
 * The step's dispatch times: its callers' INVITE stamps against every operator phone's offer
 * stamps (the phones log for the whole run; only this step's numbers match).
 */
async function dispatchOf(callerDirs: string[], phones: SippRun[]): Promise<ReturnType<typeof matchDispatch>> {
  const read = (f: string): Promise<string> => readFile(f, 'utf8').catch(() => '');
  const invites = (await Promise.all(callerDirs.map((d) => read(path.join(d, INVITES_LOG))))).flatMap((t) => parseStamps(t, 'invite'));
  const offers = (await Promise.all(phones.map((p) => read(p.spec.logFile ?? '')))).flatMap((t) => parseStamps(t, 'offer'));
  return matchDispatch(invites, offers);
}

/** Completed at no less than 90 % of the offered rate (unknowable with fewer than 10 calls). */
function keptUp(offered: number | null, completed: number | null, calls: number): boolean {
  if (offered === null || completed === null || calls < 10) return true;
  return completed >= 0.9 * offered;
}

function maxOf(values: (number | undefined)[]): number | null {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? Math.max(...known) : null;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
