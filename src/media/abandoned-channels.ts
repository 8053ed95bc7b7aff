import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';

const FSMRF_ID = /^drachtio-fsmrf:(.+)$/;

/**
 * drachtio-fsmrf 4.1.2 makes an endpoint from two things that come in either order: the dialog of
 * its INVITE to FreeSWITCH and FreeSWITCH's connection back (the socket application), matched by
 * an id in `pendingConnections`. Two ways out of that map go wrong under load:
 *
 * - FreeSWITCH connects back first and the INVITE then fails (a 408 when FreeSWITCH is slow to
 *   answer): the library drops the entry and keeps the connection open, so the channel stays up,
 *   answered and idle in the socket application, for as long as the app runs. It is recognised
 *   as the entry leaves the map with a connection and without a dialog (every other way out has
 *   the dialog, or no connection yet: a connection that comes after the entry is gone is hung up
 *   by the library itself). `abandoned` gets its FreeSWITCH channel uuid.
 * - FreeSWITCH connects back after the library gave up on the endpoint: the library hangs the
 *   channel up with a command on that connection, which a FreeSWITCH swamped with channels does
 *   not always carry out (channels were seen left in the socket application minutes later). Such
 *   a channel is reported to `abandoned` as well, to be killed by its uuid.
 * - FreeSWITCH does not connect back within 4 s ("Connection timeout"): the library sends BYE on
 *   the dialog without handling a refusal (drachtio-server no longer knows a dialog FreeSWITCH
 *   has hung up meanwhile), an unhandled rejection. The rejection is marked handled here; the
 *   promise is the same, so whoever awaits it still sees it.
 */
export function guardPendingEndpoints(server: Pick<Mrf.MediaServer, 'pendingConnections' | '_server'>, abandoned: (uuid: string) => void): void {
  const pending = server.pendingConnections;
  // Before the library's own listener, which forgets the id of a connection it takes.
  server._server.prependListener('connection::ready', (conn: Mrf.OutboundConnection) => {
    const id = FSMRF_ID.exec(conn.getInfo().getHeader('variable_sip_user_agent') ?? '')?.[1];
    const uuid = conn.getInfo().getHeader('Channel-Unique-ID');
    if (id && uuid && !pending.has(id)) abandoned(uuid);
  });
  const remove = pending.delete.bind(pending);
  pending.delete = (id: string): boolean => {
    const entry = pending.get(id);
    if (entry?.dialog) quietDestroy(entry.dialog);
    const uuid = entry?.conn && !entry.dialog ? entry.conn.getInfo().getHeader('Channel-Unique-ID') : undefined;
    if (uuid) abandoned(uuid);
    return remove(id);
  };
}

/** drachtio-srf's destroy() returns a promise (its typings say void). */
function quietDestroy(dialog: Srf.Dialog): void {
  const destroy = dialog.destroy.bind(dialog) as (...args: unknown[]) => unknown;
  (dialog as unknown as { destroy: (...args: unknown[]) => unknown }).destroy = (...args: unknown[]) => {
    const sent = destroy(...args);
    if (sent instanceof Promise) sent.catch(() => undefined);
    return sent;
  };
}
