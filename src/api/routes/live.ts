import type { FastifyInstance } from 'fastify';
import type { OperatorEvent, OperatorStatus } from '../../acd/operator-rules.js';
import type { OperatorService } from '../../acd/operator-service.js';
import type { LiveCall, QueueStore } from '../../acd/queue-store.js';
import type { CallbackEntry } from '../../callback/store.js';
import type { CallControl, ControlResult, ConversationAction } from '../../calls/control.js';
import type { Disposition } from '../../cdr/records.js';
import { callStory, searchCdrs } from '../../cdr/search.js';
import { maskCaller, maskNumber } from '../../events/mask.js';
import type { Pool } from '../../db/pool.js';
import type { ConfigCache } from '../../provisioning/cache.js';
import { requireRole, type Access, type Principal } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { pageQuery } from '../schemas.js';

export interface LiveDeps {
  pool: Pool;
  queues: QueueStore;
  operators: OperatorService;
  settings: ConfigCache;
  control: CallControl;
  /** Who may see whose calls, and whose callers' numbers are masked. */
  access: Access;
  /** Callbacks waiting in the queues in their callers' places (README: Callback). */
  callbacks: { get(id: string): Promise<CallbackEntry | undefined> };
}

const err = { $ref: 'Error#' };
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const waitS = (since: number | null, now: number): number => (since === null ? 0 : Math.max(0, Math.round((now - since) / 100) / 10));

const liveCallSchema = {
  $id: 'LiveCall',
  type: 'object',
  properties: {
    callId: { type: 'string' },
    owner: { type: 'string', description: 'the switchboard instance that holds the call' },
    state: { type: 'string', enum: ['routing', 'waiting', 'offering', 'connected', 'camped', 'ending', 'callback'], description: 'callback: a callback waiting in its caller\'s place (the queue view only)' },
    callerNumber: { type: 'string' },
    callerName: { type: 'string' },
    dialledNumber: { type: 'string' },
    queueId: { type: ['integer', 'null'] },
    position: { type: ['integer', 'null'], description: '1 = next to be served; null when not waiting' },
    operatorId: { type: ['integer', 'null'] },
    arrivedAt: { type: 'string', format: 'date-time' },
    queuedAt: { type: ['string', 'null'], format: 'date-time' },
    answeredAt: { type: ['string', 'null'], format: 'date-time' },
    waitS: { type: 'number', description: 'seconds waited in the queue so far (until answer)' },
    priority: { type: 'integer', description: 'from the caller lists; higher is served first' },
    skill: { type: ['string', 'null'], description: 'the skill the call needs; null: none' },
  },
};

const operatorStateSchema = {
  $id: 'OperatorState',
  type: 'object',
  properties: {
    operatorId: { type: 'integer' },
    username: { type: 'string' },
    state: { type: 'string', enum: ['logged-out', 'available', 'ringing', 'busy', 'wrap-up', 'on-break'] },
    since: { type: 'string', format: 'date-time' },
    inStateS: { type: 'number' },
    callId: { type: ['string', 'null'] },
    callsTaken: { type: 'integer' },
    missesInRow: { type: 'integer' },
    pending: { type: ['string', 'null'], description: 'a break or logout waiting for the call to end' },
  },
};

function present(call: LiveCall, position: number | undefined, now: number): Record<string, unknown> {
  return {
    ...call,
    position: position ?? null,
    arrivedAt: iso(call.arrivedAt),
    queuedAt: iso(call.queuedAt),
    answeredAt: iso(call.answeredAt),
    waitS: waitS(call.queuedAt, call.answeredAt ?? now),
    skill: call.skill || null,
  };
}

/** A callback in its caller's place, as the queue view shows it beside live callers. */
function callbackAsCall(e: CallbackEntry): LiveCall {
  return {
    callId: e.id,
    owner: e.owner,
    callerNumber: e.number,
    callerName: e.callerName,
    dialledNumber: '',
    arrivedAt: e.arrivedAt,
    state: 'callback',
    queueId: e.queueId,
    queuedAt: e.arrivedAt,
    priority: e.priority,
    score: e.score,
    operatorId: null,
    answeredAt: null,
  };
}

function presentState(s: OperatorStatus, username: string, now: number): Record<string, unknown> {
  return {
    operatorId: s.operatorId,
    username,
    state: s.state,
    since: iso(s.since),
    inStateS: waitS(s.since, now),
    callId: s.callId || null,
    callsTaken: s.calls,
    missesInRow: s.misses,
    pending: s.pending || null,
  };
}

function controlReply(result: ControlResult): void {
  if (result === 'done') return;
  if (result === 'not-found') throw notFound('live call');
  if (result === 'not-waiting') throw new ApiError(409, 'conflict', 'the caller is no longer waiting in a queue');
  if (result === 'not-talking') throw new ApiError(409, 'conflict', 'the caller is not talking to an operator, or a transfer is under way');
  if (result === 'not-consulting') throw new ApiError(409, 'conflict', 'no consultation is under way on this call');
  if (result === 'no-route') throw new ApiError(400, 'invalid', 'target names no operator or queue', 'target');
  throw new ApiError(503, 'unavailable', 'the switchboard instance that holds the call does not answer');
}

/** A call record's story with the caller's number masked wherever it appears. */
function maskStory(story: Record<string, unknown>): Record<string, unknown> {
  const legs = (story.legs as Record<string, unknown>[]).map((l) => (l.role === 'caller' && typeof l.party === 'string' ? { ...l, party: maskNumber(l.party) } : l));
  const queueEvents = (story.queueEvents as { data: Record<string, unknown> }[]).map((e) => ({ ...e, data: maskCaller(e.data) }));
  return { ...maskCaller(story), legs, queueEvents };
}

/**
 * What is happening now: calls, queues, operators; and what happened: call records. Operator
 * keys see their own state and calls only; callers' numbers are masked for the roles that must
 * not see them.
 */
export function registerLiveRoutes(app: FastifyInstance, d: LiveDeps): void {
  app.addSchema(liveCallSchema);
  app.addSchema(operatorStateSchema);
  const readers = requireRole('admin', 'supervisor');
  const anyone = requireRole('admin', 'supervisor', 'operator');
  const controllers = requireRole('admin', 'supervisor');
  const shown = <T extends { callerNumber?: unknown; callerName?: unknown }>(p: Principal | undefined, item: T): T => d.access.present(p, item);
  /** Operator keys may act on their own operator only. */
  const ownOnly = (p: Principal | undefined, operatorId: number): void => {
    const own = d.access.ownOperator(p);
    if (own !== undefined && own !== operatorId) throw new ApiError(403, 'forbidden', 'an operator key may see and change only its own operator');
  };
  /** For operator keys: is this call theirs (ringing them, or talking or talked to them)? */
  const ownsCall = async (p: Principal | undefined): Promise<((c: LiveCall) => boolean) | undefined> => {
    const own = d.access.ownOperator(p);
    if (own === undefined) return undefined;
    const status = await d.operators.store.get(own);
    return (c) => c.operatorId === own || (status.callId !== '' && status.callId === c.callId);
  };
  const callParams = { type: 'object', required: ['callId'], additionalProperties: false, properties: { callId: { type: 'string', format: 'uuid' } } };
  const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'integer', minimum: 1 } } };

  const positions = async (calls: LiveCall[]): Promise<Map<string, number>> => {
    const map = new Map<string, number>();
    const queueIds = new Set(calls.flatMap((c) => (c.state === 'waiting' && c.queueId !== null ? [c.queueId] : [])));
    for (const q of queueIds) for (const w of await d.queues.waiting(q)) map.set(w.callId, w.position);
    return map;
  };

  app.get('/v1/calls', {
    preHandler: anyone,
    schema: { tags: ['calls'], summary: 'Calls in progress on every instance', response: { 200: { type: 'object', properties: { items: { type: 'array', items: { $ref: 'LiveCall#' } } } } } },
  }, async (req) => {
    const now = Date.now();
    const mine = await ownsCall(req.principal);
    const calls = (await d.queues.liveCalls()).filter((c) => mine?.(c) ?? true).sort((a, b) => a.arrivedAt - b.arrivedAt);
    const pos = await positions(calls);
    return { items: calls.map((c) => shown(req.principal, present(c, pos.get(c.callId), now))) };
  });

  app.get<{ Params: { callId: string } }>('/v1/calls/:callId', {
    preHandler: anyone,
    schema: { tags: ['calls'], summary: 'One call in progress', params: callParams, response: { 200: { $ref: 'LiveCall#' }, 404: err } },
  }, async (req) => {
    const call = await d.queues.getCall(req.params.callId);
    const mine = await ownsCall(req.principal);
    // Another operator's call is as unknown to an operator key as a call that does not exist.
    if (!call || (mine && !mine(call))) throw notFound('live call');
    const position = call.queueId === null ? undefined : await d.queues.position(call.queueId, call.callId);
    return shown(req.principal, present(call, position, Date.now()));
  });

  app.post<{ Params: { callId: string } }>('/v1/calls/:callId/hangup', {
    preHandler: controllers,
    schema: { tags: ['calls'], summary: 'Hang up a call', params: callParams, response: { 204: { type: 'null' }, 404: err, 503: err } },
  }, async (req, reply) => {
    controlReply(await d.control.hangup(req.params.callId));
    return reply.code(204).send();
  });

  app.post<{ Params: { callId: string }; Body: { to?: 'front'; queueId?: number } }>('/v1/calls/:callId/move', {
    preHandler: controllers,
    schema: {
      tags: ['calls'],
      summary: 'Move a waiting caller to the front of their queue, or to another queue',
      params: callParams,
      body: {
        type: 'object',
        additionalProperties: false,
        properties: { to: { type: 'string', enum: ['front'] }, queueId: { type: 'integer', minimum: 1 } },
        oneOf: [{ required: ['to'] }, { required: ['queueId'] }],
      },
      response: { 204: { type: 'null' }, 400: err, 404: err, 409: err, 503: err },
    },
  }, async (req, reply) => {
    const { queueId } = req.body;
    if (queueId !== undefined && !d.settings.queue(queueId)) throw notFound('queue');
    controlReply(queueId !== undefined ? await d.control.moveToQueue(req.params.callId, queueId) : await d.control.moveToFront(req.params.callId));
    return reply.code(204).send();
  });

  const targetBody = {
    type: 'object',
    required: ['target'],
    additionalProperties: false,
    properties: { target: { type: 'string', pattern: '^[0-9A-Za-z*#+._-]{1,64}$', description: 'a dialled number (resolved through the routes) or an operator\'s user name' } },
  };
  const conversationRoute = (path: string, summary: string, description: string, action: (body: { target?: string }) => ConversationAction, body?: object): void => {
    app.post<{ Params: { callId: string }; Body: { target?: string } }>(path, {
      preHandler: controllers,
      schema: {
        tags: ['calls'],
        summary,
        description,
        params: callParams,
        ...(body ? { body } : {}),
        response: { 202: { type: 'null' }, 400: err, 404: err, 409: err, 503: err },
      },
    }, async (req, reply) => {
      controlReply(await d.control.conversation(req.params.callId, action(req.body ?? {})));
      return reply.code(202).send();
    });
  };
  conversationRoute('/v1/calls/:callId/transfer', 'Transfer a caller who talks to an operator (blind)',
    'To an operator (rung now; if they do not answer, the caller goes back to the operator) or into a queue. 202: under way; the outcome shows in the live call and the record.',
    (b) => ({ action: 'transfer', number: b.target ?? '' }), targetBody);
  conversationRoute('/v1/calls/:callId/consult', 'Consult another operator before transferring (attended)',
    'The caller holds with music while the operator\'s phone is connected to the target once they answer. Then complete or cancel.',
    (b) => ({ action: 'consult', number: b.target ?? '' }), targetBody);
  conversationRoute('/v1/calls/:callId/consult/complete', 'Complete a consultation: the caller goes to the consulted operator',
    'Also before the target has answered: the caller then hears music until they do. The first operator is free.',
    () => ({ action: 'complete' }));
  conversationRoute('/v1/calls/:callId/consult/cancel', 'Cancel a consultation: the operator is back with the caller', '', () => ({ action: 'cancel' }));
  conversationRoute('/v1/calls/:callId/three-way', 'Bring a third party in: caller, operator and target talk together',
    'When the operator leaves, the other two stay connected; when one of them leaves, the call goes on with two.',
    (b) => ({ action: 'three-way', number: b.target ?? '' }), targetBody);

  app.get<{ Params: { id: number } }>('/v1/queues/:id/calls', {
    preHandler: readers,
    schema: { tags: ['queues'], summary: 'Callers waiting in a queue, in serving order', params: idParams, response: { 200: { type: 'object', properties: { items: { type: 'array', items: { $ref: 'LiveCall#' } } } }, 404: err } },
  }, async (req) => {
    if (!d.settings.queue(req.params.id)) throw notFound('queue');
    const now = Date.now();
    const items = [];
    for (const w of await d.queues.waiting(req.params.id)) {
      const callback = async (): Promise<LiveCall | undefined> => {
        const entry = await d.callbacks.get(w.callId);
        return entry ? callbackAsCall(entry) : undefined;
      };
      const call = (await d.queues.getCall(w.callId)) ?? (await callback());
      if (call) items.push(shown(req.principal, present(call, w.position, now)));
    }
    return { items };
  });

  app.get('/v1/operator-states', {
    preHandler: anyone,
    schema: { tags: ['operators'], summary: 'Every operator\'s state now (an operator key: its own)', response: { 200: { type: 'object', properties: { items: { type: 'array', items: { $ref: 'OperatorState#' } } } } } },
  }, async (req) => {
    const now = Date.now();
    const own = d.access.ownOperator(req.principal);
    const statuses = new Map((await d.operators.store.all()).map((s) => [s.operatorId, s]));
    const items = [];
    const operators = d.settings.operators().filter((op) => own === undefined || op.id === own);
    for (const op of operators.sort((a, b) => a.username.localeCompare(b.username))) {
      const s = statuses.get(op.id) ?? (await d.operators.store.get(op.id));
      items.push(presentState(s, op.username, now));
    }
    return { items };
  });

  app.get<{ Params: { id: number } }>('/v1/operators/:id/state', {
    preHandler: anyone,
    schema: { tags: ['operators'], summary: 'One operator\'s state now', params: idParams, response: { 200: { $ref: 'OperatorState#' }, 404: err } },
  }, async (req) => {
    ownOnly(req.principal, req.params.id);
    const op = await findOperator(d, req.params.id);
    if (!op) throw notFound('operator');
    return presentState(await d.operators.store.get(op.id), op.username, Date.now());
  });

  app.put<{ Params: { id: number }; Body: { state: 'available' | 'on-break' | 'logged-out' } }>('/v1/operators/:id/state', {
    preHandler: anyone,
    schema: {
      tags: ['operators'],
      summary: 'Log an operator in or out, or put them on a break and back',
      description: 'During a call a break or logout waits for the call to end (see "pending").',
      params: idParams,
      body: { type: 'object', required: ['state'], additionalProperties: false, properties: { state: { type: 'string', enum: ['available', 'on-break', 'logged-out'] } } },
      response: { 200: { $ref: 'OperatorState#' }, 400: err, 404: err, 409: err },
    },
  }, async (req) => {
    ownOnly(req.principal, req.params.id);
    const op = await findOperator(d, req.params.id);
    if (!op) throw notFound('operator');
    const current = await d.operators.store.get(op.id);
    const event = stateEvent(current, req.body.state);
    if (event) {
      try {
        await d.operators.apply(op.id, event);
      } catch (e) {
        if ((e as Error).name !== 'TransitionRefused') throw e;
        throw new ApiError(409, 'conflict', (e as Error).message);
      }
    }
    return presentState(await d.operators.store.get(op.id), op.username, Date.now());
  });

  const cdrQuery = {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...pageQuery.properties,
      from: { type: 'string', format: 'date-time' },
      to: { type: 'string', format: 'date-time' },
      number: { type: 'string', pattern: '^[0-9*#+A-Za-z._-]{1,64}$' },
      operatorId: { type: 'integer', minimum: 1 },
      queueId: { type: 'integer', minimum: 1 },
      disposition: { type: 'string', enum: ['answered', 'abandoned', 'timeout', 'overflow', 'rejected', 'failed'] },
    },
  };
  app.get<{ Querystring: { from?: string; to?: string; number?: string; operatorId?: number; queueId?: number; disposition?: Disposition; limit: number; offset: number } }>('/v1/cdrs', {
    preHandler: anyone,
    schema: {
      tags: ['records'],
      summary: 'Search call records, newest first',
      description: 'An operator key finds the calls its operator answered first. Roles that see numbers masked cannot search by number.',
      querystring: cdrQuery,
    },
  }, async (req) => {
    const own = d.access.ownOperator(req.principal);
    if (own !== undefined && req.query.operatorId !== undefined && req.query.operatorId !== own) {
      throw new ApiError(403, 'forbidden', 'an operator key may search only its own operator\'s calls');
    }
    // Searching by a number would tell whether that number called, which masking is meant to hide.
    if (req.query.number !== undefined && d.access.masks(req.principal)) throw new ApiError(403, 'forbidden', 'this role sees callers\' numbers masked and cannot search by number');
    const found = await searchCdrs(d.pool, own === undefined ? req.query : { ...req.query, operatorId: own });
    return { ...found, items: found.items.map((c) => shown(req.principal, c)), limit: req.query.limit, offset: req.query.offset };
  });

  app.get<{ Params: { callId: string } }>('/v1/cdrs/:callId', {
    preHandler: anyone,
    schema: { tags: ['records'], summary: 'One call\'s record with its legs and queue events', params: callParams, response: { 404: err } },
  }, async (req) => {
    const story = await callStory(d.pool, req.params.callId);
    const own = d.access.ownOperator(req.principal);
    const username = req.principal?.operator;
    const theirs = own === undefined || story?.operatorId === own || (story?.operators as string[] | undefined)?.includes(username ?? '');
    if (!story || !theirs) throw notFound('call record');
    return d.access.masks(req.principal) ? maskStory(story) : story;
  });
}

/**
 * An operator by id: from the cached configuration, or from PostgreSQL when the cache has not
 * caught up yet (an operator created a moment ago is logged in at once).
 */
async function findOperator(d: LiveDeps, id: number): Promise<{ id: number; username: string } | undefined> {
  const cached = d.settings.operator(id);
  if (cached) return cached;
  const { rows } = await d.pool.query<{ id: number; username: string }>('SELECT id, username FROM operators WHERE id = $1', [id]);
  return rows[0];
}

/** The operator event that brings an operator to the wanted state; undefined if already there. */
function stateEvent(current: OperatorStatus, wanted: 'available' | 'on-break' | 'logged-out'): OperatorEvent | undefined {
  if (wanted === 'logged-out') return current.state === 'logged-out' ? undefined : { type: 'logout' };
  if (wanted === 'on-break') return current.state === 'on-break' ? undefined : { type: 'break' };
  if (current.state === 'logged-out') return { type: 'login' };
  if (current.state === 'on-break' || current.pending !== '') return { type: 'back' };
  return undefined;
}
