/**
 * The live event stream as server-sent events: every call, queue and operator event heard on the
 * Redis event channel (from any instance) goes to every client of this instance that may see it,
 * masked as the client's role requires.
 */
import type { ServerResponse } from 'node:http';
import { parseStatus } from '../acd/operator-store.js';
import type { Logger } from '../log.js';
import type { BusEvent } from '../redis/events.js';
import { maskCaller } from './mask.js';

/** What a client may see: all, or one operator's own; masked or not. */
export interface Viewer {
  /** Set for operator keys: only this operator's state and calls. */
  operatorId?: number;
  operatorUsername?: string;
  masked: boolean;
}

/** The bus side: where events come from. */
export interface EventFeed {
  onEvent(type: string, handler: (e: BusEvent) => void): void;
}

export interface EventStreamOptions {
  /** A comment line this often keeps proxies and load balancers from closing a quiet stream. */
  heartbeatMs?: number;
  /** A client that has this much unsent data is too slow and is disconnected. */
  maxBufferedBytes?: number;
  /** Operator usernames, so that clients need no second request to name an operator. */
  username?(operatorId: number): string | undefined;
  instanceId: string;
  log: Logger;
}

interface Client {
  res: ServerResponse;
  viewer: Viewer;
}

const DEFAULT_HEARTBEAT_MS = 15_000;
const DEFAULT_MAX_BUFFERED = 1024 * 1024;
// EventSource waits this long before reconnecting on its own.
const RETRY_MS = 3_000;

type StreamEvent = { name: 'call' | 'queue' | 'operator'; data: Record<string, unknown> };

function frame(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Operator statuses travel as the Redis hash (all strings); clients get typed fields. */
function operatorEvent(e: BusEvent, username: EventStreamOptions['username']): StreamEvent | undefined {
  const hash = e.status as Record<string, string> | undefined;
  if (!hash?.operatorId) return undefined;
  const s = parseStatus(Number(hash.operatorId), hash, Date.now());
  return {
    name: 'operator',
    data: {
      type: 'operator',
      operatorId: s.operatorId,
      username: username?.(s.operatorId) ?? null,
      state: s.state,
      since: new Date(s.since).toISOString(),
      callId: s.callId || null,
      callsTaken: s.calls,
      pending: s.pending || null,
    },
  };
}

/** Whether a viewer limited to one operator may see this event. */
function concerns(viewer: Viewer, e: StreamEvent): boolean {
  if (viewer.operatorId === undefined) return true;
  if (e.name === 'queue') return false;
  if (e.data.operatorId === viewer.operatorId) return true;
  const operators = e.data.operators;
  return Array.isArray(operators) && viewer.operatorUsername !== undefined && operators.includes(viewer.operatorUsername);
}

export class EventStream {
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly maxBuffered: number;
  private closed = false;

  constructor(
    bus: EventFeed,
    private readonly opts: EventStreamOptions,
  ) {
    this.maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
    bus.onEvent('call', (e) => this.broadcast({ name: 'call', data: e }));
    bus.onEvent('queue', (e) => this.broadcast({ name: 'queue', data: e }));
    bus.onEvent('operator', (e) => {
      const event = operatorEvent(e, opts.username);
      if (event) this.broadcast(event);
    });
    this.heartbeat = setInterval(() => this.beat(), opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Starts streaming to a response whose headers are not sent yet; ends when either side closes. */
  add(res: ServerResponse, viewer: Viewer): void {
    if (this.closed) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx and similar proxies buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    const client: Client = { res, viewer };
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
    res.write(`retry: ${RETRY_MS}\n\n`);
    this.send(client, frame('hello', { instanceId: this.opts.instanceId, operatorId: viewer.operatorId ?? null, masked: viewer.masked }));
  }

  /** Ends every stream (shutdown): clients reconnect to another instance or after the restart. */
  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const client of this.clients) {
      client.res.end(frame('bye', { reason: 'switchboard stopping' }));
    }
    this.clients.clear();
  }

  private broadcast(event: StreamEvent): void {
    if (this.closed) return;
    let plain: string | undefined;
    let masked: string | undefined;
    for (const client of this.clients) {
      if (!concerns(client.viewer, event)) continue;
      // Each form is serialised once, however many clients share it.
      if (client.viewer.masked) masked ??= frame(event.name, maskCaller(event.data));
      else plain ??= frame(event.name, event.data);
      this.send(client, client.viewer.masked ? (masked as string) : (plain as string));
    }
  }

  private beat(): void {
    for (const client of this.clients) this.send(client, ': heartbeat\n\n');
  }

  private send(client: Client, text: string): void {
    if (client.res.writableLength > this.maxBuffered) {
      this.opts.log.warn({ buffered: client.res.writableLength }, 'event stream client too slow; disconnecting it');
      this.clients.delete(client);
      client.res.destroy();
      return;
    }
    client.res.write(text);
  }
}
