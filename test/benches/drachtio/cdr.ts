/**
 * Call detail records (cdr.cpp): when the server runs with <cdrs>true</cdrs>, it posts
 * "cdr:attempt", "cdr:start" and "cdr:stop" events to one app (round-robin) that routed the
 * verb, with the SIP message that caused them:
 *
 *   <uuid>|cdr:attempt|<source>|<time>\r\n<SIP message>
 *   <uuid>|cdr:start|<source>|<time>|<uac|uas>\r\n<SIP message>
 *   <uuid>|cdr:stop|<source>|<time>|<reason>\r\n<SIP message>
 *
 * The C++ reason table has no entry for "ackbye", so that case reads
 * "system-initiated-termination"; reproduced.
 */
import type { ClientController } from './client-controller.js';
import { stackTime, type MetaSource } from './meta.js';

export type CdrStopReason = 'call-rejected' | 'call-canceled' | 'normal-release' | 'session-expired' | 'system-initiated-termination';

export class CdrPoster {
  constructor(
    private readonly enabled: boolean,
    private readonly clients: ClientController,
  ) {}

  attempt(source: MetaSource, raw: string): void {
    this.post('cdr:attempt', `cdr:attempt|${source}|${stackTime()}`, raw);
  }

  start(source: MetaSource, role: 'uac' | 'uas', raw: string): void {
    this.post('cdr:start', `cdr:start|${source}|${stackTime()}|${role}`, raw);
  }

  stop(source: MetaSource, reason: CdrStopReason, raw: string): void {
    this.post('cdr:stop', `cdr:stop|${source}|${stackTime()}|${reason}`, raw);
  }

  private post(verb: string, meta: string, raw: string): void {
    if (!this.enabled) return;
    this.clients.selectClientForRequestOutsideDialog(verb)?.sendCdr(meta, raw);
  }
}
