/**
 * The drachtio_mrf sofia profile: a SIP user agent on the bench SIP stack that takes INVITEs
 * from drachtio (or any peer), creates a channel for each, answers with SDP and carries the
 * dialog: re-INVITE, INFO (DTMF), BYE in both directions, CANCEL.
 *
 * - An INVITE with SDP is answered by the dialplan's `answer` application (200 OK with the
 *   negotiated SDP), then the `socket` application connects back to drachtio-fsmrf.
 * - An INVITE without SDP (third-party call control; the profile has enable-3pcc=true) gets a
 *   200 OK with an offer at once; the channel waits for the ACK's answer before its dialplan runs
 *   (sofia.c: CF_3PCC, CS_HIBERNATE until the ACK with SDP).
 */
import { createSocket } from 'node:dgram';

import {
  AckTimeoutError,
  newTag,
  SipStack,
  type Dialog,
  type InviteServerTransaction,
  type ServerTransaction,
  type SipRequest,
  type TimerSettings,
} from '../../sip/index.js';
import { causeFromText, NORMAL_CLEARING } from '../core/causes.js';
import { matchesMrf, runMrfExtension } from '../core/dialplan.js';
import type { Session } from '../core/session.js';
import type { Switch } from '../core/switch.js';
import { sessionInitFor } from './channel-vars.js';
import { answer as answerSdp, chosenCodec, firstStreamIsSrtp, offer as offerSdp, onTheWire, remoteDirection, remoteMedia, type LocalMedia } from './sdp.js';

export interface SipSideOptions {
  readonly host: string;
  /** 0 picks a port free for both UDP and TCP. */
  readonly port: number;
  readonly timers?: Partial<TimerSettings>;
}

interface Leg {
  readonly session: Session;
  readonly invite: SipRequest;
  readonly txn: InviteServerTransaction;
  readonly toTag: string;
  readonly local: { ip: string; port: number; owner: number; sdpCount: number };
  localSdp: string | undefined;
  dialog: Dialog | undefined;
  okSent: boolean;
  byeSent: boolean;
}

/** hangup_cause_to_sip() in mod_sofia: the final response for a call ended before its 200 OK. */
const CAUSE_TO_STATUS: Readonly<Record<string, number>> = {
  UNALLOCATED_NUMBER: 404,
  NO_ROUTE_TRANSIT_NET: 404,
  NO_ROUTE_DESTINATION: 404,
  INVALID_NUMBER_FORMAT: 484,
  USER_BUSY: 486,
  NO_USER_RESPONSE: 408,
  NO_ANSWER: 480,
  SUBSCRIBER_ABSENT: 480,
  CALL_REJECTED: 603,
  NUMBER_CHANGED: 410,
  DESTINATION_OUT_OF_ORDER: 502,
  NORMAL_TEMPORARY_FAILURE: 503,
  SWITCH_CONGESTION: 503,
  SERVICE_UNAVAILABLE: 503,
  INCOMPATIBLE_DESTINATION: 488,
  MANDATORY_IE_MISSING: 400,
  ORIGINATOR_CANCEL: 487,
  SYSTEM_SHUTDOWN: 503,
};

const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY';
/** The drachtio_mrf profile's user-agent-string in drachtio's image. */
const USER_AGENT = 'Jambonz media gateway';
const RTP_START_PORT = 25000;
const RTP_END_PORT = 39000;

export class SofiaProfile {
  private readonly legs = new Map<string, Leg>();
  private nextRtpPort = RTP_START_PORT;

  private constructor(
    private readonly sw: Switch,
    private readonly stack: SipStack,
    readonly host: string,
  ) {}

  /** Binds UDP and TCP on one port number, as sofia does for sip-port. */
  static async start(sw: Switch, options: SipSideOptions): Promise<SofiaProfile> {
    const stack = await bindStack(options);
    const profile = new SofiaProfile(sw, stack, options.host);
    stack.onRequest((request, txn) => profile.onRequest(request, txn));
    stack.onAck((ack, dialog) => profile.onAck(ack, dialog));
    return profile;
  }

  get port(): number {
    return this.stack.port('udp');
  }

  /** "ip:port" as `sofia status` prints it after "sip:mod_sofia@". */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  async close(): Promise<void> {
    await this.stack.close();
  }

  // ---- incoming requests ----

  private onRequest(request: SipRequest, txn: ServerTransaction): void {
    if (request.method === 'CANCEL') return this.onCancel(request, txn);
    if (request.toTag) return this.inDialog(request, txn);
    if (request.method === 'INVITE') return this.onInvite(request, txn as InviteServerTransaction);
    if (request.method === 'OPTIONS') {
      txn.respond(this.stack.createResponse(request, 200, undefined, { headers: { Allow: ALLOW } }));
      return;
    }
    txn.respond(this.stack.createResponse(request, 481));
  }

  private onInvite(request: SipRequest, txn: InviteServerTransaction): void {
    // sofia_handle_sip_i_invite(): no new session past switch_core_session_limit().
    if (this.sw.sessionCount >= this.sw.load.maxSessions) {
      txn.respond(this.stack.createResponse(request, 503, 'Maximum Calls In Progress', { headers: { 'Retry-After': '300' } }));
      return;
    }
    txn.respond(this.stack.createResponse(request, 100));
    const session = this.sw.createSession(sessionInitFor(request, this.host, `sip:mod_sofia@${this.address}`));
    const leg: Leg = {
      session,
      invite: request,
      txn,
      toTag: newTag(),
      local: { ip: this.host, port: this.allocateRtpPort(), owner: Math.floor(Date.now() / 1000) % 1_000_000_000, sdpCount: 0 },
      localSdp: undefined,
      dialog: undefined,
      okSent: false,
      byeSent: false,
    };
    this.legs.set(request.callId, leg);
    session.setVariable('sip_to_tag', leg.toTag);
    session.sip = { answer: () => this.sendOk(leg), hangup: (cause, q850) => this.hangupLeg(leg, cause, q850) };
    if (!matchesMrf(session)) {
      this.sw.hangup(session, 'NO_ROUTE_DESTINATION');
      return;
    }
    if (!request.body) {
      this.offer3pcc(leg);
      return;
    }
    if (!this.negotiate(leg, request.body)) {
      this.sw.hangup(session, 'INCOMPATIBLE_DESTINATION');
      return;
    }
    runMrfExtension(this.sw, session);
  }

  /** Third-party call control: 200 OK with our offer now, the dialplan once the ACK answers. */
  private offer3pcc(leg: Leg): void {
    const { session } = leg;
    session.setVariable('endpoint_disposition', 'RECEIVED_NOSDP');
    session.state = 'CS_HIBERNATE';
    leg.localSdp = offerSdp(this.localMedia(leg));
    this.setLocalMediaVariables(leg);
    this.sendOk(leg);
  }

  /** Our answer to an offer; false when no codec matches. */
  private negotiate(leg: Leg, remoteSdp: string): boolean {
    const negotiated = answerSdp(remoteSdp, this.localMedia(leg));
    if (!negotiated) return false;
    leg.localSdp = negotiated.sdp;
    this.setRemoteMediaVariables(leg.session, remoteSdp);
    this.setLocalMediaVariables(leg);
    const session = leg.session;
    session.setVariable('rtp_use_codec_name', negotiated.codec.toUpperCase());
    session.setVariable('rtp_use_codec_rate', String(negotiated.rate));
    session.setVariable('rtp_use_codec_ptime', '20');
    session.setVariable('rtp_use_pt', String(negotiated.payload));
    session.setVariable('endpoint_disposition', 'ANSWER');
    this.noteRemoteDirection(session, remoteSdp);
    return true;
  }

  /** FreeSWITCH may not send to a far end that is sendonly or inactive. */
  private noteRemoteDirection(session: Session, remoteSdp: string): void {
    const direction = remoteDirection(remoteSdp);
    this.sw.setMediaSendable(session, direction !== 'sendonly' && direction !== 'inactive');
  }

  private localMedia(leg: Leg): LocalMedia {
    const { local } = leg;
    return { ip: local.ip, port: local.port, owner: local.owner, version: local.owner + local.sdpCount++ };
  }

  private setLocalMediaVariables(leg: Leg): void {
    const session = leg.session;
    session.setVariable('local_media_ip', leg.local.ip);
    session.setVariable('local_media_port', String(leg.local.port));
    session.setVariable('advertised_media_ip', leg.local.ip);
    session.setVariable('rtp_local_sdp_str', leg.localSdp);
    session.setVariable('sip_local_sdp_str', leg.localSdp);
  }

  private setRemoteMediaVariables(session: Session, remoteSdp: string): void {
    session.setVariable('switch_r_sdp', remoteSdp);
    const media = remoteMedia(remoteSdp);
    session.setVariable('remote_media_ip', media?.ip);
    session.setVariable('remote_media_port', media ? String(media.port) : undefined);
  }

  /**
   * The 200 OK with the headers sofia adds (Contact with the Request-URI's user and the
   * transport, Allow-Events, Content-Disposition ...), retransmitted on UDP until the ACK.
   */
  private sendOk(leg: Leg): void {
    if (leg.okSent || !leg.session.isUp) return;
    leg.okSent = true;
    const contact = this.contactFor(leg.invite);
    const ok = this.stack.createResponse(leg.invite, 200, undefined, {
      toTag: leg.toTag,
      contact,
      body: leg.localSdp ? onTheWire(leg.localSdp) : undefined,
      headers: okHeaders(leg.session.getVariable('sip_req_user') ?? ''),
    });
    leg.dialog = this.stack.createUasDialog(leg.invite, ok, `<${contact}>`);
    this.stack.sendInvite2xx(leg.txn, ok).catch((error: unknown) => {
      if (error instanceof AckTimeoutError) this.sw.hangup(leg.session, 'RECOVERY_ON_TIMER_EXPIRE');
    });
  }

  /** ACK for our 200 OK: in 3PCC it carries the answer, and the dialplan starts. */
  private onAck(ack: SipRequest, dialog: Dialog | undefined): void {
    const leg = dialog ? this.legs.get(dialog.callId) : undefined;
    if (!leg || !leg.session.isUp) return;
    if (leg.session.state !== 'CS_HIBERNATE') {
      if (!ack.body) return;
      this.setRemoteMediaVariables(leg.session, ack.body);
      this.noteRemoteDirection(leg.session, ack.body);
      return;
    }
    if (!ack.body) {
      this.sw.hangup(leg.session, 'MANDATORY_IE_MISSING');
      return;
    }
    this.setRemoteMediaVariables(leg.session, ack.body);
    // drachtio-srf answers a 3PCC offer with the offer reflected back: FreeSWITCH takes its first
    // (SRTP) stream and, as observed on 1.10.12, its conference loop then stalls (see
    // Switch.takesMessages()) until a re-INVITE points the channel at a real far end.
    if (firstStreamIsSrtp(ack.body)) this.sw.setMediaSendable(leg.session, false);
    else this.noteRemoteDirection(leg.session, ack.body);
    const codec = chosenCodec(ack.body);
    if (codec) leg.session.setVariable('rtp_use_codec_name', codec.codec.toUpperCase());
    leg.session.state = 'CS_INIT';
    this.sw.markAnswered(leg.session);
    runMrfExtension(this.sw, leg.session);
  }

  private onCancel(request: SipRequest, txn: ServerTransaction): void {
    const invite = this.stack.layer.findInviteServer(request);
    const leg = this.legs.get(request.callId);
    if (!invite) {
      txn.respond(this.stack.createResponse(request, 481));
      return;
    }
    txn.respond(this.stack.createResponse(request, 200));
    if (leg && !leg.okSent) {
      leg.okSent = true;
      invite.respond(this.stack.createResponse(invite.request, 487, undefined, { toTag: leg.toTag }));
      this.legs.delete(request.callId);
      this.sw.hangup(leg.session, 'ORIGINATOR_CANCEL', { remote: true });
    }
  }

  // ---- in-dialog requests ----

  private inDialog(request: SipRequest, txn: ServerTransaction): void {
    const dialog = this.stack.findDialog(request);
    const leg = this.legs.get(request.callId);
    if (!dialog || !leg) {
      txn.respond(this.stack.createResponse(request, 481));
      return;
    }
    if (!dialog.receiveRequest(request)) {
      txn.respond(this.stack.createResponse(request, 500));
      return;
    }
    if (request.method === 'BYE') return this.onBye(leg, dialog, request, txn);
    if (request.method === 'INVITE') return this.onReinvite(leg, request, txn as InviteServerTransaction);
    if (request.method === 'INFO') return this.onInfo(leg, request, txn);
    const status = ['OPTIONS', 'UPDATE', 'NOTIFY'].includes(request.method) ? 200 : 405;
    txn.respond(this.stack.createResponse(request, status, undefined, { headers: { Allow: ALLOW } }));
  }

  /** BYE from drachtio: 200 OK, and the channel hangs up (Q.850 cause from Reason, if any). */
  private onBye(leg: Leg, dialog: Dialog, request: SipRequest, txn: ServerTransaction): void {
    txn.respond(this.stack.createResponse(request, 200));
    this.stack.removeDialog(dialog);
    this.legs.delete(request.callId);
    leg.byeSent = true;
    const q850 = /Q\.850\s*;\s*cause\s*=\s*(\d+)/i.exec(request.get('Reason') ?? '')?.[1];
    const cause = q850 ? causeFromText(q850) : 'NONE';
    this.sw.hangup(leg.session, cause === 'NONE' ? NORMAL_CLEARING : cause, { remote: true });
  }

  /** re-INVITE: a new offer is answered (hold, a new media address); none gets our offer. */
  private onReinvite(leg: Leg, request: SipRequest, txn: InviteServerTransaction): void {
    txn.respond(this.stack.createResponse(request, 100));
    if (request.body && !this.negotiate(leg, request.body)) {
      txn.respond(this.stack.createResponse(request, 488));
      return;
    }
    if (!request.body) {
      leg.localSdp = offerSdp(this.localMedia(leg));
      this.setLocalMediaVariables(leg);
    }
    const ok = this.stack.createResponse(request, 200, undefined, {
      contact: this.contactFor(leg.invite),
      body: leg.localSdp ? onTheWire(leg.localSdp) : undefined,
      headers: okHeaders(leg.session.getVariable('sip_req_user') ?? ''),
    });
    this.stack.sendInvite2xx(txn, ok).catch(() => undefined);
  }

  /** INFO with application/dtmf-relay ("Signal=5") or application/dtmf ("5"): a digit. */
  private onInfo(leg: Leg, request: SipRequest, txn: ServerTransaction): void {
    txn.respond(this.stack.createResponse(request, 200));
    const type = (request.get('Content-Type') ?? '').toLowerCase();
    const signal = /Signal\s*=\s*([0-9*#A-Da-d])/.exec(request.body)?.[1];
    const digit = type.includes('dtmf-relay') ? signal : type.includes('application/dtmf') ? request.body.trim().charAt(0) : undefined;
    if (!digit) return;
    const duration = Number(/Duration\s*=\s*(\d+)/.exec(request.body)?.[1] ?? 250);
    this.sw.receiveDtmf(leg.session, digit.toUpperCase(), duration * 8, 'ENDPOINT');
  }

  // ---- hanging up from this side ----

  /** Before the 200 OK a final error response; after it a BYE with the Q.850 Reason. */
  private hangupLeg(leg: Leg, cause: string, q850: number): void {
    if (!leg.okSent) {
      leg.okSent = true;
      const status = CAUSE_TO_STATUS[cause] ?? 480;
      const response = this.stack.createResponse(leg.invite, status, undefined, { toTag: leg.toTag, headers: { Reason: `Q.850;cause=${q850};text="${cause}"` } });
      leg.txn.respond(response);
      this.legs.delete(leg.invite.callId);
      return;
    }
    const dialog = leg.dialog;
    if (!dialog || leg.byeSent) return;
    leg.byeSent = true;
    this.stack.abandon2xx(leg.invite.callId, leg.invite.cseq.seq, leg.toTag);
    const bye = dialog.createRequest('BYE', { headers: { Reason: `Q.850;cause=${q850};text="${cause}"` } });
    void this.stack.sendRequest(bye, { dialog }).final.finally(() => {
      this.stack.removeDialog(dialog);
      this.legs.delete(leg.invite.callId);
    });
  }

  /** sofia's Contact: the user of the Request-URI at the profile's address, with the transport. */
  private contactFor(request: SipRequest): string {
    const protocol = request.wire?.protocol ?? 'udp';
    const user = /^sips?:([^@;>]+)@/.exec(request.uri)?.[1];
    return `sip:${user ? `${user}@` : ''}${this.host}:${this.stack.port(protocol)};transport=${protocol}`;
  }

  private allocateRtpPort(): number {
    const port = this.nextRtpPort;
    this.nextRtpPort = port + 2 > RTP_END_PORT ? RTP_START_PORT : port + 2;
    return port;
  }
}

function okHeaders(requestUser: string): Record<string, string> {
  return {
    'User-Agent': USER_AGENT,
    Accept: 'application/sdp',
    Allow: ALLOW,
    Supported: 'path, replaces',
    'Allow-Events': 'talk, hold, conference, refer',
    'Content-Disposition': 'session',
    'Remote-Party-ID': `"${requestUser}" <sip:${requestUser}@127.0.0.1>;party=calling;privacy=off;screen=no`,
  };
}

async function bindStack(options: SipSideOptions): Promise<SipStack> {
  const attempts = options.port === 0 ? 20 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = options.port === 0 ? await freeUdpPort(options.host) : options.port;
    const stack = new SipStack({ host: options.host, transports: { udp: port, tcp: port }, timers: options.timers });
    try {
      await stack.listen();
      return stack;
    } catch (error) {
      lastError = error;
      await stack.close().catch(() => undefined);
    }
  }
  throw lastError instanceof Error ? lastError : new Error('could not bind the SIP port');
}

async function freeUdpPort(host: string): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve());
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
