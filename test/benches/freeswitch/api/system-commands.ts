/**
 * Whole-switch API commands: `status` and `version` (mod_commands.c) and `sofia status`
 * (cmd_status() in src/mod/endpoints/mod_sofia/mod_sofia.c), whose profile line drachtio-fsmrf
 * reads the media server's SIP address from:
 *   /^\s*drachtio_mrf\s.*sip:mod_sofia@((?:[0-9]{1,3}\.){3}[0-9]{1,3}:\d+)/m
 */
import type { ApiHandler, Switch } from '../core/switch.js';

export const PROFILE_NAME = 'drachtio_mrf';
export const VERSION = '1.10.12-release~64bit';
const VERSION_HUMAN = '-release 64bit';
const LINE = '=================================================================================================';

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** switch_core_measure_time() as `status` and HEARTBEAT's Up-Time print it. */
export function upTime(sw: Switch): string {
  let rest = Date.now() - sw.startedAt;
  const ms = rest % 1000;
  rest = Math.floor(rest / 1000);
  const sec = rest % 60;
  rest = Math.floor(rest / 60);
  const min = rest % 60;
  rest = Math.floor(rest / 60);
  const hr = rest % 24;
  const day = Math.floor(rest / 24) % 365;
  const yr = Math.floor(rest / 24 / 365);
  return [plural(yr, 'year'), plural(day, 'day'), plural(hr, 'hour'), plural(min, 'minute'), plural(sec, 'second'), plural(ms, 'millisecond'), plural(0, 'microsecond')].join(', ');
}

export const status: ApiHandler = (sw) => {
  const count = sw.sessionCount;
  return (
    `UP ${upTime(sw)}\n` +
    `FreeSWITCH (Version ${VERSION} ${VERSION_HUMAN}) is ready\n` +
    `${sw.sessionsCreated} session(s) since startup\n` +
    `${count} session(s) - peak ${count}, last 5min ${count} \n` +
    `0 session(s) per Sec out of max ${sw.options.sessionsPerSecond}, peak 0, last 5min 0 \n` +
    `${sw.load.maxSessions} session(s) max\n` +
    `min idle cpu 0.00/${sw.load.idleCpu.toFixed(2)}\n`
  );
};

export const version: ApiHandler = (_sw, args) => {
  if (args.toLowerCase().includes('short')) return `${VERSION.split('-')[0]}\n`;
  return `FreeSWITCH Version ${VERSION} (${VERSION_HUMAN})\n`;
};

/**
 * ctl_function() (`fsctl`), the one subcommand the stand-in knows: `max_sessions [<n>]` sets the
 * session limit when n is given and not 0 (switch_core_session_limit()), and prints it.
 */
export const fsctl: ApiHandler = (sw, args) => {
  const [command, value] = args.trim().split(/\s+/);
  if (!command) return '-USAGE: [max_sessions]\n';
  if (command.toLowerCase() !== 'max_sessions') return '-ERR the FreeSWITCH stand-in answers only "fsctl max_sessions"\n';
  // atoi(): anything not a number is 0, which leaves the limit as it is.
  const n = Number.parseInt(value ?? '0', 10) || 0;
  if (n > 0) sw.load.maxSessions = n;
  return `+OK max sessions: ${n > 0 ? n : sw.load.maxSessions}\n`;
};

/** cmd_status(): "%25s\t%s\t  %40s\t%s\n" rows between two lines of '='. */
function sofiaStatus(sw: Switch): string {
  const url = `sip:mod_sofia@${sw.options.sipAddress()}`;
  const row = (a: string, b: string, c: string, d: string): string => `${a.padStart(25)}\t${b}\t  ${c.padStart(40)}\t${d}\n`;
  return (
    row('Name', '   Type', 'Data', 'State') +
    `${LINE}\n` +
    row(PROFILE_NAME, 'profile', url, `RUNNING (${sw.sessionCount})`) +
    `${LINE}\n` +
    '1 profile 0 aliases\n'
  );
}

export const sofia: ApiHandler = (sw, args) => {
  const [command, ...rest] = args.trim().split(/\s+/);
  if (command === 'status' && rest.length === 0) return sofiaStatus(sw);
  if (command === 'status' && rest[0] === 'profile' && rest[1] !== PROFILE_NAME) return `Invalid Profile [${rest[1] ?? ''}]\n`;
  return '-ERR the FreeSWITCH stand-in answers only "sofia status"\n';
};
