import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { tuneEventSockets, withoutUnread } from '../../../src/media/event-sockets.js';

type Send = (command: string, args?: Record<string, unknown> | null) => void;
type Subscribe = (events: string | string[], cb?: () => void) => void;

// The library the tuning replaces a method of: its own send() is what the bytes must match.
const require = createRequire(import.meta.url);
const modesl = require('drachtio-modesl/lib/esl/Connection.js') as { prototype: { send: Send } };

class FakeConnection extends EventEmitter {
  writes: string[] = [];
  subscribed: (string | string[])[] = [];
  socket: { write(text: string): boolean } | null = {
    write: (text: string) => {
      this.writes.push(text);
      return true;
    },
  };
  send: Send = modesl.prototype.send;
  subscribe: Subscribe = (events) => {
    this.subscribed.push(events);
  };
}

function tuned(): { inbound: FakeConnection; outbound: FakeConnection } {
  const inbound = new FakeConnection();
  const server = { conn: inbound, _server: new EventEmitter() };
  tuneEventSockets(server);
  const outbound = new FakeConnection();
  server._server.emit('connection::open', outbound);
  return { inbound, outbound };
}

describe('event socket tuning', () => {
  it('writes a command with its headers in one write, the same bytes as drachtio-modesl', () => {
    const args = { 'call-command': 'execute', 'execute-app-name': 'playback', 'execute-app-arg': 'tone_stream://%(100,0,440)', 'event-lock': true };
    const plain = new FakeConnection();
    plain.send('sendmsg 1234', args);
    const { inbound, outbound } = tuned();
    outbound.send('sendmsg 1234', args);
    inbound.send('api status');
    expect(plain.writes.length).toBeGreaterThan(1);
    expect(outbound.writes).toEqual([plain.writes.join('')]);
    expect(inbound.writes).toEqual(['api status\n\n']);
  });

  it('reports a write on a closed socket as an error on the connection', () => {
    const { outbound } = tuned();
    outbound.socket = null;
    const errors: unknown[] = [];
    outbound.on('error', (err) => errors.push(err));
    outbound.send('api status');
    expect(errors).toHaveLength(1);
  });

  it('leaves the unread events out of a subscription, and nothing else', () => {
    const { outbound } = tuned();
    outbound.subscribe('CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_CALLSTATE CUSTOM conference::maintenance');
    outbound.subscribe(['CHANNEL_BRIDGE']);
    expect(outbound.subscribed).toEqual(['CHANNEL_EXECUTE_COMPLETE CHANNEL_CALLSTATE CUSTOM conference::maintenance', ['CHANNEL_BRIDGE']]);
  });

  it('keeps a subscription of only unread events, or of all, as asked', () => {
    expect(withoutUnread(['CHANNEL_EXECUTE'])).toEqual(['CHANNEL_EXECUTE']);
    expect(withoutUnread('all')).toBe('all');
    expect(withoutUnread(['HEARTBEAT', 'CHANNEL_EXECUTE'])).toEqual(['HEARTBEAT']);
  });
});
