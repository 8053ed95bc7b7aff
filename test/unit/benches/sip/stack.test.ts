import { afterEach, describe, expect, it } from 'vitest';
import { AckTimeoutError, SipStack, type InviteServerTransaction, type Protocol, type SipResponse } from '../../../benches/sip/index.js';

const stacks: SipStack[] = [];

async function makeStack(): Promise<SipStack> {
  const s = new SipStack({ transports: { udp: 0, tcp: 0 }, timers: { T1: 20, T2: 160, T4: 200 } });
  await s.listen();
  stacks.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});

describe.each<Protocol>(['udp', 'tcp'])('SipStack over %s', (protocol) => {
  it('completes INVITE / 200 / ACK / BYE between two stacks', async () => {
    const uas = await makeStack();
    const uac = await makeStack();
    const acked = new Promise<string>((resolve) => {
      uas.onRequest((req, txn) => {
        if (req.method === 'INVITE') {
          txn.respond(uas.createResponse(req, 180));
          const ok = uas.createResponse(req, 200, undefined, { contact: uas.contactUri(protocol), body: 'v=0\r\n' });
          uas.createUasDialog(req, ok);
          void uas.sendInvite2xx(txn as InviteServerTransaction, ok).then((ack) => resolve(ack.method));
          return;
        }
        const dialog = uas.findDialog(req);
        txn.respond(uas.createResponse(req, dialog ? 200 : 481));
        if (dialog && req.method === 'BYE') uas.removeDialog(dialog);
      });
    });

    const target = `${uas.contactUri(protocol, 'fs')}`;
    const invite = uac.createRequest('INVITE', target, { contact: uac.contactUri(protocol), body: 'v=0\r\n' });
    const statuses: number[] = [];
    const out = uac.sendRequest(invite, { onProvisional: (r) => statuses.push(r.status) });
    const res = await out.final;
    expect(res.status).toBe(200);
    expect(statuses).toEqual([180]);
    const dialog = uac.createUacDialog(invite, res);
    await uac.sendAck(dialog, res);
    expect(await acked).toBe('ACK');

    const bye = await uac.sendRequest(dialog.createRequest('BYE'), { dialog }).final;
    expect(bye.status).toBe(200);
    expect(uas.dialogs.size).toBe(0);
  });

  it('ACKs a non-2xx final itself and CANCELs after a provisional', async () => {
    const uas = await makeStack();
    const uac = await makeStack();
    let cancelled = false;
    uas.onRequest((req, txn) => {
      if (req.method === 'INVITE') {
        txn.respond(uas.createResponse(req, 180, undefined, { toTag: 'abc' }));
        return;
      }
      if (req.method === 'CANCEL') {
        const inv = uas.layer.findInviteServer(req);
        txn.respond(uas.createResponse(req, 200, undefined, { toTag: 'abc' }));
        cancelled = !!inv?.respond(uas.createResponse(inv.request, 487, undefined, { toTag: 'abc' }));
      }
    });
    const invite = uac.createRequest('INVITE', uas.contactUri(protocol), { contact: uac.contactUri(protocol) });
    const out = uac.sendRequest(invite);
    const cancel = out.cancel();
    expect(cancel?.request.method).toBe('CANCEL');
    expect((await cancel?.final)?.status).toBe(200);
    expect((await out.final).status).toBe(487);
    expect(cancelled).toBe(true);
  });

  it('retransmits a 2xx until the ACK (UDP) and gives up after 64*T1 without one', async () => {
    const uas = await makeStack();
    const uac = await makeStack();
    const outcomes: string[] = [];
    uas.onRequest((req, txn) => {
      const ok = uas.createResponse(req, 200, undefined, { contact: uas.contactUri(protocol), body: 'v=0\r\n' });
      uas.createUasDialog(req, ok);
      uas.sendInvite2xx(txn as InviteServerTransaction, ok).then(
        () => outcomes.push('acked'),
        (err: unknown) => outcomes.push(err instanceof AckTimeoutError ? 'ack-timeout' : 'error'),
      );
    });
    const oks: SipResponse[] = [];
    const first = uac.createRequest('INVITE', uas.contactUri(protocol), { contact: uac.contactUri(protocol) });
    const out = uac.sendRequest(first, { onResponse: (r) => oks.push(r) });
    const res = await out.final;
    // Hold the ACK back until the 200 has been retransmitted (UDP only).
    if (protocol === 'udp') await waitUntil(() => oks.length >= 3, 2000);
    await uac.sendAck(uac.createUacDialog(first, res), res);
    await waitUntil(() => outcomes.length === 1, 2000);
    expect(outcomes).toEqual(['acked']);
    if (protocol === 'tcp') expect(oks).toHaveLength(1);

    const second = uac.createRequest('INVITE', uas.contactUri(protocol), { contact: uac.contactUri(protocol) });
    await uac.sendRequest(second).final; // never ACKed
    await waitUntil(() => outcomes.length === 2, 3000);
    expect(outcomes[1]).toBe('ack-timeout');
  });
});

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
