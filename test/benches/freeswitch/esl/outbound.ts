/**
 * The `socket` application's connection back to the application (socket_function() in
 * mod_event_socket.c): "host:port[|host:port...] [async] [full]"; the first host that accepts
 * the TCP connection gets an outbound listener for the channel.
 */
import { connect, type Socket } from 'node:net';

import type { Session } from '../core/session.js';
import type { Switch } from '../core/switch.js';
import { EslListener } from './listener.js';

export interface SocketTarget {
  readonly hosts: ReadonlyArray<{ host: string; port: number }>;
  readonly async: boolean;
  readonly full: boolean;
}

/** socket_function(): the port defaults to 8084; a bracketed IPv6 host keeps its brackets off. */
export function parseSocketData(data: string): SocketTarget | undefined {
  const [targets = '', ...flags] = data.trim().split(/\s+/);
  const hosts = targets
    .split('|')
    .filter(Boolean)
    .map((target) => {
      const colon = target.lastIndexOf(':');
      const host = colon > 0 ? target.slice(0, colon) : target;
      const port = colon > 0 ? Number.parseInt(target.slice(colon + 1), 10) : 8084;
      return { host: host.replace(/^\[(.*)\]$/, '$1'), port };
    });
  if (hosts.length === 0) return undefined;
  const lower = flags.map((flag) => flag.toLowerCase());
  return { hosts, async: lower.includes('async'), full: lower.includes('full') };
}

const CONNECT_TIMEOUT_MS = 3_000;

function tryConnect(host: string, port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const fail = (): void => {
      socket.destroy();
      resolve(undefined);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, fail);
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.removeListener('error', fail);
      resolve(socket);
    });
  });
}

export async function connectOutbound(sw: Switch, session: Session, target: SocketTarget): Promise<EslListener | undefined> {
  for (const { host, port } of target.hosts) {
    const socket = await tryConnect(host, port);
    if (socket) return new EslListener(sw, socket, { kind: 'outbound', session, async: target.async, full: target.full });
  }
  return undefined;
}
