/**
 * CANCEL in both directions: the caller gives up before or after the app answered anything,
 * the app cancels its own INVITE, a B2BUA carries a CANCEL across, and the races: a CANCEL
 * that arrives after the 200 OK, and a 200 OK that arrives after the app's CANCEL.
 */
import type Srf from 'drachtio-srf';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flow, requestsOf, responsesOf } from '../../support/sipp.js';
import {
  APP_SDP,
  asDialog,
  callSipp,
  expectPassed,
  listenSipp,
  openBench,
  sippUri,
  transportsUnderTest,
  within,
  type Bench,
} from './helpers.js';

let bench: Bench;

beforeAll(async () => {
  bench = await openBench(['invite']);
});
afterAll(async () => {
  await bench?.close();
});
beforeEach(() => bench.reset());

/** What drachtio-srf passes to a Response#send callback when the server refuses it. */
function lateResponse(res: Srf.SrfResponse, status: number): Promise<unknown> {
  return new Promise((resolve) => res.send(status, '', {}, (err: unknown) => resolve(err)));
}

describe.each(transportsUnderTest())('CANCEL over %s', (transport) => {
  it('caller CANCEL while the app rings: 200 to the CANCEL, 487 to the INVITE, the app is told', async () => {
    bench.handlers.invite = (req, res) => {
      res.send(180);
      req.on('cancel', () => {
        bench.log.add('cancel');
        void lateResponse(res, 200).then((err) => bench.log.add('late-200', err));
      });
    };
    const result = await callSipp(bench, transport, 'uac-cancel-ringing.xml');
    expectPassed(result);
    expect(flow(result).filter((l) => l !== '< 100 INVITE')).toEqual([
      '> INVITE',
      '< 180 INVITE',
      '> CANCEL',
      '< 200 CANCEL',
      '< 487 INVITE',
      '> ACK',
    ]);
    const ringing = responsesOf(result, 'received', 180)[0];
    expect(responsesOf(result, 'received', 487)[0]?.toTag).toBe(ringing?.toTag);
    expect(responsesOf(result, 'received', 200, 'CANCEL')[0]?.toTag).toBe(ringing?.toTag);
    await bench.log.waitFor('cancel');
    // The call is gone; an answer from the app now is refused, not sent.
    expect(await bench.log.waitFor('late-200')).toBeTruthy();
    expect(responsesOf(result, 'received', 200, 'INVITE')).toHaveLength(0);
  });

  it('caller CANCEL before the app answered anything: the parked INVITE is cancelled', async () => {
    bench.handlers.invite = (req, res) => {
      bench.log.add('invite');
      req.on('cancel', (cancel: Srf.SipMessage) => {
        bench.log.add('cancel', cancel);
        void lateResponse(res, 200).then((err) => bench.log.add('late-200', err));
      });
    };
    const result = await callSipp(bench, transport, 'uac-cancel-early.xml');
    expectPassed(result);
    expect(flow(result)).toEqual(['> INVITE', '< 100 INVITE', '> CANCEL', '< 200 CANCEL', '< 487 INVITE', '> ACK']);
    const cancel = await bench.log.waitFor<Srf.SipMessage & { method: string }>('cancel');
    expect(cancel.method).toBe('CANCEL');
    expect(await bench.log.waitFor('late-200')).toBeTruthy();
  });

  it('app CANCELs its own INVITE after 180: same branch, 487 reaches the app, the server ACKs it', async () => {
    const uas = await listenSipp(transport, 'uas-ring-cancel.xml');
    let sent: Srf.SrfRequest | undefined;
    const call = bench.srf
      .createUAC(
        sippUri(uas, transport),
        { localSdp: APP_SDP },
        {
          // drachtio-srf calls it as (err, req), whatever its typings say.
          cbRequest: ((_err: unknown, req: Srf.SrfRequest) => (sent = req)) as unknown as (req: Srf.SrfRequest) => void,
          cbProvisional: (res) => {
            if (res.status === 180) sent?.cancel(() => bench.log.add('cancel-sent'));
          },
        },
      )
      .then(
        () => ({ status: 200 }),
        (err: { status?: number }) => err,
      );
    const outcome = await within(call, 5000, 'createUAC');
    expect(outcome.status).toBe(487);
    await bench.log.waitFor('cancel-sent');
    const result = await uas.done;
    expectPassed(result);
    const invite = requestsOf(result, 'received', 'INVITE')[0];
    const cancel = requestsOf(result, 'received', 'CANCEL')[0];
    const ack = requestsOf(result, 'received', 'ACK')[0];
    expect(cancel?.topVia.branch).toBe(invite?.topVia.branch); // RFC 3261 9.1
    expect(cancel?.cseq).toEqual({ seq: invite?.cseq.seq, method: 'CANCEL' });
    expect(ack?.topVia.branch).toBe(invite?.topVia.branch);
  });

  it('a B2BUA carries the caller CANCEL to the called leg', async () => {
    const callee = await listenSipp(transport, 'uas-ring-cancel.xml');
    bench.handlers.invite = (req, res) => {
      bench.srf.createB2BUA(req, res, sippUri(callee, transport), { localSdpB: req.body }).then(
        () => bench.log.add('bridged'),
        (err: { status?: number }) => bench.log.add('b2bua-failed', err.status),
      );
    };
    const caller = await callSipp(bench, transport, 'uac-cancel-ringing.xml');
    expectPassed(caller);
    expectPassed(await callee.done);
    expect(await bench.log.waitFor('b2bua-failed')).toBe(487);
  });

  it('CANCEL crossing the 200 OK (before the ACK) gets 481 and the call stands', async () => {
    bench.handlers.invite = (req, res) => {
      req.on('cancel', () => bench.log.add('cancel'));
      bench.srf.createUAS(req, res, { localSdp: APP_SDP }).then(
        (d) => asDialog(d).on('destroy', (_m: unknown, reason: string) => bench.log.add('destroy', reason)),
        (err: unknown) => bench.log.add('uas-error', err),
      );
    };
    const result = await callSipp(bench, transport, 'uac-cancel-after-200.xml');
    expectPassed(result);
    expect(responsesOf(result, 'received', 481, 'CANCEL')).toHaveLength(1);
    expect(responsesOf(result, 'received', 487)).toHaveLength(0);
    expect(await bench.log.waitFor('destroy')).toBe('normal release');
    expect(bench.log.countOf('cancel')).toBe(0);
  });

  it('CANCEL soon after the call is confirmed: 481 from the answered transaction, the call stands', async () => {
    bench.handlers.invite = (req, res) => {
      req.on('cancel', () => bench.log.add('cancel'));
      bench.srf.createUAS(req, res, { localSdp: APP_SDP }).then(
        (d) => asDialog(d).on('destroy', (_m: unknown, reason: string) => bench.log.add('destroy', reason)),
        (err: unknown) => bench.log.add('uas-error', err),
      );
    };
    const result = await callSipp(bench, transport, 'uac-cancel-after-ack.xml');
    expectPassed(result);
    expect(responsesOf(result, 'received', 481, 'CANCEL')).toHaveLength(1);
    expect(requestsOf(result, 'received', 'BYE')).toHaveLength(0);
    expect(await bench.log.waitFor('destroy')).toBe('normal release');
    expect(bench.log.countOf('cancel')).toBe(0);
  });

  it('CANCEL after T4: 481, then the server ends the call (BYE) and tells the app', async () => {
    bench.handlers.invite = (req, res) => {
      bench.srf.createUAS(req, res, { localSdp: APP_SDP }).then(
        (d) => asDialog(d).on('destroy', (_m: unknown, reason: string) => bench.log.add('destroy', reason)),
        (err: unknown) => bench.log.add('uas-error', err),
      );
    };
    const delay = bench.target.timers.T4 + 500;
    const result = await callSipp(bench, transport, 'uac-cancel-late.xml', { keys: { cancel_delay: delay }, timeoutMs: delay + 8000 });
    expectPassed(result);
    expect(responsesOf(result, 'received', 481, 'CANCEL')).toHaveLength(1);
    const bye = requestsOf(result, 'received', 'BYE')[0];
    expect(bye?.get('Reason')).toBe('SIP;cause=200;text="CANCEL after 200 OK"');
    expect(await bench.log.waitFor('destroy')).toBe('CANCEL after 200 OK');
  }, 30_000);

  it('200 OK after the app CANCELed: the app ACKs it and the server follows with BYE (ACK-BYE)', async () => {
    const uas = await listenSipp(transport, 'uas-200-after-cancel.xml');
    let sent: Srf.SrfRequest | undefined;
    bench.srf
      .createUAC(
        sippUri(uas, transport),
        { localSdp: APP_SDP },
        {
          // drachtio-srf calls it as (err, req), whatever its typings say.
          cbRequest: ((_err: unknown, req: Srf.SrfRequest) => (sent = req)) as unknown as (req: Srf.SrfRequest) => void,
          cbProvisional: (res) => {
            if (res.status === 180) sent?.cancel(() => undefined);
          },
        },
      )
      .then(
        (d) => {
          bench.log.add('dialog');
          asDialog(d).on('destroy', (_m: unknown, reason: string) => bench.log.add('destroy', reason));
        },
        (err: { status?: number }) => bench.log.add('uac-failed', err.status),
      );
    const result = await uas.done;
    expectPassed(result);
    const invite = requestsOf(result, 'received', 'INVITE')[0];
    const ack = requestsOf(result, 'received', 'ACK')[0];
    const bye = requestsOf(result, 'received', 'BYE')[0];
    expect(requestsOf(result, 'received', 'CANCEL')).toHaveLength(1);
    expect(ack?.topVia.branch).not.toBe(invite?.topVia.branch); // ACK for the 2xx
    expect(bye?.get('Reason')).toBe('SIP;cause=200;text="ACK-BYE due to cancel race condition"');
    expect(await bench.log.waitFor('destroy')).toBe('ACK-BYE due to cancel race condition');
  });
});
