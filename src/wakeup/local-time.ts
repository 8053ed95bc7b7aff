/**
 * Wall-clock time in an IANA time zone, without a date library: Intl tells the zone's offset at
 * any instant, and the rest is arithmetic on civil dates (Date.UTC never applies a time zone).
 */

export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

export interface ClockTime {
  hour: number;
  minute: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether Intl knows the zone (e.g. "Europe/Berlin"; "UTC" too). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall clock in `timeZone` at the instant `utcMs`, as if it were UTC (ms since the epoch). */
function wallMs(utcMs: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(utcMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const at = (name: string): number => parts[name] ?? 0;
  return Date.UTC(at('year'), at('month') - 1, at('day'), at('hour'), at('minute'), at('second'));
}

/** The zone's offset from UTC at an instant, in ms (UTC+1: 3,600,000). */
function offsetMs(utcMs: number, timeZone: string): number {
  const whole = Math.floor(utcMs / 1000) * 1000;
  return wallMs(whole, timeZone) - whole;
}

/** The civil date in `timeZone` at the instant `utcMs`. */
export function civilDateAt(utcMs: number, timeZone: string): CivilDate {
  const d = new Date(wallMs(utcMs, timeZone));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

export function addDays(date: CivilDate, days: number): CivilDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/**
 * The instant the wall clocks of `timeZone` show `time` on `date`. On the day the clocks go
 * forward a time in the gap does not exist: it is taken as the same time on the old offset, so
 * 02:30 becomes 03:30 (the wake-up rings as soon after the asked time as the clock allows). On
 * the day they go back a time that happens twice is the first of the two.
 */
export function instantOf(date: CivilDate, time: ClockTime, timeZone: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day, time.hour, time.minute);
  // The offsets a few hours either side cover any single transition around that wall time.
  const before = offsetMs(wall - 12 * HOUR_MS, timeZone);
  const after = offsetMs(wall + 12 * HOUR_MS, timeZone);
  const matches = [wall - before, wall - after].filter((t) => wallMs(t, timeZone) === wall);
  if (matches.length > 0) return Math.min(...matches);
  return wall - before;
}

/** "HH:MM" (24 h) as a clock time, or undefined. */
export function parseClockTime(text: string): ClockTime | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!m) return undefined;
  return { hour: Number(m[1]), minute: Number(m[2]) };
}

/** "YYYY-MM-DD" as a civil date that exists, or undefined. */
export function parseCivilDate(text: string): CivilDate | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const date = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
  const check = addDays(date, 0);
  return check.year === date.year && check.month === date.month && check.day === date.day ? date : undefined;
}

export function formatCivilDate(date: CivilDate): string {
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(date.year, 4)}-${pad(date.month)}-${pad(date.day)}`;
}
