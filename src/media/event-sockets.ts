import type { EventEmitter } from 'node:events';

/** What drachtio-modesl 1.3.1 keeps on a connection, beyond drachtio-fsmrf's typings. */
interface RawConnection extends EventEmitter {
  socket: { write(text: string): boolean } | null;
  send(command: string, args?: Record<string, unknown> | null): void;
  subscribe(events: string | string[], cb?: (...args: unknown[]) => void): void;
}

/**
 * FreeSWITCH events drachtio-fsmrf 4.1.2 subscribes every endpoint to but nothing reads: neither
 * the library (its execute() waits for CHANNEL_EXECUTE_COMPLETE) nor the switchboard. Each is a
 * JSON document of the channel's variables, several KB, that FreeSWITCH serialises and this
 * process parses: about five per call.
 */
const UNREAD_EVENTS = new Set(['CHANNEL_EXECUTE']);

/**
 * Tunes each FreeSWITCH event socket connection of a media server, the inbound one and every
 * endpoint's outbound one as it opens (before drachtio-fsmrf subscribes it), for CPU at load
 * (issue 9):
 * - a command goes out in one socket write: drachtio-modesl writes its line, each header and the
 *   closing blank line separately, six writes for one application run on a channel; each write
 *   is a system call, and with Nagle's algorithm the pieces after the first wait for the
 *   acknowledgement of the first;
 * - the events in UNREAD_EVENTS are left out of subscriptions.
 * The bytes on the wire are otherwise the same.
 */
export function tuneEventSockets(server: { conn: unknown; _server: EventEmitter }): void {
  tune(server.conn as RawConnection);
  server._server.on('connection::open', (conn: RawConnection) => tune(conn));
}

function tune(conn: RawConnection): void {
  conn.send = function send(this: RawConnection, command: string, args?: Record<string, unknown> | null): void {
    let text = `${command}\n`;
    for (const [name, value] of Object.entries(args ?? {})) text += `${name}: ${String(value)}\n`;
    try {
      // Null once the socket has closed: the throw is reported as the library does.
      (this.socket as RawConnection['socket'] & object).write(`${text}\n`);
    } catch (err) {
      this.emit('error', err);
    }
  };
  const subscribe = conn.subscribe.bind(conn);
  conn.subscribe = (events, cb) => subscribe(withoutUnread(events), cb);
}

/** The subscription list without UNREAD_EVENTS; 'all' and lists of one stay as they are. */
export function withoutUnread(events: string | string[]): string | string[] {
  const list = typeof events === 'string' ? events.split(' ') : events;
  const kept = list.filter((e) => !UNREAD_EVENTS.has(e));
  if (kept.length === list.length || kept.length === 0) return events;
  return typeof events === 'string' ? kept.join(' ') : kept;
}
