import { describe, expect, it } from 'vitest';
import { matchDispatch, parseStamps } from '../../../bench/lib/dispatch.js';
import { parseOptions, type BenchOptions } from '../../../bench/lib/options.js';

describe('dispatch time stamps', () => {
  it('reads the lines of one kind from a SIPp log, skipping anything else', () => {
    const log = ['invite 7010001 1795806747926.718994', 'offer sip:7010001 1795806747931.5', 'garbage', 'invite 7010002 notanumber', 'invite', ''].join('\n');
    expect(parseStamps(log, 'invite')).toEqual([{ number: '7010001', at: 1795806747926.718994 }]);
    expect(parseStamps(log, 'offer')).toEqual([{ number: '7010001', at: 1795806747931.5 }]);
  });

  it('matches each caller with the first offer of its number, and counts callers never offered', () => {
    const invites = [
      { number: '7010001', at: 1000 },
      { number: '7010002', at: 1010 },
      { number: '7010003', at: 1020 },
    ];
    const offers = [
      // offered again after a ring that went unanswered: the first offer counts
      { number: '7010001', at: 1030 },
      { number: '7010001', at: 1012 },
      { number: '7010002', at: 1015 },
      // another step's caller, and a stale stamp from before the INVITE
      { number: '7020001', at: 1016 },
      { number: '7010003', at: 900 },
    ];
    const m = matchDispatch(invites, offers);
    expect(m.ms.sort((a, b) => a - b)).toEqual([5, 12]);
    expect(m.notOffered).toBe(1);
  });

  it('reports nothing offered when no phone logged', () => {
    expect(matchDispatch([{ number: '1', at: 1 }], [])).toEqual({ ms: [], notOffered: 1 });
  });
});

describe('bench options', () => {
  it('defaults to every target, the free shape and an overload step at twice the top rate', () => {
    const o = parseOptions(['--ramp', '10,20', '--talk-ms', '2000']) as BenchOptions;
    expect(o.targets).toEqual(['switchboard-direct', 'switchboard-anchored', 'b2bua', 'anchored']);
    expect(o.shapes).toEqual(['free']);
    expect(o.overloadFactor).toBe(2);
    // enough operators for the overload step: 20 calls/s x 2 x (2 s talk + 1 s)
    expect(o.operators).toBe(120);
  });

  it('takes load shapes and the wait, and refuses unknown ones', () => {
    const o = parseOptions(['--shapes', 'free,wait', '--wait-s', '3', '--overload-factor', '0', '--ramp', '10']) as BenchOptions;
    expect(o.shapes).toEqual(['free', 'wait']);
    expect(o.waitS).toBe(3);
    expect(o.operators).toBe(20);
    expect(() => parseOptions(['--shapes', 'busy'])).toThrow(/unknown load shape "busy"/);
    expect(() => parseOptions(['--targets', 'switchboard'])).toThrow(/unknown target "switchboard"/);
  });
});
