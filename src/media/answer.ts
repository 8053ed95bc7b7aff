import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import { releaseEndpoint } from './endpoint.js';

export class CallerGone extends Error {
  constructor() {
    super('the caller hung up before the call was answered');
    this.name = 'CallerGone';
  }
}

export interface AnsweredCall {
  endpoint: Mrf.Endpoint;
  dialog: Srf.Dialog;
}

/**
 * Answers an incoming call onto the media server, with `early` when the caller already hears
 * that endpoint as early media (the 200 OK must carry the same SDP as the 183). Unlike
 * drachtio-fsmrf's connectCaller, it never leaves a media server channel behind: if the caller
 * cancels while the endpoint is being made, or the answer fails, the endpoint is destroyed.
 */
export async function answerOntoMedia(srf: Srf, ms: Mrf.MediaServer, req: Srf.SrfRequest, res: Srf.SrfResponse, early?: Mrf.Endpoint): Promise<AnsweredCall> {
  let cancelled = false;
  req.on('cancel', () => {
    cancelled = true;
  });
  const endpoint = early ?? (await ms.createEndpoint({ remoteSdp: req.body }));
  if (cancelled) {
    await releaseEndpoint(endpoint);
    throw new CallerGone();
  }
  let dialog: Srf.Dialog;
  try {
    dialog = await srf.createUAS(req, res, { localSdp: endpoint.local.sdp });
  } catch (err) {
    await releaseEndpoint(endpoint);
    throw cancelled ? new CallerGone() : err;
  }
  return { endpoint, dialog };
}

/** True while a dialog can still carry requests: a BYE may already have ended it. */
export function isConnected(dialog: Srf.Dialog): boolean {
  return (dialog as unknown as { connected: boolean }).connected;
}
