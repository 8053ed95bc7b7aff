import type { TableSpec } from './repository.js';

/** The configuration tables as the API sees them: field names are the camelCase of the columns. */

export const operatorsTable: TableSpec = {
  kind: 'operator',
  table: 'operators',
  fields: { username: 'username', displayName: 'display_name', workNumber: 'work_number', grade: 'grade' },
  writeOnly: { ha1: 'ha1' },
  constraints: {
    unique: { operators_username_key: 'username', operators_work_number_key: 'workNumber' },
    references: {},
    referencedBy: { routes_operator_id_fkey: 'routes' },
  },
  orderBy: 'username',
};

export const extensionsTable: TableSpec = {
  kind: 'extension',
  table: 'extensions',
  fields: { number: 'number', name: 'name' },
  writeOnly: { ha1: 'ha1' },
  constraints: {
    unique: { extensions_number_key: 'number' },
    references: {},
    referencedBy: {},
  },
  orderBy: 'number',
};

export const queuesTable: TableSpec = {
  kind: 'queue',
  table: 'queues',
  fields: {
    number: 'number',
    name: 'name',
    strategy: 'strategy',
    ringTimeoutS: 'ring_timeout_s',
    maxWaitS: 'max_wait_s',
    maxLength: 'max_length',
    wrapupS: 'wrapup_s',
    maxNoAnswer: 'max_no_answer',
    overflowAction: 'overflow_action',
    overflowTarget: 'overflow_target',
    noOperators: 'no_operators',
    holdMusic: 'hold_music',
    announceIntervalS: 'announce_interval_s',
    serviceLevelS: 'service_level_s',
    skillWaitS: 'skill_wait_s',
    skillMenu: 'skill_menu',
    skillMenuPrompt: 'skill_menu_prompt',
    greeting: 'greeting',
    greetingPrompt: 'greeting_prompt',
    whisper: 'whisper',
    rating: 'rating',
    ratingTimeoutS: 'rating_timeout_s',
    messageKey: 'message_key',
    callbackKey: 'callback_key',
    callbackRetries: 'callback_retries',
    callbackRetryIntervalS: 'callback_retry_interval_s',
    mediaMode: 'media_mode',
  },
  constraints: {
    unique: { queues_number_key: 'number' },
    references: {},
    referencedBy: { routes_queue_id_fkey: 'routes' },
  },
  orderBy: 'number',
};

export const roomsTable: TableSpec = {
  kind: 'room',
  table: 'rooms',
  fields: {
    number: 'number',
    name: 'name',
    pin: 'pin',
    moderatorPin: 'moderator_pin',
    waitForModerator: 'wait_for_moderator',
    muteOnJoin: 'mute_on_join',
    maxMembers: 'max_members',
  },
  constraints: {
    unique: { rooms_number_key: 'number' },
    references: {},
    referencedBy: { routes_room_id_fkey: 'routes' },
  },
  orderBy: 'number',
};

export const routesTable: TableSpec = {
  kind: 'route',
  table: 'routes',
  fields: {
    number: 'number',
    targetType: 'target_type',
    queueId: 'queue_id',
    operatorId: 'operator_id',
    roomId: 'room_id',
    rejectStatus: 'reject_status',
    allowOutside: 'allow_outside',
    description: 'description',
    skill: 'skill',
  },
  constraints: {
    unique: { routes_number_key: 'number' },
    references: { routes_queue_id_fkey: 'queueId', routes_operator_id_fkey: 'operatorId', routes_room_id_fkey: 'roomId' },
    referencedBy: {},
  },
  orderBy: 'number',
};

export const callerListsTable: TableSpec = {
  kind: 'caller list',
  table: 'caller_lists',
  fields: { name: 'name', priority: 'priority', numbers: 'numbers' },
  constraints: { unique: { caller_lists_name_key: 'name' }, references: {}, referencedBy: {} },
  orderBy: 'priority DESC, name',
};

export const numberChangesTable: TableSpec = {
  kind: 'number change',
  table: 'number_changes',
  fields: {
    oldNumber: 'old_number',
    newNumber: 'new_number',
    effectiveFrom: 'effective_from',
    interceptUntil: 'intercept_until',
    connectToNew: 'connect_to_new',
    note: 'note',
  },
  constraints: {
    unique: { number_changes_old_number_key: 'oldNumber' },
    references: {},
    referencedBy: {},
  },
  orderBy: 'old_number',
};
