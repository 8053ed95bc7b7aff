/**
 * SIP URIs (RFC 3261 §19.1) and the name-addr / addr-spec forms used by From, To, Contact,
 * Route and Record-Route (§20, §25.1). Only what a test bench needs: no IPv6 host parsing
 * beyond brackets, no escaping rules beyond keeping the text as received.
 */

export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel' | string;
  user?: string;
  password?: string;
  host: string;
  port?: number;
  /** URI parameters (;transport=tcp;lr). A flag parameter has the value null. */
  params: Map<string, string | null>;
  /** Headers after '?' kept verbatim (e.g. "Replaces=..."). */
  headers?: string;
}

/** Parse "sip:user@host:port;params?headers". Throws on input that is not a URI. */
export function parseUri(text: string): SipUri {
  const s = text.trim();
  const colon = s.indexOf(':');
  if (colon <= 0) throw new Error(`not a URI: ${text}`);
  const scheme = s.slice(0, colon).toLowerCase();
  let rest = s.slice(colon + 1);

  let headers: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }

  // tel: URIs have no host part; keep the number as "host" so callers can route on it.
  if (scheme === 'tel') {
    const [num = '', ...params] = rest.split(';');
    return { scheme, host: num, params: parseParams(params), headers };
  }

  let userinfo: string | undefined;
  const at = rest.lastIndexOf('@', firstIndexOrEnd(rest, ';'));
  if (at >= 0) {
    userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  const [hostport = '', ...params] = rest.split(';');
  const { host, port } = splitHostPort(hostport);
  if (!host) throw new Error(`URI without host: ${text}`);

  const uri: SipUri = { scheme, host, port, params: parseParams(params), headers };
  if (userinfo !== undefined) {
    const pc = userinfo.indexOf(':');
    uri.user = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    if (pc >= 0) uri.password = userinfo.slice(pc + 1);
  }
  return uri;
}

function firstIndexOrEnd(s: string, ch: string): number {
  const i = s.indexOf(ch);
  return i < 0 ? s.length : i;
}

export function splitHostPort(hostport: string): { host: string; port?: number } {
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    const host = hostport.slice(0, end + 1);
    const portText = hostport.slice(end + 2);
    return { host, port: portText ? Number(portText) : undefined };
  }
  const c = hostport.indexOf(':');
  if (c < 0) return { host: hostport };
  return { host: hostport.slice(0, c), port: Number(hostport.slice(c + 1)) };
}

function parseParams(parts: string[]): Map<string, string | null> {
  const params = new Map<string, string | null>();
  for (const p of parts) {
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) params.set(p.trim().toLowerCase(), null);
    else params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
  }
  return params;
}

export function formatParams(params: Map<string, string | null>): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}

export function formatUri(uri: SipUri): string {
  if (uri.scheme === 'tel') {
    return `tel:${uri.host}${formatParams(uri.params)}${uri.headers ? `?${uri.headers}` : ''}`;
  }
  let out = `${uri.scheme}:`;
  if (uri.user !== undefined) {
    out += uri.user;
    if (uri.password !== undefined) out += `:${uri.password}`;
    out += '@';
  }
  out += uri.host;
  if (uri.port !== undefined) out += `:${uri.port}`;
  out += formatParams(uri.params);
  if (uri.headers) out += `?${uri.headers}`;
  return out;
}

/**
 * A From/To/Contact/Route value: `"Name" <sip:x@y>;tag=abc` or the bare addr-spec form
 * `sip:x@y;tag=abc` where, per §20.10, parameters after a bare URI belong to the header.
 */
export interface NameAddr {
  displayName?: string;
  uri: string;
  params: Map<string, string | null>;
}

export function parseNameAddr(text: string): NameAddr {
  const s = text.trim();
  const lt = findUnquoted(s, '<');
  if (lt >= 0) {
    const gt = s.indexOf('>', lt);
    if (gt < 0) throw new Error(`unterminated name-addr: ${text}`);
    const display = s.slice(0, lt).trim();
    const rest = s.slice(gt + 1);
    return {
      displayName: display ? unquote(display) : undefined,
      uri: s.slice(lt + 1, gt).trim(),
      params: parseParams(rest.split(';').slice(1)),
    };
  }
  const [uri = '', ...params] = s.split(';');
  return { uri: uri.trim(), params: parseParams(params) };
}

export function formatNameAddr(na: NameAddr): string {
  const display = na.displayName ? `"${na.displayName}" ` : '';
  return `${display}<${na.uri}>${formatParams(na.params)}`;
}

function unquote(s: string): string {
  return s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

function findUnquoted(s: string, ch: string): number {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' && s[i - 1] !== '\\') quoted = !quoted;
    else if (c === ch && !quoted) return i;
  }
  return -1;
}

/**
 * Split a header value on the commas that separate list elements (§7.3.1), ignoring commas
 * inside quotes and angle brackets (a display name or a URI may contain them).
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"' && value[i - 1] !== '\\') quoted = !quoted;
    else if (quoted) continue;
    else if (c === '<') depth++;
    else if (c === '>') depth--;
    else if (c === ',' && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}
