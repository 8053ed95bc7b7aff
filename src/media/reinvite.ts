import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import { reoffer } from '../sip/session.js';
import { freeReinviteSlot, glareDelayMs, modifyEndpoint, releaseEndpoint } from './endpoint.js';

const GLARE_ATTEMPTS = 3;

/** Dialogs with a re-INVITE of ours outstanding: a phone's own re-INVITE meanwhile gets 491. */
const pending = new WeakSet<Srf.Dialog>();

export function reinvitePending(dialog: Srf.Dialog): boolean {
  return pending.has(dialog);
}

/**
 * Sends `media` to a phone as a new offer in its session with us (reoffer: the o= it knows,
 * version + 1) and returns its answer. On 491 (the phone's own re-INVITE crossed ours) it tries
 * again after RFC 3261 §14.1's wait: 2.1-4 s on a dialog we started (we own its Call-ID), 0-2 s
 * on one the phone started.
 */
export async function reinvite(dialog: Srf.Dialog, media: string): Promise<string> {
  const ownsCallId = dialog.type === 'uac';
  pending.add(dialog);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        // drachtio-srf's modify() makes what it sends the dialog's local SDP: the next offer
        // counts on from it.
        return await dialog.modify(reoffer(media, dialog.local.sdp));
      } catch (err) {
        freeReinviteSlot(dialog);
        if ((err as { status?: number }).status !== 491 || attempt >= GLARE_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, glareDelayMs(ownsCallId)));
      }
    }
  } finally {
    pending.delete(dialog);
  }
}

/**
 * Moves a phone that talks directly onto a new media server endpoint: the endpoint answers the
 * phone's current description, the phone is re-INVITEd with the endpoint's, and the endpoint
 * learns the phone's answer. A phone that refuses leaves no endpoint behind (the error is thrown),
 * nor does a call `abandoned` meanwhile: drachtio-srf never settles a re-INVITE whose dialog we
 * hung up while it was on its way.
 */
export async function anchorPhone(ms: Mrf.MediaServer, dialog: Srf.Dialog, abandoned?: Promise<unknown>): Promise<Mrf.Endpoint> {
  const endpoint = await ms.createEndpoint({ remoteSdp: dialog.remote.sdp });
  try {
    const gone = abandoned?.then(() => {
      throw new Error('the call ended while the phone was being moved');
    });
    const answer = await (gone ? Promise.race([reinvite(dialog, endpoint.local.sdp), gone]) : reinvite(dialog, endpoint.local.sdp));
    await modifyEndpoint(endpoint, answer);
    return endpoint;
  } catch (err) {
    await releaseEndpoint(endpoint);
    throw err;
  }
}
