/**
 * What mod_sofia (sofia_handle_sip_i_invite() in src/mod/endpoints/mod_sofia/sofia.c) records
 * about an incoming INVITE: the channel name "sofia/<profile>/<user@host>", the caller profile,
 * and the sip_* channel variables, including one sip_h_<name> per X- header, under the header's
 * name as sent (the mrf dialplan reads ${sip_h_X-esl-outbound}).
 */
import { parseNameAddr, parseUri, type SipRequest, type SipUri } from '../../sip/index.js';
import type { SessionInit } from '../core/session.js';
import { PROFILE_NAME } from '../api/system-commands.js';

function uriOf(value: string | undefined): SipUri | undefined {
  if (!value) return undefined;
  try {
    return parseUri(parseNameAddr(value).uri);
  } catch {
    return undefined;
  }
}

/**
 * _url_set_chanvars() in sofia.c: <prefix>_user (default "nobody"), _host (default "nowhere"),
 * _port and _uri ("user@host:port"); the From's uri also names the channel.
 */
function urlVariables(prefix: string, uri: SipUri | undefined): { uri: string; variables: Array<[string, string]> } {
  const user = uri?.user || 'nobody';
  const host = uri?.host || 'nowhere';
  const port = uri?.port ? String(uri.port) : '';
  const text = `${user}@${host}${port ? `:${port}` : ''}`;
  const variables: Array<[string, string]> = [
    [`${prefix}_user`, user],
    [`${prefix}_port`, port],
    [`${prefix}_uri`, text],
    [`${prefix}_host`, host],
  ];
  return { uri: text, variables };
}

/** Header names exactly as they arrived: the stack canonicalises them, sofia does not. */
function rawHeaderNames(request: SipRequest): Map<string, string> {
  const names = new Map<string, string>();
  const head = (request.raw ?? '').split(/\r?\n\r?\n/)[0] ?? '';
  for (const line of head.split(/\r?\n/).slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) names.set(line.slice(0, colon).trim().toLowerCase(), line.slice(0, colon).trim());
  }
  return names;
}

function xHeaders(request: SipRequest): Array<[string, string]> {
  const original = rawHeaderNames(request);
  return request.headers
    .filter((header) => header.name.toLowerCase().startsWith('x-'))
    .map((header) => [`sip_h_${original.get(header.name.toLowerCase()) ?? header.name}`, header.value]);
}

function lowerCaseHeaders(request: SipRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const header of request.headers) {
    const name = header.name.toLowerCase();
    if (!(name in headers)) headers[name] = header.value;
  }
  return headers;
}

export function sessionInitFor(request: SipRequest, localIp: string, profileUrl: string): SessionInit {
  const fromUri = uriOf(request.get('From'));
  const from = urlVariables('sip_from', fromUri);
  const display = parseNameAddr(request.get('From') ?? '<sip:unknown@invalid>').displayName;
  const via = request.topVia;
  const wire = request.wire;
  const fromUser = fromUri?.user ?? '';
  const requestUser = uriOf(request.uri)?.user ?? '';
  const name = `sofia/${PROFILE_NAME}/${from.uri}`;
  const variables: Array<[string, string]> = [
    ['direction', 'inbound'],
    ['session_id', String(Date.now() % 100_000)],
    ...from.variables,
    ['channel_name', name],
    ['sip_local_network_addr', localIp],
    ['sip_network_ip', wire?.address ?? ''],
    ['sip_network_port', String(wire?.port ?? '')],
    ['sip_invite_stamp', String(Date.now() * 1000)],
    ['sip_received_ip', wire?.address ?? ''],
    ['sip_received_port', String(wire?.port ?? '')],
    ['sip_via_protocol', (wire?.protocol ?? 'udp').toLowerCase()],
    ['sip_from_display', display ?? ''],
    ['sip_from_user_stripped', fromUser.replace(/^\+/, '')],
    ['sofia_profile_name', PROFILE_NAME],
    ['sofia_profile_url', profileUrl],
    ['recovery_profile_name', PROFILE_NAME],
    ...urlVariables('sip_req', uriOf(request.uri)).variables,
    ...urlVariables('sip_to', uriOf(request.get('To'))).variables,
    ...urlVariables('sip_contact', uriOf(request.get('Contact'))).variables,
    ['sip_user_agent', request.get('User-Agent') ?? ''],
    ['sip_via_host', via.host],
    ['sip_via_port', String(via.port ?? '')],
    ['sip_via_rport', String(wire?.port ?? '')],
    ...xHeaders(request),
    ['sip_from_tag', request.fromTag ?? ''],
    ['sip_cseq', String(request.cseq.seq)],
    ['sip_call_id', request.callId],
    ['sip_full_via', request.get('Via') ?? ''],
    ['sip_full_from', request.get('From') ?? ''],
    ['sip_full_to', request.get('To') ?? ''],
    ['max_forwards', request.get('Max-Forwards') ?? '70'],
    ['dtmf_type', 'rfc2833'],
  ];
  return {
    name,
    callId: request.callId,
    sipHeaders: lowerCaseHeaders(request),
    profile: {
      username: fromUser,
      dialplan: 'XML',
      // sofia.c: the display name, else the From user, else "unknown"; the number is the user.
      callerIdName: display || fromUser || 'unknown',
      callerIdNumber: fromUser,
      networkAddr: wire?.address ?? '',
      ani: fromUser,
      destinationNumber: requestUser,
      source: 'mod_sofia',
      context: 'mrf',
      profileIndex: '1',
    },
    variables,
  };
}
