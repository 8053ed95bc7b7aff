import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { subscriptionFor, tuneEventSockets } from '../../../src/media/event-sockets.js';

type Send = (command: string, args?: Record<string, unknown> | null) => void;
type Subscribe = (events: string | string[], cb?: () => void) => void;

// The library the tuning replaces a method of: its own send() is what the bytes must match.
const require = createRequire(import.meta.url);
const modesl = require('drachtio-modesl/lib/esl/Connection.js') as { prototype: { send: Send; disconnect: (this: FakeConnection) => void } };

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
  disconnect = modesl.prototype.disconnect;
  closing = false;
}

function tuned(): { inbound: FakeConnection; outbound: FakeConnection } {
  const inbound = new FakeConnection();
  const server = { conn: inbound, _server: new EventEmitter() };
  tuneEventSockets(server);
  const outbound = new FakeConnection();
  server._server.emit('connection::open', outbound);
  return { inbound, outbound };
}

const tick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('event socket tuning', () => {
  it('writes a command with its headers in one write, the same bytes as drachtio-modesl', async () => {
    const args = { 'call-command': 'execute', 'execute-app-name': 'playback', 'execute-app-arg': 'tone_stream://%(100,0,440)', 'event-lock': true };
    const plain = new FakeConnection();
    plain.send('sendmsg 1234', args);
    const { inbound, outbound } = tuned();
    outbound.send('sendmsg 1234', args);
    inbound.send('api status');
    await tick();
    expect(plain.writes.length).toBeGreaterThan(1);
    expect(outbound.writes).toEqual([plain.writes.join('')]);
    expect(inbound.writes).toEqual(['api status\n\n']);
  });

  it('writes the commands of one turn of the event loop together, in order, and later ones apart', async () => {
    const plain = new FakeConnection();
    const { outbound } = tuned();
    for (const c of [plain, outbound]) {
      c.send('event json CHANNEL_CALLSTATE');
      c.send('filter Unique-ID 1234');
    }
    expect(outbound.writes).toEqual([]);
    await tick();
    expect(outbound.writes).toEqual([plain.writes.join('')]);
    outbound.send('sendmsg 1234', { 'call-command': 'hangup' });
    await tick();
    expect(outbound.writes).toEqual([plain.writes.join(''), 'sendmsg 1234\ncall-command: hangup\n\n']);
  });

  it('sends what is pending and "exit" before the socket ends when the connection is closed', () => {
    const { inbound } = tuned();
    const socket = inbound.socket as { write(text: string): boolean; end?: () => void };
    let ended = false;
    socket.end = () => {
      ended = true;
      expect(inbound.writes.join('')).toBe('api status\n\nexit\n\n');
    };
    inbound.send('api status');
    inbound.disconnect();
    expect(ended).toBe(true);
    expect(inbound.socket).toBeNull();
  });

  it('reports a write on a closed socket as an error on the connection', async () => {
    const { outbound } = tuned();
    const errors: unknown[] = [];
    outbound.on('error', (err) => errors.push(err));
    outbound.send('api status');
    outbound.socket = null;
    await tick();
    expect(errors).toHaveLength(1);
  });

  it("leaves the unread events out of a subscription, and adds CHANNEL_BRIDGE to an endpoint's, before CUSTOM", () => {
    const { outbound } = tuned();
    outbound.subscribe('CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_CALLSTATE DTMF CUSTOM conference::maintenance');
    outbound.subscribe(['CHANNEL_BRIDGE']);
    outbound.subscribe(['HEARTBEAT', 'CHANNEL_EXECUTE']);
    expect(outbound.subscribed).toEqual([
      'CHANNEL_EXECUTE_COMPLETE CHANNEL_CALLSTATE CHANNEL_BRIDGE DTMF CUSTOM conference::maintenance',
      ['CHANNEL_BRIDGE'],
      ['HEARTBEAT'],
    ]);
  });

  it('keeps a subscription of only unread events, or of all, or one that has what it needs, as asked', () => {
    expect(subscriptionFor(['CHANNEL_EXECUTE'])).toEqual(['CHANNEL_EXECUTE']);
    expect(subscriptionFor('all')).toBe('all');
    const already = ['CHANNEL_CALLSTATE', 'CHANNEL_BRIDGE'];
    expect(subscriptionFor(already)).toBe(already);
    expect(subscriptionFor(['CHANNEL_CALLSTATE', 'DTMF'])).toEqual(['CHANNEL_CALLSTATE', 'CHANNEL_BRIDGE', 'DTMF']);
  });
});
