/**
 * send_heartbeat() in src/switch_core.c: a HEARTBEAT event every event-heartbeat-interval (20 s
 * by default). drachtio-fsmrf's MediaServer reads Max-Sessions, Session-Count,
 * Session-Per-Sec, FreeSWITCH-Hostname/-IPv4/-IPv6/-Version and Idle-CPU from it.
 */
import { upTime, VERSION } from '../api/system-commands.js';
import type { Switch } from './switch.js';

const ORIGIN = { file: 'switch_core.c', func: 'send_heartbeat', line: 82 };

export function fireHeartbeat(sw: Switch): void {
  const count = sw.sessionCount;
  sw.fire(
    sw
      .newEvent('HEARTBEAT', ORIGIN)
      .add('Event-Info', 'System Ready')
      .add('Up-Time', upTime(sw))
      .add('FreeSWITCH-Version', VERSION)
      .add('Uptime-msec', Date.now() - sw.startedAt)
      .add('Session-Count', count)
      .add('Max-Sessions', sw.load.maxSessions)
      .add('Session-Per-Sec', 0)
      .add('Session-Per-Sec-Last', 0)
      .add('Session-Per-Sec-Max', 0)
      .add('Session-Per-Sec-FiveMin', 0)
      .add('Session-Since-Startup', sw.sessionsCreated)
      .add('Session-Peak-Max', count)
      .add('Session-Peak-FiveMin', count)
      .add('Idle-CPU', sw.load.idleCpu.toFixed(6)),
  );
}

/** Starts the periodic heartbeat; returns a function that stops it. */
export function startHeartbeat(sw: Switch, intervalMs: number): () => void {
  const timer = setInterval(() => fireHeartbeat(sw), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
