/**
 * One connected application: BaseClient in drachtio-server's client.cpp.
 *
 * Reads framed messages, splits each into its "|"-separated leader line, start line, headers
 * and body (drachtio.cpp splitMsg/splitTokens), and dispatches on the second token:
 *
 *   <msgId>|authenticate|<secret>|<tag,tag>   -> OK|<hostports>|<version>|<local hostports>
 *   <msgId>|ping                                -> OK|pong
 *   <msgId>|route|<verb>, remove_route|<verb>  -> OK
 *   <msgId>|sip|<txnId>|<dialogId>[|<routeUrl>]\r\n<SIP message>
 *   <msgId>|proxy|...                           (not supported by the stand-in)
 *
 * Replies are "<uuid>|response|<msgId>|OK|..." or "...|NO|<reason>". An unknown message type
 * or a bad secret ends the connection, as processClientMessage returning false does.
 */
import crypto from 'node:crypto';
import type net from 'node:net';
import { FrameDecoder, frame } from './framing.js';
import { formatMeta, type SipMsgMeta } from './meta.js';

export interface ClientMessage {
  msgId: string;
  tokens: string[];
  startLine: string;
  headers: string;
  body: string;
}

/** What a connection asks of the server (ClientController + DrachtioController). */
export interface ClientMessageHandler {
  authenticate(conn: AppConnection, secret: string): string | undefined;
  route(conn: AppConnection, verb: string): void;
  removeRoute(conn: AppConnection, verb: string): void;
  sip(conn: AppConnection, msg: ClientMessage): void;
  closed(conn: AppConnection): void;
}

const CRLF = '\r\n';

export function uuid(): string {
  return crypto.randomUUID();
}

export class AppConnection {
  readonly id = uuid();
  readonly tags = new Set<string>();
  authenticated = false;
  private readonly decoder = new FrameDecoder();
  private closed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly handler: ClientMessageHandler,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  hasTag(tag: string): boolean {
    return this.tags.has(tag);
  }

  private onData(chunk: Buffer): void {
    let payloads: string[];
    try {
      payloads = this.decoder.push(chunk);
    } catch (err) {
      this.log(`app ${this.remote}: ${String(err)}; disconnecting`);
      this.close();
      return;
    }
    for (const p of payloads) {
      if (this.closed) return;
      this.log(`app ${this.remote} ===> ${p.split(CRLF)[0]}`);
      this.process(p);
    }
  }

  private process(raw: string): void {
    const msg = splitClientMessage(raw);
    const [msgId = '', type = ''] = msg.tokens;
    if (msg.tokens.length < 2) {
      this.respond(msgId, false, 'Invalid message format');
      this.close();
      return;
    }
    switch (type) {
      case 'ping':
        return this.respond(msgId, true, 'pong');
      case 'route':
        this.handler.route(this, msg.tokens[2] ?? '');
        return this.respond(msgId, true);
      case 'remove_route':
        this.handler.removeRoute(this, msg.tokens[2] ?? '');
        return this.respond(msgId, true);
      case 'authenticate':
        return this.onAuthenticate(msgId, msg.tokens);
      case 'sip':
        return this.handler.sip(this, msg);
      default:
        // "proxy" (srf.proxyRequest) is not part of the stand-in; unknown types end the session.
        this.respond(msgId, false, type === 'proxy' ? 'proxy is not supported by the stand-in' : 'Unknown message type');
        if (type !== 'proxy') this.close();
    }
  }

  private onAuthenticate(msgId: string, tokens: string[]): void {
    for (const t of (tokens[3] ?? '').split(',')) if (t) this.tags.add(t);
    const accepted = this.handler.authenticate(this, tokens[2] ?? '');
    if (accepted === undefined) {
      this.respond(msgId, false, 'incorrect secret');
      this.close();
      return;
    }
    this.authenticated = true;
    this.respond(msgId, true, accepted);
  }

  /** createResponseMsg: "<uuid>|response|<msgId>|OK[|reason]" */
  respond(msgId: string, ok: boolean, reason?: string): void {
    this.send(`${uuid()}|response|${msgId}|${ok ? 'OK' : 'NO'}${reason !== undefined ? `|${reason}` : ''}`);
  }

  /** sendApiResponseToClient: "<uuid>|response|<msgId>|<OK|NOK>[|<data>]" */
  sendApiResponse(clientMsgId: string, responseText: string, additional: string): void {
    this.send(`${uuid()}|response|${clientMsgId}|${responseText}${additional ? `|${additional}` : ''}`);
  }

  /** sendSipMessageToClient(txn, dialog, raw, meta): a message inside a dialog or INVITE. */
  sendSipMessage(transactionId: string, dialogId: string, rawSipMsg: string, meta: SipMsgMeta): void {
    this.send(`${uuid()}|sip|${formatMeta(meta)}|${transactionId}|${dialogId}|${CRLF}${rawSipMsg}`);
  }

  /**
   * sendSipMessageToClient(txn, raw, meta): a new request (or a CANCEL for one), with the
   * server's receiving address and port appended when known.
   */
  sendNewRequest(transactionId: string, rawSipMsg: string, meta: SipMsgMeta, dest?: { address: string; port: number }): void {
    let s = `${uuid()}|sip|${formatMeta(meta)}|${transactionId}||`;
    if (dest) s += `${dest.address}|${dest.port}|`;
    this.send(`${s}${CRLF}${rawSipMsg}`);
  }

  /** sendCdrToClient: "<uuid>|cdr:<type>|<source>|<time>[|<role|reason>]\r\n<SIP message>" */
  sendCdr(meta: string, rawSipMsg: string): void {
    this.send(`${uuid()}|${meta}${CRLF}${rawSipMsg}`);
  }

  send(payload: string): void {
    if (this.closed || this.socket.destroyed) return;
    this.log(`app ${this.remote} <=== ${payload.split(CRLF)[0]}`);
    this.socket.write(frame(payload));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.handler.closed(this);
  }
}

/**
 * drachtio.cpp splitMsg + splitTokens: the leader up to the first CRLF, split on "|" (empty
 * tokens kept); then start line, headers, and the body after the first blank line.
 */
export function splitClientMessage(raw: string): ClientMessage {
  const pos = raw.indexOf(CRLF);
  const leader = pos < 0 ? raw : raw.slice(0, pos);
  const tokens = leader.split('|');
  let startLine = '';
  let headers = '';
  let body = '';
  if (pos >= 0) {
    let chunk = raw.slice(pos + CRLF.length);
    const blank = chunk.indexOf(CRLF + CRLF);
    if (blank >= 0) {
      body = chunk.slice(blank + 4);
      chunk = chunk.slice(0, blank);
    }
    const eol = chunk.indexOf(CRLF);
    startLine = eol < 0 ? chunk : chunk.slice(0, eol);
    headers = eol < 0 ? '' : chunk.slice(eol + CRLF.length);
  }
  return { msgId: tokens[0] ?? '', tokens, startLine, headers, body };
}
