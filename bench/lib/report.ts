/** The run's report: everything as JSON, and a short Markdown summary with the ratios. */
import os from 'node:os';
import { isSwitchboard, type BenchOptions, type Shape, type TargetName } from './options.js';
import type { StepResult, TargetResult } from './runner.js';
import { percentiles, round, type Percentiles } from './stats.js';

export interface Report {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; model: string; memoryGb: number; loadAverageBefore: number[]; loadAverageAfter: number[]; node: string; kernel: string };
  options: BenchOptions;
  targets: TargetResult[];
  /** Targets that have nothing comparable to do in a load shape (the b2bua has no media to wait with). */
  notApplicable: { name: TargetName; shape: Shape; why: string }[];
  /** Per load shape, the highest ramp rate every target passed: where latencies and costs are compared. */
  commonRate: Partial<Record<Shape, number | null>>;
  /** Per load shape, "<switchboard target> ÷ <baseline>": figure -> ratio. */
  ratios: Partial<Record<Shape, Record<string, Record<string, number | null>>>>;
  /** Per load shape, every round's capacities and capacity ratios (--rounds). */
  rounds: Partial<Record<Shape, Rounds>>;
}

export interface Rounds {
  /** Target -> highest passed rate of each round, in round order. */
  capacity: Record<string, (number | null)[]>;
  /** "<switchboard target> ÷ <baseline>" -> that ratio of each round. */
  ratios: Record<string, (number | null)[]>;
  /** The median of each pair's round ratios (of an even count, the lower middle one). */
  medianRatio: Record<string, number | null>;
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

const capacity = (t: TargetResult): number => (t.error ? -Infinity : (t.maxPassedRate ?? -Infinity));

/**
 * Each target's median round by capacity (of an even count, the lower of the two middle ones),
 * in the order the targets first ran: what the summary, details and ratio tables compare.
 */
export function medianRounds(targets: TargetResult[]): TargetResult[] {
  const byTarget = new Map<string, TargetResult[]>();
  for (const t of targets) {
    const key = `${t.name} ${t.shape}`;
    byTarget.set(key, [...(byTarget.get(key) ?? []), t]);
  }
  return [...byTarget.values()].map((runs) => {
    const sorted = [...runs].sort((a, b) => capacity(a) - capacity(b) || a.round - b.round);
    return sorted[Math.floor((sorted.length - 1) / 2)] as TargetResult;
  });
}

/** The nearest-rank median: of an even count the lower middle one, as medianRounds() picks. */
const median = (values: number[]): number | null => percentiles(values).p50;

/** One load shape's rounds: each target's capacity per round, and each switchboard ÷ baseline ratio per round. */
export function roundsOf(targets: TargetResult[]): Rounds {
  const rounds = [...new Set(targets.map((t) => t.round))].sort((a, b) => a - b);
  const names = [...new Set(targets.map((t) => t.name))];
  const at = (name: string, round: number): number | null => {
    const t = targets.find((x) => x.name === name && x.round === round);
    return t && !t.error ? t.maxPassedRate : null;
  };
  const out: Rounds = { capacity: {}, ratios: {}, medianRatio: {} };
  for (const name of names) out.capacity[name] = rounds.map((r) => at(name, r));
  for (const sb of names.filter((t) => isSwitchboard(t as TargetName))) {
    for (const base of names.filter((t) => !isSwitchboard(t as TargetName))) {
      const pair = `${sb} ÷ ${base}`;
      const each = rounds.map((r) => {
        const a = at(sb, r);
        const b = at(base, r);
        return a === null || b === null || b === 0 ? null : round(a / b, 2);
      });
      out.ratios[pair] = each;
      out.medianRatio[pair] = round(median(each.filter((v): v is number => v !== null)), 2);
    }
  }
  return out;
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
    dispatchP50: s?.dispatchMs.p50 ?? null,
    dispatchP99: s?.dispatchMs.p99 ?? null,
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

/** Each switchboard target against each baseline of one load shape, at `rate`. */
export function ratios(targets: TargetResult[], rate: number | null): Record<string, Record<string, number | null>> {
  const out: Record<string, Record<string, number | null>> = {};
  for (const sb of targets.filter((t) => isSwitchboard(t.name))) {
    const mine = figures(sb, rate);
    for (const t of targets.filter((b) => !isSwitchboard(b.name))) {
      const theirs = figures(t, rate);
      out[`${sb.name} ÷ ${t.name}`] = Object.fromEntries(
      Object.keys(mine).map((k) => {
        const a = mine[k];
        const b = theirs[k];
        // Memory slopes at or below zero are noise: no ratio.
        const noise = k === 'rssKbPerConcurrentCall' && ((a ?? 0) <= 0 || (b ?? 0) <= 0);
          return [k, noise || a === null || a === undefined || b === null || b === undefined || b === 0 ? null : round(a / b, 2)];
        }),
      );
    }
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
  out.push(`# Switchboard load test, ${r.startedAt}`);
  out.push('');
  out.push(
    `Machine: ${m.cpus} × ${m.model}, ${m.memoryGb} GB, Linux ${m.kernel}, Node ${m.node}; load average ${m.loadAverageBefore.join(' ')} before, ${m.loadAverageAfter.join(' ')} after.  `,
  );
  const servers = r.targets[0]?.servers;
  if (servers) out.push(`Servers: drachtio-server ${servers.drachtio}; FreeSWITCH ${servers.freeswitch}.  `);
  out.push(
    `Load: steps of ${o.stepS} s at ${o.ramp.join(', ')} calls/s, stopping after a step with more than ${o.maxFailedPct} % failed; ` +
      `${o.operators} operators answering after ${o.answerMs} ms and hanging up after ${o.talkMs} ms; wrap-up ${o.wrapupS} s; callers give up after ${o.patienceMs} ms; ` +
      `load shapes ${o.shapes.join(', ')}${o.shapes.includes('wait') ? ` (wait: ${o.waitS} s with hold music)` : ''}; ` +
      (o.overloadFactor > 0 ? `then an overload step at ${o.overloadFactor}× the highest passed rate.` : 'no overload step.'),
  );
  out.push('');
  const compared = medianRounds(r.targets);
  summary(r, compared, out);
  if (o.rounds > 1) roundTables(r, out);
  for (const shape of o.shapes) details(r, compared, shape, out);
  for (const t of r.targets) steps(t, o.rounds, out);
  return out.join('\n');
}

/** One row per target and load shape, each at its own highest passed step: the README's table. */
function summary(r: Report, compared: TargetResult[], out: string[]): void {
  out.push('## Summary');
  out.push('');
  out.push(
    '| target | load | media | max calls/s passed | failed % | dispatch p50 / p99, ms | INVITE → 200 p50 / p99, ms | app CPU ms/call | free → offer p50 / p99, ms | overload: calls/s, accepted / refused, accepted failed % | FS sessions at end |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const t of compared) {
    const top = stepAt(t, t.maxPassedRate);
    const ov = t.overload;
    const overload = ov ? `${ov.rate}: ${ov.placed - ov.refused} / ${ov.refused}, ${n(ov.acceptedFailedPct, 2)} %` : '–';
    const cells = [
      t.name,
      t.shape,
      t.mediaMode ?? (t.name === 'b2bua' ? 'direct (no media server)' : 'anchored'),
      t.error ? `**run failed**` : n(t.maxPassedRate, 0),
      n(top?.failedPct, 2),
      pp(top?.dispatchMs),
      pp(top?.answerMs),
      n(top?.cpuMsPerCall, 1),
      pp(t.steps.find((s) => s.kind === 'backlog')?.app.freeToOfferMs),
      overload,
      n(t.end?.mediaSessions, 0),
    ];
    out.push(`| ${cells.join(' | ')} |`);
  }
  for (const na of r.notApplicable) out.push(`| ${na.name} | ${na.shape} | – | n/a: ${na.why} | | | | | | | |`);
  out.push('');
  out.push(
    (r.options.rounds > 1 ? `Each target's median round of ${r.options.rounds} by capacity (of an even count, the lower middle one), as in the details below; every round in the table of rounds. ` : '') +
    'Each row at its own highest passed step. Dispatch: caller INVITE sent → the operator\'s phone received its INVITE (SIPp logs on both sides; in the wait shape it includes the wait). Free → offer: the backlog phase (switchboard, free shape). Overload: offered at the factor × the highest passed rate; refused = 503; accepted failed % = failed ÷ calls not refused.',
  );
  out.push('');
  out.push(...ratioTables(r));
}

/** Capacity, dispatch, answer and cost ratios of every switchboard target against each baseline, per load shape. */
function ratioTables(r: Report): string[] {
  const lines: string[] = [];
  for (const shape of r.options.shapes) {
    const table = r.ratios[shape] ?? {};
    const pairs = Object.keys(table);
    if (pairs.length === 0) continue;
    const at = r.commonRate[shape];
    lines.push(`Ratios, ${shape} (max calls/s at each one's highest passed step; the rest at ${at === null || at === undefined ? 'the first step' : `${at} calls/s`}):`);
    lines.push('');
    lines.push('| | max calls/s | dispatch p50 / p99 | INVITE → 200 p50 / p99 | app CPU ms/call |');
    lines.push('|---|---|---|---|---|');
    for (const pair of pairs) {
      const v = table[pair] ?? {};
      lines.push(`| ${pair} | ${x(v.maxPassedRate)} | ${x(v.dispatchP50)} / ${x(v.dispatchP99)} | ${x(v.answerP50)} / ${x(v.answerP99)} | ${x(v.cpuMsPerCall)} |`);
    }
    lines.push('');
  }
  return lines;
}

/** Per load shape, every round's highest passed rate per target and the capacity ratios round by round. */
function roundTables(r: Report, out: string[]): void {
  const count = r.options.rounds;
  const header = ['', ...Array.from({ length: count }, (_, i) => `round ${i + 1}`), 'median'];
  for (const shape of r.options.shapes) {
    const rounds = r.rounds[shape];
    if (!rounds) continue;
    out.push(`## Rounds, ${shape}`, '');
    out.push(`Highest step passed, calls/s, and switchboard ÷ baseline, round by round (the targets ran in turn: ${r.options.targets.join(', ')}, then again):`, '');
    out.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`);
    for (const [name, each] of Object.entries(rounds.capacity)) {
      const known = each.filter((v): v is number => v !== null);
      out.push(`| ${[name, ...each.map((v) => n(v, 0)), n(median(known), 0)].join(' | ')} |`);
    }
    for (const [pair, each] of Object.entries(rounds.ratios)) {
      out.push(`| ${[pair, ...each.map((v) => x(v)), `**${x(rounds.medianRatio[pair])}**`].join(' | ')} |`);
    }
    out.push('');
  }
}

/** The figures of one load shape's targets at the rate they all passed, with the ratios. */
function details(r: Report, compared: TargetResult[], shape: Shape, out: string[]): void {
  const targets = compared.filter((t) => t.shape === shape);
  if (targets.length === 0) return;
  const sbs = targets.filter((t) => isSwitchboard(t.name));
  const pairs = Object.keys(r.ratios[shape] ?? {});
  const header = ['', ...targets.map((t) => t.name), ...pairs];
  out.push(`## Details, ${shape}`);
  out.push('');
  out.push(`| ${header.join(' | ')} |`);
  out.push(`|${header.map(() => '---').join('|')}|`);
  // Latencies and costs are compared at the highest rate every target passed (or the first step).
  const common = r.commonRate[shape] ?? null;
  const at = common ?? r.options.ramp[0] ?? null;
  const fig = Object.fromEntries(targets.map((t) => [t.name, figures(t, at)]));
  const row = (label: string, cell: (t: TargetResult) => string, ratioKeys?: string[]): void => {
    const ratioCells = pairs.map((p) => (ratioKeys ? ratioKeys.map((k) => x(r.ratios[shape]?.[p]?.[k])).join(' / ') : ''));
    out.push(`| ${[label, ...targets.map(cell), ...ratioCells].join(' | ')} |`);
  };
  row('highest step passed, calls/s', (t) => n(t.maxPassedRate, 0), ['maxPassedRate']);
  row('calls/s completed at that step', (t) => n(fig[t.name]?.completedCpsAtMax), ['completedCpsAtMax']);
  row('first failing step, calls/s (why)', (t) => (t.firstFailedStep ? `${t.firstFailedStep.rate} (${t.firstFailedStep.why})` : 'none'));
  const atLabel = common === null ? 'the first step' : `${common} calls/s`;
  row(`**at ${atLabel}:** dispatch p50 / p99, ms`, (t) => pp(stepAt(t, at)?.dispatchMs), ['dispatchP50', 'dispatchP99']);
  row('INVITE → 200 p50 / p99, ms', (t) => pp(stepAt(t, at)?.answerMs), ['answerP50', 'answerP99']);
  row("INVITE → operator connected p50 / p99, ms (app's records)", (t) => pp(stepAt(t, at)?.app.toOperatorMs), ['toOperatorP50', 'toOperatorP99']);
  row('call setup + teardown p50 / p99, ms', (t) => pp(stepAt(t, at)?.overheadMs), ['overheadP50', 'overheadP99']);
  row('app CPU, % of one core', (t) => n(fig[t.name]?.cpuPercent, 0), ['cpuPercent']);
  row('app CPU per call, ms', (t) => n(fig[t.name]?.cpuMsPerCall, 1), ['cpuMsPerCall']);
  row('app CPU per concurrent call, % of a core (slope over the ramp)', (t) => n(fig[t.name]?.cpuPctPerConcurrentCall, 2), ['cpuPctPerConcurrentCall']);
  row('app memory per concurrent call, KB (slope over the ramp)', (t) => perCall(fig[t.name]?.rssKbPerConcurrentCall), ['rssKbPerConcurrentCall']);
  row('operator free → next offer p50 / p99, ms (backlog)', (t) => pp(t.steps.find((s) => s.kind === 'backlog')?.app.freeToOfferMs));
  row('overload: calls/s offered, accepted / refused, accepted failed %', (t) =>
    t.overload ? `${t.overload.rate}: ${t.overload.placed - t.overload.refused} / ${t.overload.refused}, ${n(t.overload.acceptedFailedPct, 2)} %` : '–',
  );
  row('CDR rows = calls placed', (t) => (t.end?.cdrRows === null || t.end?.cdrRows === undefined ? '–' : `${t.end.cdrRows === t.totalPlaced ? 'yes' : '**NO**'} (${t.end.cdrRows} / ${t.totalPlaced})`));
  row('left at the end: calls / busy operators / media sessions', (t) => endCell(t));
  row('log warnings / errors', (t) => (t.end ? `${t.end.logWarnings} / ${t.end.logErrors}` : '–'));
  row('the app process died during the run', (t) => (t.appExit ? `**yes**, during ${t.appExit.during}` : 'no'));
  out.push('');
  if (sbs.length > 0) {
    out.push('Ratios are switchboard ÷ baseline: below 1× for capacity means less than the baseline, above 1× for times and costs means slower or dearer. "Operator free → next offer" exists only where callers wait in a queue (the switchboard\'s backlog phase).');
    out.push('');
  }
}

/** One target's steps, its failures and what was left. */
function steps(t: TargetResult, rounds: number, out: string[]): void {
  out.push(`## ${t.name} (${t.shape}${t.mediaMode ? `, media ${t.mediaMode}` : ''}${rounds > 1 ? `, round ${t.round}` : ''})`);
  out.push('');
  if (t.appExit) {
    const firstError = t.appExit.output.split('\n').find((l) => /Error/.test(l)) ?? '';
    out.push(`**The ${t.name} process exited (${t.appExit.code}) at ${t.appExit.at}, during ${t.appExit.during}:** \`${firstError.trim()}\` (the end of its log is in report.json)`, '');
  }
  if (t.error) out.push(`**The run failed:** \`${t.error.split('\n')[0]}\``, '');
  out.push(
    '| step | placed | refused | offered /s | completed /s | failed % | dispatch p50/p99 ms | INVITE→200 p50/p99 ms | →operator p50/p99 ms | setup+teardown p50/p99 ms | free→offer p50/p99 ms | in progress | app CPU % | CPU ms/call | app RSS MB | drachtio CPU % | FreeSWITCH CPU % | busiest SIPp CPU % | machine busy % |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of t.steps) {
    out.push(
      `| ${[
        s.label,
        s.placed,
        s.refused,
        n(s.offeredCps),
        n(s.completedCps),
        s.kind === 'overload' ? `${n(s.acceptedFailedPct, 2)} of accepted` : n(s.failedPct, 2),
        pp(s.dispatchMs),
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
        n(s.sippMaxCpuPct, 0),
        n(s.machineBusyPct, 0),
      ].join(' | ')} |`,
    );
  }
  out.push('');
  const failing = t.steps.filter((s) => s.failed > 0 || s.operatorFailures > 0);
  for (const s of failing) {
    out.push(`- ${s.label}: caller failures ${JSON.stringify(s.failures)}; operator-side failures ${s.operatorFailures}; app outcomes ${JSON.stringify(s.app.outcomes)}`);
  }
  const unoffered = t.steps.filter((s) => s.notOffered > s.refused + s.failed);
  for (const s of unoffered) out.push(`- ${s.label}: ${s.notOffered} callers never reached an operator's phone by the logs (refused ${s.refused}, failed ${s.failed})`);
  if (t.end) {
    const e = t.end;
    out.push(`- end: ${endCell(t)} (calls / operators not free / media sessions; ${t.mediaSessionsBefore ?? '–'} sessions before the run)`);
    if (e.stuckOperators && Object.keys(e.stuckOperators).length) out.push(`- operators not free at the end: ${JSON.stringify(e.stuckOperators)}`);
    if (e.cdrDispositions) out.push(`- CDRs: ${e.cdrRows} rows for ${t.totalPlaced} calls placed, ${JSON.stringify(e.cdrDispositions)}`);
    for (const l of e.topLogMessages) out.push(`- log ${l.level} ×${l.count}: ${l.msg}`);
  }
  out.push('');
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
