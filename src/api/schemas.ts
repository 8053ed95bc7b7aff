/**
 * JSON schemas of the provisioning API. Each resource has one list of properties; the create,
 * update (PATCH) and response schemas are all derived from it so they cannot drift apart.
 */

import { DEFAULT_HOLD_MUSIC } from '../media/hold.js';
import { PROMPT_NAME_PATTERN, SKILL_PATTERN, USERNAME_PATTERN } from '../provisioning/types.js';

type JsonSchema = Record<string, unknown>;

const digits = (max: number): JsonSchema => ({ type: 'string', pattern: `^[0-9]{1,${max}}$` });
const dialString = { type: 'string', pattern: '^[0-9*#+]{1,32}$', description: 'digits, *, # or a leading +' };
const nullable = (schema: JsonSchema): JsonSchema => ({ ...schema, type: [schema.type as string, 'null'] });
const seconds = (min: number, max: number): JsonSchema => ({ type: 'integer', minimum: min, maximum: max });
const id = { type: 'integer', minimum: 1 };
const skill = { type: 'string', pattern: SKILL_PATTERN, description: 'a skill: lower-case letters, digits, - or _' };
const grade = { type: 'integer', minimum: 1, maximum: 4, description: '1 trainee, 2 junior, 3 experienced, 4 senior' };

export interface ResourceSchemas {
  create: JsonSchema;
  patch: JsonSchema;
  item: JsonSchema;
  page: JsonSchema;
}

/**
 * writable: what clients may send; required: what create needs; readOnly: returned but never
 * written; writeOnly: accepted but never returned (secrets).
 */
function resource(
  name: string,
  writable: Record<string, JsonSchema>,
  required: string[],
  writeOnly: string[] = [],
): ResourceSchemas {
  const create = { type: 'object', additionalProperties: false, required, properties: writable };
  // A PATCH changes only what it names, so its schema must not fill in defaults.
  const withoutDefaults = Object.fromEntries(
    Object.entries(writable).map(([k, { default: _unused, ...rest }]) => [k, rest]),
  );
  const patch = { type: 'object', additionalProperties: false, minProperties: 1, properties: withoutDefaults };
  const readable = Object.fromEntries(Object.entries(writable).filter(([k]) => !writeOnly.includes(k)));
  const item = {
    $id: name,
    type: 'object',
    properties: {
      id,
      ...readable,
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
    },
  };
  const page = {
    type: 'object',
    properties: {
      items: { type: 'array', items: { $ref: `${name}#` } },
      total: { type: 'integer' },
      limit: { type: 'integer' },
      offset: { type: 'integer' },
    },
  };
  return { create, patch, item, page };
}

export const operatorSchemas = resource(
  'Operator',
  {
    username: { type: 'string', pattern: USERNAME_PATTERN, description: 'SIP user name of the softphone' },
    password: {
      type: 'string',
      minLength: 8,
      maxLength: 128,
      description: 'SIP password; only its digest hash (HA1, for SIP_DOMAIN) is stored',
    },
    ha1: { type: 'string', pattern: '^[0-9a-f]{32}$', description: 'MD5(username:SIP_DOMAIN:password), instead of password' },
    displayName: { type: 'string', minLength: 1, maxLength: 100 },
    workNumber: { ...digits(16), description: 'the number announced to callers' },
    grade: { ...grade, default: 1 },
  },
  ['username', 'displayName', 'workNumber'],
  ['password', 'ha1'],
);

export const extensionSchemas = resource(
  'Extension',
  {
    number: { ...digits(16), description: 'the extension\'s number, also its phone\'s SIP user name' },
    name: { type: 'string', maxLength: 100, default: '', description: 'e.g. "Room 101"' },
    password: {
      type: 'string',
      minLength: 8,
      maxLength: 128,
      description: 'SIP password of the phone; only its digest hash (HA1, for SIP_DOMAIN) is stored',
    },
    ha1: { type: 'string', pattern: '^[0-9a-f]{32}$', description: 'MD5(number:SIP_DOMAIN:password), instead of password' },
  },
  ['number'],
  ['password', 'ha1'],
);

const STRATEGIES = ['longest-idle', 'round-robin', 'ring-all', 'fewest-calls', 'linear'];

export const queueSchemas = resource(
  'Queue',
  {
    number: digits(16),
    name: { type: 'string', minLength: 1, maxLength: 100 },
    strategy: { type: 'string', enum: STRATEGIES, default: 'longest-idle' },
    ringTimeoutS: { ...seconds(1, 300), default: 15 },
    maxWaitS: { ...nullable(seconds(1, 86400)), description: 'null: no limit' },
    maxLength: { ...nullable({ type: 'integer', minimum: 1, maximum: 100000 }), description: 'null: no limit' },
    wrapupS: { ...seconds(0, 3600), default: 5 },
    maxNoAnswer: { type: 'integer', minimum: 1, maximum: 100, default: 3 },
    overflowAction: { type: 'string', enum: ['busy', 'queue', 'number'], default: 'busy' },
    overflowTarget: { ...nullable(dialString), description: 'queue number or dial string; null with busy' },
    noOperators: { type: 'string', enum: ['wait', 'overflow', 'reject'], default: 'wait' },
    holdMusic: { type: 'string', minLength: 1, maxLength: 500, default: DEFAULT_HOLD_MUSIC },
    announceIntervalS: { ...seconds(0, 3600), default: 30 },
    serviceLevelS: { ...seconds(1, 3600), default: 20 },
    skillWaitS: { ...seconds(0, 86400), default: 30, description: 'how long a call that needs a skill waits for an operator with it before anyone may take it' },
    skillMenu: {
      type: ['object', 'null'],
      patternProperties: { '^[0-9]$': skill },
      additionalProperties: false,
      minProperties: 1,
      description: 'DTMF digit -> skill, asked of callers whose route names no skill; null: no menu',
    },
    skillMenuPrompt: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'skill-menu', description: 'the menu prompt: a file in PROMPTS_DIR, without .wav' },
    greeting: { type: 'boolean', default: false, description: 'the caller hears greetingPrompt and the operator\'s work number before being connected' },
    greetingPrompt: { type: 'string', pattern: PROMPT_NAME_PATTERN, default: 'greeting', description: 'a file in PROMPTS_DIR, without .wav' },
    whisper: { type: 'boolean', default: false, description: 'the operator hears queue-<number>.wav (the queue\'s name) before being connected' },
    rating: { type: 'boolean', default: false, description: 'when the operator hangs up first, the caller is asked to rate the call 1-5' },
    ratingTimeoutS: { ...seconds(3, 60), default: 10, description: 'how long the caller has to press a digit after the rating prompt' },
    messageKey: { type: ['string', 'null'], pattern: '^[0-9*#]$', default: null, description: 'the key a waiting caller presses to leave a voice message for an extension; null: none' },
    callbackKey: { ...nullable({ type: 'string', pattern: '^[0-9*#]$' }), default: null, description: 'the key a waiting caller presses to be called back, keeping their place; null: no callback' },
    callbackRetries: { type: 'integer', minimum: 0, maximum: 10, default: 2, description: 'further attempts when the caller does not answer a callback' },
    callbackRetryIntervalS: { ...seconds(1, 86400), default: 60, description: 'seconds between attempts of a callback' },
    mediaMode: {
      type: 'string',
      enum: ['direct', 'anchored'],
      default: 'direct',
      description: 'direct: caller and operator talk phone to phone and the media server joins only while media is needed (music, hold, transfers, three-way, prompts); anchored: every leg stays on the media server (recording and similar)',
    },
  },
  ['number', 'name'],
);

export const roomSchemas = resource(
  'Room',
  {
    number: digits(16),
    name: { type: 'string', minLength: 1, maxLength: 100 },
    pin: nullable({ type: 'string', pattern: '^[0-9]{2,12}$' }),
    moderatorPin: nullable({ type: 'string', pattern: '^[0-9]{2,12}$' }),
    waitForModerator: { type: 'boolean', default: false },
    muteOnJoin: { type: 'boolean', default: false },
    maxMembers: nullable({ type: 'integer', minimum: 2, maximum: 1000 }),
  },
  ['number', 'name'],
);

export const routeSchemas = resource(
  'Route',
  {
    number: dialString,
    targetType: { type: 'string', enum: ['queue', 'operator', 'room', 'reject'] },
    queueId: nullable(id),
    operatorId: nullable(id),
    roomId: nullable(id),
    rejectStatus: nullable({ type: 'integer', minimum: 400, maximum: 699 }),
    allowOutside: { type: 'boolean', default: false },
    description: { type: 'string', maxLength: 200, default: '' },
    skill: { ...nullable(skill), description: 'calls on this number need this skill (queue routes)' },
  },
  ['number', 'targetType'],
);

export const callerListSchemas = resource(
  'CallerList',
  {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    priority: { type: 'integer', minimum: 0, maximum: 99, description: 'higher is served first; callers on no list have 0' },
    numbers: {
      type: 'array',
      maxItems: 10000,
      uniqueItems: true,
      items: { type: 'string', pattern: '^[0-9*#+]{1,32}$' },
      default: [],
      description: "caller numbers (the From header's user part), matched exactly",
    },
  },
  ['name', 'priority'],
);

export const membershipSchema = {
  $id: 'Membership',
  type: 'object',
  properties: {
    queueId: id,
    operatorId: id,
    penalty: { type: 'integer' },
    skills: { type: 'array', items: { type: 'string' } },
    grade: { ...nullable(grade), description: "null: the operator's grade" },
    createdAt: { type: 'string', format: 'date-time' },
  },
};

export const membershipBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    penalty: { type: 'integer', minimum: 0, maximum: 1000, default: 0 },
    skills: { type: 'array', maxItems: 20, uniqueItems: true, items: skill, default: [] },
    grade: { ...nullable(grade), default: null, description: "the operator's grade in this queue; null: the operator's own" },
  },
};

export const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id },
};

export const pageQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
  },
};

const phoneNumber = {
  type: 'object',
  additionalProperties: false,
  required: ['number'],
  properties: {
    label: { type: 'string', maxLength: 30, default: '', description: 'e.g. mobile, desk' },
    number: { type: 'string', pattern: '^\\+?[0-9*#(][0-9*#()./ -]{0,39}$', description: 'digits with spaces, dashes, dots or brackets; a leading +' },
  },
};

const directoryWritable = {
  name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
  department: { type: 'string', maxLength: 100, default: '' },
  extension: { ...nullable({ type: 'string', pattern: '^[0-9A-Za-z*#+.-]{1,16}$' }), default: null, description: 'the room or extension to transfer to' },
  numbers: { type: 'array', maxItems: 10, items: phoneNumber, default: [] },
  notes: { type: 'string', maxLength: 2000, default: '' },
  private: { type: 'boolean', default: false, description: 'unlisted (e.g. a guest who asked not to be disclosed): operator keys never see it' },
};

/** A directory entry as written (POST, PUT, and each line of a CSV import). */
export const directoryEntryBody = { type: 'object', additionalProperties: false, required: ['name'], properties: directoryWritable };

export const directoryEntrySchema = {
  $id: 'DirectoryEntry',
  type: 'object',
  properties: {
    id,
    ...directoryWritable,
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};

export const directorySearchQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    q: { type: 'string', maxLength: 100, description: 'a name, the start of a name or of a word of it, a department or a number' },
    department: { type: 'string', maxLength: 100 },
    number: { type: 'string', maxLength: 40, description: 'digits a number or extension contains; spaces, dashes and the like are ignored' },
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
  },
};

export const numberChangeSchemas = resource(
  'NumberChange',
  {
    oldNumber: dialString,
    newNumber: { ...nullable(dialString), description: 'null: withdrawn ("no longer in service")' },
    effectiveFrom: { type: 'string', format: 'date-time', description: 'when the intercept starts; default now' },
    interceptUntil: { type: 'string', format: 'date-time', description: 'when it ends; default effectiveFrom + NUMBER_CHANGE_INTERCEPT_DAYS' },
    connectToNew: { type: 'boolean', default: false, description: 'after the announcement, connect the caller to the new number' },
    note: { type: 'string', maxLength: 200, default: '' },
  },
  ['oldNumber'],
);
