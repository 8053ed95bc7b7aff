import type { EventEmitter } from 'node:events';
import type Mrf from 'drachtio-fsmrf';

/**
 * Bridging and unbridging media server endpoints in order. FreeSWITCH answers uuid_bridge with
 * +OK before the bridge exists: both channels first go through its state machine
 * (uuid_bridge_on_soft_execute in switch_ivr_bridge.c), and a uuid_transfer of either meanwhile,
 * which is how an endpoint is unbridged (for hold music, a prompt, a conference), makes it hang
 * up the other with DESTINATION_OUT_OF_ORDER. Seen against FreeSWITCH 1.10.12 when an operator's
 * phone put the caller on hold right after the two were bridged. So a bridge counts as done once
 * FreeSWITCH reports it (CHANNEL_BRIDGE), and an unbridge, a new bridge or the hang-up of an
 * endpoint waits for a bridge of it still under way.
 */

// Far above the tens of milliseconds FreeSWITCH takes; a bridge that never comes (a leg hung up
// meanwhile) must not hold the call up for long.
const BRIDGE_UP_MS = 2_000;
// CHANNEL_BRIDGE fires before the two bridge threads run: until both have marked their channel
// bridged (audio_bridge_thread(), switch_ivr_bridge.c:431-438) a transfer still makes FreeSWITCH
// hang up the other side. Seen against FreeSWITCH 1.10.12 under load; no event marks that point,
// so the bridge counts as up a few of FreeSWITCH's 20 ms scheduling rounds after the event.
const BRIDGE_SETTLE_MS = 100;

/** Bridges still under way, by endpoint: what an unbridge of either endpoint waits for. */
const underWay = new WeakMap<Mrf.Endpoint, Promise<void>>();

/** The endpoint's event socket; fsmrf drops it (null) once the channel is gone. */
function socketOf(endpoint: Mrf.Endpoint): Mrf.EslConnection | undefined {
  return (endpoint as unknown as { conn: Mrf.EslConnection | null }).conn ?? undefined;
}

/**
 * Resolves once FreeSWITCH reports `a` bridged with `b`, once either channel is gone (hung up by
 * the far end, or by us: fsmrf's destroy() emits nothing, but the channel's event socket ends),
 * or after BRIDGE_UP_MS. The originator of a uuid_bridge (its first uuid) carries the event; every
 * endpoint's socket is subscribed to it from the start (media/event-sockets.ts).
 */
function bridgeUp(a: Mrf.Endpoint, b: Mrf.Endpoint): { up: Promise<void>; stop: () => void } {
  let stop = (): void => undefined;
  let settle = (): void => undefined;
  const up = new Promise<void>((resolve) => {
    const socket = socketOf(a);
    if (!socket) return resolve();
    const name = `esl::event::CHANNEL_BRIDGE::${a.uuid}`;
    const onBridge = (event: Mrf.EslEvent): void => {
      if (event.getHeader('Bridge-B-Unique-ID') === b.uuid) settle();
    };
    const sockets = [socket, socketOf(b)].filter((s): s is Mrf.EslConnection => s !== undefined);
    const gone: [EventEmitter, string][] = [[a, 'destroy'], [b, 'destroy'], ...sockets.map((s): [EventEmitter, string] => [s, 'esl::end'])];
    let timer = setTimeout(() => stop(), BRIDGE_UP_MS);
    settle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stop(), BRIDGE_SETTLE_MS);
    };
    stop = () => {
      clearTimeout(timer);
      socket.off(name, onBridge);
      for (const [emitter, event] of gone) emitter.off(event, stop);
      resolve();
    };
    socket.on(name, onBridge);
    for (const [emitter, event] of gone) emitter.once(event, stop);
  });
  return { up, stop };
}

/** Until `up` settles, unbridging `a` or `b` waits for it. */
function markUnderWay(a: Mrf.Endpoint, b: Mrf.Endpoint, up: Promise<void>): void {
  underWay.set(a, up);
  underWay.set(b, up);
  void up.then(() => {
    if (underWay.get(a) === up) underWay.delete(a);
    if (underWay.get(b) === up) underWay.delete(b);
  });
}

/**
 * Bridges two endpoints and returns once FreeSWITCH has really bridged them; a bridge of either
 * still under way (a consultation's, cancelled as it came up) goes first.
 */
export async function bridge(a: Mrf.Endpoint, b: Mrf.Endpoint): Promise<void> {
  const before = Promise.all([underWay.get(a), underWay.get(b)]);
  const done = (async () => {
    await before;
    const { up, stop } = bridgeUp(a, b);
    try {
      await a.bridge(b);
      await up;
    } finally {
      stop();
    }
  })();
  // Marked at once: an unbridge asked for right after this call must find it.
  markUnderWay(a, b, done.catch(() => undefined));
  await done;
}

/**
 * Resolves once no bridge of the endpoint is under way. Hanging up the other side of a bridge
 * under way makes FreeSWITCH hang up its originator too (ORIGINATOR_CANCEL,
 * switch_ivr_bridge.c:1211): a consultation cancelled as the target answered.
 */
export async function bridgeSettled(endpoint: Mrf.Endpoint): Promise<void> {
  await underWay.get(endpoint);
}

/** Parks an endpoint out of its bridge (uuid_transfer), after any bridge of it still under way. */
export async function unbridge(endpoint: Mrf.Endpoint): Promise<void> {
  await bridgeSettled(endpoint);
  await endpoint.unbridge();
}
