/**
 * Event socket framing, server side (src/mod/event_handlers/mod_event_socket/mod_event_socket.c).
 *
 * Client to server: a command line and optional "Name: value" lines, ended by an empty line
 * (read_packet() counts two '\n' in a row, ignoring '\r', and skips stray leading newlines); a
 * Content-Length header makes it read that many bytes of body after the empty line.
 *
 * Server to client: a block of headers ended by an empty line, then Content-Length bytes of body.
 * The writers below reproduce the exact blocks listener_run(), api_exec(), send_disconnect() and
 * read_packet() build with switch_snprintf().
 */
import type { FsEvent } from './event.js';

export interface EslCommand {
  /** The first line, e.g. "api sofia status" or "sendmsg 1234-...". */
  readonly line: string;
  /** The following "Name: value" lines; names compared case-insensitively, as FreeSWITCH does. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string | undefined;
}

export function header(command: EslCommand, name: string): string | undefined {
  return command.headers.get(name.toLowerCase());
}

/** Splits a byte stream from a client into commands. */
export class CommandReader {
  private buffer = Buffer.alloc(0);
  private pending: { line: string; headers: Map<string, string>; bodyLength: number } | undefined;

  push(chunk: Buffer): EslCommand[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const commands: EslCommand[] = [];
    for (;;) {
      const command = this.next();
      if (!command) return commands;
      commands.push(command);
    }
  }

  private next(): EslCommand | undefined {
    if (this.pending) return this.takeBody();
    this.skipLeadingNewlines();
    const end = this.endOfBlock();
    if (end < 0) return undefined;
    const block = this.buffer.subarray(0, end).toString('utf8');
    this.buffer = this.buffer.subarray(end + this.terminatorLength(end));
    return this.parseBlock(block);
  }

  private skipLeadingNewlines(): void {
    let start = 0;
    while (start < this.buffer.length && (this.buffer[start] === 0x0a || this.buffer[start] === 0x0d)) start++;
    if (start > 0) this.buffer = this.buffer.subarray(start);
  }

  /** Index where the first "\n\n" (with any '\r' in between) begins, or -1. */
  private endOfBlock(): number {
    let newlines = 0;
    let first = -1;
    for (let i = 0; i < this.buffer.length; i++) {
      const byte = this.buffer[i];
      if (byte === 0x0d) continue;
      if (byte !== 0x0a) {
        newlines = 0;
        continue;
      }
      if (newlines === 0) first = i;
      newlines++;
      if (newlines === 2) return first;
    }
    return -1;
  }

  private terminatorLength(end: number): number {
    let i = end;
    let newlines = 0;
    while (newlines < 2 && i < this.buffer.length) {
      if (this.buffer[i] === 0x0a) newlines++;
      i++;
    }
    return i - end;
  }

  private parseBlock(block: string): EslCommand | undefined {
    const lines = block.split('\n').map((line) => line.replace(/\r$/, ''));
    const line = lines.shift() ?? '';
    const headers = new Map<string, string>();
    for (const text of lines) {
      const colon = text.indexOf(':');
      if (colon < 0) continue;
      headers.set(text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).replace(/^ +/, ''));
    }
    const bodyLength = Number.parseInt(headers.get('content-length') ?? '0', 10);
    if (bodyLength > 0) {
      this.pending = { line, headers, bodyLength };
      return this.takeBody();
    }
    return { line, headers, body: undefined };
  }

  private takeBody(): EslCommand | undefined {
    const pending = this.pending;
    if (!pending || this.buffer.length < pending.bodyLength) return undefined;
    const body = this.buffer.subarray(0, pending.bodyLength).toString('utf8');
    this.buffer = this.buffer.subarray(pending.bodyLength);
    this.pending = undefined;
    return { line: pending.line, headers: pending.headers, body };
  }
}

/** listener_run(): sent to every inbound connection before anything else. */
export function authRequest(): string {
  return 'Content-Type: auth/request\n\n';
}

/**
 * listener_run(): a reply that parse_command() wrote starting with '~' is a ready-made header
 * block (bgapi, userauth); any other is wrapped as Reply-Text.
 */
export function commandReply(reply: string): string {
  if (reply.startsWith('~')) return `Content-Type: command/reply\n${reply.slice(1)}`;
  return `Content-Type: command/reply\nReply-Text: ${reply}\n\n`;
}

/** api_exec(): an empty reply becomes "-ERR no reply\n". */
export function apiResponse(body: string): string {
  const text = body.length === 0 ? '-ERR no reply\n' : body;
  return `Content-Type: api/response\nContent-Length: ${Buffer.byteLength(text)}\n\n${text}`;
}

export type EventFormat = 'plain' | 'json';

/** read_packet(): the event is serialised first, then announced with its byte length. */
export function eventMessage(format: EventFormat, event: FsEvent): string {
  const text = format === 'json' ? event.toJson() : event.toPlain();
  return `Content-Length: ${Buffer.byteLength(text)}\nContent-Type: text/event-${format}\n\n${text}`;
}

export const GOODBYE = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';

/** send_disconnect(): a listener that controls a session names it. */
export function disconnectNotice(message: string, sessionUuid?: string): string {
  const length = Buffer.byteLength(message);
  if (sessionUuid === undefined) {
    return `Content-Type: text/disconnect-notice\nContent-Length: ${length}\n\n${message}`;
  }
  return (
    'Content-Type: text/disconnect-notice\n' +
    `Controlled-Session-UUID: ${sessionUuid}\n` +
    'Content-Disposition: disconnect\n' +
    `Content-Length: ${length}\n\n${message}`
  );
}

/** read_packet(): the notice sent when a lingering session's channel goes down. */
export function lingerNotice(sessionUuid: string, channelName: string, lingerSeconds: number): string {
  return (
    'Content-Type: text/disconnect-notice\n' +
    `Controlled-Session-UUID: ${sessionUuid}\n` +
    'Content-Disposition: linger\n' +
    `Channel-Name: ${channelName}\n` +
    `Linger-Time: ${lingerSeconds}\n` +
    'Content-Length: 0\n\n'
  );
}

/** listener_run(): what a client outside the ACL gets before the socket is closed. */
export function rudeRejection(): string {
  const message = 'Access Denied, go away.\n';
  return `Content-Type: text/rude-rejection\nContent-Length: ${message.length}\n\n${message}`;
}
