import { describe, expect, it } from 'vitest';
import { groupSizes, parseSoakOptions, type SoakOptions } from '../../../bench/lib/soak.js';
import { judge, memoryFigures, type EndState, type KindCount, type MemoryLimits, type MemorySample } from '../../../bench/lib/soak-verdict.js';

const MB = 2 ** 20;
const MIN = 60_000;
const limits: MemoryLimits = { warmupMs: 5 * MIN, maxHeapMbPer10Min: 1, maxRssMbPer10Min: 10, minJudgedMs: 10 * MIN };

/** A sample every 30 s for `minutes`, heap and RSS as functions of the minute. */
function series(minutes: number, heapMb: (m: number) => number, rssMb: (m: number) => number): MemorySample[] {
  return Array.from({ length: minutes * 2 + 1 }, (_, i) => ({ at: (i * MIN) / 2, heapUsed: heapMb(i / 2) * MB, rss: rssMb(i / 2) * MB }));
}

describe('memory figures of a soak', () => {
  it('leaves the warm-up out and calls a level series flat', () => {
    // Memory climbs during the warm-up (caches, pools), then stays level with some noise.
    const m = memoryFigures(series(30, (t) => (t < 5 ? 20 + t : 25 + (Math.round(t * 2) % 2) * 0.2), (t) => (t < 5 ? 100 + 10 * t : 150)), 0, limits);
    expect(m.samplesAfterWarmup).toBe(51);
    expect(m.heap.startMb).toBe(25);
    expect(m.heap.endMb).toBe(25);
    expect(m.heap.peakMb).toBeCloseTo(25.2);
    expect(Math.abs(m.heap.slopeMbPer10Min as number)).toBeLessThan(0.1);
    expect(m.rss.growthMb).toBe(0);
    expect(m.flat).toBe(true);
  });

  it('finds a heap that keeps growing after the warm-up, and says by how much per 10 minutes', () => {
    // 0.2 MB a minute: 2 MB per 10 minutes, twice the limit.
    const m = memoryFigures(series(30, (t) => 20 + 0.2 * t, () => 150), 0, limits);
    expect(m.heap.slopeMbPer10Min).toBeCloseTo(2, 6);
    expect(m.heap.growthMb).toBeCloseTo(5, 6);
    expect(m.flat).toBe(false);
    expect(m.note).toContain('heap grows 2.00 MB/10 min (limit 1)');
  });

  it('finds RSS that keeps growing even when the heap is level', () => {
    const m = memoryFigures(series(30, () => 25, (t) => 150 + 2 * t), 0, limits);
    expect(m.rss.slopeMbPer10Min).toBeCloseTo(20, 6);
    expect(m.flat).toBe(false);
    expect(m.note).toContain('RSS grows 20.00 MB/10 min (limit 10)');
  });

  it('does not judge a run too short to show a trend', () => {
    const m = memoryFigures(series(1, (t) => 20 + 10 * t, () => 150), 0, { ...limits, warmupMs: 10_000 });
    expect(m.flat).toBeNull();
    expect(m.note).toMatch(/^not judged/);
    expect(m.heap.startMb).not.toBeNull();
  });
});

const clean: EndState = { callsInProgress: 0, stuckOperators: {}, mediaSessions: 0, phoneFailures: 0, phoneCalls: 200, appExited: false };
const flat = memoryFigures(series(30, () => 25, () => 150), 0, limits);
const kind = (k: Partial<KindCount>): KindCount => ({ kind: 'plain', placed: 100, successful: 100, failed: 0, records: 100, expectedRecords: 100, ...k });

describe('the soak verdict', () => {
  it('passes when every check holds', () => {
    expect(judge([kind({}), kind({ kind: 'room' })], clean, flat, 0.5)).toEqual({ passed: true, problems: [] });
  });

  it('names every check that failed', () => {
    const v = judge(
      [kind({ records: 99 }), kind({ kind: 'blind', failed: 2, successful: 98 }), kind({ kind: 'room', placed: 0, successful: 0, records: 0, expectedRecords: 0 })],
      { callsInProgress: 1, stuckOperators: { plain3: 'busy' }, mediaSessions: 2, phoneFailures: 2, phoneCalls: 200, appExited: true },
      memoryFigures(series(30, (t) => 20 + 0.2 * t, () => 150), 0, limits),
      0.5,
    );
    expect(v.passed).toBe(false);
    expect(v.problems).toEqual([
      'the switchboard exited during the run',
      'calls left in the switchboard: 1',
      'stuck operators: plain3=busy',
      'media sessions left: 2',
      'plain: 99 records for 100 calls',
      'blind: 2 of 100 calls failed (2.00 %, limit 0.5 %)',
      'room: no call placed',
      "operators' phones failed 2 of 200 calls (1.00 %, limit 0.5 %)",
      'memory not flat: heap grows 2.00 MB/10 min (limit 1)',
    ]);
  });

  it('fails when what is left cannot be known (the switchboard did not answer)', () => {
    const v = judge([kind({})], { ...clean, callsInProgress: null, stuckOperators: null, mediaSessions: null }, flat, 0.5);
    expect(v.problems).toEqual(['calls left in the switchboard: unknown', 'operator states unknown', 'media sessions left: unknown']);
  });

  it('tolerates failed calls up to the limit', () => {
    expect(judge([kind({ failed: 1, successful: 99 })], { ...clean, phoneFailures: 2 }, flat, 1).passed).toBe(true);
  });
});

describe('soak options and operators', () => {
  it('defaults to 30 minutes at 3 calls/s with a 5-minute warm-up, and normalises the mix', () => {
    const o = parseSoakOptions([]) as SoakOptions;
    expect(o).toMatchObject({ minutes: 30, rate: 3, warmupMin: 5, sampleS: 30, maxHeapMbPer10Min: 1, maxRssMbPer10Min: 10, maxFailedPct: 0.5 });
    expect(o.mix).toEqual({ plain: 0.4, blind: 0.2, attended: 0.2, room: 0.2 });
    expect((parseSoakOptions(['--minutes', '1']) as SoakOptions).warmupMin).toBe(0.2);
    expect((parseSoakOptions(['--mix', 'plain=1,room=1']) as SoakOptions).mix).toEqual({ plain: 0.5, blind: 0, attended: 0, room: 0.5 });
  });

  it('refuses bad values with a message naming the flag', () => {
    expect(() => parseSoakOptions(['--rate', '0'])).toThrow('--rate must be a number >= 0.1, got "0"');
    expect(() => parseSoakOptions(['--mix', 'fax=1'])).toThrow('--mix: unknown kind "fax"');
    expect(() => parseSoakOptions(['--mix', 'plain=0'])).toThrow('--mix: every share is 0');
  });

  it('gives each group of phones twice the calls it holds at once, at least two, none for an absent kind, a colleague per attended transferor', () => {
    expect(groupSizes(3, { plain: 0.4, blind: 0.2, attended: 0.2, room: 0.2 })).toEqual({ plain: 12, blind: 6, target: 6, attended: 12, consulted: 12 });
    expect(groupSizes(1, { plain: 0.5, blind: 0, attended: 0, room: 0.5 })).toEqual({ plain: 5, blind: 0, target: 0, attended: 0, consulted: 0 });
    expect(groupSizes(0.1, { plain: 1, blind: 0, attended: 0, room: 0 }).plain).toBe(2);
  });
});
