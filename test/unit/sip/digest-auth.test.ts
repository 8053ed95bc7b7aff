import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digestHa1 } from '../../../src/sip/digest.js';
import {
  DigestAuth,
  digestResponse,
  findCredentials,
  parseAuthorization,
  type DigestCredentials,
  type NonceSecrets,
  type ReplayGuard,
} from '../../../src/sip/digest-auth.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

function secrets(...list: string[]): NonceSecrets {
  const buffers = list.map((s) => Buffer.from(s));
  return { current: () => buffers[0] as Buffer, all: () => buffers };
}

class MemoryGuard implements ReplayGuard {
  readonly seen = new Set<string>();
  async firstUse(nonce: string, nc: string): Promise<boolean> {
    const key = `${nonce}/${nc}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
}

const REALM = 'sb.example.com';
const URI = 'sip:sb.example.com';
const HA1 = digestHa1('alice', REALM, 'secret-pw');

/** What a client computes from a challenge: the credentials it sends back. */
function answer(challengeNonce: string, opts: Partial<DigestCredentials> & { ha1?: string; method?: string } = {}): DigestCredentials {
  const { ha1 = HA1, method = 'REGISTER', ...overrides } = opts;
  const base: DigestCredentials = {
    scheme: 'Digest',
    username: 'alice',
    realm: REALM,
    nonce: challengeNonce,
    uri: URI,
    response: '',
    qop: 'auth',
    nc: '00000001',
    cnonce: 'c0ffee',
    algorithm: 'MD5',
    ...overrides,
  };
  if (overrides.response === undefined) {
    base.response = digestResponse({ ha1, nonce: base.nonce, method, uri: base.uri, qop: base.qop, nc: base.nc, cnonce: base.cnonce });
  }
  return base;
}

function setup(opts: { ttlS?: number; guard?: ReplayGuard; keys?: string[] } = {}) {
  let now = 1_700_000_000_000;
  const auth = new DigestAuth({
    realm: REALM,
    secrets: secrets(...(opts.keys ?? ['k1'])),
    nonceTtlS: opts.ttlS ?? 300,
    now: () => now,
    ...(opts.guard ? { replayGuard: opts.guard } : {}),
  });
  return { auth, advance: (ms: number) => (now += ms) };
}

const request = { method: 'REGISTER', uri: URI, ha1: HA1 };

describe('digestResponse (RFC 2617 §3.5 example)', () => {
  // The RFC's worked example: Mufasa / "Circle Of Life", GET /dir/index.html.
  const ha1 = digestHa1('Mufasa', 'testrealm@host.com', 'Circle Of Life');
  const nonce = 'dcd98b7102dd2f0e8b11d0f600bfb0c093';

  it('computes the published response with qop=auth', () => {
    expect(ha1).toBe('939e7578ed9e3c518a452acee763bce9');
    const response = digestResponse({ ha1, nonce, method: 'GET', uri: '/dir/index.html', qop: 'auth', nc: '00000001', cnonce: '0a4f113b' });
    expect(response).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('computes the RFC 2069 form without qop: MD5(HA1:nonce:HA2)', () => {
    const response = digestResponse({ ha1, nonce, method: 'GET', uri: '/dir/index.html' });
    expect(response).toBe(md5(`${ha1}:${nonce}:${md5('GET:/dir/index.html')}`));
    expect(response).toBe('670fd8c2df070c60b045671b8b24ff02');
  });
});

describe('parseAuthorization / findCredentials', () => {
  it('reads quoted and bare parameters, with escapes and odd spacing', () => {
    const parsed = parseAuthorization('Digest username="al\\"ice", realm="r",nonce="n" , uri="sip:x", response="abc", qop=auth, nc=00000001, cnonce="c"');
    expect(parsed).toEqual([
      { scheme: 'Digest', username: 'al"ice', realm: 'r', nonce: 'n', uri: 'sip:x', response: 'abc', qop: 'auth', nc: '00000001', cnonce: 'c' },
    ]);
  });

  it('picks our realm among several credentials (several headers arrive comma-joined)', () => {
    const header = 'Digest username="bob", realm="other", nonce="x", uri="sip:x", response="1", Digest username="alice", realm="sb.example.com", nonce="y", uri="sip:y", response="2"';
    const found = findCredentials(header, REALM);
    expect(found.kind).toBe('found');
    if (found.kind === 'found') expect(found.credentials.username).toBe('alice');
  });

  it('tells none, other realm and malformed apart', () => {
    expect(findCredentials(undefined, REALM).kind).toBe('none');
    expect(findCredentials('Basic dXNlcjpwYXNz', REALM).kind).toBe('none'); // another scheme: not ours to judge
    expect(findCredentials('Digest username="a", realm="elsewhere", nonce="n", uri="u", response="r"', REALM).kind).toBe('other-realm');
    expect(findCredentials('Digest username="a", realm="sb.example.com", uri="u"', REALM).kind).toBe('malformed');
    expect(findCredentials('Digest username="a" realm=', REALM).kind).toBe('malformed');
  });
});

describe('DigestAuth', () => {
  it('challenges with realm, a nonce, qop=auth and MD5', () => {
    const { auth } = setup();
    const challenge = auth.challenge();
    expect(challenge).toMatch(/^Digest realm="sb\.example\.com", nonce="[^"]+", qop="auth", algorithm=MD5$/);
    expect(auth.challenge(true)).toMatch(/, stale=true$/);
  });

  it('accepts a correct qop=auth answer', async () => {
    const { auth } = setup();
    expect(await auth.verify(answer(auth.createNonce()), request)).toEqual({ ok: true, username: 'alice' });
  });

  it('accepts a correct answer without qop (RFC 2069 clients)', async () => {
    const { auth } = setup();
    const creds = answer(auth.createNonce(), { qop: undefined, nc: undefined, cnonce: undefined });
    expect(await auth.verify(creds, request)).toEqual({ ok: true, username: 'alice' });
  });

  it('accepts upper-case hex and a missing algorithm', async () => {
    const { auth } = setup();
    const creds = answer(auth.createNonce(), { algorithm: undefined });
    creds.response = creds.response.toUpperCase();
    expect((await auth.verify(creds, request)).ok).toBe(true);
  });

  it('verifies a nonce issued by another instance sharing the secret', async () => {
    const a = setup().auth;
    const b = setup().auth;
    expect((await b.verify(answer(a.createNonce()), request)).ok).toBe(true);
  });

  it('refuses a wrong password without stale', async () => {
    const { auth } = setup();
    const creds = answer(auth.createNonce(), { ha1: digestHa1('alice', REALM, 'guess') });
    expect(await auth.verify(creds, request)).toEqual({ ok: false, reason: 'wrong-response', stale: false });
  });

  it('says stale when the nonce expired but the answer was right', async () => {
    const { auth, advance } = setup({ ttlS: 30 });
    const nonce = auth.createNonce();
    advance(31_000);
    expect(await auth.verify(answer(nonce), request)).toEqual({ ok: false, reason: 'stale', stale: true });
  });

  it('calls an expired nonce with a wrong answer a wrong password, not stale', async () => {
    const { auth, advance } = setup({ ttlS: 30 });
    const nonce = auth.createNonce();
    advance(31_000);
    const creds = answer(nonce, { ha1: digestHa1('alice', REALM, 'guess') });
    expect(await auth.verify(creds, request)).toEqual({ ok: false, reason: 'wrong-response', stale: false });
  });

  it('refuses credentials for another realm', async () => {
    const { auth } = setup();
    const creds = answer(auth.createNonce(), { realm: 'elsewhere' });
    expect(await auth.verify(creds, request)).toMatchObject({ ok: false, reason: 'wrong-realm' });
  });

  it('refuses a digest-uri that is not the Request-URI', async () => {
    const { auth } = setup();
    const creds = answer(auth.createNonce(), { uri: 'sip:other.example.com' });
    expect(await auth.verify(creds, request)).toMatchObject({ ok: false, reason: 'wrong-uri' });
  });

  it('binds the answer to the method: a REGISTER answer does not authorise an INVITE', async () => {
    const { auth } = setup();
    const creds = answer(auth.createNonce());
    expect(await auth.verify(creds, { ...request, method: 'INVITE' })).toMatchObject({ ok: false, reason: 'wrong-response' });
  });

  it('refuses a tampered nonce even when the client answered it correctly, hinting a retry', async () => {
    const { auth } = setup();
    const [ts, rand, mac] = auth.createNonce().split('.') as [string, string, string];
    const older = (parseInt(ts, 36) + 3_600_000).toString(36); // try to extend its life
    const tampered = `${older}.${rand}.${mac}`;
    expect(await auth.verify(answer(tampered), request)).toEqual({ ok: false, reason: 'bad-nonce', stale: true });
    expect(await auth.verify(answer('not-a-nonce'), request)).toEqual({ ok: false, reason: 'bad-nonce', stale: true });
  });

  it('refuses a nonce signed with another secret (another deployment)', async () => {
    const foreign = setup({ keys: ['other'] }).auth.createNonce();
    const { auth } = setup();
    expect(await auth.verify(answer(foreign, { ha1: digestHa1('alice', REALM, 'guess') }), request)).toEqual({
      ok: false,
      reason: 'bad-nonce',
      stale: false,
    });
  });

  it('still accepts nonces signed with the previous secret after a change', async () => {
    const old = setup({ keys: ['k1'] }).auth.createNonce();
    const { auth } = setup({ keys: ['k2', 'k1'] });
    expect((await auth.verify(answer(old), request)).ok).toBe(true);
  });

  it('rejects qop other than auth, other algorithms, and a bad or zero nonce-count', async () => {
    const { auth } = setup();
    const nonce = auth.createNonce();
    expect(await auth.verify(answer(nonce, { qop: 'auth-int' }), request)).toMatchObject({ reason: 'unsupported-qop' });
    expect(await auth.verify(answer(nonce, { algorithm: 'SHA-256' }), request)).toMatchObject({ reason: 'unsupported-algorithm' });
    expect(await auth.verify(answer(nonce, { nc: '1' }), request)).toMatchObject({ reason: 'malformed' });
    expect(await auth.verify(answer(nonce, { nc: '00000000' }), request)).toMatchObject({ reason: 'malformed' });
    expect(await auth.verify(answer(nonce, { cnonce: undefined }), request)).toMatchObject({ reason: 'malformed' });
  });

  it('refuses a replayed nonce-count but lets the next one and reordered ones through', async () => {
    const guard = new MemoryGuard();
    const { auth } = setup({ guard });
    const nonce = auth.createNonce();
    expect((await auth.verify(answer(nonce, { nc: '00000002' }), request)).ok).toBe(true);
    expect(await auth.verify(answer(nonce, { nc: '00000002' }), request)).toMatchObject({ ok: false, reason: 'replay' });
    expect((await auth.verify(answer(nonce, { nc: '00000001' }), request)).ok).toBe(true);
    expect((await auth.verify(answer(nonce, { nc: '00000003' }), request)).ok).toBe(true);
  });

  it('does not spend replay-guard entries on wrong answers', async () => {
    const guard = new MemoryGuard();
    const { auth } = setup({ guard });
    await auth.verify(answer(auth.createNonce(), { ha1: md5('x') }), request);
    expect(guard.seen.size).toBe(0);
  });
});
