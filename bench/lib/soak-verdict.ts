/**
 * The soak's judgement, without I/O: memory figures from the samples the probe took, and the
 * checks at the end (operators, live calls, media sessions, records per kind of call, failures).
 */
import { slope } from './stats.js';

export interface MemorySample {
  at: number;
  /** Bytes; heapUsed right after a full collection when the probe could force one. */
  heapUsed: number;
  rss: number;
}

export interface MemoryLimits {
  /** Samples before this long after the start are warm-up: caches, JIT, pools filling. */
  warmupMs: number;
  /** Flat: least-squares growth after warm-up at most this much per 10 minutes, MB. */
  maxHeapMbPer10Min: number;
  maxRssMbPer10Min: number;
  /** Shorter spans after warm-up are reported but not judged (too short to tell a trend). */
  minJudgedMs: number;
}

export interface MemoryFigure {
  startMb: number | null;
  endMb: number | null;
  growthMb: number | null;
  /** Least-squares slope after warm-up, MB per 10 minutes. */
  slopeMbPer10Min: number | null;
  peakMb: number | null;
}

export interface MemoryFigures {
  samples: number;
  samplesAfterWarmup: number;
  judgedSpanMin: number;
  heap: MemoryFigure;
  rss: MemoryFigure;
  /** null: not judged (span after warm-up too short). */
  flat: boolean | null;
  note: string;
}

const MB = 2 ** 20;
const TEN_MIN = 600_000;

function figure(points: { at: number; v: number }[], all: number[]): MemoryFigure {
  const first = points[0];
  const last = points[points.length - 1];
  const s = slope(points.map((p) => ({ x: p.at / TEN_MIN, y: p.v / MB })));
  return {
    startMb: first ? first.v / MB : null,
    endMb: last ? last.v / MB : null,
    growthMb: first && last ? (last.v - first.v) / MB : null,
    slopeMbPer10Min: s,
    peakMb: all.length ? Math.max(...all) / MB : null,
  };
}

/** Start (first sample after warm-up), end (last sample), growth, slope per 10 min, verdict. */
export function memoryFigures(samples: MemorySample[], startedAt: number, limits: MemoryLimits): MemoryFigures {
  const sorted = [...samples].sort((a, b) => a.at - b.at);
  const after = sorted.filter((s) => s.at >= startedAt + limits.warmupMs);
  const heap = figure(after.map((s) => ({ at: s.at, v: s.heapUsed })), sorted.map((s) => s.heapUsed));
  const rss = figure(after.map((s) => ({ at: s.at, v: s.rss })), sorted.map((s) => s.rss));
  const spanMs = after.length > 1 ? (after[after.length - 1] as MemorySample).at - (after[0] as MemorySample).at : 0;
  const base = { samples: sorted.length, samplesAfterWarmup: after.length, judgedSpanMin: spanMs / 60_000, heap, rss };
  if (spanMs < limits.minJudgedMs || heap.slopeMbPer10Min === null || rss.slopeMbPer10Min === null) {
    return { ...base, flat: null, note: `not judged: ${(spanMs / 60_000).toFixed(1)} min of samples after warm-up, ${limits.minJudgedMs / 60_000} min needed` };
  }
  const problems: string[] = [];
  if (heap.slopeMbPer10Min > limits.maxHeapMbPer10Min) problems.push(`heap grows ${heap.slopeMbPer10Min.toFixed(2)} MB/10 min (limit ${limits.maxHeapMbPer10Min})`);
  if (rss.slopeMbPer10Min > limits.maxRssMbPer10Min) problems.push(`RSS grows ${rss.slopeMbPer10Min.toFixed(2)} MB/10 min (limit ${limits.maxRssMbPer10Min})`);
  return {
    ...base,
    flat: problems.length === 0,
    note: problems.length === 0 ? `flat: heap ≤ ${limits.maxHeapMbPer10Min} and RSS ≤ ${limits.maxRssMbPer10Min} MB per 10 min after warm-up` : problems.join('; '),
  };
}

/** One kind of call: what SIPp placed and how it ended, and the records the switchboard wrote. */
export interface KindCount {
  kind: string;
  placed: number;
  successful: number;
  failed: number;
  /** Records (rows in calls) of this kind. */
  records: number;
  /** Records expected: successful + failed by SIPp (every call placed leaves one record). */
  expectedRecords: number;
}

export interface EndState {
  callsInProgress: number | null;
  stuckOperators: Record<string, string> | null;
  mediaSessions: number | null;
  /** Calls the operators' phones failed (a transfer refused, an unexpected message ...), of all they took. */
  phoneFailures: number;
  phoneCalls: number;
  appExited: boolean;
}

export interface Verdict {
  passed: boolean;
  problems: string[];
}

export function judge(kinds: KindCount[], end: EndState, memory: MemoryFigures, maxFailedPct: number): Verdict {
  const problems: string[] = [];
  if (end.appExited) problems.push('the switchboard exited during the run');
  if (end.callsInProgress !== 0) problems.push(`calls left in the switchboard: ${end.callsInProgress ?? 'unknown'}`);
  const stuck = end.stuckOperators === null ? null : Object.entries(end.stuckOperators);
  if (stuck === null) problems.push('operator states unknown');
  else if (stuck.length > 0) problems.push(`stuck operators: ${stuck.map(([u, s]) => `${u}=${s}`).join(', ')}`);
  if (end.mediaSessions !== 0) problems.push(`media sessions left: ${end.mediaSessions ?? 'unknown'}`);
  for (const k of kinds) {
    if (k.records !== k.expectedRecords) problems.push(`${k.kind}: ${k.records} records for ${k.expectedRecords} calls`);
    if (k.placed === 0) problems.push(`${k.kind}: no call placed`);
    const pct = k.placed > 0 ? (k.failed / k.placed) * 100 : 0;
    if (pct > maxFailedPct) problems.push(`${k.kind}: ${k.failed} of ${k.placed} calls failed (${pct.toFixed(2)} %, limit ${maxFailedPct} %)`);
  }
  const phonePct = end.phoneCalls > 0 ? (end.phoneFailures / end.phoneCalls) * 100 : 0;
  if (phonePct > maxFailedPct) problems.push(`operators' phones failed ${end.phoneFailures} of ${end.phoneCalls} calls (${phonePct.toFixed(2)} %, limit ${maxFailedPct} %)`);
  if (memory.flat === false) problems.push(`memory not flat: ${memory.note}`);
  return { passed: problems.length === 0, problems };
}
