import { describe, expect, it } from 'vitest';
import { parseOptions, type BenchOptions, type TargetName } from '../../../bench/lib/options.js';
import { medianRounds, roundsOf } from '../../../bench/lib/report.js';
import type { TargetResult } from '../../../bench/lib/runner.js';

/** A target's result with only what the round tables read. */
function run(name: TargetName, round: number, maxPassedRate: number | null, error?: string): TargetResult {
  return {
    name,
    shape: 'free',
    round,
    servers: { drachtio: '', freeswitch: '' },
    operators: 0,
    mediaSessionsBefore: null,
    idleRssMb: null,
    steps: [],
    totalPlaced: 0,
    perConcurrentCall: { cpuPct: null, rssKb: null },
    maxPassedRate,
    firstFailedStep: null,
    dir: '',
    ...(error === undefined ? {} : { error }),
  };
}

/** Rounds of the switchboard's anchored target and the anchored baseline in turn: [switchboard, baseline] capacity each. */
function inTurn(...rounds: [number, number][]): TargetResult[] {
  return rounds.flatMap(([sb, base], i) => [run('switchboard-anchored', i + 1, sb), run('anchored', i + 1, base)]);
}

describe('bench rounds', () => {
  it('compares each target by its median round, in the order the targets ran', () => {
    const compared = medianRounds(inTurn([30, 34], [36, 32], [28, 38]));
    expect(compared.map((t) => [t.name, t.round, t.maxPassedRate])).toEqual([
      ['switchboard-anchored', 1, 30],
      ['anchored', 1, 34],
    ]);
  });

  it('takes the lower middle round of an even count, and counts a failed run or none passed as the lowest', () => {
    const runs = [run('anchored', 1, 40), run('anchored', 2, null), run('anchored', 3, 36, 'the app did not start'), run('anchored', 4, 38)];
    expect(medianRounds(runs)[0]?.round).toBe(3);
    expect(medianRounds(runs.slice(0, 2))[0]?.round).toBe(2);
  });

  it('gives every round its capacity and ratio, and the median of the ratios', () => {
    const r = roundsOf(inTurn([30, 32], [36, 40], [28, 28]));
    expect(r.capacity).toEqual({ 'switchboard-anchored': [30, 36, 28], anchored: [32, 40, 28] });
    expect(r.ratios).toEqual({ 'switchboard-anchored ÷ anchored': [0.94, 0.9, 1] });
    expect(r.medianRatio).toEqual({ 'switchboard-anchored ÷ anchored': 0.94 });
  });

  it('takes the lower middle ratio of an even count, as it takes the lower middle round', () => {
    expect(roundsOf(inTurn([30, 32], [36, 40])).medianRatio).toEqual({ 'switchboard-anchored ÷ anchored': 0.9 });
  });

  it('leaves a round without a capacity out of the median ratio', () => {
    const r = roundsOf([run('switchboard-direct', 1, 300), run('b2bua', 1, 300), run('switchboard-direct', 2, 250), run('b2bua', 2, null)]);
    expect(r.ratios['switchboard-direct ÷ b2bua']).toEqual([1, null]);
    expect(r.medianRatio['switchboard-direct ÷ b2bua']).toBe(1);
  });

  it('reads --rounds, one by default', () => {
    expect((parseOptions([]) as BenchOptions).rounds).toBe(1);
    expect((parseOptions(['--rounds', '3']) as BenchOptions).rounds).toBe(3);
    expect(() => parseOptions(['--rounds', '0'])).toThrow('--rounds must be a number >= 1, got "0"');
  });
});
