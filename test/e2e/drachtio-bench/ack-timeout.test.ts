/**
 * A caller that never ACKs the 200 OK. drachtio-server retransmits the 200 on UDP (T1,
 * doubling up to T2) and, 64*T1 after sending it, gives up: BYE to the caller with
 * Reason "ACK timeout", and an "unsolicited" BYE to the app, whose dialog ends with that reason.
 *
 * The stand-in runs with T1 = 50 ms here so that 64*T1 is 3.2 s; a real server uses its own
 * T1 (DRACHTIO_T1_MS, 500 ms by default: 32 s).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flow, requestsOf, responsesOf } from '../../support/sipp.js';
import { APP_SDP, asDialog, callSipp, expectPassed, openBench, transportsUnderTest, type Bench } from './helpers.js';

let bench: Bench;

beforeAll(async () => {
  bench = await openBench(['invite'], { timers: { T1: 50, T2: 400, T4: 500 } });
});
afterAll(async () => {
  await bench?.close();
});

describe.each(transportsUnderTest())('no ACK for the 200 OK over %s', (transport) => {
  it('retransmits the 200 (UDP), then sends BYE with Reason "ACK timeout" and tells the app', async () => {
    bench.reset();
    bench.handlers.invite = (req, res) => {
      bench.srf.createUAS(req, res, { localSdp: APP_SDP }).then(
        (d) => asDialog(d).on('destroy', (msg: { get(h: string): string; source?: string }, reason: string) => bench.log.add('destroy', { msg, reason })),
        (err: unknown) => bench.log.add('uas-error', err),
      );
    };
    const { T1 } = bench.target.timers;
    const result = await callSipp(bench, transport, 'uac-no-ack.xml', { timeoutMs: 64 * T1 + 8000 });
    expectPassed(result);

    const oks = responsesOf(result, 'received', 200, 'INVITE');
    if (transport === 'udp') expect(oks.length).toBeGreaterThanOrEqual(3);
    else expect(oks).toHaveLength(1); // no retransmission over TCP

    const bye = requestsOf(result, 'received', 'BYE')[0];
    expect(bye?.get('Reason')).toBe('SIP;cause=200;text="ACK timeout"');
    expect(bye?.fromTag).toBe(oks[0]?.toTag);
    expect(flow(result).slice(-2)).toEqual(['< BYE', '> 200 BYE']);

    // Sent 64*T1 after the 200 OK, give or take the scheduling.
    const sentAt = (label: string): number => Date.parse(result.messages.find((m) => m.label === label)?.time ?? '');
    const waited = sentAt('< BYE') - sentAt('< 200 INVITE');
    expect(waited).toBeGreaterThanOrEqual(64 * T1 - 100);

    const { msg, reason } = await bench.log.waitFor<{ msg: { source?: string }; reason: string }>('destroy', 2000);
    expect(reason).toBe('ACK timeout');
    expect(msg.source).toBe('application'); // the unsolicited BYE is the server's, not the caller's
  }, 64 * 500 + 20_000);
});
