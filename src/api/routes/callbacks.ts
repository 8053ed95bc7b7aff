import type { FastifyInstance } from 'fastify';
import type { CallbackEntry } from '../../callback/store.js';
import type { CancelResult } from '../../callback/service.js';
import type { Pool } from '../../db/pool.js';
import { requireRole, type Access } from '../auth.js';
import { ApiError } from '../errors.js';

export interface CallbackDeps {
  pool: Pool;
  callbacks: { list(): Promise<CallbackEntry[]>; cancel(id: string): Promise<CancelResult> };
  access: Access;
  queues: { position(queueId: number, callId: string): Promise<number | undefined> };
}

const err = { $ref: 'Error#' };
const iso = (ms: number | null): string | null => (ms === null || ms === 0 ? null : new Date(ms).toISOString());
// How far back "recent" callbacks go, at most.
const RECENT_LIMIT = 100;

const liveSchema = {
  $id: 'LiveCallback',
  type: 'object',
  properties: {
    id: { type: 'string', description: 'the callback\'s id, also the call id of the call back' },
    originalCallId: { type: 'string' },
    queueId: { type: 'integer' },
    callerNumber: { type: 'string', description: 'the number to call back' },
    callerName: { type: 'string' },
    confirmedHow: { type: 'string', enum: ['caller-id', 'keyed'] },
    state: { type: 'string', enum: ['waiting', 'retry-wait', 'offering', 'calling'] },
    position: { type: ['integer', 'null'], description: 'place in the queue (1 = next); null while out of it' },
    attempts: { type: 'integer' },
    arrivedAt: { type: 'string', format: 'date-time', description: 'when the caller first entered the queue (their place)' },
    requestedAt: { type: 'string', format: 'date-time' },
    retryAt: { type: ['string', 'null'], format: 'date-time', description: 'next attempt (retry-wait)' },
    owner: { type: 'string', description: 'the switchboard instance that places it' },
    operatorId: { type: ['integer', 'null'] },
  },
};

const recentSchema = {
  $id: 'RecentCallback',
  type: 'object',
  properties: {
    id: { type: 'string' },
    originalCallId: { type: 'string' },
    callId: { type: ['string', 'null'] },
    queueId: { type: 'integer' },
    queueNumber: { type: 'string' },
    callerNumber: { type: 'string' },
    confirmedHow: { type: 'string' },
    arrivedAt: { type: 'string', format: 'date-time' },
    requestedAt: { type: 'string', format: 'date-time' },
    endedAt: { type: 'string', format: 'date-time' },
    attempts: { type: 'integer' },
    outcome: { type: 'string', enum: ['connected', 'failed', 'cancelled'] },
    operatorId: { type: ['integer', 'null'] },
    reason: { type: 'string' },
  },
};

/** Callbacks: live ones (Redis, every instance) and the most recent finished ones (PostgreSQL). */
export function registerCallbackRoutes(app: FastifyInstance, d: CallbackDeps): void {
  app.addSchema(liveSchema);
  app.addSchema(recentSchema);
  const readers = requireRole('admin', 'supervisor');

  app.get('/v1/callbacks', {
    preHandler: readers,
    schema: {
      tags: ['callbacks'],
      summary: 'Callbacks waiting or being placed, and the most recent finished ones',
      response: { 200: { type: 'object', properties: { live: { type: 'array', items: { $ref: 'LiveCallback#' } }, recent: { type: 'array', items: { $ref: 'RecentCallback#' } } } } },
    },
  }, async (req) => {
    const entries = (await d.callbacks.list()).sort((a, b) => a.score - b.score);
    const live = [];
    for (const e of entries) live.push({
      id: e.id,
      originalCallId: e.originalCallId,
      queueId: e.queueId,
      callerNumber: e.number,
      callerName: e.callerName,
      confirmedHow: e.how,
      state: e.state,
      position: e.state === 'waiting' ? ((await d.queues.position(e.queueId, e.id)) ?? null) : null,
      attempts: e.attempts,
      arrivedAt: iso(e.arrivedAt),
      requestedAt: iso(e.requestedAt),
      retryAt: e.state === 'retry-wait' ? iso(e.retryAt) : null,
      owner: e.owner,
      operatorId: e.operatorId,
    });
    const { rows } = await d.pool.query(
      `SELECT callback_id AS id, original_call_id AS "originalCallId", call_id AS "callId", queue_id::int AS "queueId", queue_number AS "queueNumber",
              number AS "callerNumber", confirmed_how AS "confirmedHow", arrived_at AS "arrivedAt", requested_at AS "requestedAt",
              ended_at AS "endedAt", attempts, outcome, operator_id::int AS "operatorId", reason
         FROM callbacks ORDER BY ended_at DESC LIMIT $1`,
      [RECENT_LIMIT],
    );
    return {
      live: live.map((item) => d.access.present(req.principal, item)),
      recent: (rows as { callerNumber: string }[]).map((item) => d.access.present(req.principal, item)),
    };
  });

  app.delete<{ Params: { id: string } }>('/v1/callbacks/:id', {
    preHandler: readers,
    schema: {
      tags: ['callbacks'],
      summary: 'Cancel a callback that is waiting (not while the operator or the caller is being rung)',
      params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', format: 'uuid' } } },
      response: { 204: { type: 'null' }, 404: err, 409: err },
    },
  }, async (req, reply) => {
    const result = await d.callbacks.cancel(req.params.id);
    if (!result.ok) throw new ApiError(result.status, result.status === 404 ? 'not_found' : 'conflict', result.message);
    return reply.code(204).send();
  });
}
