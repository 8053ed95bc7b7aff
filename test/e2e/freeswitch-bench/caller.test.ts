/**
 * An inbound call from a phone (SIPp) through drachtio, connected to the media server with
 * drachtio-fsmrf's connectCaller(): the caller's SDP goes to FreeSWITCH, FreeSWITCH's answer
 * back to the caller. Then prompts, DTMF, and the call ending from either side.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type Srf from 'drachtio-srf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verbs } from '../../support/drachtio-env.js';
import { startSipp, describeRun, type SippRun } from '../../support/sipp.js';
import { nextEvent, startBench, subscribed, withTimeout, type Bench, type TestEndpoint } from './harness.js';

const CALLER_AWAITS_BYE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sipp', 'caller-awaits-bye.xml');
/** test/sipp/uac-call.xml: the caller hangs up 200 ms after its ACK. */
const CALLER_HANGS_UP = 'uac-call.xml';

interface ConnectedCall {
  endpoint: TestEndpoint;
  dialog: Srf.Dialog;
}

describe('drachtio-fsmrf and the FreeSWITCH stand-in: connectCaller', () => {
  let bench: Bench;
  /** Wrapped in an object so the promise of the next call is not flattened into its value. */
  let nextCall: ((call: { connecting: Promise<ConnectedCall> }) => void) | undefined;

  beforeAll(async () => {
    bench = await startBench({}, (srf) =>
      verbs(srf).invite((req, res) => {
        const connecting = bench.ms.connectCaller(req, res) as Promise<ConnectedCall>;
        nextCall?.({ connecting });
      }),
    );
  });

  afterAll(async () => {
    await bench?.stop();
  });

  /** Starts a SIPp caller and resolves with the call the app connected for it. */
  async function call(scenario: string): Promise<{ sipp: SippRun; connected: ConnectedCall }> {
    const invited = new Promise<{ connecting: Promise<ConnectedCall> }>((resolve) => (nextCall = resolve));
    const sipp = await startSipp({ scenario, remote: bench.drachtio.sipAddress, transport: 'udp', service: '3000', timeoutMs: 12_000 });
    const { connecting } = await withTimeout(invited, 5_000, 'the INVITE at the app');
    const connected = await withTimeout(connecting, 5_000, 'connectCaller');
    await subscribed(connected.endpoint);
    return { sipp, connected };
  }

  it('answers the caller with the media server’s SDP, plays a prompt, takes DTMF, and hangs up', async () => {
    const { sipp, connected } = await call(CALLER_AWAITS_BYE);
    const { endpoint, dialog } = connected;
    expect(dialog.local.sdp).toBe(endpoint.local.sdp);
    const model = bench.freeswitch.standIn?.model;
    if (model) expect(model.channel(endpoint.uuid)?.state).toBe('up');
    await withTimeout(endpoint.play('silence_stream://200'), 3_000, 'prompt');
    const digit = nextEvent<[{ dtmf: string }]>(endpoint, 'dtmf');
    if (bench.freeswitch.standIn) bench.freeswitch.standIn.injectDtmf(endpoint.uuid, '#');
    else await bench.ms.api(`uuid_recv_dtmf ${endpoint.uuid} #`);
    expect((await digit)[0].dtmf).toBe('#');
    await dialog.destroy();
    await endpoint.destroy();
    const result = await sipp.done;
    expect(result.passed, describeRun(result)).toBe(true);
    if (model) await model.waitFor(() => model.channel(endpoint.uuid)?.state === 'hungup', { description: 'media channel hung up' });
  });

  it('when the caller hangs up, the app releases the media server’s channel', async () => {
    const { sipp, connected } = await call(CALLER_HANGS_UP);
    const { endpoint, dialog } = connected;
    await nextEvent(dialog, 'destroy', 5_000);
    await withTimeout(endpoint.destroy(), 3_000, 'endpoint destroy');
    const result = await sipp.done;
    expect(result.passed, describeRun(result)).toBe(true);
    const model = bench.freeswitch.standIn?.model;
    if (model) await model.waitFor(() => model.channel(endpoint.uuid)?.state === 'hungup', { description: 'media channel hung up' });
    expect(await bench.ms.api(`uuid_exists ${endpoint.uuid}`)).toBe('false');
  });
});
