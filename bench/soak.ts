/**
 * The soak (npm run bench:soak): a steady mix of queue calls, blind and attended transfers and
 * room participants for a bounded time, then the checks; prints the result and exits 0 only when
 * every check held. `npm run bench:soak -- --help` for the flags; bench/lib/soak.ts for the mix.
 */
import { parseSoakOptions, runSoak, SOAK_HELP, type SoakOptions } from './lib/soak.js';

let opts: SoakOptions | 'help';
try {
  opts = parseSoakOptions(process.argv.slice(2));
} catch (err) {
  console.error(`soak: ${(err as Error).message}\n\n${SOAK_HELP}`);
  process.exit(2);
}
if (opts === 'help') {
  console.log(SOAK_HELP);
  process.exit(0);
}
const { report, text } = await runSoak(opts);
console.log(`\n${text}`);
process.exit(report.verdict.passed ? 0 : 1);
