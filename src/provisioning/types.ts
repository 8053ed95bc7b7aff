/** Configuration records as the API and the call core read them. */

export interface Stamped {
  id: number;
  createdAt: Date;
  updatedAt: Date;
}

/** The operators table's rule for a username (sql/001's CHECK): also the SIP user name. */
export const USERNAME_PATTERN = '^[A-Za-z0-9._-]{1,64}$';

const USERNAME = new RegExp(USERNAME_PATTERN);

export function isUsername(s: string): boolean {
  return USERNAME.test(s);
}

/** A prompt file's name in PROMPTS_DIR without ".wav" (sql/007's CHECK): no directories. */
export const PROMPT_NAME_PATTERN = '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$';

export interface Operator extends Stamped {
  username: string;
  displayName: string;
  workNumber: string;
  grade: number;
}

/** A phone that is not an operator's (a guest room, a staff phone): its number is its SIP user name. */
export interface Extension extends Stamped {
  number: string;
  name: string;
}

export type Strategy = 'longest-idle' | 'round-robin' | 'ring-all' | 'fewest-calls' | 'linear';
export type OverflowAction = 'busy' | 'queue' | 'number';
export type MediaMode = 'direct' | 'anchored';

export type NoOperatorsRule = 'wait' | 'overflow' | 'reject';

export interface Queue extends Stamped {
  number: string;
  name: string;
  strategy: Strategy;
  ringTimeoutS: number;
  maxWaitS: number | null;
  maxLength: number | null;
  wrapupS: number;
  maxNoAnswer: number;
  overflowAction: OverflowAction;
  overflowTarget: string | null;
  noOperators: NoOperatorsRule;
  holdMusic: string;
  announceIntervalS: number;
  serviceLevelS: number;
  /** Seconds a call that needs a skill waits for an operator with it before anyone may take it. */
  skillWaitS: number;
  /** DTMF digit -> skill, asked of callers with no skill from their route; null: no menu. */
  skillMenu: Record<string, string> | null;
  /** The menu's prompt: a file in PROMPTS_DIR, without .wav. */
  skillMenuPrompt: string;
  /** The caller hears greetingPrompt and the operator's work number before being connected. */
  greeting: boolean;
  greetingPrompt: string;
  /** The operator hears the queue's name (file queue-<number>) before being connected. */
  whisper: boolean;
  /** Callers whose operator hangs up first are asked to rate the call 1-5. */
  rating: boolean;
  ratingTimeoutS: number;
  /** The key a waiting caller presses to leave a voice message for an extension; null: none. */
  messageKey: string | null;
  /** The DTMF key a waiting caller presses to be called back (README: Callback); null: off. */
  callbackKey: string | null;
  /** Further attempts after a callback that reached nobody, and the seconds between them. */
  callbackRetries: number;
  callbackRetryIntervalS: number;
  /** direct: phone to phone, the media server only while needed; anchored: on it all call long. */
  mediaMode: MediaMode;
}

export interface Room extends Stamped {
  number: string;
  name: string;
  pin: string | null;
  moderatorPin: string | null;
  waitForModerator: boolean;
  muteOnJoin: boolean;
  maxMembers: number | null;
}

export type RouteTargetType = 'queue' | 'operator' | 'room' | 'reject';

export interface Route extends Stamped {
  number: string;
  targetType: RouteTargetType;
  queueId: number | null;
  operatorId: number | null;
  roomId: number | null;
  rejectStatus: number | null;
  allowOutside: boolean;
  description: string;
  /** Calls on this number need this skill (queue routes); null: none. */
  skill: string | null;
}

/** Callers whose numbers wait with a higher priority (0-99, higher first). */
export interface CallerList extends Stamped {
  name: string;
  priority: number;
  numbers: string[];
}

/** A skill's name: what the tables' CHECKs and the API accept. */
export const SKILL_PATTERN = '^[a-z0-9_-]{1,32}$';
