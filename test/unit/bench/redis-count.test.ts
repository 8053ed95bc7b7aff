import { describe, expect, it } from 'vitest';
import { commandTable, diffCounts, MonitorTally, parseCommandStats, perCallRows } from '../../../bench/lib/redis-count.js';

describe('redis-count', () => {
  it('reads calls per command from INFO commandstats', () => {
    const info = '# Commandstats\r\ncmdstat_hset:calls=12,usec=40,usec_per_call=3.33\r\ncmdstat_EXEC:calls=3,usec=9\r\nnoise\r\n';
    expect([...parseCommandStats(info)]).toEqual([
      ['hset', 12],
      ['exec', 3],
    ]);
  });

  it('diffs counters, leaving out what did not change', () => {
    const d = diffCounts(new Map([['hset', 5], ['get', 2]]), new Map([['hset', 9], ['get', 2], ['xadd', 1]]));
    expect([...d]).toEqual([
      ['hset', 4],
      ['xadd', 1],
    ]);
  });

  it('tells commands the app sent from those a script ran, and ignores given sources', () => {
    const t = new MonitorTally();
    t.add(['EVALSHA', 'x'], '127.0.0.1:5000');
    t.add(['HSET', 'k', 'f', 'v'], 'lua');
    t.add(['hset', 'k', 'f', 'v'], '127.0.0.1:5000');
    t.add(['INFO', 'commandstats'], '127.0.0.1:6000', new Set(['127.0.0.1:6000']));
    expect(Object.fromEntries(t.sent)).toEqual({ evalsha: 1, hset: 1 });
    expect(Object.fromEntries(t.inLua)).toEqual({ hset: 1 });
  });

  it('takes the idle background, scaled to the window, off before dividing by the calls', () => {
    const window = { stats: new Map([['hset', 110], ['set', 4]]), sent: new Map([['hset', 60]]), inLua: new Map([['hset', 50]]), seconds: 10 };
    const idle = { stats: new Map([['hset', 5], ['set', 2]]), sent: new Map([['hset', 5]]), inLua: new Map(), seconds: 5 };
    const { rows, totals } = perCallRows(window, idle, 10);
    expect(rows).toEqual([{ command: 'hset', perCall: 10, sentPerCall: 5, luaPerCall: 5 }]);
    expect(totals).toEqual({ perCall: 10, sentPerCall: 5, luaPerCall: 5 });
    expect(commandTable(rows, totals)).toContain('| hset | 10.0 | 5.0 | 5.0 |');
  });
});
