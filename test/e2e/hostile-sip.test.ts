import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeswitchSessions } from '../../bench/lib/esl.js';
import { addOperator, callers, mediaChannels, rowsWhenThere, startCallBench, testMediaMode, until, type CallBench, type TestOperator } from '../support/call-bench.js';
import { RawSipClient, type RawResponse } from '../support/raw-sip.js';
import { Softphone } from '../support/softphone.js';
import { describeRun } from '../support/sipp.js';
import { SIP_DOMAIN } from '../support/switchboard.js';

/**
 * Hostile and broken SIP: INVITEs with no, garbage or unusable SDP, oversized headers, requests
 * for dialogs that do not exist, noise, and REFERs with junk Refer-To in a call. Each gets the
 * status RFC 3261 names for it, the switchboard stays up, no media server channel is left, and
 * a normal call still goes through afterwards.
 */
let bench: CallBench;
let alice: TestOperator;
let udp: RawSipClient;
let tcp: RawSipClient;
let sessionsBefore = 0;
const QUEUE_NUMBER = '8000';

const GOOD_SDP = ['v=0', 'o=raw 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 49170 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

async function mediaSessions(): Promise<number> {
  return freeswitchSessions(bench.freeswitch.address, bench.freeswitch.port, bench.freeswitch.secret);
}

/** The switchboard answers its API, is connected to both servers, and has no call left. */
async function stillHealthy(): Promise<void> {
  const health = await bench.sb.api('/health');
  expect(health.status).toBe(200);
  expect(health.body).toMatchObject({ status: 'ok' });
  const calls = await until('no call left', async () => {
    const res = await bench.sb.api('/v1/calls');
    const items = (res.body as { items: unknown[] }).items;
    return items.length === 0 ? items : undefined;
  });
  expect(calls).toEqual([]);
  expect(await until('no media server session left', async () => ((await mediaSessions()) === sessionsBefore ? true : undefined))).toBe(true);
  if (bench.freeswitch.standIn) expect(bench.freeswitch.standIn.model.channels()).toEqual([]);
}

function invite(client: RawSipClient, body: string | undefined, contentType: string | undefined, headers: Record<string, string> = {}): Promise<RawResponse | undefined> {
  return client.request({
    method: 'INVITE',
    uri: client.uri(QUEUE_NUMBER),
    headers: { ...(contentType ? { 'Content-Type': contentType } : {}), ...headers },
    ...(body === undefined ? {} : { body }),
  });
}

async function refusedRecord(sipCallId: string | undefined): Promise<Record<string, unknown>> {
  const [row] = await rowsWhenThere(
    bench,
    'SELECT c.disposition, c.sip_status, c.hangup_by FROM calls c JOIN call_legs l USING (call_id) WHERE l.sip_call_id = $1',
    1,
    [sipCallId],
  );
  return row as Record<string, unknown>;
}

beforeAll(async () => {
  bench = await startCallBench();
  const queueId = (await bench.create('/v1/queues', { number: '100', name: 'Front desk', ringTimeoutS: 10, wrapupS: 0, announceIntervalS: 0 })).id as number;
  await bench.create('/v1/routes', { number: QUEUE_NUMBER, targetType: 'queue', queueId });
  alice = await addOperator(bench, 'alice', '67354');
  await bench.sb.api(`/v1/queues/${queueId}/members/${alice.id}`, { method: 'PUT', body: {} });
  udp = await RawSipClient.udp(bench.drachtio.sipAddress);
  tcp = await RawSipClient.tcp(bench.drachtio.sipAddress);
  sessionsBefore = await mediaSessions();
});

afterAll(async () => {
  udp?.close();
  tcp?.close();
  await bench?.close();
});

describe('INVITEs with missing or broken session descriptions', () => {
  it('refuses a late offer (no SDP) with 488 and a Warning, and records the refusal', async () => {
    const res = await invite(udp, undefined, undefined);
    expect(res?.status).toBe(488);
    expect(res?.headers.get('warning')).toBe('399 switchboard "An SDP offer is required in the INVITE"');
    expect(await refusedRecord(res?.headers.get('call-id'))).toEqual({ disposition: 'rejected', sip_status: 488, hangup_by: 'system' });
    await stillHealthy();
  });

  it('refuses garbage SDP with 400, over UDP and TCP', async () => {
    for (const client of [udp, tcp]) {
      for (const body of ['this is not SDP at all', 'v=0\r\nm=audio x\r\n']) {
        const res = await invite(client, body, 'application/sdp');
        expect(res?.status, JSON.stringify(body)).toBe(400);
        expect(res?.headers.get('warning')).toBe('399 switchboard "The SDP offer cannot be read"');
      }
      // Control bytes: a real drachtio-server (sofia-sip) refuses the message itself, with no
      // Warning; the stand-in passes it on and the switchboard refuses it. 400 either way.
      const binary = await invite(client, 'v=0\r\n\u0000\u0001\u00ff garbage\r\n', 'application/sdp');
      expect(binary?.status).toBe(400);
    }
    await stillHealthy();
  });

  it('refuses an offer with only unknown codecs with 488 and warning 305', async () => {
    const speexOnly = GOOD_SDP.replace('RTP/AVP 0', 'RTP/AVP 97').replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:97 SPEEX/16000');
    const res = await invite(udp, speexOnly, 'application/sdp');
    expect(res?.status).toBe(488);
    expect(res?.headers.get('warning')).toBe('305 switchboard "Incompatible media format"');
    await stillHealthy();
  });

  it('refuses a body that is not SDP with 415 and Accept: application/sdp', async () => {
    const res = await invite(udp, '<xml>not a session</xml>', 'application/xml');
    expect(res?.status).toBe(415);
    expect(res?.headers.get('accept')).toBe('application/sdp');
    await stillHealthy();
  });
});

describe('oversized and unparsable requests', () => {
  it('survives INVITEs with huge headers (UDP 30 KB, TCP 200 KB): refused or dropped, never answered', async () => {
    // The SIP server in front may drop or refuse them (sofia-sip has its own limits); if one
    // reaches the switchboard its body is unusable, so whatever answer comes must be a refusal.
    const huge = (size: number): Record<string, string> => ({ 'X-Junk': 'a'.repeat(size), Subject: 'b'.repeat(1000) });
    const answers = [await invite(udp, undefined, undefined, huge(30_000)), await invite(tcp, undefined, undefined, huge(200_000))];
    for (const res of answers) if (res) expect(res.status).toBeGreaterThanOrEqual(400);
    for (const res of answers) if (res) expect(res.status).toBeLessThan(500);
    await stillHealthy();
  });

  it('ignores noise: non-SIP datagrams and a request line with nothing after it', async () => {
    udp.sendRaw('\u0000\u0001\u0002 hello there\r\n\r\n');
    udp.sendRaw(`INVITE ${udp.uri(QUEUE_NUMBER)} SIP/2.0\r\n\r\n`);
    udp.sendRaw('SIP/2.0 200 OK\r\nCall-ID: nobody\r\n\r\n');
    // Nothing to wait for: a well-formed request right behind them is still served.
    const res = await invite(udp, undefined, undefined);
    expect(res?.status).toBe(488);
    await stillHealthy();
  });

  it('answers 481 to in-dialog requests for dialogs that do not exist, 405 or 200 to stray ones', async () => {
    const stray = (method: string, toTag: string | undefined) =>
      udp.request({
        method,
        uri: udp.uri('20001'),
        callId: `no-such-dialog-${method}-${toTag ?? 'none'}@raw`,
        ...(toTag ? { toTag } : {}),
        cseq: 2,
        ...(method === 'INVITE' ? { headers: { 'Content-Type': 'application/sdp' }, body: GOOD_SDP } : { headers: { Event: 'dialog' } }),
      });
    // BYE, INVITE and UPDATE get 481 from drachtio-server itself; the others from the switchboard.
    for (const method of ['BYE', 'INVITE', 'UPDATE', 'INFO', 'NOTIFY', 'MESSAGE', 'SUBSCRIBE', 'OPTIONS']) {
      expect((await stray(method, 'not-a-tag'))?.status, method).toBe(481);
    }
    for (const method of ['INFO', 'NOTIFY', 'MESSAGE']) {
      const res = await stray(method, undefined);
      expect(res?.status, method).toBe(405);
      expect(res?.headers.get('allow')).toBe('INVITE, ACK, CANCEL, BYE, REFER, NOTIFY, OPTIONS, REGISTER, SUBSCRIBE');
    }
    // SUBSCRIBE is taken for message-waiting only: another event package is a 489 (RFC 6665 §8.2.1).
    const subscribe = await stray('SUBSCRIBE', undefined);
    expect(subscribe?.status).toBe(489);
    expect(subscribe?.headers.get('allow-events')).toBe('message-summary');
    const ping = await stray('OPTIONS', undefined);
    expect(ping?.status).toBe(200);
    expect(ping?.headers.get('allow')).toContain('INVITE');
    await stillHealthy();
  });
});

describe('REFER with junk Refer-To in a call', () => {
  it('answers 400 for each junk target and 202 + NOTIFY 404 for a number that leads nowhere; the call goes on', async () => {
    const phone = await Softphone.start(alice.username, alice.password, SIP_DOMAIN, bench.drachtio.sipAddress);
    try {
      await phone.register();
      const caller = callers(bench, 'caller-talk.xml', QUEUE_NUMBER, { calls: 1, keys: { prefix: '2000', stay_ms: '60000' } });
      const call = await phone.answer(15_000);
      await until('the call to be connected', async () => {
        const items = ((await bench.sb.api('/v1/calls')).body as { items: { state: string }[] }).items;
        return items.some((c) => c.state === 'connected') ? true : undefined;
      });

      for (const junk of ['<sip:%zz@pbx>', '<http://example.com/x>', 'garbage <<<', '<>', '"Bob"']) {
        const { status } = await phone.refer(call, junk, false);
        expect(status, junk).toBe(400);
      }
      const nowhere = await phone.refer(call, phone.referTo('7777'));
      expect(nowhere.status).toBe(202);
      expect(nowhere.notifies.at(-1)?.body).toMatch(/^SIP\/2\.0 404/);

      // Still talking, with the same operator.
      const items = ((await bench.sb.api('/v1/calls')).body as { items: { state: string; operatorId: number }[] }).items;
      expect(items).toMatchObject([{ state: 'connected', operatorId: alice.id }]);
      expect(phone.hungUp(call)).toBe(false);
      // Anchored: caller and operator bridged on the media server; direct: phone to phone.
      if (testMediaMode() === 'direct') await until('the media server to let go of the call', async () => ((await mediaChannels(bench)) === 0 ? true : undefined));
      else if (bench.freeswitch.standIn) {
        const model = bench.freeswitch.standIn.model;
        expect(model.channels().filter((c) => model.bridgedWith(c.uuid) !== undefined)).toHaveLength(2);
      }

      expect(await phone.bye(call)).toBe(200);
      const result = await caller;
      expect(result.passed, describeRun(result)).toBe(true);
    } finally {
      await phone.close();
    }
    await stillHealthy();
  });
});
