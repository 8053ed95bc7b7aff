import { randomUUID } from 'node:crypto';
import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import { CallRecorder, type LegRecorder } from '../cdr/call-recorder.js';
import type { Disposition } from '../cdr/records.js';
import { publishCallEvent } from '../events/call-events.js';
import { callLogger, type Logger } from '../log.js';
import { answerOntoMedia, CallerGone, isConnected, type AnsweredCall } from '../media/answer.js';
import { releaseEndpoint } from '../media/endpoint.js';
import { callerOf, dialledOf, type Party } from '../sip/request-info.js';
import type { CallContext } from './context.js';

/**
 * A new INVITE as every kind of call starts out: its call id, logger, record and caller leg, and
 * the two ways it can end before anything is answered. Shared by the queue path, feature codes,
 * direct calls and rooms so that each leaves its record the same way.
 */
export interface Arrival {
  readonly callId: string;
  readonly arrivedAt: number;
  readonly log: Logger;
  readonly req: Srf.SrfRequest;
  readonly res: Srf.SrfResponse;
  readonly caller: Party;
  readonly dialled: string;
  readonly sipCallId: string;
  readonly recorder: CallRecorder;
  /** The caller's leg (inbound); ended by whoever ends the call. */
  readonly leg: LegRecorder;
  /** Answers the INVITE with a failure status (and headers, e.g. Warning) and records the call as refused. */
  refuse(status: number, reason: string, disposition: Extract<Disposition, 'rejected' | 'failed'>, headers?: Record<string, string>): void;
  /** Records a caller who gave up (CANCEL) before the call was answered. */
  abandoned(): void;
  /**
   * Answers the caller onto the media server. If that cannot be done the call is over and
   * recorded (abandoned when the caller left first, refused with 503 otherwise): undefined.
   */
  answerOnto(ms: Mrf.MediaServer): Promise<AnsweredCall | undefined>;
  /**
   * Asks admission control, just before this new call's first media server endpoint, whether it
   * may have one (not asked when it already hears one). Refused, the call is answered 503 and
   * recorded: true.
   */
  refusedMedia(): boolean;
  /**
   * The arrival keeps a media server endpoint the caller hears as early media (an intercept
   * announcement) for whichever call path takes the call on; refused or abandoned, it is released.
   */
  holdEarlyMedia(endpoint: Mrf.Endpoint): void;
  /** Takes the early media endpoint over (answerOnto does), if there is one. */
  takeEarlyMedia(): Mrf.Endpoint | undefined;
  /** Whether the caller hears early media from the media server (and must be answered from it). */
  hasEarlyMedia(): boolean;
  /** The media server for this caller: that of its early media, else the least loaded. */
  pickMedia(): Mrf.MediaServer | undefined;
}

export function newArrival(ctx: CallContext, req: Srf.SrfRequest, res: Srf.SrfResponse): Arrival {
  const arrivedAt = Date.now();
  const callId = randomUUID();
  const log = callLogger(ctx.log, callId);
  const caller = callerOf(req);
  const dialled = dialledOf(req);
  const sipCallId = req.get('Call-ID');
  const recorder = new CallRecorder(
    { callId, instanceId: ctx.instanceId, callerNumber: caller.number, callerName: caller.name, dialledNumber: dialled, arrivedAt },
    (r) => ctx.record(r),
    randomUUID,
  );
  const leg = recorder.leg('caller', 'inbound', sipCallId, caller.number, arrivedAt);
  let early: Mrf.Endpoint | undefined;
  const takeEarlyMedia = (): Mrf.Endpoint | undefined => {
    const taken = early;
    early = undefined;
    return taken;
  };
  publishCallEvent(ctx.bus, { event: 'arrived', callId, instanceId: ctx.instanceId, callerNumber: caller.number, callerName: caller.name, dialledNumber: dialled, at: arrivedAt });
  const refuse: Arrival['refuse'] = (status, reason, disposition, headers) => {
    void releaseEndpoint(takeEarlyMedia());
    if (!res.finalResponseSent) res.send(status, headers ? { headers } : {});
    const at = Date.now();
    leg.end(at, 'system', status, reason);
    recorder.end({ at, hangupBy: 'system', sipStatus: status, sipReason: reason, disposition });
    log.info({ status, reason }, 'call refused');
  };
  const abandoned = (): void => {
    void releaseEndpoint(takeEarlyMedia());
    const at = Date.now();
    leg.end(at, 'caller', 487, 'Request Terminated');
    recorder.end({ at, hangupBy: 'caller', sipStatus: 487, sipReason: 'cancelled before answer', disposition: 'abandoned' });
    log.info('caller hung up before the answer');
  };
  const refusedMedia = (): boolean => {
    const overload = early ? undefined : ctx.admission.mediaRefusal();
    if (overload) refuse(overload.status, overload.reason, overload.disposition, overload.headers);
    return overload !== undefined;
  };
  const answerOnto = async (ms: Mrf.MediaServer): Promise<AnsweredCall | undefined> => {
    if (refusedMedia()) return undefined;
    try {
      return await answerOntoMedia(ctx.srf, ms, req, res, takeEarlyMedia());
    } catch (err) {
      if (err instanceof CallerGone) return void abandoned();
      log.warn({ err: (err as Error).message }, 'cannot answer onto the media server');
      return void refuse(503, 'Service Unavailable: media server failed', 'failed');
    }
  };
  return {
    callId, arrivedAt, log, req, res, caller, dialled, sipCallId, recorder, leg, refuse, abandoned, answerOnto, refusedMedia, takeEarlyMedia,
    holdEarlyMedia: (endpoint) => {
      early = endpoint;
    },
    hasEarlyMedia: () => early !== undefined,
    pickMedia: () => early?.mediaserver ?? ctx.media.pick(),
  };
}

/** Shows a call that does not wait in a queue among the live calls (API, hang-up from any instance). */
export async function publishLive(ctx: CallContext, a: Arrival, state: 'offering' | 'connected', operatorId: number | null): Promise<void> {
  publishCallEvent(ctx.bus, { event: state === 'connected' ? 'connected' : 'offered', callId: a.callId, operatorId });
  await ctx.queues.saveCall({
    callId: a.callId,
    owner: ctx.instanceId,
    callerNumber: a.caller.number,
    callerName: a.caller.name,
    dialledNumber: a.dialled,
    arrivedAt: a.arrivedAt,
    state,
    queueId: null,
    queuedAt: null,
    priority: 0,
    score: null,
    operatorId,
    answeredAt: state === 'connected' ? Date.now() : null,
  });
}

/** Takes a call that never queued off the live calls. */
export async function unpublishLive(ctx: CallContext, callId: string): Promise<void> {
  await ctx.queues.removeCall(callId, null).catch(() => undefined);
}

/** A promise with its resolver, for an ActiveCall's `done`. */
export function settleOnce(): { done: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  return { done, resolve };
}

/** Waits for `work` for at most `ms`; whatever it does after that is no longer awaited. */
export async function bounded(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([work.then(() => undefined, () => undefined), timeout]);
  clearTimeout(timer);
}

/**
 * Sends BYE on a dialog that is still up. drachtio-srf's destroy() returns a promise (its typings
 * say void) that rejects when the far end's BYE got there first; nothing is left to do then.
 */
export function hangUpDialog(dialog: Srf.Dialog): void {
  if (!isConnected(dialog)) return;
  const sent = dialog.destroy() as unknown as Promise<unknown> | undefined;
  void sent?.catch(() => undefined);
}
