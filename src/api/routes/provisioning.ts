import type { FastifyInstance } from 'fastify';
import type { Pool } from '../../db/pool.js';
import { Memberships, type MembershipTerms } from '../../provisioning/members.js';
import { Repository, type Row } from '../../provisioning/repository.js';
import { callerListsTable, extensionsTable, operatorsTable, queuesTable, roomsTable, routesTable } from '../../provisioning/tables.js';
import type { CallerList, Extension, Operator, Queue, Room, Route } from '../../provisioning/types.js';
import { digestHa1 } from '../../sip/digest.js';
import { requireRole } from '../auth.js';
import { ApiError, invalid, notFound } from '../errors.js';
import { callerListSchemas, extensionSchemas, membershipBody, membershipSchema, operatorSchemas, queueSchemas, roomSchemas, routeSchemas } from '../schemas.js';
import { registerCrud } from './crud.js';

export interface ProvisioningDeps {
  pool: Pool;
  /** Realm of the digest hash: SIP_DOMAIN. */
  realm: string;
}

/** Replaces a plain password by its digest hash, which needs the (possibly new) username. */
function hashPassword(body: Row, username: string, realm: string): Row {
  const { password, ...rest } = body;
  if (typeof password !== 'string') return rest;
  if (rest.ha1 !== undefined) throw invalid('ha1', 'cannot be sent together with password');
  return { ...rest, ha1: digestHa1(username, realm, password) };
}

function prepareOperator(realm: string) {
  return {
    create: (body: Row): Row => {
      if (body.password === undefined && body.ha1 === undefined) throw invalid('password', 'is required (or ha1)');
      return hashPassword(body, body.username as string, realm);
    },
    update: (body: Row, current: Operator): Row => {
      const renamed = body.username !== undefined && body.username !== current.username;
      if (renamed && body.password === undefined && body.ha1 === undefined) {
        throw invalid('password', 'is required when username changes, since the digest hash includes the username');
      }
      return hashPassword(body, (body.username as string | undefined) ?? current.username, realm);
    },
  };
}

/**
 * An extension's number is its phone's SIP user name, so it must not be an operator's: the
 * operator would win at REGISTER and the extension's phone could never sign in.
 */
function prepareExtension(pool: Pool, realm: string) {
  const notAnOperator = async (number: string): Promise<void> => {
    const { rowCount } = await pool.query('SELECT 1 FROM operators WHERE username = $1', [number]);
    if (rowCount) throw new ApiError(409, 'conflict', `${number} is an operator's username`);
  };
  return {
    create: async (body: Row): Promise<Row> => {
      if (body.password === undefined && body.ha1 === undefined) throw invalid('password', 'is required (or ha1)');
      await notAnOperator(body.number as string);
      return hashPassword(body, body.number as string, realm);
    },
    update: async (body: Row, current: Extension): Promise<Row> => {
      const renumbered = body.number !== undefined && body.number !== current.number;
      if (renumbered && body.password === undefined && body.ha1 === undefined) {
        throw invalid('password', 'is required when the number changes, since the digest hash includes it');
      }
      if (renumbered) await notAnOperator(body.number as string);
      return hashPassword(body, (body.number as string | undefined) ?? current.number, realm);
    },
  };
}

const isSet = (v: unknown): boolean => v !== undefined && v !== null;

function checkQueue(q: Row): void {
  const busy = q.overflowAction === undefined || q.overflowAction === 'busy';
  const hasTarget = isSet(q.overflowTarget);
  if (busy && hasTarget) throw invalid('overflowTarget', 'must be null when overflowAction is busy');
  if (!busy && !hasTarget) throw invalid('overflowTarget', `is required when overflowAction is ${String(q.overflowAction)}`);
}

function checkRoom(r: Row): void {
  if (isSet(r.pin) && r.pin === r.moderatorPin) throw invalid('moderatorPin', 'must differ from pin');
  if (r.waitForModerator === true && !isSet(r.moderatorPin)) {
    throw invalid('moderatorPin', 'is required when waitForModerator is true');
  }
}

const TARGET_FIELD = { queue: 'queueId', operator: 'operatorId', room: 'roomId', reject: 'rejectStatus' } as const;
type TargetType = keyof typeof TARGET_FIELD;

/** Only calls that wait in a queue can need a skill. */
function checkRouteSkill(r: Row): void {
  if (isSet(r.skill) && r.targetType !== 'queue') throw invalid('skill', 'is only for routes to a queue');
}

/** A route names exactly one target, the one its targetType says; the others are cleared. */
function routeTarget(r: Row): Row {
  const type = r.targetType as TargetType;
  const wanted = TARGET_FIELD[type];
  if (!isSet(r[wanted])) throw invalid(wanted, `is required when targetType is ${type}`);
  const target: Row = { targetType: type };
  for (const field of Object.values(TARGET_FIELD)) {
    if (field === wanted) {
      target[field] = r[field];
      continue;
    }
    if (isSet(r[field])) throw invalid(field, `must be null when targetType is ${type}`);
    target[field] = null;
  }
  return target;
}

function mergeForCheck(body: Row, current: object): Row {
  return { ...current, ...body };
}

export function registerProvisioningRoutes(app: FastifyInstance, deps: ProvisioningDeps): void {
  const operators = new Repository<Operator>(deps.pool, operatorsTable);
  const queues = new Repository<Queue>(deps.pool, queuesTable);
  const rooms = new Repository<Room>(deps.pool, roomsTable);
  const routes = new Repository<Route>(deps.pool, routesTable);
  const callerLists = new Repository<CallerList>(deps.pool, callerListsTable);
  const extensions = new Repository<Extension>(deps.pool, extensionsTable);
  const memberships = new Memberships(deps.pool);

  for (const s of [operatorSchemas, queueSchemas, roomSchemas, routeSchemas, callerListSchemas, extensionSchemas]) app.addSchema(s.item);
  app.addSchema(membershipSchema);

  const op = prepareOperator(deps.realm);
  registerCrud(app, {
    path: '/v1/operators', kind: 'operator', tag: 'operators', repo: operators, schemas: operatorSchemas,
    prepareCreate: op.create, prepareUpdate: op.update,
  });
  registerCrud(app, {
    path: '/v1/queues', kind: 'queue', tag: 'queues', repo: queues, schemas: queueSchemas,
    prepareCreate: (b) => (checkQueue(b), b),
    prepareUpdate: (b, cur) => (checkQueue(mergeForCheck(b, cur)), b),
  });
  registerCrud(app, {
    path: '/v1/rooms', kind: 'room', tag: 'rooms', repo: rooms, schemas: roomSchemas,
    prepareCreate: (b) => (checkRoom(b), b),
    prepareUpdate: (b, cur) => (checkRoom(mergeForCheck(b, cur)), b),
  });
  registerCrud(app, {
    path: '/v1/routes', kind: 'route', tag: 'routes', repo: routes, schemas: routeSchemas,
    prepareCreate: (b) => (checkRouteSkill(b), { ...b, ...routeTarget(b) }),
    prepareUpdate: (b, cur) => {
      checkRouteSkill(mergeForCheck(b, cur));
      // Changing the kind of target drops the old target unless the new one is named too.
      const base = b.targetType !== undefined && b.targetType !== cur.targetType ? { targetType: b.targetType } : cur;
      return { ...b, ...routeTarget({ ...base, ...b }) };
    },
  });
  const ext = prepareExtension(deps.pool, deps.realm);
  registerCrud(app, {
    path: '/v1/extensions', kind: 'extension', tag: 'extensions', repo: extensions, schemas: extensionSchemas,
    prepareCreate: ext.create, prepareUpdate: ext.update,
  });
  registerCrud(app, { path: '/v1/caller-lists', kind: 'caller list', tag: 'caller lists', repo: callerLists, schemas: callerListSchemas });

  registerMembershipRoutes(app, queues, operators, memberships);
}

type MemberParams = { Params: { id: number; operatorId: number } };

function registerMembershipRoutes(
  app: FastifyInstance,
  queues: Repository<Queue>,
  operators: Repository<Operator>,
  memberships: Memberships,
): void {
  const memberParams = {
    type: 'object',
    required: ['id', 'operatorId'],
    additionalProperties: false,
    properties: { id: { type: 'integer', minimum: 1 }, operatorId: { type: 'integer', minimum: 1 } },
  };
  const queueParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'integer', minimum: 1 } } };
  const err = { $ref: 'Error#' };

  app.get<{ Params: { id: number } }>(
    '/v1/queues/:id/members',
    {
      preHandler: requireRole('admin', 'supervisor'),
      schema: {
        tags: ['queues'], summary: 'List the operators of a queue', params: queueParams,
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: { $ref: 'Membership#' } } } }, 404: err },
      },
    },
    async (req) => {
      if (!(await queues.get(req.params.id))) throw notFound('queue');
      return { items: await memberships.listForQueue(req.params.id) };
    },
  );

  app.put<MemberParams & { Body: MembershipTerms }>(
    '/v1/queues/:id/members/:operatorId',
    {
      preHandler: requireRole('admin'),
      schema: {
        tags: ['queues'], summary: 'Add an operator to a queue, or change the penalty, skills and grade', params: memberParams, body: membershipBody,
        response: { 200: { $ref: 'Membership#' }, 201: { $ref: 'Membership#' }, 400: err, 404: err },
      },
    },
    async (req, reply) => {
      if (!(await queues.get(req.params.id))) throw notFound('queue');
      if (!(await operators.get(req.params.operatorId))) throw notFound('operator');
      const { membership, created } = await memberships.put(req.params.id, req.params.operatorId, req.body);
      return reply.code(created ? 201 : 200).send(membership);
    },
  );

  app.delete<MemberParams>(
    '/v1/queues/:id/members/:operatorId',
    {
      preHandler: requireRole('admin'),
      schema: { tags: ['queues'], summary: 'Remove an operator from a queue', params: memberParams, response: { 204: { type: 'null' }, 404: err } },
    },
    async (req, reply) => {
      if (!(await memberships.remove(req.params.id, req.params.operatorId))) throw notFound('membership');
      return reply.code(204).send();
    },
  );
}
