/**
 * A scripted operator phone on the bench SIP stack, for flows SIPp cannot script because they
 * span two calls: an attended transfer holds the caller in one dialog, calls the target in a
 * second and joins them with REFER + Replaces (RFC 3891) naming the second. Real SIP on the wire:
 * digest REGISTER, INVITE/200/ACK, re-INVITE, REFER, NOTIFY and BYE, over UDP on 127.0.0.1.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { digestResponse } from '../../src/sip/digest-auth.js';
import { SipStack, type Dialog, type InviteServerTransaction, type SipRequest, type SipResponse } from '../benches/sip/index.js';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** The media part of this phone's description (everything after the o= line). */
function mediaLines(host: string, port: number, direction: Direction): string {
  return ['s=-', `c=IN IP4 ${host}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', `a=${direction}`, ''].join('\r\n');
}

/** The direction an offer asks for (RFC 3264 §6.1: sendrecv when it names none). */
function offeredDirection(offer: string): Direction {
  return (/^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(offer)?.[1] as Direction | undefined) ?? 'sendrecv';
}

/**
 * The direction of an answer (RFC 3264 §6.1): send only what the offerer receives, receive only
 * what it sends; a phone that holds the call does not receive.
 */
function answerDirection(offered: Direction, holding: boolean): Direction {
  const send = offered === 'sendrecv' || offered === 'recvonly';
  const receive = (offered === 'sendrecv' || offered === 'sendonly') && !holding;
  if (send && receive) return 'sendrecv';
  if (send) return 'sendonly';
  return receive ? 'recvonly' : 'inactive';
}

/** One call's SDP session as this phone describes it: o= session id and version (RFC 4566 §5.2). */
interface MediaSession {
  id: string;
  version: number;
  /** The last description sent, without its o= line. */
  last: string | undefined;
  holding: boolean;
}

function param(header: string, name: string): string | undefined {
  return new RegExp(`${name}="?([^",]+)"?`, 'i').exec(header)?.[1];
}

export interface Call {
  dialog: Dialog;
  /** Call-ID, our tag and the far end's tag, as Replaces names them from this phone's side. */
  replaces: string;
}

async function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`softphone: timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class Softphone {
  readonly received: SipRequest[] = [];
  private readonly invites: { req: SipRequest; txn: InviteServerTransaction }[] = [];
  /** Call-IDs of the calls this phone started (it owns them: RFC 3261 §14.1 glare waits). */
  private readonly calledOut = new Set<string>();
  private readonly waiters: (() => void)[] = [];
  private readonly host = '127.0.0.1';
  /** Each call (by Call-ID) is an SDP session of its own, with its own o= line. */
  private readonly sessions = new Map<string, MediaSession>();
  private readonly mediaPort = 40_000 + Math.floor(Math.random() * 10_000);

  private constructor(
    private readonly stack: SipStack,
    readonly username: string,
    private readonly password: string,
    private readonly domain: string,
    private readonly server: { host: string; port: number },
  ) {
    stack.onRequest((req, txn) => this.onRequest(req, txn));
  }

  static async start(username: string, password: string, domain: string, serverAddress: string): Promise<Softphone> {
    const [host = '127.0.0.1', port = '5060'] = serverAddress.split(':');
    const stack = new SipStack({ transports: { udp: 0 }, timers: { T1: 100, T2: 800, T4: 1000 } });
    await stack.listen();
    return new Softphone(stack, username, password, domain, { host, port: Number(port) });
  }

  private get destination(): { protocol: 'udp'; address: string; port: number } {
    return { protocol: 'udp', address: this.server.host, port: this.server.port };
  }

  /** Our Contact URI (the stack adds the angle brackets where it builds the header). */
  private get contact(): string {
    return this.stack.contactUri('udp', this.username);
  }

  /**
   * This phone's description in a call, as phones write it (RFC 3264 §8): the same o= session id
   * all call long, the version one higher each time the description changes, unchanged otherwise.
   */
  private describe(callId: string, port: number, direction: Direction): string {
    let session = this.sessions.get(callId);
    if (!session) {
      session = { id: String(randomInt(1, 2 ** 31)), version: randomInt(1, 2 ** 16), last: undefined, holding: false };
      this.sessions.set(callId, session);
    }
    const media = mediaLines(this.host, port, direction);
    if (session.last !== undefined && session.last !== media) session.version++;
    session.last = media;
    return `v=0\r\no=softphone ${session.id} ${session.version} IN IP4 ${this.host}\r\n${media}`;
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private onRequest(req: SipRequest, txn: { respond(res: SipResponse): boolean }): void {
    this.received.push(req);
    const dialog = req.toTag ? this.stack.findDialog(req) : undefined;
    if (req.method === 'INVITE' && !req.toTag) {
      txn.respond(this.stack.createResponse(req, 180, undefined, { contact: this.contact }));
      this.invites.push({ req, txn: txn as InviteServerTransaction });
    } else if (req.method === 'INVITE' && dialog) {
      // A re-INVITE (the switchboard moves the media): answered with this phone's media.
      dialog.receiveRequest(req);
      const direction = answerDirection(offeredDirection(req.body), this.sessions.get(req.callId)?.holding ?? false);
      const ok = this.stack.createResponse(req, 200, undefined, { contact: this.contact, body: this.describe(req.callId, this.portOf(req.callId), direction) });
      void this.stack.sendInvite2xx(txn as InviteServerTransaction, ok).catch(() => undefined);
    } else {
      dialog?.receiveRequest(req);
      txn.respond(this.stack.createResponse(req, dialog || req.method === 'OPTIONS' ? 200 : 481));
      if (req.method === 'BYE' && dialog) this.stack.removeDialog(dialog);
    }
    this.notify();
  }

  /** The RTP port of a call: one for the calls this phone answers, the next pair for those it makes. */
  private portOf(callId: string): number {
    return this.calledOut.has(callId) ? this.mediaPort + 2 : this.mediaPort;
  }

  /** Waits until `check` finds what it looks for among what arrived. */
  async until<T>(what: string, check: () => T | undefined, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = check();
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`softphone ${this.username}: timed out waiting for ${what}`);
      await within(what, new Promise<void>((resolve) => this.waiters.push(resolve)), left).catch(() => undefined);
    }
  }

  /** REGISTER with digest authentication (the digest uri is the Request-URI, as the registrar wants). */
  async register(): Promise<void> {
    const uri = `sip:${this.server.host}:${this.server.port}`;
    const build = (auth?: string): SipRequest =>
      this.stack.createRequest('REGISTER', uri, {
        from: `<sip:${this.username}@${this.domain}>`,
        to: `<sip:${this.username}@${this.domain}>`,
        contact: this.contact,
        headers: { Expires: '3600', ...(auth ? { Authorization: auth } : {}) },
      });
    const first = await this.stack.sendRequest(build(), { destination: this.destination }).final;
    if (first.status !== 401) throw new Error(`REGISTER: expected 401, got ${first.status}`);
    const challenge = first.get('WWW-Authenticate') ?? '';
    const realm = param(challenge, 'realm') ?? this.domain;
    const nonce = param(challenge, 'nonce') ?? '';
    const cnonce = randomBytes(8).toString('hex');
    const response = digestResponse({ ha1: md5(`${this.username}:${realm}:${this.password}`), nonce, method: 'REGISTER', uri, qop: 'auth', nc: '00000001', cnonce });
    const auth = `Digest username="${this.username}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"`;
    const second = await this.stack.sendRequest(build(auth), { destination: this.destination }).final;
    if (second.status !== 200) throw new Error(`REGISTER: expected 200, got ${second.status} ${second.reason}`);
  }

  /** Answers the next incoming call (it must arrive within `ms`). */
  async answer(ms = 10_000): Promise<Call> {
    const { req, txn } = await this.until('an incoming call', () => this.invites.shift(), ms);
    const ok = this.stack.createResponse(req, 200, undefined, { contact: this.contact, body: this.describe(req.callId, this.mediaPort, answerDirection(offeredDirection(req.body), false)) });
    const dialog = this.stack.createUasDialog(req, ok, `<${this.contact}>`);
    await this.stack.sendInvite2xx(txn, ok);
    return { dialog, replaces: `${dialog.callId};to-tag=${dialog.remoteTag};from-tag=${dialog.localTag}` };
  }

  /** Calls a number through the switchboard and waits for the answer. */
  async call(number: string): Promise<Call> {
    const callId = `${randomBytes(8).toString('hex')}@${this.host}`;
    this.calledOut.add(callId);
    const invite = this.stack.createRequest('INVITE', `sip:${number}@${this.server.host}:${this.server.port}`, {
      from: `<sip:${this.username}@${this.domain}>`,
      contact: this.contact,
      callId,
      body: this.describe(callId, this.portOf(callId), 'sendrecv'),
    });
    const res = await within(`an answer from ${number}`, this.stack.sendRequest(invite, { destination: this.destination }).final, 15_000);
    if (res.status !== 200) throw new Error(`INVITE ${number}: ${res.status}`);
    const dialog = this.stack.createUacDialog(invite, res);
    await this.stack.sendAck(dialog, res);
    return { dialog, replaces: `${dialog.callId};to-tag=${dialog.remoteTag};from-tag=${dialog.localTag}` };
  }

  /**
   * Puts a call on hold (a=sendonly) or takes it back (a=sendrecv). A 491 (the switchboard's own
   * re-INVITE crossed ours) is retried as a phone does, RFC 3261 §14.1: 0-2 s later on a call
   * the switchboard started, 2.1-4 s on one we started, a few times.
   */
  async hold(call: Call, on: boolean): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const session = this.sessions.get(call.dialog.callId);
      if (session) session.holding = on;
      const body = this.describe(call.dialog.callId, this.portOf(call.dialog.callId), on ? 'sendonly' : 'sendrecv');
      const reinvite = call.dialog.createRequest('INVITE', { body });
      const res = await this.stack.sendRequest(reinvite, { dialog: call.dialog }).final;
      if (res.status === 200) await this.stack.sendAck(call.dialog, res);
      if (res.status !== 491 || attempt >= 3) return res.status;
      const ours = this.calledOut.has(call.dialog.callId);
      await new Promise((resolve) => setTimeout(resolve, (ours ? 2_100 : 0) + Math.random() * (ours ? 1_900 : 2_000)));
    }
  }

  /** REFER in a call; returns the final status and the NOTIFYs that arrived for it (up to the final one). */
  async refer(call: Call, referTo: string, waitForFinalNotify = true): Promise<{ status: number; notifies: SipRequest[] }> {
    const before = this.received.length;
    const refer = call.dialog.createRequest('REFER', { headers: { 'Refer-To': referTo, 'Referred-By': `<sip:${this.username}@${this.domain}>` } });
    const res = await this.stack.sendRequest(refer, { dialog: call.dialog }).final;
    const notifies = (): SipRequest[] => this.received.slice(before).filter((r) => r.method === 'NOTIFY' && r.callId === call.dialog.callId);
    if (res.status === 202 && waitForFinalNotify) {
      await this.until('the final NOTIFY', () => (notifies().some((n) => /terminated/.test(n.get('Subscription-State') ?? '')) ? true : undefined));
    }
    return { status: res.status, notifies: notifies() };
  }

  /** A Refer-To naming `target` and, for an attended transfer, the call it replaces. */
  referTo(target: string, replaces?: Call): string {
    const uri = `sip:${target}@${this.server.host}:${this.server.port}`;
    return replaces ? `<${uri}?Replaces=${encodeURIComponent(replaces.replaces)}>` : `<${uri}>`;
  }

  async bye(call: Call): Promise<number> {
    const res = await this.stack.sendRequest(call.dialog.createRequest('BYE'), { dialog: call.dialog }).final;
    this.stack.removeDialog(call.dialog);
    return res.status;
  }

  /** Has the far end hung this call up (BYE received)? */
  hungUp(call: Call): boolean {
    return this.received.some((r) => r.method === 'BYE' && r.callId === call.dialog.callId);
  }

  async close(): Promise<void> {
    await this.stack.close();
  }
}
