import type Mrf from 'drachtio-fsmrf';
import { bridgeSettled } from './bridge.js';

const DESTROY_WAIT_MS = 2_000;

/**
 * Hangs up a media server channel, once a bridge of it under way is up (media/bridge.ts), without
 * ever waiting long: drachtio-fsmrf's destroy() waits for FreeSWITCH to run the hangup, which it
 * sometimes never does (a channel whose far end is on hold runs no queued commands); then the
 * channel is killed outright with uuid_kill.
 */
export async function releaseEndpoint(endpoint: Mrf.Endpoint | undefined): Promise<void> {
  if (!endpoint) return;
  await bridgeSettled(endpoint);
  let timer: NodeJS.Timeout | undefined;
  const destroyed = endpoint.destroy().then(
    () => true,
    () => true,
  );
  const waited = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), DESTROY_WAIT_MS);
  });
  const done = await Promise.race([destroyed, waited]);
  clearTimeout(timer);
  if (done) return;
  await endpoint.mediaserver.api(`uuid_kill ${endpoint.uuid}`).catch(() => undefined);
}

const GLARE_ATTEMPTS = 3;

/** RFC 3261 §14.1: after a 491, the side that owns the Call-ID waits 2.1–4 s before trying again. */
export function glareDelayMs(ownsCallId: boolean, random: () => number = Math.random): number {
  return ownsCallId ? 2_100 + Math.floor(random() * 1_900) : Math.floor(random() * 2_000);
}

/**
 * drachtio-srf 5.0.29 lets one re-INVITE per dialog run at a time and forgets to free that slot
 * when the answer is not a 200: every later modify() would wait for ever. Free it by hand.
 */
export function freeReinviteSlot(dialog: unknown): void {
  const slot = (dialog as { _reinvitesInProgress?: { count: number; admitOne: (() => void)[] } })._reinvitesInProgress;
  if (!slot || slot.count <= 0) return;
  slot.count--;
  const next = slot.admitOne.shift();
  if (next) setImmediate(next);
}

/**
 * Gives the media server new SDP for an endpoint (a phone's re-INVITE, hold or back) and returns
 * its answer. FreeSWITCH answers 491 while a re-INVITE of its own is pending: the switchboard made
 * that dialog, so it retries after 2.1–4 s, a few times. A bridge of the endpoint still under way
 * goes first: re-INVITEd meanwhile, the endpoint was hung up by the transfer that followed
 * (DESTINATION_OUT_OF_ORDER, media/bridge.ts), as for a phone that holds as it answers.
 */
export async function modifyEndpoint(endpoint: Mrf.Endpoint, sdp: string): Promise<string> {
  await bridgeSettled(endpoint);
  for (let attempt = 1; ; attempt++) {
    try {
      return await endpoint.modify(sdp);
    } catch (err) {
      freeReinviteSlot(endpoint.dialog);
      if ((err as { status?: number }).status !== 491 || attempt >= GLARE_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, glareDelayMs(true)));
    }
  }
}
