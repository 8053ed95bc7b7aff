/**
 * The history the switchboard writes: one row type per history table of sql/. Every row
 * carries its own id, made where the record is born, so a row delivered twice (the outbox
 * delivers at least once) is stored once.
 */

/** callback: the caller asked to be called back (README: Callback) and left the line. */
export type Disposition = 'answered' | 'abandoned' | 'timeout' | 'overflow' | 'rejected' | 'failed' | 'callback';
export type HangupBy = 'caller' | 'operator' | 'target' | 'guest' | 'system';
export type LegRole = 'caller' | 'operator' | 'target' | 'guest';
export type OperatorState = 'logged-out' | 'available' | 'ringing' | 'busy' | 'wrap-up' | 'on-break';

export type QueueEventName =
  | 'enter'
  | 'offer'
  | 'ring-no-answer'
  | 'connect'
  | 'abandon'
  | 'exit-timeout'
  | 'exit-full'
  | 'exit-overflow'
  | 'exit-empty'
  | 'transfer'
  | 'complete-caller'
  | 'complete-operator'
  | 'callback-requested'
  | 'callback-attempt'
  | 'callback-connected'
  | 'callback-failed'
  | 'callback-cancelled';

/** Times are ISO 8601 strings: records travel as JSON through Redis before PostgreSQL. */
export interface CallRecord {
  callId: string;
  instanceId: string;
  callerNumber: string;
  callerName: string;
  dialledNumber: string;
  routeType: 'queue' | 'operator' | 'room' | 'reject' | null;
  queueId: number | null;
  queueNumber: string | null;
  operatorId: number | null;
  operatorUsername: string | null;
  operators: string[];
  arrivedAt: string;
  queuedAt: string | null;
  offeredAt: string | null;
  answeredAt: string | null;
  endedAt: string;
  waitS: number;
  talkS: number;
  holdS: number;
  disposition: Disposition;
  hangupBy: Exclude<HangupBy, 'guest'> | null;
  sipStatus: number | null;
  sipReason: string | null;
  /** From the caller lists; 0 for everyone else. */
  priority: number;
  /** The skill the call needed in a queue; null when none. */
  skill: string | null;
  /** Set when the dialled number was changed or withdrawn (sql/005_number_changes.sql). */
  intercept: 'withdrawn' | 'changed' | 'connected' | null;
  interceptNewNumber: string | null;
  /** The caller's rating 1-5 (sql/007); ratingResult null: not asked. */
  rating: number | null;
  ratingResult: RatingResult | null;
  ratingOperatorId: number | null;
}

export type RatingResult = 'rated' | 'not-rated';

export interface LegRecord {
  legId: string;
  callId: string;
  role: LegRole;
  direction: 'inbound' | 'outbound';
  sipCallId: string;
  party: string;
  operatorId: number | null;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string;
  endStatus: number | null;
  endReason: string | null;
  hangupBy: HangupBy | null;
}

export interface QueueEventRecord {
  eventId: string;
  at: string;
  callId: string | null;
  queueId: number | null;
  queueNumber: string | null;
  operatorId: number | null;
  event: QueueEventName;
  position: number | null;
  waitS: number | null;
  ringS: number | null;
  talkS: number | null;
  holdS: number | null;
  data: Record<string, unknown>;
}

export interface OperatorEventRecord {
  eventId: string;
  at: string;
  operatorId: number;
  fromState: OperatorState;
  toState: OperatorState;
  fromStateS: number;
  reason: string;
  callId: string | null;
}

/** One member's stay in a room (sql/003_rooms.sql), written when the member leaves. */
export interface RoomMemberRecord {
  entryId: string;
  roomId: number;
  roomNumber: string;
  /** The conference's run: from its first member in to its last one out. */
  sessionId: string;
  callId: string;
  instanceId: string;
  memberNumber: string;
  memberName: string;
  role: 'moderator' | 'member';
  direction: 'inbound' | 'outbound';
  operatorId: number | null;
  /** Admitted (after the PIN); enteredAt: into the conference's audio (after any wait for a moderator). */
  joinedAt: string;
  enteredAt: string | null;
  leftAt: string;
  leftHow: 'hangup' | 'kicked' | 'ended' | 'moderator-left' | 'system';
}

/** One caller's camp-on on a busy operator (sql/008_camp_on.sql), written when it ends. */
export interface CampOnRecord {
  campOnId: string;
  callId: string;
  instanceId: string;
  /** The operator camped on. */
  operatorId: number;
  operatorUsername: string;
  /** transfer: a blind transfer found them busy; direct: a call to their own number did. */
  origin: 'transfer' | 'direct';
  /** The operator who transferred the caller (transfers only). */
  fromOperatorId: number | null;
  campedAt: string;
  endedAt: string;
  waitS: number;
  /** connected: the operator answered once free; timeout; no-answer: rung once free, did not answer; abandoned: the caller hung up; ended: by the switchboard. */
  outcome: 'connected' | 'timeout' | 'no-answer' | 'abandoned' | 'ended';
}

/** One callback (sql/013_callback.sql), written when it is connected, failed or cancelled. */
export interface CallbackRecord {
  callbackId: string;
  originalCallId: string;
  /** The call back's id; null if nobody was ever rung for it. */
  callId: string | null;
  instanceId: string;
  queueId: number;
  queueNumber: string;
  number: string;
  confirmedHow: 'caller-id' | 'keyed';
  arrivedAt: string;
  requestedAt: string;
  endedAt: string;
  attempts: number;
  outcome: 'connected' | 'failed' | 'cancelled';
  operatorId: number | null;
  operatorUsername: string | null;
  reason: string;
}

export type HistoryRecord =
  | { kind: 'call'; row: CallRecord }
  | { kind: 'leg'; row: LegRecord }
  | { kind: 'queue-event'; row: QueueEventRecord }
  | { kind: 'operator-event'; row: OperatorEventRecord }
  | { kind: 'room-member'; row: RoomMemberRecord }
  | { kind: 'camp-on'; row: CampOnRecord }
  | { kind: 'callback'; row: CallbackRecord };
