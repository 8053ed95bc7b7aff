/**
 * drachtio-fsmrf against the FreeSWITCH stand-in (or a real FreeSWITCH when FREESWITCH_ESL is
 * set): connecting, endpoints with and without an offer, playback, variables, DTMF, and
 * hanging up from either side. Assertions on the stand-in's model run only with the stand-in.
 */
import { parse } from 'sdp-transform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nextEvent, phoneOffer, startBench, withTimeout, type Bench } from './harness.js';

const MISSING_FILE = '/nonexistent/switchboard-test/missing.wav';

describe('drachtio-fsmrf and the FreeSWITCH stand-in: media server and endpoints', () => {
  let bench: Bench;

  beforeAll(async () => {
    bench = await startBench({ media: { defaultFileMs: 100, files: { [MISSING_FILE]: 'missing' } } });
  });

  afterAll(async () => {
    await bench?.stop();
  });

  it('connects: sofia status gives the drachtio_mrf address, HEARTBEAT the limits', async () => {
    const { ms, freeswitch } = bench;
    expect(ms.sip.ipv4.udp.address).toMatch(/^\d+\.\d+\.\d+\.\d+:\d+$/);
    if (freeswitch.standIn) {
      expect(ms.sip.ipv4.udp.address).toBe(freeswitch.standIn.sipAddress);
      const beat = nextEvent(ms.conn, 'esl::event::HEARTBEAT::*');
      freeswitch.standIn.sendHeartbeat();
      await beat;
      expect(ms.maxSessions).toBe(1200);
    }
    expect(await ms.api('status')).toMatch(/^UP /);
    expect(await ms.api('no_such_command')).toBe('-ERR no_such_command Command not found!\n');
  });

  it('creates an endpoint for an offer: SDP answered, channel data read', async () => {
    const endpoint = await bench.createEndpoint(phoneOffer(40_000));
    expect(endpoint.uuid).toMatch(/^[0-9a-f-]{36}$/);
    const answer = parse(endpoint.local.sdp);
    expect(answer.media[0]?.rtp[0]?.codec).toBe('PCMU');
    expect(answer.media[0]?.port).toBe(Number(endpoint.local.mediaPort));
    expect(endpoint.remote.mediaPort).toBe('40000');
    expect(endpoint.sip.callId).toBe(endpoint.dialog.sip.callId);
    const channel = bench.freeswitch.standIn?.model.channel(endpoint.uuid);
    if (channel) expect(channel).toMatchObject({ state: 'up', parked: true, callId: endpoint.sip.callId });
  });

  it('creates an endpoint without an offer (3PCC) and points it at a phone later', async () => {
    const endpoint = await bench.createEndpoint();
    const offer = parse(endpoint.local.sdp);
    expect(offer.media[0]?.rtp.map((rtp) => rtp.codec)).toContain('PCMU');
    await endpoint.modify(phoneOffer(40_010));
    expect(endpoint.remote.mediaPort).toBe('40010');
  });

  it('plays a file: the promise resolves on CHANNEL_EXECUTE_COMPLETE with the playback time', async () => {
    const endpoint = await bench.createEndpoint(phoneOffer(40_020));
    const model = bench.freeswitch.standIn?.model;
    const playing = model?.waitFor(() => model.playing(endpoint.uuid) === 'silence_stream://300', { description: 'the file playing' });
    const result = await withTimeout(endpoint.play('silence_stream://300'), 5_000, 'play');
    await playing;
    expect(Number(result.playbackMilliseconds)).toBeGreaterThanOrEqual(250);
    expect(model?.playing(endpoint.uuid)).toBeUndefined();
    await expect(endpoint.play(MISSING_FILE)).rejects.toThrow('File Not Found');
  });

  it('says a number and sets variables the channel then reports', async () => {
    const endpoint = await bench.createEndpoint(phoneOffer(40_030));
    const said = await withTimeout(endpoint.say('42', { sayType: 'NUMBER', sayMethod: 'pronounced' }), 5_000, 'say');
    expect(said).toHaveProperty('playbackSeconds');
    await endpoint.set({ switchboard_leg: 'caller', switchboard_call: 'c1' });
    const variables = await endpoint.getChannelVariables();
    expect(variables['variable_switchboard_leg']).toBe('caller');
    expect(variables['variable_switchboard_call']).toBe('c1');
    expect(variables['Unique-ID']).toBe(endpoint.uuid);
  });

  it('passes DTMF from the channel to the endpoint’s dtmf event', async () => {
    const endpoint = await bench.createEndpoint(phoneOffer(40_040));
    const digit = nextEvent<[{ dtmf: string; source: string }]>(endpoint, 'dtmf');
    const { standIn } = bench.freeswitch;
    if (standIn) standIn.injectDtmf(endpoint.uuid, '7');
    else await bench.ms.api(`uuid_recv_dtmf ${endpoint.uuid} 7`);
    const [dtmf] = await digit;
    expect(dtmf.dtmf).toBe('7');
    if (standIn) expect(standIn.model.channel(endpoint.uuid)?.dtmf).toBe('7');
  });

  it('hangs up from the app side: the media server answers with BYE and the channel is gone', async () => {
    const endpoint = await bench.createEndpoint(phoneOffer(40_050));
    await withTimeout(endpoint.destroy(), 5_000, 'endpoint destroy');
    const model = bench.freeswitch.standIn?.model;
    if (model) await model.waitFor(() => model.channel(endpoint.uuid)?.state === 'hungup', { description: 'the channel hung up' });
    expect(await bench.ms.api(`uuid_exists ${endpoint.uuid}`)).toBe('false');
  });

  it('hangs up from the media server side: BYE to drachtio, the endpoint emits destroy', async () => {
    const endpoint = await bench.createEndpoint(phoneOffer(40_060));
    const destroyed = nextEvent<[{ reason?: string }]>(endpoint, 'destroy');
    const dialogGone = nextEvent(endpoint.dialog, 'destroy');
    const { standIn } = bench.freeswitch;
    if (standIn) standIn.hangup(endpoint.uuid, 'NORMAL_CLEARING');
    else await bench.ms.api(`uuid_kill ${endpoint.uuid}`);
    const [info] = await destroyed;
    // Real FreeSWITCH may close the socket before the CHANNEL_CALLSTATE that carries the cause.
    if (standIn) expect(info?.reason).toBe('NORMAL_CLEARING');
    await dialogGone;
    expect(endpoint.connected).toBe(false);
  });
});

describe('the FreeSWITCH stand-in at its session limit', () => {
  let bench: Bench;

  beforeAll(async () => {
    bench = await startBench();
  });

  afterAll(async () => {
    await bench?.stop();
  });

  // Changing a real FreeSWITCH's limit would touch every user of it: the stand-in only.
  it('refuses a new session past fsctl max_sessions as sofia does, and takes them again when raised', async () => {
    const standIn = bench.freeswitch.standIn;
    if (!standIn) return;
    const first = await bench.createEndpoint(phoneOffer(40_100));
    expect(standIn.api('fsctl max_sessions 1')).toBe('+OK max sessions: 1\n');
    await expect(bench.createEndpoint(phoneOffer(40_110))).rejects.toThrow(/503/);
    expect(standIn.model.channels().map((c) => c.uuid)).toEqual([first.uuid]);
    const beat = nextEvent(bench.ms.conn, 'esl::event::HEARTBEAT::*');
    standIn.sendHeartbeat();
    await beat;
    expect([bench.ms.currentSessions, bench.ms.maxSessions]).toEqual([1, 1]);
    expect(standIn.api('fsctl max_sessions 1200')).toBe('+OK max sessions: 1200\n');
    const second = await bench.createEndpoint(phoneOffer(40_120));
    expect(standIn.model.channels()).toHaveLength(2);
    first.destroy();
    second.destroy();
  });
});
