/**
 * Bridging through drachtio-fsmrf: uuid_bridge, unbridge (uuid_transfer -both park inline), hold
 * music to a parked leg, and what happens to one side when the other hangs up (the mrf
 * dialplan's park_after_bridge=true). The stand-in's model says who is connected to whom.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { bridge as bridgeInOrder, unbridge as unbridgeInOrder } from '../../../src/media/bridge.js';
import { tuneEventSockets } from '../../../src/media/event-sockets.js';
import { nextEvent, phoneOffer, startBench, subscribeInbound, withTimeout, type Bench, type TestEndpoint } from './harness.js';

const HOLD_MUSIC = 'local_stream://moh';

describe('drachtio-fsmrf and the FreeSWITCH stand-in: bridges', () => {
  let bench: Bench;
  let port = 41_000;

  const endpointPair = async (): Promise<[TestEndpoint, TestEndpoint]> => [
    await bench.createEndpoint(phoneOffer((port += 10))),
    await bench.createEndpoint(phoneOffer((port += 10))),
  ];

  beforeAll(async () => {
    bench = await startBench();
    // As the switchboard's media pool does: media/bridge.ts needs CHANNEL_BRIDGE on the endpoint's socket.
    tuneEventSockets(bench.ms as unknown as Parameters<typeof tuneEventSockets>[0]);
    await subscribeInbound(bench, ['CHANNEL_BRIDGE']);
  });

  /** Bridges and waits until FreeSWITCH reports the bridge up (it answers uuid_bridge first). */
  async function bridge(a: TestEndpoint, b: TestEndpoint): Promise<void> {
    const up = nextEvent(bench.ms.conn, `esl::event::CHANNEL_BRIDGE::${a.uuid}`);
    await withTimeout(a.bridge(b), 3_000, 'bridge');
    await up;
  }

  /**
   * Starts a file and waits for its PLAYBACK_START, so what follows finds it playing; the
   * playback's own promise comes back wrapped, so that awaiting this does not await it.
   */
  async function startPlaying(endpoint: TestEndpoint, file: string): Promise<{ done: Promise<unknown> }> {
    const started = nextEvent(endpoint, 'playback-start');
    const done = endpoint.play(file);
    await started;
    return { done };
  }

  afterAll(async () => {
    await bench?.stop();
  });

  it('bridges two endpoints and unbridges them back into park', async () => {
    const [caller, operator] = await endpointPair();
    const model = bench.freeswitch.standIn?.model;
    await bridge(caller, operator);
    if (model) {
      expect(model.areBridged(caller.uuid, operator.uuid)).toBe(true);
      expect(model.hearing(caller.uuid)).toEqual({ kind: 'channel', uuid: operator.uuid });
    }
    await withTimeout(caller.unbridge(), 3_000, 'unbridge');
    if (model) {
      expect(model.bridgedWith(caller.uuid)).toBeUndefined();
      await model.waitFor(() => model.channel(caller.uuid)?.parked && model.channel(operator.uuid)?.parked, { description: 'both parked' });
    }
    expect(caller.connected && operator.connected).toBe(true);
  });

  it('media/bridge.ts orders them: an unbridge waits for the bridge, and both sides stay', async () => {
    const [caller, operator] = await endpointPair();
    // What the bridge waits for, on the originator's own socket: the endpoint subscribed to it as it connected.
    const reported = nextEvent(caller.conn as NonNullable<typeof caller.conn>, `esl::event::CHANNEL_BRIDGE::${caller.uuid}`);
    const bridged = bridgeInOrder(caller, operator);
    await withTimeout(reported, 1_000, "CHANNEL_BRIDGE on the caller's socket");
    await withTimeout(unbridgeInOrder(operator), 3_000, 'unbridge');
    await bridged;
    const model = bench.freeswitch.standIn?.model;
    if (model) await model.waitFor(() => model.channel(caller.uuid)?.parked && model.channel(operator.uuid)?.parked, { description: 'both parked' });
    expect(caller.connected && operator.connected).toBe(true);
  });

  it('refuses to bridge with a channel that does not exist', async () => {
    const [caller] = await endpointPair();
    await expect(caller.bridge('00000000-0000-0000-0000-000000000000')).rejects.toThrow(/-ERR/);
  });

  it('plays hold music to a parked caller until it is bridged again', async () => {
    const [caller, operator] = await endpointPair();
    const model = bench.freeswitch.standIn?.model;
    const holding = await startPlaying(caller, HOLD_MUSIC);
    if (model) expect(model.hearing(caller.uuid)).toEqual({ kind: 'file', path: HOLD_MUSIC });
    await bridge(caller, operator);
    // The bridge interrupts the playback: its execute completes with FILE PLAYED.
    await withTimeout(holding.done, 3_000, 'the hold music to stop');
    if (model) expect(model.hearing(caller.uuid)).toEqual({ kind: 'channel', uuid: operator.uuid });
  });

  it('uuid_broadcast and uuid_break start and stop hold music from the API', async () => {
    const [caller] = await endpointPair();
    const model = bench.freeswitch.standIn?.model;
    const started = nextEvent<[{ file: string }]>(caller, 'playback-start');
    expect(await bench.ms.api(`uuid_broadcast ${caller.uuid} ${HOLD_MUSIC} aleg`)).toBe('+OK Message sent\n');
    expect((await started)[0].file).toBe(HOLD_MUSIC);
    if (model) expect(model.playing(caller.uuid)).toBe(HOLD_MUSIC);
    const stopped = nextEvent(caller, 'playback-stop');
    expect(await bench.ms.api(`uuid_break ${caller.uuid} all`)).toBe('+OK\n');
    await stopped;
    if (model) expect(model.playing(caller.uuid)).toBeUndefined();
  });

  it('when the operator hangs up, the caller is parked, not hung up', async () => {
    const [caller, operator] = await endpointPair();
    await bridge(caller, operator);
    const operatorGone = nextEvent(operator, 'destroy');
    const { standIn } = bench.freeswitch;
    if (standIn) standIn.hangup(operator.uuid);
    else await bench.ms.api(`uuid_kill ${operator.uuid}`);
    await operatorGone;
    const model = standIn?.model;
    if (model) {
      await model.waitFor(() => model.channel(caller.uuid)?.parked, { description: 'caller parked' });
      expect(model.bridgedWith(caller.uuid)).toBeUndefined();
    }
    expect(caller.connected).toBe(true);
    const played = await withTimeout(caller.play('silence_stream://100'), 3_000, 'play after the bridge');
    expect(played).toHaveProperty('playbackMilliseconds');
  });
});
