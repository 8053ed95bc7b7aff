import type Srf from 'drachtio-srf';
import type { CampOnStore } from '../acd/camp-on-store.js';
import type { Callbacks } from '../callback/service.js';
import type { AdmissionGate } from './admission-gate.js';
import type { Dispatcher, WaitingCall } from '../acd/dispatcher.js';
import type { HeldOperator } from '../acd/recovery-plan.js';
import type { OperatorService } from '../acd/operator-service.js';
import type { QueueStore } from '../acd/queue-store.js';
import type { StatusCache } from '../acd/status-cache.js';
import type { HistoryRecord } from '../cdr/records.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { MediaPool } from '../media/pool.js';
import type { Prompts } from '../media/prompts.js';
import type { ConfigCache } from '../provisioning/cache.js';
import type { EventBus } from '../redis/events.js';
import type { RecordingDeps } from '../messages/recording.js';
import type { Registrar } from '../registrar/index.js';

/** A call this instance owns, as the rest of the switchboard may act on it. */
export interface ActiveCall {
  readonly callId: string;
  /** Set while the call waits in a queue for an operator. */
  waiting(): WaitingCall | undefined;
  /**
   * The operators this call holds (ringing or talking), for rebuilding their state after Redis
   * lost it. Calls that never hold an operator need not say.
   */
  held?(): HeldOperator[];
  /**
   * Ring first: since when (ms epoch) the caller, not answered, has waited for an operator to be
   * matched; undefined once offered or answered. Calls that never ring first need not say.
   */
  unmatchedSince?(): number | undefined;
  /** Ends the call from the switchboard's side (API, shutdown). */
  hangup(reason: string): void;
  /** A promise that settles once the call has ended and its records are out. */
  readonly done: Promise<void>;
}

/** The calls this instance owns, by call id. */
export class CallRegistry {
  private readonly calls = new Map<string, ActiveCall>();

  /** Adds a call, or replaces the one under the same id (a call handed from stage to stage). */
  add(call: ActiveCall): void {
    this.calls.set(call.callId, call);
    void call.done.finally(() => {
      if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
    });
  }

  get(callId: string): ActiveCall | undefined {
    return this.calls.get(callId);
  }

  all(): ActiveCall[] {
    return [...this.calls.values()];
  }

  get size(): number {
    return this.calls.size;
  }

  /** Whether any call passes `test` (stops at the first). */
  some(test: (call: ActiveCall) => boolean): boolean {
    for (const call of this.calls.values()) if (test(call)) return true;
    return false;
  }

  /**
   * The longest any caller rung first has waited so far for an operator to be matched, in ms (0
   * for none). Matched within milliseconds while the dispatcher keeps up; a second or more when it
   * has fallen behind the callers coming in.
   */
  longestUnmatched(now: number): number {
    let oldest = now;
    for (const call of this.calls.values()) {
      const since = call.unmatchedSince?.();
      if (since !== undefined && since < oldest) oldest = since;
    }
    return now - oldest;
  }
}

/** Everything a call needs from the rest of the switchboard. */
export interface CallContext {
  instanceId: string;
  config: Config;
  srf: Srf;
  media: MediaPool;
  /** Admission control: asked before a new call's first media server endpoint. */
  admission: Pick<AdmissionGate, 'mediaRefusal'>;
  prompts: Prompts;
  settings: ConfigCache;
  operators: OperatorService;
  statuses: StatusCache;
  queues: QueueStore;
  /** The callers camped on busy operators. */
  campOns: CampOnStore;
  /** Callbacks that keep the caller's place (src/callback). */
  callbacks: Callbacks;
  dispatcher: Dispatcher;
  registrar: Registrar;
  /** Recording voice messages for extensions (a waiting caller's). */
  messages: RecordingDeps;
  bus: EventBus;
  calls: CallRegistry;
  record(r: HistoryRecord): void;
  log: Logger;
  /** Runs fn after ms even if the call that asked is over (wrap-up ends). */
  later(ms: number, fn: () => void): void;
}
