/** The bench's command line: flags, defaults and help. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT_DIR } from '../../src/paths.js';

export const TARGETS = ['switchboard-direct', 'switchboard-anchored', 'b2bua', 'anchored'] as const;
export type TargetName = (typeof TARGETS)[number];
/** The switchboard's targets: one per queue media mode. */
export type SwitchboardTarget = Extract<TargetName, `switchboard-${string}`>;
export const isSwitchboard = (t: TargetName): t is SwitchboardTarget => t.startsWith('switchboard-');

/**
 * How callers meet operators. free: an operator is free when a caller arrives; wait: every
 * caller waits --wait-s with hold music before any operator is offered (bench/README.md).
 */
export const SHAPES = ['free', 'wait'] as const;
export type Shape = (typeof SHAPES)[number];

export interface BenchOptions {
  targets: TargetName[];
  shapes: Shape[];
  /** Seconds callers wait with hold music in the wait shape. */
  waitS: number;
  ramp: number[];
  stepS: number;
  /** Operators registered (0: worked out from the ramp). */
  operators: number;
  answerMs: number;
  talkMs: number;
  wrapupS: number;
  patienceMs: number;
  /** Stop the ramp at the first step with more failed calls than this, in percent. */
  maxFailedPct: number;
  /** Most calls per second one SIPp caller process is asked for; higher rates use several. */
  sippRate: number;
  warmupCalls: number;
  backlog: boolean;
  backlogOperators: number;
  backlogCalls: number;
  /** After the ramp: a step at this many times the highest passed rate (0: none). */
  overloadFactor: number;
  logLevel: string;
  dist: boolean;
  /** Write the switchboard's V8 CPU profile (.cpuprofile) into each target's directory. */
  cpuProf: boolean;
  /** Each load shape's targets run this many times, one after the other in turn (A B A B ...). */
  rounds: number;
  out: string;
  keep: boolean;
}

export const HELP = `Load test of the switchboard against two baselines, with SIPp callers and operators.

  npm run bench -- [flags]          rate ramp (default: a quick run of a few minutes)
  (the soak, a steady mixed load for 30 minutes: npm run bench:soak, bench/soak.ts)

Servers: drachtio-server and FreeSWITCH stand-ins (test/benches) started as processes of their
own, unless the environment names real ones (as for the end-to-end tests):
  DRACHTIO_HOST DRACHTIO_PORT DRACHTIO_SECRET DRACHTIO_SIP_ADDRESS   a real drachtio-server
  FREESWITCH_ESL FREESWITCH_PASSWORD [FREESWITCH_LISTEN_ADDRESS]     a real FreeSWITCH
PostgreSQL and Redis: scripts/test-services.sh's (or TEST_DATABASE_URL, TEST_REDIS_URL); each
run gets a database and a Redis key prefix of its own, dropped afterwards (--keep keeps them).

Flags (defaults in brackets):
  --targets LIST        switchboard-direct,switchboard-anchored,b2bua,anchored [all four]
                        (the switchboard's queue in media mode direct or anchored; a build
                        without per-queue media modes runs both as its only mode, and says so)
  --shapes LIST         free,wait [free]: free = operators free on arrival; wait = every caller
                        waits --wait-s with hold music first (the b2bua has no media: n/a)
  --wait-s N            seconds callers wait in the wait shape [2]
  --ramp LIST           calls per second of each step [2,5,10,20]
  --step-s N            seconds of calls per step [8]
  --max-failed PCT      the ramp stops after the first step with more failed calls [1]
  --operators K         operators registered (0: rate x (answer + talk + 1 s) of the top step,
                        times the overload factor) [0]
  --answer-ms N         operators' phones ring this long before answering [0]
  --talk-ms N           operators hang up after talking this long [1000]
  --wrapup-s N          the bench queue's wrap-up seconds [0]
  --patience-ms N       a caller not released within this long fails (SIPp -recv_timeout) [15000]
  --warmup-calls N      calls placed before the ramp, not reported [10]
  --no-backlog          skip the backlog phase (the switchboard only): callers queued behind a
                        few operators, to time "operator free -> next offer"
  --backlog-operators N operators left logged in for it [4]
  --backlog-calls N     callers offered in it (0: 6 per operator) [0]
  --overload-factor F   after the ramp, a step at F x the highest passed rate: callers
                        accepted, refused (503) and the accepted calls' failures; 0: none [2]
  --sipp-rate N         most calls/s per SIPp caller process [250]
  --log-level L         the switchboard's LOG_LEVEL (its log is kept in the run's directory) [info]
  --dist                run the built switchboard (dist/src/main.js) instead of src/ with tsx
  --cpu-prof            write the switchboard's CPU profile (node --cpu-prof) into each
                        target's directory, for Chrome DevTools or speedscope
  --rounds N            run each load shape's targets N times in turn (A B A B ...); the tables
                        take each target's median round, and a table of rounds gives every
                        round's capacity and the capacity ratios round by round [1]
  --out DIR             where results go [bench/results]
  --keep                keep the run's database and Redis keys
  --help
`;

function list(text: string): number[] {
  return text.split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n > 0);
}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      targets: { type: 'string' },
      shapes: { type: 'string', default: 'free' },
      'wait-s': { type: 'string', default: '2' },
      'overload-factor': { type: 'string', default: '2' },
      ramp: { type: 'string', default: '2,5,10,20' },
      'step-s': { type: 'string', default: '8' },
      'max-failed': { type: 'string', default: '1' },
      operators: { type: 'string', default: '0' },
      'answer-ms': { type: 'string', default: '0' },
      'talk-ms': { type: 'string', default: '1000' },
      'wrapup-s': { type: 'string', default: '0' },
      'patience-ms': { type: 'string', default: '15000' },
      'warmup-calls': { type: 'string', default: '10' },
      'no-backlog': { type: 'boolean', default: false },
      'backlog-operators': { type: 'string', default: '4' },
      'backlog-calls': { type: 'string', default: '0' },
      'sipp-rate': { type: 'string', default: '250' },
      'log-level': { type: 'string', default: 'info' },
      dist: { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      rounds: { type: 'string', default: '1' },
      out: { type: 'string', default: path.join(ROOT_DIR, 'bench/results') },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const targets = (values.targets ?? TARGETS.join(','))
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of targets) if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`--targets: unknown target "${t}" (${TARGETS.join(', ')})`);
  const shapes = values.shapes.split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of shapes) if (!(SHAPES as readonly string[]).includes(t)) throw new Error(`--shapes: unknown load shape "${t}" (${SHAPES.join(', ')})`);
  if (shapes.length === 0) throw new Error('--shapes lists no load shape');
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got "${v}"`);
    return n;
  };
  const ramp = list(values.ramp);
  if (ramp.length === 0) throw new Error('--ramp lists no rate');
  const opts: BenchOptions = {
    targets: targets as TargetName[],
    shapes: shapes as Shape[],
    // Whole seconds: the switchboard's wait is a queue setting in seconds (skillWaitS).
    waitS: Math.round(num('wait-s', values['wait-s'], 1)),
    ramp,
    stepS: num('step-s', values['step-s'], 1),
    operators: Math.round(num('operators', values.operators, 0)),
    answerMs: num('answer-ms', values['answer-ms'], 0),
    talkMs: num('talk-ms', values['talk-ms'], 0),
    wrapupS: Math.round(num('wrapup-s', values['wrapup-s'], 0)),
    patienceMs: num('patience-ms', values['patience-ms'], 1000),
    maxFailedPct: num('max-failed', values['max-failed'], 0),
    sippRate: num('sipp-rate', values['sipp-rate'], 1),
    warmupCalls: Math.round(num('warmup-calls', values['warmup-calls'], 0)),
    backlog: !values['no-backlog'],
    backlogOperators: Math.round(num('backlog-operators', values['backlog-operators'], 1)),
    backlogCalls: Math.round(num('backlog-calls', values['backlog-calls'], 0)),
    overloadFactor: num('overload-factor', values['overload-factor'], 0),
    logLevel: values['log-level'],
    dist: values.dist,
    cpuProf: values['cpu-prof'],
    rounds: Math.round(num('rounds', values.rounds, 1)),
    out: path.resolve(values.out),
    keep: values.keep,
  };
  if (opts.operators === 0) {
    // Enough operators for the overload step too: its limit must be the system's, not theirs.
    const top = Math.max(...opts.ramp) * Math.max(1, opts.overloadFactor);
    opts.operators = Math.max(4, Math.ceil((top * (opts.answerMs + opts.talkMs + 1000)) / 1000));
  }
  opts.backlogOperators = Math.min(opts.backlogOperators, opts.operators);
  if (opts.backlogCalls === 0) opts.backlogCalls = 6 * opts.backlogOperators;
  return opts;
}
