import type Srf from 'drachtio-srf';

/**
 * Requests drachtio-server hands to the application because they match no dialog it knows: it
 * answers BYE, INVITE and UPDATE for unknown dialogs with 481 itself, but for other methods
 * without a handler it answers 503, as if the switchboard were down. These are answered here
 * the way RFC 3261 says instead. (REFER and PRACK outside a dialog it drops before any app.)
 */
// SUBSCRIBE is not among them: message-waiting subscriptions take it (src/messages/mwi.ts).
export const STRAY_METHODS = ['OPTIONS', 'INFO', 'NOTIFY', 'MESSAGE'] as const;
export type StrayMethod = (typeof STRAY_METHODS)[number];

/** The methods the switchboard takes (§20.5 Allow), for OPTIONS and 405. */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, REFER, NOTIFY, OPTIONS, REGISTER, SUBSCRIBE';

export interface StrayAnswer {
  status: 200 | 405 | 481;
  headers: Record<string, string>;
}

/**
 * A request with a To tag names a dialog; none exists, so 481 (§12.2.2). Without one it is a
 * request of its own: OPTIONS is answered 200 with what we allow (§11.2: trunks and SBCs ping
 * with it), the others 405 with Allow (§8.2.1).
 */
export function strayAnswer(method: StrayMethod, toHeader: string | undefined): StrayAnswer {
  if (/;\s*tag\s*=/i.test(toHeader ?? '')) return { status: 481, headers: {} };
  if (method === 'OPTIONS') return { status: 200, headers: { Allow: ALLOW, Accept: 'application/sdp' } };
  return { status: 405, headers: { Allow: ALLOW } };
}

/** Answers every stray request drachtio-server passes on (see strayAnswer). */
export function attachStrayRequests(srf: Srf): void {
  for (const method of STRAY_METHODS) {
    srf.use(method.toLowerCase(), (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      const answer = strayAnswer(method, req.get('To'));
      res.send(answer.status, { headers: answer.headers });
    });
  }
}
