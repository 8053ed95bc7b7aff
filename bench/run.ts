/**
 * The load-testing bench: one command that starts the switchboard (and the two baselines) against
 * drachtio-server and FreeSWITCH stand-ins or real servers, registers K operators, drives callers
 * along a rate ramp and writes a JSON report and a Markdown summary to
 * bench/results/<time>/, printing the summary. `npm run bench -- --help` for the flags.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HELP, parseOptions, type BenchOptions } from './lib/options.js';
import { commonRate, machineInfo, markdown, medianRounds, ratios, roundsOf, type Report } from './lib/report.js';
import { runTarget, type TargetResult } from './lib/runner.js';
import { round } from './lib/stats.js';

export async function runBench(opts: BenchOptions, log: (line: string) => void = (l) => console.log(l)): Promise<{ report: Report; dir: string; markdown: string }> {
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const dir = path.join(opts.out, `${stamp}-ramp`);
  await mkdir(dir, { recursive: true });
  const machine = machineInfo();
  log(`bench: results in ${dir}`);
  const targets: TargetResult[] = [];
  const notApplicable: Report['notApplicable'] = [];
  const common: Report['commonRate'] = {};
  const ratioTables: Report['ratios'] = {};
  const rounds: Report['rounds'] = {};
  for (const shape of opts.shapes) {
    if (shape === 'wait' && opts.targets.includes('b2bua')) notApplicable.push({ name: 'b2bua', shape, why: 'no media server to wait on' });
    const ofShape: TargetResult[] = [];
    // Round by round, every target in turn: a drift of the machine over the run weighs on all alike.
    for (let round = 1; round <= opts.rounds; round++) {
      for (const name of opts.targets) {
        if (name === 'b2bua' && shape === 'wait') continue;
        ofShape.push(await runTarget(name, shape, opts, dir, log, round));
      }
    }
    targets.push(...ofShape);
    const compared = medianRounds(ofShape);
    common[shape] = commonRate(compared);
    ratioTables[shape] = ratios(compared, common[shape] ?? opts.ramp[0] ?? null);
    rounds[shape] = roundsOf(ofShape);
  }
  const report: Report = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...machine, loadAverageAfter: os.loadavg().map((l) => round(l, 2) ?? 0) },
    options: opts,
    targets,
    notApplicable,
    commonRate: common,
    ratios: ratioTables,
    rounds,
  };
  const md = markdown(report);
  await writeFile(path.join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(path.join(dir, 'report.md'), `${md}\n`);
  return { report, dir, markdown: md };
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  let opts: BenchOptions | 'help';
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (opts === 'help') {
    console.log(HELP);
    process.exit(0);
  }
  const { report, dir, markdown: md } = await runBench(opts);
  console.log(`\n${md}\n\nbench: report.json and report.md in ${dir}`);
  const failedRuns = report.targets.filter((t) => t.error);
  process.exit(failedRuns.length > 0 ? 1 : 0);
}
