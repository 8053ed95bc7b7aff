/**
 * Dialplans the stand-in knows:
 * - the `mrf` context of drachtio/docker-drachtio-freeswitch-mrf (files/dialplan/mrf.xml): a
 *   call whose User-Agent is "drachtio-fsmrf:<uuid>" is answered, gets four variables, and is
 *   handed to `socket ${sip_h_X-esl-outbound} async full`;
 * - inline dialplans ("app:arg,app:arg" with dialplan "inline"), which is how
 *   `uuid_transfer UUID -both park inline` (drachtio-fsmrf's unbridge) parks channels.
 * When the last application of a dialplan returns without the channel having been transferred,
 * the channel is hung up, as the state machine does at the end of CS_EXECUTE.
 */
import { NORMAL_CLEARING } from './causes.js';
import type { Invocation } from './executor.js';
import type { Session } from './session.js';
import type { Switch } from './switch.js';

const MRF_USER_AGENT = /^drachtio-fsmrf:(.*)$/;

export const MRF_EXTENSION: ReadonlyArray<readonly [string, string]> = [
  ['answer', ''],
  ['set', 'send_silence_when_idle=-1'],
  ['set', 'hangup_after_bridge=false'],
  ['set', 'park_after_bridge=true'],
  ['set', 'playback_terminators=none'],
  ['socket', '${sip_h_X-esl-outbound} async full'],
];

/** The mrf context's only extension matches; false means no route (the call is refused). */
export function matchesMrf(session: Session): boolean {
  return MRF_USER_AGENT.test(session.getVariable('sip_user_agent') ?? '');
}

/** Applications of a dialplan as invocations; the last one ends the call if nothing moved it. */
export function dialplanInvocations(sw: Switch, session: Session, applications: ReadonlyArray<readonly [string, string]>): Invocation[] {
  return applications.map(([app, arg], index) => ({
    app,
    arg,
    appUuid: undefined,
    loops: 1,
    onComplete:
      index === applications.length - 1
        ? (frame) => {
            if (frame.interruption.reason !== 'transfer' && session.isUp) sw.hangup(session, NORMAL_CLEARING);
          }
        : undefined,
  }));
}

export function runMrfExtension(sw: Switch, session: Session): void {
  session.state = 'CS_EXECUTE';
  for (const invocation of dialplanInvocations(sw, session, MRF_EXTENSION)) sw.execute(session, invocation);
}

/**
 * inline_dialplan_hunt() in mod_dptools: "app1:arg1,app2:arg2", or "m:^:app1:arg1^app2:arg2" to
 * choose another delimiter; an application without ':' gets no data.
 */
export function parseInline(destination: string): Array<[string, string]> {
  let text = destination;
  let delimiter = ',';
  if (text.charAt(0) === 'm' && text.charAt(1) === ':' && text.charAt(3) === ':') {
    delimiter = text.charAt(2);
    text = text.slice(4);
  }
  return text
    .split(delimiter)
    .filter(Boolean)
    .map((step) => {
      const colon = step.indexOf(':');
      const app = (colon < 0 ? step : step.slice(0, colon)).trimStart();
      return [app, colon < 0 ? '' : step.slice(colon + 1)];
    });
}

/**
 * switch_ivr_session_transfer(): inline dialplans run here; any other dialplan would be searched
 * for DEST in CONTEXT, which the stand-in does not model, so the call ends as unroutable.
 */
export function transfer(sw: Switch, session: Session, destination: string, dialplan: string | undefined, partnerFollows = false): void {
  if (dialplan !== 'inline') {
    sw.transferInline(session, [], partnerFollows);
    sw.hangup(session, 'NO_ROUTE_DESTINATION');
    return;
  }
  sw.transferInline(session, dialplanInvocations(sw, session, parseInline(destination)), partnerFollows);
}
