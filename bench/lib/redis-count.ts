/**
 * Counting what the switchboard asks of Redis (bench/redis-commands.ts): the server's own
 * per-command counters (INFO commandstats, which include the commands Lua scripts run), and a
 * tally of MONITOR's lines that tells a command the app sent from one a script ran. Plain
 * functions over Redis' text, no I/O.
 */

/** Calls per command name (lower case), from INFO commandstats. */
export function parseCommandStats(info: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) counts.set((m[1] as string).toLowerCase(), Number(m[2]));
  }
  return counts;
}

/** after − before, per command, leaving out commands that did not change. */
export function diffCounts(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const diff = new Map<string, number>();
  for (const [name, n] of after) {
    const d = n - (before.get(name) ?? 0);
    if (d > 0) diff.set(name, d);
  }
  return diff;
}

/** Commands seen on MONITOR, split by who ran them: the app over its connections, or a Lua script. */
export class MonitorTally {
  readonly sent = new Map<string, number>();
  readonly inLua = new Map<string, number>();

  /**
   * One MONITOR line as ioredis hands it: the arguments and the source ("lua", "unix:…" or
   * "ip:port"). `ignore` names sources to leave out (the bench's own connections).
   */
  add(args: string[], source: string, ignore: ReadonlySet<string> = new Set()): void {
    const name = args[0]?.toLowerCase();
    if (!name || ignore.has(source)) return;
    const into = source === 'lua' ? this.inLua : this.sent;
    into.set(name, (into.get(name) ?? 0) + 1);
  }

  snapshot(): { sent: Map<string, number>; inLua: Map<string, number> } {
    return { sent: new Map(this.sent), inLua: new Map(this.inLua) };
  }
}

export interface CommandRow {
  command: string;
  /** Per call, all sources (commandstats). */
  perCall: number;
  /** Per call, sent by the app (MONITOR). */
  sentPerCall: number;
  /** Per call, run inside Lua scripts (MONITOR). */
  luaPerCall: number;
}

function total(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

/**
 * Per-call rows, dearest first: each window's counts less the idle background (timers: leases,
 * sweeps) scaled to the window's length, divided by the calls placed.
 */
export function perCallRows(
  window: { stats: Map<string, number>; sent: Map<string, number>; inLua: Map<string, number>; seconds: number },
  idle: { stats: Map<string, number>; sent: Map<string, number>; inLua: Map<string, number>; seconds: number },
  calls: number,
): { rows: CommandRow[]; totals: Omit<CommandRow, 'command'> } {
  const scale = idle.seconds > 0 ? window.seconds / idle.seconds : 0;
  const net = (w: Map<string, number>, i: Map<string, number>, name: string): number => Math.max(0, (w.get(name) ?? 0) - (i.get(name) ?? 0) * scale) / calls;
  const names = new Set([...window.stats.keys(), ...window.sent.keys(), ...window.inLua.keys()]);
  const rows = [...names]
    .map((command) => ({
      command,
      perCall: net(window.stats, idle.stats, command),
      sentPerCall: net(window.sent, idle.sent, command),
      luaPerCall: net(window.inLua, idle.inLua, command),
    }))
    .filter((r) => r.perCall >= 0.05 || r.sentPerCall >= 0.05 || r.luaPerCall >= 0.05)
    .sort((a, b) => b.perCall - a.perCall || a.command.localeCompare(b.command));
  const netTotal = (w: Map<string, number>, i: Map<string, number>): number => Math.max(0, total(w) - total(i) * scale) / calls;
  return {
    rows,
    totals: { perCall: netTotal(window.stats, idle.stats), sentPerCall: netTotal(window.sent, idle.sent), luaPerCall: netTotal(window.inLua, idle.inLua) },
  };
}

/** The rows as a Markdown table. */
export function commandTable(rows: CommandRow[], totals: Omit<CommandRow, 'command'>): string {
  const f = (n: number): string => n.toFixed(1);
  const lines = ['| command | per call (all) | sent by the app | run in Lua |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.command} | ${f(r.perCall)} | ${f(r.sentPerCall)} | ${f(r.luaPerCall)} |`);
  lines.push(`| **total** | **${f(totals.perCall)}** | **${f(totals.sentPerCall)}** | **${f(totals.luaPerCall)}** |`);
  return lines.join('\n');
}
