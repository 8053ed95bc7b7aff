import type {
  CallRecord,
  Disposition,
  HangupBy,
  HistoryRecord,
  LegRecord,
  LegRole,
  QueueEventName,
  QueueEventRecord,
} from './records.js';

export interface CallStart {
  callId: string;
  instanceId: string;
  callerNumber: string;
  callerName: string;
  dialledNumber: string;
  arrivedAt: number;
}

export interface QueueRef {
  id: number;
  number: string;
}

export interface OperatorRef {
  id: number;
  username: string;
}

export interface CallEnd {
  at: number;
  hangupBy: Exclude<HangupBy, 'guest'> | null;
  sipStatus?: number;
  sipReason?: string;
  /** Set by the caller of end() only where the story alone cannot tell (e.g. a rejection). */
  disposition?: Disposition;
  /**
   * When caller and operator stopped talking, if before `at`: the caller stayed on to rate the
   * call. Talk time and the completion event end here.
   */
  talkEndedAt?: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const seconds = (ms: number): number => Math.round(ms) / 1000;

/** One SIP dialog of a call; emits its row when it ends. */
export class LegRecorder {
  private answeredAt: number | undefined;
  private ended = false;

  constructor(
    private readonly emit: (r: HistoryRecord) => void,
    private readonly row: Omit<LegRecord, 'answeredAt' | 'endedAt' | 'endStatus' | 'endReason' | 'hangupBy'>,
  ) {}

  get legId(): string {
    return this.row.legId;
  }

  answered(at: number): void {
    this.answeredAt ??= at;
  }

  end(at: number, hangupBy: HangupBy | null, status?: number, reason?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.emit({
      kind: 'leg',
      row: {
        ...this.row,
        answeredAt: this.answeredAt === undefined ? null : iso(this.answeredAt),
        endedAt: iso(at),
        endStatus: status ?? null,
        endReason: reason ?? null,
        hangupBy,
      },
    });
  }
}

/**
 * The record of one call as it happens: queue events go out at once (for live figures), the
 * call's row when it ends. Plain bookkeeping, no I/O: `emit` hands records to the outbox.
 */
export class CallRecorder {
  private queue: QueueRef | undefined;
  private queuedAt: number | undefined;
  private offeredAt: number | undefined;
  private answeredAt: number | undefined;
  private firstOperator: OperatorRef | undefined;
  private readonly operators: string[] = [];
  private routeType: CallRecord['routeType'] = null;
  private outcome: Disposition | undefined;
  private holdStartedAt: number | undefined;
  private holdMs = 0;
  private connectedOperator: number | undefined;
  private finished = false;
  private lastEventAt = 0;
  private priority = 0;
  private skill = '';
  private intercept: Pick<CallRecord, 'intercept' | 'interceptNewNumber'> = { intercept: null, interceptNewNumber: null };
  private rating: { value: number | null; operatorId: number } | undefined;

  constructor(
    private readonly start: CallStart,
    private readonly emit: (r: HistoryRecord) => void,
    private readonly newId: () => string,
  ) {}

  get callId(): string {
    return this.start.callId;
  }

  routed(type: NonNullable<CallRecord['routeType']>): void {
    this.routeType = type;
  }

  /** The dialled number was changed or withdrawn: the caller heard the intercept announcement. */
  intercepted(outcome: NonNullable<CallRecord['intercept']>, newNumber: string | null): void {
    this.intercept = { intercept: outcome, interceptNewNumber: newNumber };
  }

  leg(role: LegRole, direction: 'inbound' | 'outbound', sipCallId: string, party: string, startedAt: number, operatorId?: number): LegRecorder {
    return new LegRecorder(this.emit, {
      legId: this.newId(),
      callId: this.start.callId,
      role,
      direction,
      sipCallId,
      party,
      operatorId: operatorId ?? null,
      startedAt: iso(startedAt),
    });
  }

  private queueEvent(event: QueueEventName, at: number, fields: Partial<QueueEventRecord> = {}): void {
    if (!this.queue) return;
    // A call's events keep their order when read back by time, even two in one millisecond.
    const stamp = Math.max(at, this.lastEventAt + 1);
    this.lastEventAt = stamp;
    this.emit({
      kind: 'queue-event',
      row: {
        eventId: this.newId(),
        at: iso(stamp),
        callId: this.start.callId,
        queueId: this.queue.id,
        queueNumber: this.queue.number,
        operatorId: null,
        event,
        position: null,
        waitS: null,
        ringS: null,
        talkS: null,
        holdS: null,
        data: {},
        ...fields,
      },
    });
  }

  private waitedMs(at: number): number {
    return this.queuedAt === undefined ? 0 : at - this.queuedAt;
  }

  /** What the caller waits with: a priority from the caller lists and a skill ('' for none). */
  waitsWith(priority: number, skill: string): void {
    this.priority = priority;
    this.skill = skill;
  }

  /** What an 'enter' event says of the caller. */
  private entering(): Record<string, unknown> {
    return {
      callerNumber: this.start.callerNumber,
      ...(this.priority !== 0 ? { priority: this.priority } : {}),
      ...(this.skill !== '' ? { skill: this.skill } : {}),
    };
  }

  /** The caller joined the queue; `event` false when only the record of it is rebuilt. */
  enterQueue(queue: QueueRef, position: number, at: number, event = true): void {
    this.queue = queue;
    this.queuedAt = at;
    if (event) this.queueEvent('enter', at, { position, data: this.entering() });
  }

  /** The queue would not take the caller at all (full, or nobody logged in). */
  refusedByQueue(queue: QueueRef, event: 'exit-full' | 'exit-empty', at: number): void {
    this.queue = queue;
    this.queuedAt = at;
    this.leaveQueue(event, at, { callerNumber: this.start.callerNumber });
  }

  /** Moved by a supervisor from this queue to another, keeping the place by arrival. */
  movedToQueue(to: QueueRef, position: number, at: number): void {
    this.queueEvent('transfer', at, { waitS: seconds(this.waitedMs(at)), data: { toQueueId: to.id, toQueueNumber: to.number } });
    this.queue = to;
    this.queueEvent('enter', at, { position, data: { ...this.entering(), movedFrom: true } });
  }

  offer(operator: OperatorRef, at: number): void {
    this.offeredAt ??= at;
    this.queueEvent('offer', at, { operatorId: operator.id, waitS: seconds(this.waitedMs(at)) });
  }

  ringNoAnswer(operator: OperatorRef, ringMs: number, at: number, reason: string): void {
    this.queueEvent('ring-no-answer', at, { operatorId: operator.id, ringS: seconds(ringMs), data: { reason } });
  }

  connect(operator: OperatorRef, ringMs: number, at: number): void {
    this.answeredAt ??= at;
    this.firstOperator ??= operator;
    this.connectedOperator = operator.id;
    if (!this.operators.includes(operator.username)) this.operators.push(operator.username);
    this.outcome = 'answered';
    this.queueEvent('connect', at, { operatorId: operator.id, waitS: seconds(this.waitedMs(at)), ringS: seconds(ringMs) });
  }

  /** The caller left the queue unanswered: hung up, timed out, or sent elsewhere. */
  leaveQueue(event: 'abandon' | 'exit-timeout' | 'exit-full' | 'exit-overflow' | 'exit-empty', at: number, data: Record<string, unknown> = {}): void {
    const outcome: Record<typeof event, Disposition> = {
      abandon: 'abandoned',
      'exit-timeout': 'timeout',
      'exit-full': 'overflow',
      'exit-overflow': 'overflow',
      'exit-empty': 'overflow',
    };
    if (this.outcome !== 'answered') this.outcome = outcome[event];
    this.queueEvent(event, at, { waitS: seconds(this.waitedMs(at)), data });
  }

  /**
   * The caller was transferred, blind or attended: to another operator, who now talks to them,
   * or into a queue. The transfer shows as a queue event of the call's queue (if it has one).
   */
  transferred(fromOperatorId: number | null, to: { operator: OperatorRef } | { queue: QueueRef }, at: number, kind: 'blind' | 'attended' = 'blind'): void {
    const data = 'operator' in to
      ? { kind, toOperatorId: to.operator.id, toOperator: to.operator.username }
      : { kind, toQueueId: to.queue.id, toQueueNumber: to.queue.number };
    this.queueEvent('transfer', at, { operatorId: fromOperatorId, data: { ...data, result: 'connected' } });
    if (!('operator' in to)) return;
    this.answered(at, to.operator);
    // The call's completion is the new operator's.
    this.connectedOperator = to.operator.id;
  }

  /** A blind transfer found its target busy: the caller camps on them (the camp_ons table says how it ended). */
  campedOn(fromOperatorId: number | null, target: OperatorRef, at: number): void {
    this.queueEvent('transfer', at, { operatorId: fromOperatorId, data: { kind: 'blind', toOperatorId: target.id, toOperator: target.username, result: 'camped-on' } });
  }

  /** A transfer that the target did not take (busy, no answer, refused) or that was called off. */
  transferFailed(fromOperatorId: number | null, status: number, at: number, kind: 'blind' | 'attended' = 'blind'): void {
    this.queueEvent('transfer', at, { operatorId: fromOperatorId, data: { kind, result: status === 487 ? 'cancelled' : 'failed', status } });
  }

  hold(at: number): void {
    this.holdStartedAt ??= at;
  }

  unhold(at: number): void {
    if (this.holdStartedAt === undefined) return;
    this.holdMs += at - this.holdStartedAt;
    this.holdStartedAt = undefined;
  }

  /** Marks a call that reached its target without a queue (an operator's number, a room). */
  answered(at: number, operator?: OperatorRef): void {
    this.answeredAt ??= at;
    this.outcome = 'answered';
    if (operator) {
      this.firstOperator ??= operator;
      if (!this.operators.includes(operator.username)) this.operators.push(operator.username);
    }
  }

  /**
   * The waiting caller asked to be called back and leaves the line; their place in the queue is
   * kept by the callback (README: Callback).
   */
  callbackRequested(at: number, data: Record<string, unknown>): void {
    this.outcome = 'callback';
    this.queueEvent('callback-requested', at, { waitS: seconds(this.waitedMs(at)), data });
  }

  /** A step of a call back: an attempt to reach the caller, its connection, failure or cancellation. */
  callbackStep(event: 'callback-attempt' | 'callback-connected' | 'callback-failed' | 'callback-cancelled', at: number, operatorId: number | null, data: Record<string, unknown>): void {
    this.queueEvent(event, at, { operatorId, data });
  }

  /** The caller was asked to rate `operatorId`: `value` 1-5, or null for no valid answer. */
  rated(operatorId: number, value: number | null): void {
    this.rating = { value, operatorId };
  }

  /** Ends the call: emits the completion event (if it was connected from a queue) and its row. */
  end(e: CallEnd): void {
    if (this.finished) return;
    this.finished = true;
    const talkEnd = Math.min(e.talkEndedAt ?? e.at, e.at);
    this.unhold(talkEnd);
    const talkMs = this.answeredAt === undefined ? 0 : Math.max(0, talkEnd - this.answeredAt - this.holdMs);
    if (this.connectedOperator !== undefined && (e.hangupBy === 'caller' || e.hangupBy === 'operator')) {
      this.queueEvent(e.hangupBy === 'caller' ? 'complete-caller' : 'complete-operator', talkEnd, {
        operatorId: this.connectedOperator,
        waitS: seconds(this.waitedMs(this.answeredAt ?? e.at)),
        talkS: seconds(talkMs),
        holdS: seconds(this.holdMs),
      });
    }
    const disposition = e.disposition ?? this.outcome ?? (e.hangupBy === 'caller' ? 'abandoned' : 'failed');
    const waitEnd = this.answeredAt ?? e.at;
    this.emit({
      kind: 'call',
      row: {
        callId: this.start.callId,
        instanceId: this.start.instanceId,
        callerNumber: this.start.callerNumber,
        callerName: this.start.callerName,
        dialledNumber: this.start.dialledNumber,
        routeType: this.routeType,
        queueId: this.queue?.id ?? null,
        queueNumber: this.queue?.number ?? null,
        operatorId: this.firstOperator?.id ?? null,
        operatorUsername: this.firstOperator?.username ?? null,
        operators: [...this.operators],
        arrivedAt: iso(this.start.arrivedAt),
        queuedAt: this.queuedAt === undefined ? null : iso(this.queuedAt),
        offeredAt: this.offeredAt === undefined ? null : iso(this.offeredAt),
        answeredAt: this.answeredAt === undefined ? null : iso(this.answeredAt),
        endedAt: iso(e.at),
        waitS: seconds(this.queuedAt === undefined ? 0 : waitEnd - this.queuedAt),
        talkS: seconds(talkMs),
        holdS: seconds(this.holdMs),
        disposition,
        hangupBy: e.hangupBy,
        sipStatus: e.sipStatus ?? null,
        sipReason: e.sipReason ?? null,
        priority: this.priority,
        skill: this.skill === '' ? null : this.skill,
        ...this.intercept,
        rating: this.rating?.value ?? null,
        ratingResult: this.rating ? (this.rating.value === null ? 'not-rated' : 'rated') : null,
        ratingOperatorId: this.rating?.operatorId ?? null,
      },
    });
  }
}
