/**
 * Requests outside a dialog, in both directions: REGISTER with a digest challenge, OPTIONS,
 * MESSAGE, SUBSCRIBE with its NOTIFYs; and 481 for requests naming dialogs that do not exist.
 */
import type Srf from 'drachtio-srf';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SipStack } from '../../benches/sip/index.js';
import { verbs } from '../../support/drachtio-env.js';
import { flow, requestsOf, responsesOf } from '../../support/sipp.js';
import { expectedResponse, parseDigest, registrar } from './apps/registrar.js';
import { asDialog, callSipp, expectPassed, listenSipp, openBench, sippUri, transportsUnderTest, within, type Bench } from './helpers.js';

let bench: Bench;

beforeAll(async () => {
  bench = await openBench(['register', 'options', 'message', 'subscribe', 'invite']);
});
afterAll(async () => {
  await bench?.close();
});
beforeEach(() => bench.reset());

/** srf.request as a promise of the final response. */
function request(uri: string, opts: { method: string; headers?: Record<string, string>; body?: string; auth?: { username: string; password: string } }): Promise<Srf.SrfResponse> {
  return new Promise((resolve, reject) => {
    verbs(bench.srf).request(uri, opts, (err, req) => {
      if (err) return reject(err);
      req.on('response', (res?: Srf.SrfResponse) => {
        if (res && res.status >= 200) resolve(res);
      });
    });
  });
}

describe.each(transportsUnderTest())('outside a dialog over %s', (transport) => {
  it('REGISTER: 401 with a digest challenge, then 200 for valid credentials', async () => {
    bench.handlers.register = registrar({ realm: 'bench', users: { alice: 'wonderland' } }, bench.log);
    const result = await callSipp(bench, transport, 'uac-register-auth.xml');
    expectPassed(result);
    expect(flow(result)).toEqual(['> REGISTER', '< 401 REGISTER', '> REGISTER', '< 200 REGISTER']);
    const challenge = responsesOf(result, 'received', 401)[0]?.get('WWW-Authenticate') ?? '';
    expect(challenge).toMatch(/^Digest realm="bench", nonce="[0-9a-f]+"/);
    const [, second] = requestsOf(result, 'sent', 'REGISTER');
    const digest = parseDigest(second?.get('Authorization') ?? '');
    expect(digest.response).toBe(expectedResponse(digest, 'REGISTER', 'wonderland'));
    expect(responsesOf(result, 'received', 200)[0]?.get('Contact')).toMatch(/expires=3600/);
    expect(await bench.log.waitFor('registered')).toBe('alice');
  });

  it('REGISTER from the app is challenged and retried with credentials by drachtio-srf', async () => {
    const uas = await listenSipp(transport, 'uas-register-auth.xml');
    const res = await within(
      request(sippUri(uas, transport, 'registrar'), {
        method: 'REGISTER',
        headers: { To: '<sip:alice@bench>', From: '<sip:alice@bench>', Contact: '<sip:alice@localhost>', Expires: '60' },
        auth: { username: 'alice', password: 'wonderland' },
      }),
      5000,
      'REGISTER',
    );
    expect(res.status).toBe(200);
    const result = await uas.done;
    expectPassed(result);
    const [first, second] = requestsOf(result, 'received', 'REGISTER');
    expect(first?.has('Authorization')).toBe(false);
    expect(parseDigest(second?.get('Authorization') ?? '').username).toBe('alice');
    // "@localhost" in Contact becomes the server's SIP address (drachtio makeTags).
    expect(first?.get('Contact')).toContain(bench.target.sipAddress);
  });

  it('OPTIONS in both directions', async () => {
    bench.handlers.options = (req, res) => {
      bench.log.add('options', req);
      res.send(200, { headers: { Allow: 'INVITE, ACK, BYE, CANCEL, OPTIONS' } });
    };
    const inbound = await callSipp(bench, transport, 'uac-options.xml');
    expectPassed(inbound);
    expect(responsesOf(inbound, 'received', 200)[0]?.get('Allow')).toBe('INVITE, ACK, BYE, CANCEL, OPTIONS');
    await bench.log.waitFor('options');

    const uas = await listenSipp(transport, 'uas-options.xml');
    const res = await within(request(sippUri(uas, transport, 'ping'), { method: 'OPTIONS' }), 5000, 'OPTIONS');
    expect(res.status).toBe(200);
    expect(res.get('Allow')).toContain('INVITE');
    expectPassed(await uas.done);
  });

  it('MESSAGE in both directions', async () => {
    bench.handlers.message = (req, res) => {
      bench.log.add('message', req.body);
      res.send(200);
    };
    const inbound = await callSipp(bench, transport, 'uac-message.xml');
    expectPassed(inbound);
    expect((await bench.log.waitFor<string>('message')).trim()).toBe('hello from sipp');

    const uas = await listenSipp(transport, 'uas-message.xml');
    const res = await within(
      request(sippUri(uas, transport, 'bob'), { method: 'MESSAGE', headers: { 'Content-Type': 'text/plain' }, body: 'hello from the app' }),
      5000,
      'MESSAGE',
    );
    expect(res.status).toBe(202);
    const result = await uas.done;
    expectPassed(result);
    const msg = requestsOf(result, 'received', 'MESSAGE')[0];
    expect(msg?.body).toBe('hello from the app');
    expect(msg?.get('Content-Type')).toBe('text/plain');
  });

  it('SUBSCRIBE from the network: 202, then NOTIFYs from the app, the last one terminating', async () => {
    bench.handlers.subscribe = (req, res) => {
      bench.srf.createUAS(req, res, { localSdp: '', headers: { Expires: '60' } }).then(
        async (d) => {
          const dialog = asDialog(d);
          await dialog.request({ method: 'NOTIFY', headers: { Event: 'presence', 'Subscription-State': 'active;expires=60' } });
          await dialog.destroy(); // NOTIFY with Subscription-State: terminated
          bench.log.add('done');
        },
        (err: unknown) => bench.log.add('uas-error', err),
      );
    };
    const result = await callSipp(bench, transport, 'uac-subscribe.xml');
    expectPassed(result);
    await bench.log.waitFor('done');
    const subscribe = requestsOf(result, 'sent', 'SUBSCRIBE')[0];
    const accepted = responsesOf(result, 'received', 202)[0];
    const [active, terminated] = requestsOf(result, 'received', 'NOTIFY');
    expect(accepted?.get('Contact')).toBeTruthy();
    expect(active?.get('Subscription-State')).toMatch(/^active/);
    expect(terminated?.get('Subscription-State')).toMatch(/^terminated/);
    expect(active?.toTag).toBe(subscribe?.fromTag);
    expect(active?.fromTag).toBe(accepted?.toTag);
  });

  it('SUBSCRIBE from the app: 202; the NOTIFY ending it reaches the app, the server answers it 500', async () => {
    const uas = await listenSipp(transport, 'uas-subscribe.xml');
    // The NOTIFY follows the 202 at once, so the listener goes on in drachtio-srf's callback,
    // which runs before it handles the next message (a promise continuation may not).
    const notified = new Promise<{ state: string; answer: unknown }>((resolve, reject) => {
      bench.srf.createUAC(
        sippUri(uas, transport, 'presentity'),
        { method: 'SUBSCRIBE', headers: { Event: 'presence', Expires: '60' } } as Srf.CreateUACOptions,
        {},
        (err: unknown, d: Srf.Dialog) => {
          if (err) return reject(err instanceof Error ? err : new Error(String(err)));
          asDialog(d).on('notify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
            res.send(200, '', {}, (e: unknown) => resolve({ state: req.get('Subscription-State'), answer: e }));
          });
        },
      );
    });
    const { state, answer } = await within(notified, 5000, 'terminating NOTIFY');
    expect(state).toMatch(/^terminated/);
    const result = await uas.done;
    expectPassed(result);
    const subscribe = requestsOf(result, 'received', 'SUBSCRIBE')[0];
    expect(subscribe?.get('Event')).toBe('presence');
    expect(subscribe?.get('Contact')).toContain(bench.target.sipHost);
    // drachtio-server drops the subscription dialog, and the NOTIFY's transaction with it, as
    // this NOTIFY arrives: sofia answers 500 itself and the app's 200 is refused.
    expect(responsesOf(result, 'received', 500, 'NOTIFY')).toHaveLength(1);
    expect(answer).toBe('Response not sent due to unknown transaction');
  });

  it.runIf(transport === 'tcp')('reaches a client registered over TCP on its connection, and only on it (410 once gone)', async () => {
    bench.handlers.register = (req, res) => {
      res.send(200, { headers: { Contact: `${req.get('Contact')};expires=60` } });
    };
    // A client behind NAT: nothing listens on the port in its Contact, only its connection works.
    const client = new SipStack({ transports: { tcp: 0 } });
    await client.listen();
    try {
      const contact = `sip:nat-${process.pid}@127.0.0.1:9;transport=tcp`;
      const seen = new Promise<{ uri: string; connectionId?: string }>((resolve) =>
        client.onRequest((req, txn) => {
          txn.respond(client.createResponse(req, 200));
          resolve({ uri: req.uri, connectionId: req.wire?.connectionId });
        }),
      );
      const register = client.createRequest('REGISTER', `sip:${bench.target.sipAddress};transport=tcp`, {
        from: '<sip:nat@bench>',
        to: '<sip:nat@bench>',
        contact,
        headers: { Expires: '60' },
      });
      const registered = await within(client.sendRequest(register).final, 5000, 'REGISTER');
      expect(registered.status).toBe(200);

      const res = await within(request(contact, { method: 'OPTIONS' }), 5000, 'OPTIONS to the registered contact');
      expect(res.status).toBe(200);
      const options = await seen;
      expect(options.uri).toBe(contact);
      expect(options.connectionId).toBe(registered.wire?.connectionId); // the REGISTER's connection

      // The cache outlives the connection: once the client is gone, requests to it fail on it.
      await client.close();
      const after = await within(request(contact, { method: 'OPTIONS' }), 5000, 'OPTIONS after the client left');
      expect(after.status).toBe(410); // sofia: EPIPE on a connection transport
    } finally {
      await client.close();
    }
  });

  it('answers 481 to BYE, UPDATE and re-INVITE for dialogs it does not know', async () => {
    bench.handlers.invite = (_req, res) => res.send(500); // must never be reached
    const result = await callSipp(bench, transport, 'uac-unknown-dialog.xml');
    expectPassed(result);
    expect(flow(result).filter((l) => l.startsWith('<') && l !== '< 100 INVITE')).toEqual([
      '< 481 BYE',
      '< 481 UPDATE',
      '< 481 INVITE',
    ]);
  });
});
