/**
 * Rooms in use: their members (from Redis, whichever instance holds them), control of members
 * and of the room (sent to the instance that holds the member, carried out on the media server),
 * dial-out to add a participant, and the room's history (every member with join and leave times).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { dialOut, type DialOutRequest } from '../../conference/dial-out.js';
import type { MemberOp, RoomResult, Rooms } from '../../conference/rooms.js';
import type { MemberEntry } from '../../conference/room-store.js';
import type { Pool } from '../../db/pool.js';
import type { Room } from '../../provisioning/types.js';
import { requireRole } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { pageQuery } from '../schemas.js';

type Caller = { callerNumber: string; callerName: string };

export interface RoomsLiveDeps {
  pool: Pool;
  rooms: Rooms;
  /** Callers' numbers as the asking key may see them (MASK_CALLER_NUMBERS); as they are if absent. */
  mask?: <T extends Caller>(request: FastifyRequest, item: T) => T;
}

const err = { $ref: 'Error#' };
const iso = (ms: number): string => new Date(ms).toISOString();

const roomMemberSchema = {
  $id: 'RoomMember',
  type: 'object',
  properties: {
    memberId: { type: ['integer', 'null'], description: 'mod_conference\'s member id; null while waiting for a moderator' },
    callId: { type: 'string', format: 'uuid' },
    callerNumber: { type: 'string', description: 'the caller\'s number, or the number dialled out to' },
    callerName: { type: 'string' },
    joinedAt: { type: 'string', format: 'date-time', description: 'admitted to the room (after the PIN)' },
    moderator: { type: 'boolean' },
    muted: { type: 'boolean' },
    state: { type: 'string', enum: ['waiting', 'joining', 'joined'], description: 'waiting: hears music until a moderator joins' },
    direction: { type: 'string', enum: ['inbound', 'outbound'], description: 'outbound: added by dial-out' },
    operatorId: { type: ['integer', 'null'] },
    owner: { type: 'string', description: 'the switchboard instance that holds the member\'s call' },
  },
};

const roomHistorySchema = {
  $id: 'RoomHistoryEntry',
  type: 'object',
  properties: {
    sessionId: { type: 'string', format: 'uuid', description: 'one run of the conference, first member in to last out' },
    callId: { type: 'string', format: 'uuid' },
    callerNumber: { type: 'string' },
    callerName: { type: 'string' },
    role: { type: 'string', enum: ['moderator', 'member'] },
    direction: { type: 'string', enum: ['inbound', 'outbound'] },
    operatorId: { type: ['integer', 'null'] },
    joinedAt: { type: 'string', format: 'date-time' },
    enteredAt: { type: ['string', 'null'], format: 'date-time', description: 'into the conference\'s audio, after any wait' },
    leftAt: { type: 'string', format: 'date-time' },
    leftHow: { type: 'string', enum: ['hangup', 'kicked', 'ended', 'moderator-left', 'system'] },
    instanceId: { type: 'string' },
  },
};

function present(m: MemberEntry): Record<string, unknown> & Caller {
  return {
    memberId: m.memberId,
    callId: m.callId,
    callerNumber: m.number,
    callerName: m.name,
    joinedAt: iso(m.joinedAt),
    moderator: m.role === 'moderator',
    muted: m.muted,
    state: m.state,
    direction: m.direction,
    operatorId: m.operatorId,
    owner: m.owner,
  };
}

/** Turns a room command's result into the API's answer (nothing for success). */
function reply(result: RoomResult, what: string): void {
  if (result === 'done') return;
  if (result === 'not-found') throw notFound(what);
  if (result === 'not-in-use') throw new ApiError(409, 'conflict', 'nobody is in the room');
  if (result === 'failed') throw new ApiError(502, 'media_server', 'the media server refused the command; see the switchboard log');
  throw new ApiError(503, 'unavailable', 'the switchboard instance that holds the member does not answer');
}

const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'integer', minimum: 1 } } };
const memberParams = {
  type: 'object',
  required: ['id', 'member'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer', minimum: 1 },
    member: { type: 'string', pattern: '^([0-9]{1,10}|[0-9a-fA-F-]{36})$', description: 'the member id, or the member\'s call id' },
  },
};

export function registerRoomLiveRoutes(app: FastifyInstance, d: RoomsLiveDeps): void {
  app.addSchema(roomMemberSchema);
  app.addSchema(roomHistorySchema);
  const readers = requireRole('admin', 'supervisor');
  const controllers = requireRole('admin', 'supervisor');
  const mask = <T extends Caller>(req: FastifyRequest, item: T): T => (d.mask ? d.mask(req, item) : item);
  const roomOf = (id: number): Room => {
    const room = d.rooms.ctx.settings.room(id);
    if (!room) throw notFound('room');
    return room;
  };

  app.get<{ Params: { id: number } }>('/v1/rooms/:id/members', {
    preHandler: readers,
    schema: {
      tags: ['rooms'],
      summary: 'Who is in a room now, on every instance',
      params: idParams,
      response: {
        200: {
          type: 'object',
          properties: {
            roomId: { type: 'integer' },
            number: { type: 'string' },
            locked: { type: 'boolean' },
            sessionId: { type: ['string', 'null'] },
            items: { type: 'array', items: { $ref: 'RoomMember#' } },
          },
        },
        404: err,
      },
    },
  }, async (req) => {
    const room = roomOf(req.params.id);
    const view = await d.rooms.view(room.id);
    return { roomId: room.id, number: room.number, locked: view.state.locked, sessionId: view.state.sessionId, items: view.members.map((m) => mask(req, present(m))) };
  });

  for (const op of ['mute', 'unmute', 'kick'] as const satisfies readonly MemberOp[]) {
    app.post<{ Params: { id: number; member: string } }>(`/v1/rooms/:id/members/:member/${op}`, {
      preHandler: controllers,
      schema: {
        tags: ['rooms'],
        summary: { mute: 'Mute a member', unmute: 'Unmute a member', kick: 'Take a member out of the room and hang up' }[op],
        params: memberParams,
        response: { 204: { type: 'null' }, 404: err, 502: err, 503: err },
      },
    }, async (req, res) => {
      const room = roomOf(req.params.id);
      reply(await d.rooms.memberCommand(room.id, req.params.member, op), 'room member');
      return res.code(204).send();
    });
  }

  for (const op of ['lock', 'unlock'] as const) {
    app.post<{ Params: { id: number } }>(`/v1/rooms/:id/${op}`, {
      preHandler: controllers,
      schema: {
        tags: ['rooms'],
        summary: op === 'lock' ? 'Lock a room in use: nobody new gets in until it is unlocked or ends' : 'Unlock a room',
        params: idParams,
        response: { 204: { type: 'null' }, 404: err, 409: err, 502: err, 503: err },
      },
    }, async (req, res) => {
      reply(await d.rooms.setLocked(roomOf(req.params.id), op === 'lock'), 'room');
      return res.code(204).send();
    });
  }

  app.post<{ Params: { id: number } }>('/v1/rooms/:id/end', {
    preHandler: controllers,
    schema: { tags: ['rooms'], summary: 'End the conference: every member hears goodbye and is hung up', params: idParams, response: { 204: { type: 'null' }, 404: err, 409: err, 502: err, 503: err } },
  }, async (req, res) => {
    reply(await d.rooms.endRoom(roomOf(req.params.id), 'ended'), 'room');
    return res.code(204).send();
  });

  app.post<{ Params: { id: number }; Body: DialOutRequest }>('/v1/rooms/:id/dial-out', {
    preHandler: controllers,
    schema: {
      tags: ['rooms'],
      summary: 'Add a participant: ring an operator\'s phones; they join the room when they answer',
      description: 'Answers 202 once the phones ring. The participant then appears among the members; a ring that fails publishes a `room` event `dial-out-failed` and leaves a failed call record.',
      params: idParams,
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          number: { type: 'string', pattern: '^[0-9*#+]{1,32}$', description: 'a number whose route leads to an operator, or an operator\'s work number' },
          operatorId: { type: 'integer', minimum: 1 },
        },
        oneOf: [{ required: ['number'] }, { required: ['operatorId'] }],
      },
      response: {
        202: { type: 'object', properties: { callId: { type: 'string', format: 'uuid' }, operatorId: { type: 'integer' } } },
        400: err,
        404: err,
        409: err,
        503: err,
      },
    },
  }, async (req, res) => {
    const room = roomOf(req.params.id);
    const result = await dialOut(d.rooms.ctx, d.rooms, room, req.body);
    if (!result.ok) throw new ApiError(result.status, { 400: 'invalid', 404: 'not_found', 409: 'conflict', 503: 'unavailable' }[result.status], result.message, result.field);
    return res.code(202).send({ callId: result.callId, operatorId: result.operatorId });
  });

  const historyQuery = {
    type: 'object',
    additionalProperties: false,
    properties: { ...pageQuery.properties, from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } },
  };
  app.get<{ Params: { id: number }; Querystring: { from?: string; to?: string; limit: number; offset: number } }>('/v1/rooms/:id/history', {
    preHandler: readers,
    schema: {
      tags: ['rooms'],
      summary: 'Every member of a room with join and leave times, oldest first (from/to filter on the join time)',
      params: idParams,
      querystring: historyQuery,
      response: {
        200: {
          type: 'object',
          properties: { items: { type: 'array', items: { $ref: 'RoomHistoryEntry#' } }, total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' } },
        },
      },
    },
  }, async (req) => {
    const { items, total } = await roomHistory(d.pool, req.params.id, req.query);
    return { items: items.map((i) => mask(req, i)), total, limit: req.query.limit, offset: req.query.offset };
  });
}

/** A room's members from the history table (rows of rooms deleted since are kept and found too). */
async function roomHistory(pool: Pool, roomId: number, q: { from?: string; to?: string; limit: number; offset: number }): Promise<{ items: (Record<string, unknown> & Caller)[]; total: number }> {
  const params: unknown[] = [roomId];
  const where = ['room_id = $1'];
  if (q.from !== undefined) where.push(`joined_at >= $${params.push(q.from)}`);
  if (q.to !== undefined) where.push(`joined_at < $${params.push(q.to)}`);
  const filter = where.join(' AND ');
  const { rows } = await pool.query<Record<string, unknown> & Caller>(
    `SELECT session_id AS "sessionId", call_id AS "callId", member_number AS "callerNumber", member_name AS "callerName",
       role, direction, operator_id AS "operatorId", joined_at AS "joinedAt", entered_at AS "enteredAt",
       left_at AS "leftAt", left_how AS "leftHow", instance_id AS "instanceId"
     FROM room_members WHERE ${filter} ORDER BY joined_at, entry_id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, q.limit, q.offset],
  );
  const count = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM room_members WHERE ${filter}`, params);
  return { items: rows, total: count.rows[0]?.n ?? 0 };
}
