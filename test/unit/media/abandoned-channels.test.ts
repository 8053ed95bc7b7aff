import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { guardPendingEndpoints } from '../../../src/media/abandoned-channels.js';

/** drachtio-fsmrf's map of endpoints being made, as MediaServer#createEndpoint uses it. */
function server(): { pendingConnections: Map<string, Mrf.PendingConnection>; _server: EventEmitter; abandoned: string[] } {
  const s = { pendingConnections: new Map<string, Mrf.PendingConnection>(), _server: new EventEmitter(), abandoned: [] as string[] };
  guardPendingEndpoints(s, (uuid) => s.abandoned.push(uuid));
  return s;
}

function conn(uuid: string, id = 'x'): Mrf.OutboundConnection {
  const headers: Record<string, string> = { 'Channel-Unique-ID': uuid, variable_sip_user_agent: `drachtio-fsmrf:${id}` };
  return { getInfo: () => ({ getHeader: (name: string) => headers[name], getBody: () => '', serialize: () => '' }) };
}

function dialog(destroy: () => Promise<void>): Srf.Dialog {
  return { destroy } as unknown as Srf.Dialog;
}

describe('endpoints drachtio-fsmrf gives up on', () => {
  it('reports the channel of a connection back whose INVITE then failed', () => {
    const s = server();
    const entry: Mrf.PendingConnection = {};
    s.pendingConnections.set('a', entry);
    entry.conn = conn('fs-1'); // FreeSWITCH connected back first
    s.pendingConnections.delete('a'); // createUAC rejected (408)
    expect(s.abandoned).toEqual(['fs-1']);
    expect(s.pendingConnections.has('a')).toBe(false);
  });

  it('reports nothing for an endpoint made either way round, nor for a connection that never came', () => {
    const s = server();
    // Dialog first, then the connection.
    s.pendingConnections.set('a', { dialog: dialog(() => Promise.resolve()) });
    s.pendingConnections.delete('a');
    // Connection first, then the dialog.
    const entry: Mrf.PendingConnection = { conn: conn('fs-2') };
    s.pendingConnections.set('b', entry);
    entry.dialog = dialog(() => Promise.resolve());
    s.pendingConnections.delete('b');
    // The INVITE failed before FreeSWITCH connected back.
    s.pendingConnections.set('c', {});
    s.pendingConnections.delete('c');
    expect(s.abandoned).toEqual([]);
    expect(s.pendingConnections.size).toBe(0);
  });

  it('reports the channel of a connection back that comes after the endpoint was given up on, not one still awaited', () => {
    const s = server();
    // drachtio-fsmrf's own listener, registered first, takes a connection it awaits off the map.
    s._server.on('connection::ready', (c: Mrf.OutboundConnection) => {
      s.pendingConnections.delete(/^drachtio-fsmrf:(.+)$/.exec(c.getInfo().getHeader('variable_sip_user_agent') ?? '')?.[1] ?? '');
    });
    s.pendingConnections.set('awaited', { dialog: dialog(() => Promise.resolve()) });
    s._server.emit('connection::ready', conn('fs-1', 'awaited'));
    s._server.emit('connection::ready', conn('fs-2', 'given-up'));
    expect(s.abandoned).toEqual(['fs-2']);
  });

  it('leaves no unhandled rejection when the BYE of a timed-out endpoint is refused, and still passes it on', async () => {
    const s = server();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const d = dialog(() => Promise.reject(new Error('Server error: unable to find dialog for dialog id provided')));
      s.pendingConnections.set('a', { dialog: d });
      s.pendingConnections.delete('a'); // the 4-s connection timeout: the library drops it, then
      const sent = d.destroy() as unknown as Promise<void>; // sends BYE without a catch
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
      await expect(sent).rejects.toThrow('unable to find dialog');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
