import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSoakOptions, runSoak, type SoakOptions } from '../../bench/lib/soak.js';

/**
 * The soak (bench/soak.ts) in its short mode: 30 s of the mixed load at 1 call/s against the
 * stand-ins (or the real servers the environment names), so CI runs the whole script: phones,
 * transfers, the room, the checks at the end and the report. Memory is sampled but not judged
 * (too short for a trend; test/unit/bench/soak-verdict.test.ts covers the judgement).
 */
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('soak, short mode', () => {
  it('mixes queue calls, blind and attended transfers and room participants, and finds nothing left over', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'soak-smoke-'));
    dirs.push(out);
    const opts = parseSoakOptions(['--minutes', '0.5', '--rate', '1', '--sample-s', '5', '--log-level', 'warn', '--out', out]) as SoakOptions;
    const { report, text } = await runSoak(opts, () => undefined);

    expect(report.verdict, text).toEqual({ passed: true, problems: [] });
    // 1 call/s for 30 s: plain 40 %, the others 20 % each.
    expect(report.kinds.map((k) => [k.kind, k.placed, k.failed, k.records])).toEqual([
      ['plain', 12, 0, 12],
      ['blind', 6, 0, 6],
      ['attended', 6, 0, 6],
      ['room', 6, 0, 6],
    ]);
    expect(report.kinds.find((k) => k.kind === 'blind')?.transfers).toBe(6);
    expect(report.kinds.find((k) => k.kind === 'attended')?.transfers).toBe(6);
    expect(report.kinds.find((k) => k.kind === 'room')?.dispositions).toEqual({ answered: 6 });
    expect(report.consultations).toEqual({ records: 6, least: 6, most: 6 });
    expect(report.end).toMatchObject({ callsInProgress: 0, stuckOperators: {}, mediaSessions: 0, cdrRows: 36, logErrors: 0, appExited: false });
    expect(report.memory.samples).toBeGreaterThan(3);
    expect(report.memory.heap.startMb).toBeGreaterThan(0);
    expect(report.memory.flat).toBeNull();

    const saved = await readFile(path.join(report.dir, 'report.txt'), 'utf8');
    expect(saved).toContain('PASSED');
    expect(saved).toMatch(/consultation calls \(attended transferors' second calls\): 6 records, 6 expected/);
  }, 120_000);
});
