/**
 * Basic calls through drachtio, in both directions, with BYE from either side, a B2BUA, and
 * the server's own handling of final responses (100 Trying, ACK for non-2xx).
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
  type BenchDialog,
} from './helpers.js';

let bench: Bench;

beforeAll(async () => {
  bench = await openBench(['invite']);
});
afterAll(async () => {
  await bench?.close();
});
beforeEach(() => bench.reset());

/** Answer every INVITE with createUAS and log what the app sees. */
function answerInvites(after?: (dialog: BenchDialog) => void): void {
  bench.handlers.invite = (req, res) => {
    bench.log.add('invite', req);
    bench.srf.createUAS(req, res, { localSdp: APP_SDP }).then(
      (d) => {
        const dialog = asDialog(d);
        bench.log.add('dialog', dialog);
        dialog.on('destroy', (_msg: unknown, reason?: string) => bench.log.add('destroy', reason));
        dialog.on('ack', () => bench.log.add('ack'));
        after?.(dialog);
      },
      (err: unknown) => bench.log.add('uas-error', err),
    );
  };
}

describe.each(transportsUnderTest())('calls over %s', (transport) => {
  it('answers an inbound call (100 Trying, 200 OK with SDP) and ends it on the caller BYE', async () => {
    answerInvites();
    const result = await callSipp(bench, transport, 'uac-call.xml');
    expectPassed(result);

    const labels = flow(result);
    expect(labels[0]).toBe('> INVITE');
    expect(labels[1]).toBe('< 100 INVITE'); // the server's own 100 Trying comes first
    expect(labels).toContain('< 200 INVITE');
    expect(labels.slice(-2)).toEqual(['> BYE', '< 200 BYE']);

    const [ok] = responsesOf(result, 'received', 200, 'INVITE');
    expect(ok?.body).toContain('m=audio 49170 RTP/AVP 0');
    expect(ok?.get('Content-Type')).toBe('application/sdp');
    expect(ok?.get('Contact')).toContain(bench.target.sipAddress);
    expect(ok?.toTag).toBeTruthy();

    const invite = requestsOf(result, 'sent', 'INVITE')[0];
    const appReq = await bench.log.waitFor<Srf.SrfRequest & { stackTxnId: string }>('invite');
    expect(appReq.protocol).toBe(transport);
    expect(appReq.source_address).toBe('127.0.0.1');
    expect(Number(appReq.source_port)).toBe(result.port);
    expect(appReq.stackTxnId).toMatch(/^[0-9a-f-]{36}$/);
    expect(appReq.get('Call-ID')).toBe(invite?.callId);

    const dialog = await bench.log.waitFor<BenchDialog>('dialog');
    expect(dialog.id).toBe(`${invite?.callId};from-tag=${invite?.fromTag}`);
    expect(await bench.log.waitFor('destroy')).toBe('normal release');
  });

  it('lets the app hang up: BYE goes to the caller with the dialog tags swapped', async () => {
    answerInvites((dialog) => {
      dialog.on('ack', () => {
        void dialog.destroy().then(() => bench.log.add('bye-done'));
      });
    });
    const result = await callSipp(bench, transport, 'uac-call-callee-bye.xml');
    expectPassed(result);
    await bench.log.waitFor('bye-done');

    const invite = requestsOf(result, 'sent', 'INVITE')[0];
    const ok = responsesOf(result, 'received', 200, 'INVITE')[0];
    const bye = requestsOf(result, 'received', 'BYE')[0];
    expect(bye?.callId).toBe(invite?.callId);
    expect(bye?.fromTag).toBe(ok?.toTag);
    expect(bye?.toTag).toBe(invite?.fromTag);
    expect(bye?.uri).toContain(`127.0.0.1:${result.port}`); // the caller's Contact
    expect(bye?.topVia.transport).toBe(transport.toUpperCase());
  });

  it('places an outbound call (createUAC), ACKs the 200 and hangs up', async () => {
    const uas = await listenSipp(transport, 'uas-answer.xml');
    const dialog = asDialog(await within(bench.srf.createUAC(sippUri(uas, transport), { localSdp: APP_SDP }), 5000, 'createUAC'));
    expect(dialog.remote.sdp).toContain('o=callee');
    await dialog.destroy();
    const result = await uas.done;
    expectPassed(result);

    const invite = requestsOf(result, 'received', 'INVITE')[0];
    const ack = requestsOf(result, 'received', 'ACK')[0];
    expect(invite?.get('Contact')).toContain(`${bench.target.sipHost}`);
    if (transport === 'tcp') expect(invite?.get('Contact')).toContain('transport=tcp');
    expect(invite?.fromTag).toBeTruthy();
    expect(invite?.body).toContain('m=audio 49170');
    expect(invite?.topVia.transport).toBe(transport.toUpperCase());
    expect(ack?.cseq).toEqual({ seq: invite?.cseq.seq, method: 'ACK' });
    expect(ack?.topVia.branch).not.toBe(invite?.topVia.branch); // ACK for 2xx is a transaction of its own
    expect(requestsOf(result, 'received', 'BYE')).toHaveLength(1);
  });

  it('tells the app when the called party hangs up', async () => {
    const uas = await listenSipp(transport, 'uas-answer-bye.xml');
    const dialog = asDialog(await within(bench.srf.createUAC(sippUri(uas, transport), { localSdp: APP_SDP }), 5000, 'createUAC'));
    const reason = new Promise<string>((resolve) => dialog.on('destroy', (_m: unknown, r: string) => resolve(r)));
    expect(await within(reason, 5000, 'destroy')).toBe('normal release');
    expectPassed(await uas.done);
  });

  it('lets the server ACK a failure response (486) itself', async () => {
    const uas = await listenSipp(transport, 'uas-reject.xml');
    const err = await bench.srf.createUAC(sippUri(uas, transport), { localSdp: APP_SDP }).then(
      () => undefined,
      (e: { status?: number }) => e,
    );
    expect(err?.status).toBe(486);
    const result = await uas.done;
    expectPassed(result);
    const invite = requestsOf(result, 'received', 'INVITE')[0];
    const ack = requestsOf(result, 'received', 'ACK')[0];
    const busy = responsesOf(result, 'sent', 486)[0];
    expect(ack?.topVia.branch).toBe(invite?.topVia.branch); // part of the INVITE transaction (17.1.1.3)
    expect(ack?.toTag).toBe(busy?.toTag);
    expect(requestsOf(result, 'received', 'ACK')).toHaveLength(1); // the app's own ACK was refused
  });

  it('bridges two calls as a B2BUA and carries the caller BYE across', async () => {
    const callee = await listenSipp(transport, 'uas-answer.xml');
    bench.handlers.invite = (req, res) => {
      bench.srf.createB2BUA(req, res, sippUri(callee, transport), { localSdpB: req.body }).then(
        (legs) => {
          const uas = asDialog(legs.uas);
          const uac = asDialog(legs.uac);
          uas.on('destroy', () => void uac.destroy().then(() => bench.log.add('b-leg-ended')));
          uac.on('destroy', () => void uas.destroy());
          bench.log.add('bridged');
        },
        (err: unknown) => bench.log.add('b2bua-error', err),
      );
    };
    const caller = await callSipp(bench, transport, 'uac-call.xml');
    expectPassed(caller);
    await bench.log.waitFor('b-leg-ended');
    const calleeResult = await callee.done;
    expectPassed(calleeResult);

    const bInvite = requestsOf(calleeResult, 'received', 'INVITE')[0];
    const aOk = responsesOf(caller, 'received', 200, 'INVITE')[0];
    expect(bInvite?.body).toContain('o=caller'); // the caller's offer went to B
    expect(aOk?.body).toContain('o=callee'); // B's answer came back to A
    expect(bInvite?.callId).not.toBe(requestsOf(caller, 'sent', 'INVITE')[0]?.callId);
  });
});
