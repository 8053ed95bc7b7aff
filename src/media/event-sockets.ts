import type { EventEmitter } from 'node:events';

/** What drachtio-modesl 1.3.1 keeps on a connection, beyond drachtio-fsmrf's typings. */
interface RawConnection extends EventEmitter {
  socket: { write(text: string): boolean } | null;
  send(command: string, args?: Record<string, unknown> | null): void;
  subscribe(events: string | string[], cb?: (...args: unknown[]) => void): void;
  disconnect(): void;
}

/**
 * FreeSWITCH events drachtio-fsmrf 4.1.2 subscribes every endpoint to but nothing reads: neither
 * the library (its execute() waits for CHANNEL_EXECUTE_COMPLETE) nor the switchboard. Each is a
 * JSON document of the channel's variables, several KB, that FreeSWITCH serialises and this
 * process parses: about five per call.
 */
const UNREAD_EVENTS = new Set(['CHANNEL_EXECUTE']);
/**
 * Events the switchboard reads that fsmrf does not subscribe endpoints to: CHANNEL_BRIDGE
 * (media/bridge.ts). Asked for in fsmrf's own subscription command rather than in one more
 * command and reply on the socket when first needed. FreeSWITCH sends an endpoint's socket only
 * the events of its own channel (fsmrf filters on its Unique-ID): a CHANNEL_BRIDGE comes once per
 * bridge, to the originator's socket, as before.
 */
const ADDED_EVENTS = ['CHANNEL_BRIDGE'];
/** In fsmrf's endpoint subscription, and in no other of its subscriptions. */
const ENDPOINT_EVENT = 'CHANNEL_CALLSTATE';

/**
 * Tunes each FreeSWITCH event socket connection of a media server, the inbound one and every
 * endpoint's outbound one as it opens (before drachtio-fsmrf subscribes it), for CPU at load
 * (issue 9). Every write to FreeSWITCH is a system call that wakes one of its threads, on this
 * machine class the dearest part of a command:
 * - a command goes out in one socket write: drachtio-modesl writes its line, each header and the
 *   closing blank line separately, six writes for one application run on a channel; and the
 *   commands given in one turn of the event loop (fsmrf subscribes and filters a new endpoint's
 *   socket at once) go out together. With Nagle's algorithm a second write would also wait for
 *   the acknowledgement of the first;
 * - the events in UNREAD_EVENTS are left out of subscriptions, and ADDED_EVENTS put in an
 *   endpoint's.
 * The bytes on the wire are otherwise the same, in the same order.
 */
export function tuneEventSockets(server: { conn: unknown; _server: EventEmitter }): void {
  tune(server.conn as RawConnection);
  server._server.on('connection::open', (conn: RawConnection) => tune(conn));
}

function tune(conn: RawConnection): void {
  let pending = '';
  // Set once the connection is being closed: its last command ("exit") goes out before the socket ends.
  let closing = false;
  const flush = (): void => {
    const text = pending;
    pending = '';
    if (text === '') return;
    try {
      // Null once the socket has closed: the throw is reported as the library does.
      (conn.socket as RawConnection['socket'] & object).write(text);
    } catch (err) {
      conn.emit('error', err);
    }
  };
  conn.send = (command, args) => {
    let text = `${command}\n`;
    for (const [name, value] of Object.entries(args ?? {})) text += `${name}: ${String(value)}\n`;
    if (pending === '' && !closing) process.nextTick(flush);
    pending += `${text}\n`;
    if (closing) flush();
  };
  const subscribe = conn.subscribe.bind(conn);
  conn.subscribe = (events, cb) => subscribe(subscriptionFor(events), cb);
  const disconnect = conn.disconnect.bind(conn);
  conn.disconnect = () => {
    closing = true;
    disconnect();
  };
}

/**
 * The subscription list without UNREAD_EVENTS, and with ADDED_EVENTS if it is an endpoint's;
 * 'all' and lists of one stay as they are. Added events go before CUSTOM: FreeSWITCH takes every
 * word after it for a custom event's subclass.
 */
export function subscriptionFor(events: string | string[]): string | string[] {
  const list = typeof events === 'string' ? events.split(' ') : events;
  const kept = list.filter((e) => !UNREAD_EVENTS.has(e));
  if (list.length <= 1 || kept.length === 0) return events;
  const at = kept.indexOf(ENDPOINT_EVENT);
  const added = at < 0 ? [] : ADDED_EVENTS.filter((e) => !kept.includes(e));
  if (kept.length === list.length && added.length === 0) return events;
  const result = [...kept.slice(0, at + 1), ...added, ...kept.slice(at + 1)];
  return typeof events === 'string' ? result.join(' ') : result;
}
