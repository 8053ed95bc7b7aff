/** The run's report: everything as JSON, and a short Markdown summary with the ratios. */
import os from 'node:os';
import type { BenchOptions } from './options.js';
import type { StepResult, TargetResult } from './runner.js';
import { round, type Percentiles } from './stats.js';

export interface Report {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; model: string; memoryGb: number; loadAverageBefore: number[]; loadAverageAfter: number[]; node: string; kernel: string };
  options: BenchOptions;
  targets: TargetResult[];
  /** The highest ramp rate every target passed: where latencies and costs are compared. */
  commonRate: number | null;
  ratios: Record<string, Record<string, number | null>>;
}

export function machineInfo(): Omit<Report['machine'], 'loadAverageAfter'> {
  return {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model ?? '',
    memoryGb: round(os.totalmem() / 2 ** 30, 1) ?? 0,
    loadAverageBefore: os.loadavg().map((l) => round(l, 2) ?? 0),
    node: process.version,
    kernel: os.release(),
  };
}

/** The step of a target at a given ramp rate. */
function stepAt(t: TargetResult, rate: number | null): StepResult | undefined {
  return rate === null ? undefined : t.steps.find((s) => s.kind === 'step' && s.rate === rate);
}

export function commonRate(targets: TargetResult[]): number | null {
  const passed = targets.map((t) => t.maxPassedRate);
  if (passed.some((r) => r === null)) return null;
  return Math.min(...(passed as number[]));
}

/** What the ratio table compares, per target: one number each. */
function figures(t: TargetResult, rate: number | null): Record<string, number | null> {
  const s = stepAt(t, rate);
  const top = stepAt(t, t.maxPassedRate);
  return {
    maxPassedRate: t.maxPassedRate,
    completedCpsAtMax: top?.completedCps ?? null,
    answerP50: s?.answerMs.p50 ?? null,
    answerP99: s?.answerMs.p99 ?? null,
    toOperatorP50: s?.app.toOperatorMs.p50 ?? null,
    toOperatorP99: s?.app.toOperatorMs.p99 ?? null,
    overheadP50: s?.overheadMs.p50 ?? null,
    overheadP99: s?.overheadMs.p99 ?? null,
    cpuPercent: s?.use.app?.cpuPercent ?? null,
    cpuMsPerCall: s?.cpuMsPerCall ?? null,
    cpuPctPerConcurrentCall: t.perConcurrentCall.cpuPct,
    rssKbPerConcurrentCall: t.perConcurrentCall.rssKb,
  };
}

export function ratios(targets: TargetResult[], rate: number | null): Report['ratios'] {
  const sb = targets.find((t) => t.name === 'switchboard');
  if (!sb) return {};
  const mine = figures(sb, rate);
  const out: Report['ratios'] = {};
  for (const t of targets) {
    if (t.name === 'switchboard') continue;
    const theirs = figures(t, rate);
    out[t.name] = Object.fromEntries(
      Object.keys(mine).map((k) => {
        const a = mine[k];
        const b = theirs[k];
        // Memory slopes at or below zero are noise: no ratio.
        const noise = k === 'rssKbPerConcurrentCall' && ((a ?? 0) <= 0 || (b ?? 0) <= 0);
        return [k, noise || a === null || a === undefined || b === null || b === undefined || b === 0 ? null : round(a / b, 2)];
      }),
    );
  }
  return out;
}

// ---- Markdown -----------------------------------------------------------------------------

const n = (v: number | null | undefined, d = 1): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));
const pp = (p: Percentiles | undefined, d = 0): string => (!p || p.n === 0 ? '–' : `${n(p.p50, d)} / ${n(p.p99, d)}`);
const x = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : `${v.toFixed(2)}×`);

export function markdown(r: Report): string {
  const out: string[] = [];
  const m = r.machine;
  const o = r.options;
  const sb = r.targets.find((t) => t.name === 'switchboard');
  out.push(`# Switchboard load test, ${r.startedAt}`);
  out.push('');
  out.push(
    `Machine: ${m.cpus} × ${m.model}, ${m.memoryGb} GB, Linux ${m.kernel}, Node ${m.node}; load average ${m.loadAverageBefore.join(' ')} before, ${m.loadAverageAfter.join(' ')} after.  `,
  );
  const servers = r.targets[0]?.servers;
  if (servers) out.push(`Servers: drachtio-server ${servers.drachtio}; FreeSWITCH ${servers.freeswitch}.  `);
  out.push(
    `Load: steps of ${o.stepS} s at ${o.ramp.join(', ')} calls/s, stopping after a step with more than ${o.maxFailedPct} % failed; ` +
      `${o.operators} operators answering after ${o.answerMs} ms and hanging up after ${o.talkMs} ms; wrap-up ${o.wrapupS} s; callers give up after ${o.patienceMs} ms.`,
  );
  out.push('');

  const names = r.targets.map((t) => t.name);
  const others = names.filter((t) => t !== 'switchboard');
  const header = ['', ...names, ...(sb ? others.map((t) => `switchboard ÷ ${t}`) : [])];
  out.push(`## Summary`);
  out.push('');
  out.push(`| ${header.join(' | ')} |`);
  out.push(`|${header.map(() => '---').join('|')}|`);
  // Latencies and costs are compared at the highest rate every target passed (or the first step).
  const at = r.commonRate ?? o.ramp[0] ?? null;
  const fig = Object.fromEntries(r.targets.map((t) => [t.name, figures(t, at)]));
  const row = (label: string, cell: (t: TargetResult) => string, ratioKeys?: string[]): void => {
    const ratioCells = sb ? others.map((t) => (ratioKeys ? ratioKeys.map((k) => x(r.ratios[t]?.[k])).join(' / ') : '')) : [];
    out.push(`| ${[label, ...r.targets.map(cell), ...ratioCells].join(' | ')} |`);
  };
  row('highest step passed, calls/s', (t) => n(t.maxPassedRate, 0), ['maxPassedRate']);
  row('calls/s completed at that step', (t) => n(fig[t.name]?.completedCpsAtMax), ['completedCpsAtMax']);
  row('first failing step, calls/s (why)', (t) => (t.firstFailedStep ? `${t.firstFailedStep.rate} (${t.firstFailedStep.why})` : 'none'));
  const atLabel = r.commonRate === null ? 'the first step' : `${r.commonRate} calls/s`;
  row(`**at ${atLabel}:** INVITE → 200 p50 / p99, ms`, (t) => pp(stepAt(t, at)?.answerMs), ['answerP50', 'answerP99']);
  row('INVITE → operator connected p50 / p99, ms (app\'s records)', (t) => pp(stepAt(t, at)?.app.toOperatorMs), ['toOperatorP50', 'toOperatorP99']);
  row('call setup + teardown p50 / p99, ms', (t) => pp(stepAt(t, at)?.overheadMs), ['overheadP50', 'overheadP99']);
  row('app CPU, % of one core', (t) => n(fig[t.name]?.cpuPercent, 0), ['cpuPercent']);
  row('app CPU per call, ms', (t) => n(fig[t.name]?.cpuMsPerCall, 1), ['cpuMsPerCall']);
  row('app CPU per concurrent call, % of a core (slope over the ramp)', (t) => n(fig[t.name]?.cpuPctPerConcurrentCall, 2), ['cpuPctPerConcurrentCall']);
  row('app memory per concurrent call, KB (slope over the ramp)', (t) => perCall(fig[t.name]?.rssKbPerConcurrentCall), ['rssKbPerConcurrentCall']);
  row('operator free → next offer p50 / p99, ms (backlog)', (t) => pp(t.steps.find((s) => s.kind === 'backlog')?.app.freeToOfferMs));
  row('CDR rows = calls placed', (t) => (t.end?.cdrRows === null || t.end?.cdrRows === undefined ? '–' : `${t.end.cdrRows === t.totalPlaced ? 'yes' : '**NO**'} (${t.end.cdrRows} / ${t.totalPlaced})`));
  row('left at the end: calls / busy operators / media sessions', (t) => endCell(t));
  row('log warnings / errors', (t) => (t.end ? `${t.end.logWarnings} / ${t.end.logErrors}` : '–'));
  row('the app process died during the run', (t) => (t.appExit ? `**yes**, during ${t.appExit.during}` : 'no'));
  out.push('');
  out.push('Ratios are switchboard ÷ baseline: below 1× for capacity means less than the baseline, above 1× for times and costs means slower or dearer. "Operator free → next offer" exists only where callers wait in a queue (the switchboard\'s backlog phase).');
  out.push('');

  for (const t of r.targets) {
    out.push(`## ${t.name}`);
    out.push('');
    if (t.appExit) {
      const firstError = t.appExit.output.split('\n').find((l) => /Error/.test(l)) ?? '';
      out.push(`**The ${t.name} process exited (${t.appExit.code}) at ${t.appExit.at}, during ${t.appExit.during}:** \`${firstError.trim()}\` (the end of its log is in report.json)`, '');
    }
    if (t.error) out.push(`**The run failed:** \`${t.error.split('\n')[0]}\``, '');
    out.push('| step | placed | offered /s | completed /s | failed % | INVITE→200 p50/p99 ms | →operator p50/p99 ms | setup+teardown p50/p99 ms | free→offer p50/p99 ms | in progress | app CPU % | CPU ms/call | app RSS MB | drachtio CPU % | FreeSWITCH CPU % | machine busy % |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const s of t.steps) {
      out.push(
        `| ${[
          s.label,
          s.placed,
          n(s.offeredCps),
          n(s.completedCps),
          n(s.failedPct, 2),
          pp(s.answerMs),
          pp(s.app.toOperatorMs),
          pp(s.overheadMs),
          pp(s.app.freeToOfferMs),
          n(s.concurrentCalls),
          n(s.use.app?.cpuPercent, 0),
          n(s.cpuMsPerCall),
          n(s.use.app?.rssMeanMb, 0),
          n(s.use.drachtio?.cpuPercent, 0),
          n(s.use.freeswitch?.cpuPercent, 0),
          n(s.machineBusyPct, 0),
        ].join(' | ')} |`,
      );
    }
    out.push('');
    const failing = t.steps.filter((s) => s.failed > 0 || s.operatorFailures > 0);
    for (const s of failing) {
      out.push(`- ${s.label}: caller failures ${JSON.stringify(s.failures)}; operator-side failures ${s.operatorFailures}; app outcomes ${JSON.stringify(s.app.outcomes)}`);
    }
    if (t.end) {
      const e = t.end;
      out.push(`- end: ${endCell(t)} (calls / operators not free / media sessions; ${t.mediaSessionsBefore ?? '–'} sessions before the run)`);
      if (e.stuckOperators && Object.keys(e.stuckOperators).length) out.push(`- operators not free at the end: ${JSON.stringify(e.stuckOperators)}`);
      if (e.cdrDispositions) out.push(`- CDRs: ${e.cdrRows} rows for ${t.totalPlaced} calls placed, ${JSON.stringify(e.cdrDispositions)}`);
      for (const l of e.topLogMessages) out.push(`- log ${l.level} ×${l.count}: ${l.msg}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** A per-call memory slope at or below zero is garbage-collection noise, not a saving. */
function perCall(v: number | null | undefined): string {
  if (v === null || v === undefined) return '–';
  return v <= 0 ? 'below noise' : n(v, 0);
}

function endCell(t: TargetResult): string {
  const e = t.end;
  if (!e) return '–';
  const busy = e.stuckOperators === null ? '–' : String(Object.keys(e.stuckOperators).length);
  return `${e.callsInProgress ?? '–'} / ${busy} / ${e.mediaSessions ?? '–'}`;
}
