/**
 * A registrar with HTTP digest authentication (RFC 3261 §22, RFC 2617 with qop=auth): the first
 * REGISTER is challenged with 401, one with valid credentials gets 200 with its Contact.
 */
import crypto from 'node:crypto';
import type Srf from 'drachtio-srf';
import type { EventLog } from './event-log.js';

export interface Credentials {
  realm: string;
  users: Record<string, string>;
}

const md5 = (s: string): string => crypto.createHash('md5').update(s).digest('hex');

export function parseDigest(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.replace(/^Digest\s+/i, '').matchAll(/(\w+)=("([^"]*)"|[^,\s]+)/g)) {
    out[(m[1] ?? '').toLowerCase()] = m[3] ?? m[2] ?? '';
  }
  return out;
}

/** The digest response a client with this password would compute. */
export function expectedResponse(d: Record<string, string>, method: string, password: string): string {
  const ha1 = md5(`${d.username}:${d.realm}:${password}`);
  const ha2 = md5(`${method}:${d.uri}`);
  return d.qop ? md5(`${ha1}:${d.nonce}:${d.nc}:${d.cnonce}:${d.qop}:${ha2}`) : md5(`${ha1}:${d.nonce}:${ha2}`);
}

export function registrar(creds: Credentials, log: EventLog): (req: Srf.SrfRequest, res: Srf.SrfResponse) => void {
  const nonces = new Set<string>();
  return (req, res) => {
    const authz = req.get('Authorization');
    if (!authz) {
      const nonce = crypto.randomBytes(8).toString('hex');
      nonces.add(nonce);
      log.add('challenged', nonce);
      res.send(401, { headers: { 'WWW-Authenticate': `Digest realm="${creds.realm}", nonce="${nonce}", algorithm=MD5, qop="auth"` } });
      return;
    }
    const d = parseDigest(authz);
    const password = creds.users[d.username ?? ''];
    const valid = !!password && nonces.has(d.nonce ?? '') && d.response === expectedResponse(d, 'REGISTER', password);
    log.add(valid ? 'registered' : 'rejected', d.username);
    if (!valid) return res.send(403);
    const contact = req.get('Contact');
    res.send(200, { headers: { Contact: `${contact};expires=${req.get('Expires') || '3600'}` } });
  };
}
