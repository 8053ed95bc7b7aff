/**
 * EncodeStackMessage (drachtio.cpp): the SIP message text the server hands an application.
 * sofia keeps each header's original bytes unless it changed the header, so this is the message
 * as received except for the top Via, where the stack stamped rport (and received) on arrival.
 */
import { serializeMessage, type SipRequest, type SipResponse } from '../sip/index.js';

export function encodeStackMessage(msg: SipRequest | SipResponse): string {
  const raw = msg.raw;
  if (!raw) return serializeMessage(msg);
  const stamp = 'viaStamp' in msg ? msg.viaStamp : undefined;
  return stamp ? raw.replace(stamp.original, stamp.stamped) : raw;
}
