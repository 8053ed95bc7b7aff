/**
 * An application that dies leaves channels on FreeSWITCH: when its outbound event socket for a
 * channel closes, listener_run() (mod_event_socket.c) only clears CF_CONTROLLED, which a running
 * park loop checks. A channel idle in park (the socket application's, or the inline one
 * drachtio-fsmrf's unbridge transfers to) is hung up; one playing hold music, bridged, or parked
 * after its bridge ended stays up. `hupall <cause> <var> <value>...` ends
 * exactly the channels on which every variable has that value, e.g. all the channels created for
 * one drachtio-fsmrf listener (`sip_h_X-esl-outbound`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nextEvent, phoneOffer, startBench, subscribeInbound, withTimeout, type Bench, type TestEndpoint } from './harness.js';

const HOLD_MUSIC = 'local_stream://moh';

describe('the channels of an application that died', () => {
  let bench: Bench;
  let port = 43_000;
  let all: Record<string, TestEndpoint>;

  beforeAll(async () => {
    bench = await startBench();
    await subscribeInbound(bench, ['CHANNEL_BRIDGE', 'CHANNEL_PARK']);
  });

  afterAll(async () => {
    for (const e of Object.values(all ?? {})) await bench.ms.api(`uuid_kill ${e.uuid}`).catch(() => undefined);
    await bench?.stop();
  });

  const endpoint = (): Promise<TestEndpoint> => bench.createEndpoint(phoneOffer((port += 10)));
  const exists = async (uuid: string): Promise<boolean> => (await bench.ms.api(`uuid_exists ${uuid}`)).trim() === 'true';
  const states = async (): Promise<Record<string, boolean>> => {
    const result: Record<string, boolean> = {};
    for (const [name, e] of Object.entries(all)) result[name] = await exists(e.uuid);
    return result;
  };

  async function bridge(a: TestEndpoint, b: TestEndpoint): Promise<void> {
    const up = nextEvent(bench.ms.conn, `esl::event::CHANNEL_BRIDGE::${a.uuid}`);
    await withTimeout(a.bridge(b), 3_000, 'bridge');
    await up;
  }

  it('hangs up only the channels idle in park', async () => {
    const parked = await endpoint();
    const playing = await endpoint();
    const started = nextEvent(playing, 'playback-start');
    void playing.play(HOLD_MUSIC).catch(() => undefined);
    await started;
    const [caller, operator] = [await endpoint(), await endpoint()];
    await bridge(caller, operator);
    const [left, right] = [await endpoint(), await endpoint()];
    await bridge(left, right);
    const bothParked = Promise.all([left, right].map((e) => nextEvent(bench.ms.conn, `esl::event::CHANNEL_PARK::${e.uuid}`)));
    await withTimeout(left.unbridge(), 3_000, 'unbridge');
    await bothParked;
    // A channel whose partner hung up is parked by park_after_bridge.
    const [kept, partner] = [await endpoint(), await endpoint()];
    await bridge(kept, partner);
    const keptParked = nextEvent(bench.ms.conn, `esl::event::CHANNEL_PARK::${kept.uuid}`);
    await bench.ms.api(`uuid_kill ${partner.uuid}`);
    await keptParked;
    all = { parked, playing, caller, operator, left, right, kept };

    const gone = [parked, left, right].map((e) => nextEvent(e, 'destroy', 5_000));
    // The process dies: every outbound socket closes.
    for (const e of Object.values(all)) (e as unknown as { conn: { socket: { destroy(): void } } }).conn.socket.destroy();
    await Promise.all(gone);
    expect(await states()).toEqual({ parked: false, playing: true, caller: true, operator: true, left: false, right: false, kept: true });
  });

  it('hupall ends the channels whose variables all match, and no other', async () => {
    const outbound = `${bench.ms.advertisedAddress}:${bench.ms.advertisedPort}`;
    await bench.ms.api(`uuid_setvar ${all.caller?.uuid} orphan_mark yes`);
    await bench.ms.api(`uuid_setvar ${all.kept?.uuid} orphan_mark no`);
    const one = await bench.ms.api(`hupall NORMAL_TEMPORARY_FAILURE sip_h_X-esl-outbound ${outbound} orphan_mark yes`);
    expect(one).toBe(`+OK hangup all channels matching [sip_h_X-esl-outbound]=[${outbound}]... with cause: NORMAL_TEMPORARY_FAILURE\n`);
    // The caller's bridged operator is left alone (park_after_bridge), not hung up with it.
    expect(await states()).toEqual({ parked: false, playing: true, caller: false, operator: true, left: false, right: false, kept: true });

    expect(await bench.ms.api('hupall NORMAL_TEMPORARY_FAILURE sip_h_X-esl-outbound 192.0.2.1:1')).toBe(
      '+OK hangup all channels matching [sip_h_X-esl-outbound]=[192.0.2.1:1] with cause: NORMAL_TEMPORARY_FAILURE\n',
    );
    expect(await states()).toEqual({ parked: false, playing: true, caller: false, operator: true, left: false, right: false, kept: true });

    await bench.ms.api(`hupall NORMAL_TEMPORARY_FAILURE sip_h_X-esl-outbound ${outbound}`);
    expect(await states()).toEqual({ parked: false, playing: false, caller: false, operator: false, left: false, right: false, kept: false });
  });
});
