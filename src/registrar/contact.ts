/**
 * Contact, To and From header values as a registrar needs them (RFC 3261 §20.10, §25.1). Written
 * here rather than taken from drachtio-srf's parser because that one keeps quotes in parameter
 * values and cannot tell a malformed header from a plain one.
 */

export type Params = Record<string, string | null>;

export interface ContactValue {
  /** The URI between < > (or the bare addr-spec). */
  uri: string;
  /** Header parameters after the URI (expires, q, +sip.instance ...), names lower-cased, unquoted. */
  params: Params;
}

/** Splits on `sep` outside quoted strings and <...>. */
export function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === '<') depth++;
    else if (ch === '>') depth = Math.max(0, depth - 1);
    else if (ch === sep && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}

export function parseParams(text: string): Params | undefined {
  const params: Params = {};
  for (const raw of splitTopLevel(text, ';')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const name = (eq === -1 ? item : item.slice(0, eq)).trim().toLowerCase();
    if (!/^[\w.!%*+`'~-]+$/.test(name)) return undefined;
    params[name] = eq === -1 ? null : unquote(item.slice(eq + 1).trim());
  }
  return params;
}

const QUOTED_DISPLAY = /^"(?:[^"\\]|\\.)*"\s*/;
const URI = /^(?:sips?|tel):\S+$/i;

/** name-addr or addr-spec with header parameters; undefined when malformed. */
export function parseNameAddr(text: string): ContactValue | undefined {
  let rest = text.trim();
  const display = QUOTED_DISPLAY.exec(rest);
  if (display) rest = rest.slice(display[0].length);
  const lt = rest.indexOf('<');
  let uri: string;
  let paramText: string;
  if (lt !== -1) {
    const gt = rest.indexOf('>', lt);
    if (gt === -1 || !/^[^"<>]*$/.test(rest.slice(0, lt))) return undefined;
    uri = rest.slice(lt + 1, gt).trim();
    paramText = rest.slice(gt + 1);
  } else {
    if (display) return undefined;
    // In a bare addr-spec every ';' starts a header parameter (RFC 3261 §20.10).
    const semi = rest.indexOf(';');
    uri = (semi === -1 ? rest : rest.slice(0, semi)).trim();
    paramText = semi === -1 ? '' : rest.slice(semi);
  }
  if (!URI.test(uri)) return undefined;
  if (paramText.trim() !== '' && !paramText.trim().startsWith(';')) return undefined;
  const params = parseParams(paramText);
  return params ? { uri, params } : undefined;
}

/** `*`, a list of contacts, or undefined when any entry is malformed. */
export function parseContactHeader(value: string): '*' | ContactValue[] | undefined {
  if (value.trim() === '*') return '*';
  const contacts: ContactValue[] = [];
  for (const part of splitTopLevel(value, ',')) {
    if (part.trim() === '*') return undefined; // '*' only ever stands alone
    const contact = parseNameAddr(part);
    if (!contact) return undefined;
    contacts.push(contact);
  }
  return contacts;
}

interface UriParts {
  scheme: string;
  user: string | undefined;
  hostport: string;
  params: Params;
}

function splitUri(uri: string): UriParts | undefined {
  const m = /^(sips?):(?:([^@]*)@)?([^;?]+)((?:;[^?]*)?)(?:\?.*)?$/i.exec(uri);
  if (!m) return undefined;
  const params = parseParams(m[4] ?? '');
  if (!params) return undefined;
  return { scheme: (m[1] as string).toLowerCase(), user: m[2], hostport: (m[3] as string).toLowerCase(), params };
}

/** The user part of a SIP URI, without a password or user parameters; undefined if none. */
export function uriUser(uri: string): string | undefined {
  const parts = splitUri(uri);
  if (!parts?.user) return undefined;
  const user = parts.user.split(':')[0] as string;
  try {
    return decodeURIComponent(user);
  } catch {
    return user;
  }
}

/**
 * A key under which equivalent Contact URIs meet (RFC 3261 §19.1.4, simplified): scheme and host
 * case-insensitive, user case-sensitive, parameters in any order, URI headers ignored. A phone
 * refreshing its registration sends the very same URI, so the simplification never splits one
 * binding in two; it only treats `;ob`-style extras as significant, which is the safe side.
 */
export function contactKey(uri: string): string {
  const parts = splitUri(uri);
  if (!parts) return uri;
  const params = Object.keys(parts.params)
    .sort()
    .map((name) => {
      const value = parts.params[name];
      return value === null || value === undefined ? name : `${name}=${value.toLowerCase()}`;
    });
  const user = parts.user === undefined ? '' : `${parts.user}@`;
  return [`${parts.scheme}:${user}${parts.hostport}`, ...params].join(';');
}
