/**
 * Requests inside a call: re-INVITE hold and unhold in both directions, re-INVITE glare (491),
 * and INFO, OPTIONS and NOTIFY in both directions.
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

function answer(setup: (dialog: BenchDialog) => void): void {
  bench.handlers.invite = (req, res) => {
    bench.srf.createUAS(req, res, { localSdp: APP_SDP }).then(
      (d) => {
        const dialog = asDialog(d);
        dialog.on('destroy', () => bench.log.add('destroy'));
        setup(dialog);
      },
      (err: unknown) => bench.log.add('uas-error', err),
    );
  };
}

describe.each(transportsUnderTest())('re-INVITE and in-dialog requests over %s', (transport) => {
  it('caller holds (a=sendonly) and unholds (a=sendrecv); the app answers both', async () => {
    answer((dialog) => {
      dialog.on('hold', () => bench.log.add('hold'));
      dialog.on('unhold', () => bench.log.add('unhold'));
    });
    const result = await callSipp(bench, transport, 'uac-hold.xml');
    expectPassed(result);
    const oks = responsesOf(result, 'received', 200, 'INVITE');
    expect(oks).toHaveLength(3);
    expect(oks[1]?.body).toContain('a=recvonly'); // answer to the hold offer
    expect(oks[2]?.body).toContain('a=sendrecv');
    expect(oks[1]?.get('Contact')).toBeTruthy();
    expect(oks.map((r) => r.cseq.seq)).toEqual([1, 2, 3]);
    // Every INVITE, initial or not, got the server's 100 Trying.
    expect(flow(result).filter((l) => l === '< 100 INVITE')).toHaveLength(3);
    expect(bench.log.names()).toEqual(['hold', 'unhold', 'destroy']);
  });

  it('app holds and unholds the called party with re-INVITEs, each ACKed', async () => {
    const uas = await listenSipp(transport, 'uas-hold.xml');
    const dialog = asDialog(await within(bench.srf.createUAC(sippUri(uas, transport), { localSdp: APP_SDP }), 5000, 'createUAC'));
    await within(dialog.modify('hold'), 5000, 'hold');
    expect(dialog.onHold).toBe(true);
    await within(dialog.modify('unhold'), 5000, 'unhold');
    await dialog.destroy();
    const result = await uas.done;
    expectPassed(result);
    const invites = requestsOf(result, 'received', 'INVITE');
    const acks = requestsOf(result, 'received', 'ACK');
    expect(invites).toHaveLength(3);
    expect(invites[1]?.body).toContain('a=inactive');
    expect(invites[2]?.body).toContain('a=sendrecv');
    expect(invites[1]?.toTag).toBeTruthy(); // in-dialog
    expect(invites[1]?.get('Contact')).toContain(bench.target.sipHost);
    expect(acks.map((a) => a.cseq.seq)).toEqual(invites.map((i) => i.cseq.seq));
    expect(new Set(invites.map((i) => i.cseq.seq)).size).toBe(3);
  });

  it('re-INVITE glare: each side answers the other 491, and each 491 is ACKed by the stack', async () => {
    answer((dialog) => {
      let reinviting = false;
      dialog.on('modify', (_req: Srf.SrfRequest, res: Srf.SrfResponse) => {
        bench.log.add('modify-received', reinviting);
        res.send(reinviting ? 491 : 200, reinviting ? {} : { body: APP_SDP });
      });
      dialog.on('ack', () => {
        reinviting = true;
        dialog.modify(APP_SDP.replace('a=sendrecv', 'a=sendonly')).then(
          () => bench.log.add('modify-result', 200),
          (err: { status?: number }) => bench.log.add('modify-result', err.status),
        );
      });
    });
    const result = await callSipp(bench, transport, 'uac-glare.xml');
    expectPassed(result);
    expect(await bench.log.waitFor('modify-received')).toBe(true);
    expect(await bench.log.waitFor('modify-result')).toBe(491);

    const [, ourReinvite] = requestsOf(result, 'sent', 'INVITE');
    const [theirReinvite] = requestsOf(result, 'received', 'INVITE');
    expect(responsesOf(result, 'received', 491, 'INVITE')[0]?.cseq.seq).toBe(ourReinvite?.cseq.seq);
    // The server acknowledged our 491 within the app's INVITE transaction: same branch.
    const ack = requestsOf(result, 'received', 'ACK')[0];
    expect(ack?.topVia.branch).toBe(theirReinvite?.topVia.branch);
    expect(ack?.cseq).toEqual({ seq: theirReinvite?.cseq.seq, method: 'ACK' });
  });

  it('passes INFO, OPTIONS and NOTIFY from the caller to the app and its answers back', async () => {
    answer((dialog) => {
      for (const event of ['info', 'options', 'notify']) {
        dialog.on(event, (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
          bench.log.add(event, { body: req.body, type: req.get('Content-Type'), event: req.get('Event') });
          res.send(200, { headers: { 'X-Answered-By': 'bench-app' } });
        });
      }
    });
    const result = await callSipp(bench, transport, 'uac-indialog.xml');
    expectPassed(result);
    for (const method of ['INFO', 'OPTIONS', 'NOTIFY']) {
      const ok = responsesOf(result, 'received', 200, method)[0];
      expect(ok?.get('X-Answered-By'), method).toBe('bench-app');
    }
    expect(await bench.log.waitFor('info')).toMatchObject({ type: 'application/dtmf-relay' });
    expect((await bench.log.waitFor<{ body: string }>('info')).body).toContain('Signal=5');
    expect(await bench.log.waitFor('notify')).toMatchObject({ event: 'talk' });
    expect(bench.log.names()).toEqual(['info', 'options', 'notify', 'destroy']);
  });

  it('sends INFO, OPTIONS and NOTIFY from the app inside the call', async () => {
    const uas = await listenSipp(transport, 'uas-indialog.xml');
    const dialog = asDialog(await within(bench.srf.createUAC(sippUri(uas, transport), { localSdp: APP_SDP }), 5000, 'createUAC'));
    const info = await dialog.request({ method: 'INFO', headers: { 'Content-Type': 'application/dtmf-relay' }, body: 'Signal=1\r\nDuration=100\r\n' });
    const options = await dialog.request({ method: 'OPTIONS' });
    const notify = await dialog.request({ method: 'NOTIFY', headers: { Event: 'talk', 'Subscription-State': 'active' } });
    expect([info.status, options.status, notify.status]).toEqual([200, 200, 200]);
    await dialog.destroy();
    const result = await uas.done;
    expectPassed(result);
    const invite = requestsOf(result, 'received', 'INVITE')[0];
    const sent = ['INFO', 'OPTIONS', 'NOTIFY', 'BYE'].map((m) => requestsOf(result, 'received', m)[0]);
    const seqs = sent.map((r) => r?.cseq.seq ?? 0);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b)); // CSeq increases in the dialog
    expect(seqs[0]).toBeGreaterThan(invite?.cseq.seq ?? 0);
    expect(sent.every((r) => r?.callId === invite?.callId && r?.fromTag === invite?.fromTag)).toBe(true);
    expect(sent[0]?.body).toContain('Signal=1');
    expect(sent[0]?.get('Content-Type')).toBe('application/dtmf-relay');
  });
});
