/**
 * JSON schemas of the provisioning API. Each resource has one list of properties; the create,
 * update (PATCH) and response schemas are all derived from it so they cannot drift apart.
 */

import { DEFAULT_HOLD_MUSIC } from '../media/hold.js';
import { PROMPT_NAME_PATTERN, USERNAME_PATTERN } from '../provisioning/types.js';

type JsonSchema = Record<string, unknown>;

const digits = (max: number): JsonSchema => ({ type: 'string', pattern: `^[0-9]{1,${max}}$` });
const dialString = { type: 'string', pattern: '^[0-9*#+]{1,32}$', description: 'digits, *, # or a leading +' };
const nullable = (schema: JsonSchema): JsonSchema => ({ ...schema, type: [schema.type as string, 'null'] });
const seconds = (min: number, max: number): JsonSchema => ({ type: 'integer', minimum: min, maximum: max });
const id = { type: 'integer', minimum: 1 };

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
    grade: { type: 'integer', minimum: 1, maximum: 4, default: 1 },
  },
  ['username', 'displayName', 'workNumber'],
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
    greeting: { type: 'boolean', default: false, description: 'the caller hears greetingPrompt and the operator\'s work number before being connected' },
    greetingPrompt: { type: 'string', pattern: PROMPT_NAME_PATTERN, default: 'greeting', description: 'a file in PROMPTS_DIR, without .wav' },
    whisper: { type: 'boolean', default: false, description: 'the operator hears queue-<number>.wav (the queue\'s name) before being connected' },
    rating: { type: 'boolean', default: false, description: 'when the operator hangs up first, the caller is asked to rate the call 1-5' },
    ratingTimeoutS: { ...seconds(3, 60), default: 10, description: 'how long the caller has to press a digit after the rating prompt' },
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
  },
  ['number', 'targetType'],
);

export const membershipSchema = {
  $id: 'Membership',
  type: 'object',
  properties: {
    queueId: id,
    operatorId: id,
    penalty: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
  },
};

export const membershipBody = {
  type: 'object',
  additionalProperties: false,
  properties: { penalty: { type: 'integer', minimum: 0, maximum: 1000, default: 0 } },
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
