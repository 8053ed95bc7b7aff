import Srf from 'drachtio-srf';
import type { Config } from '../config.js';
import type { Health } from '../health.js';
import type { Logger } from '../log.js';

// drachtio-srf grows its reconnect delay without bound unless capped; 2 s keeps a restarted
// drachtio-server from waiting minutes for us.
const RECONNECT = { retryMaxDelay: 2_000 };

/** The parts of drachtio-srf's dialogs it keeps private that a reconnect has to fix. */
interface SrfDialogs {
  _dialogs: Map<string, { req: { socket: unknown }; agent: { _getDefaultSocket(): unknown } }>;
}

/**
 * drachtio-srf sends a dialog's requests on the socket the dialog was made on; after a reconnect
 * that socket is closed and a BYE would go nowhere. drachtio-server itself still knows the
 * dialogs and sends what any connection asks on them, so point them at the new connection.
 */
function moveDialogsToNewConnection(srf: Srf): void {
  for (const dialog of (srf as unknown as SrfDialogs)._dialogs.values()) dialog.req.socket = dialog.agent._getDefaultSocket();
}

/** Told when an established connection to drachtio-server drops, and when it is made again. */
export interface LinkWatcher {
  lost(): void;
  restored(): void;
}

/** A drachtio-srf application not yet connected: handlers first, then connect(). */
export interface DrachtioApp {
  srf: Srf;
  connect(): void;
}

/**
 * Sets up the connection to drachtio-server and keeps the health record true. drachtio-srf
 * reconnects by itself once an 'error' listener exists (without one the process would die when
 * the server goes away).
 *
 * connect() comes after every request handler (srf.invite, srf.register, srf.use) is attached:
 * drachtio-srf 5.0 sends all its routes again each time a handler is added on a live connection
 * (routeVerbs never marks a route as sent), and drachtio-server then holds this application
 * several times in its round-robin list for INVITE, so several instances get new calls in runs
 * instead of in turn. Routes attached before the connection go once, when it is made.
 */
export function setUpDrachtio(cfg: Config['drachtio'], health: Health, log: Logger, link: LinkWatcher): DrachtioApp {
  const srf = new Srf();
  const where = `${cfg.host}:${cfg.port}`;
  let connected = false;
  let dropped = false;
  srf.on('connect', (err: Error | null, hostport: string) => {
    if (err) {
      health.set('drachtio', false, `${where}: ${err.message}`);
      log.error({ err: err.message, drachtio: where }, 'drachtio-server refused us (check DRACHTIO_SECRET)');
      return;
    }
    health.set('drachtio', true, `connected to ${where}, SIP on ${hostport}`);
    log.info({ drachtio: where, sip: hostport }, 'connected to drachtio-server');
    connected = true;
    if (!dropped) return;
    dropped = false;
    moveDialogsToNewConnection(srf);
    link.restored();
  });
  srf.on('error', (err: Error) => {
    if (health.isUp('drachtio')) log.warn({ err: err.message, drachtio: where }, 'drachtio-server connection error');
    health.set('drachtio', false, `${where}: ${err.message}`);
  });
  (srf as unknown as { on(e: 'close', l: () => void): void }).on('close', () => {
    if (health.isUp('drachtio')) log.warn({ drachtio: where }, 'lost drachtio-server; reconnecting');
    health.set('drachtio', false, `${where}: connection closed, reconnecting`);
    if (!connected || dropped) return;
    dropped = true;
    link.lost();
  });
  health.set('drachtio', false, `connecting to ${where}`);
  return {
    srf,
    // The typings lack the reconnect option that drachtio-srf's wire protocol reads.
    connect: () => void srf.connect({ host: cfg.host, port: cfg.port, secret: cfg.secret, reconnect: RECONNECT } as Srf.SrfConfig),
  };
}
