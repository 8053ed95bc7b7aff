/**
 * REFER: in a call, the transferor's REFER reaches the app, which answers 202, reports progress
 * with NOTIFYs (message/sipfrag "SIP/2.0 100 Trying", then "SIP/2.0 200 OK" with
 * Subscription-State: terminated) and calls the target. A REFER outside any dialog is dropped
 * by drachtio-server without a response, even when an app routes REFER.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flow, requestsOf, responsesOf } from '../../support/sipp.js';
import { handleRefers } from './apps/refer-handler.js';
import { APP_SDP, asDialog, callSipp, expectPassed, listenSipp, openBench, sippUri, transportsUnderTest, type Bench } from './helpers.js';

let bench: Bench;

beforeAll(async () => {
  // Routed for REFER too: drachtio-server still never passes an out-of-dialog REFER up.
  bench = await openBench(['invite', 'options', 'refer']);
});
afterAll(async () => {
  await bench?.close();
});
beforeEach(() => bench.reset());

describe.each(transportsUnderTest())('REFER over %s', (transport) => {
  it('transfers the call: 202, NOTIFY 100 Trying, call to the target, NOTIFY 200 OK terminated', async () => {
    const target = await listenSipp(transport, 'uas-answer.xml');
    bench.handlers.invite = (req, res) => {
      bench.srf.createUAS(req, res, { localSdp: APP_SDP }).then(
        (d) => handleRefers(bench.srf, asDialog(d), bench.log),
        (err: unknown) => bench.log.add('uas-error', err),
      );
    };
    const referTo = sippUri(target, transport, 'target');
    const transferor = await callSipp(bench, transport, 'uac-refer.xml', { keys: { refer_to: referTo } });
    expectPassed(transferor);
    expect(await bench.log.waitFor('refer')).toBe(referTo);
    await bench.log.waitFor('target-released');
    const targetResult = await target.done;
    expectPassed(targetResult);

    expect(flow(transferor)).toEqual(expect.arrayContaining(['> REFER', '< 202 REFER', '< NOTIFY', '> 200 NOTIFY']));
    const [first, last] = requestsOf(transferor, 'received', 'NOTIFY');
    expect(first?.get('Event')).toBe('refer');
    expect(first?.get('Content-Type')).toBe('message/sipfrag;version=2.0');
    expect(first?.body.trim()).toBe('SIP/2.0 100 Trying');
    expect(first?.get('Subscription-State')).toMatch(/^active/);
    expect(last?.body.trim()).toBe('SIP/2.0 200 OK');
    expect(last?.get('Subscription-State')).toMatch(/^terminated/);
    expect((last?.cseq.seq ?? 0) > (first?.cseq.seq ?? 0)).toBe(true);
    // The 202 went out before the first NOTIFY.
    const labels = flow(transferor);
    expect(labels.indexOf('< 202 REFER')).toBeLessThan(labels.indexOf('< NOTIFY'));
    // The target got the transferor's media offer and, after the transferor hung up, a BYE.
    expect(requestsOf(targetResult, 'received', 'INVITE')[0]?.body).toContain('o=caller');
    expect(requestsOf(targetResult, 'received', 'BYE')).toHaveLength(1);
  });

  it('drops a REFER outside a dialog without answering it', async () => {
    bench.handlers.options = (_req, res) => res.send(200);
    bench.handlers.refer = (req, res) => {
      bench.log.add('out-of-dialog-refer', req);
      res.send(202);
    };
    const result = await callSipp(bench, transport, 'uac-refer-outside.xml');
    expectPassed(result);
    expect(responsesOf(result, 'received').filter((r) => r.cseq.method === 'REFER')).toHaveLength(0);
    expect(responsesOf(result, 'received', 200, 'OPTIONS')).toHaveLength(1);
    expect(bench.log.countOf('out-of-dialog-refer')).toBe(0);
  });
});
