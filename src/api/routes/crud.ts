import type { FastifyInstance } from 'fastify';
import type { Repository, Row } from '../../provisioning/repository.js';
import { requireRole } from '../auth.js';
import { notFound } from '../errors.js';
import { idParams, pageQuery, type ResourceSchemas } from '../schemas.js';

export interface CrudOptions<T extends { id: number }> {
  /** URL path of the collection, e.g. /v1/operators */
  path: string;
  /** Name for messages and the OpenAPI tag, e.g. "operator" */
  kind: string;
  tag: string;
  repo: Repository<T>;
  schemas: ResourceSchemas;
  /** Turns a validated create body into the columns to write (checks across fields go here). */
  prepareCreate?: (body: Row) => Row | Promise<Row>;
  /** Same for PATCH, given the record as it is now. */
  prepareUpdate?: (body: Row, current: T) => Row | Promise<Row>;
}

type IdRequest = { Params: { id: number } };

/** Registers list, get, create, update (PATCH) and delete for one configuration table. */
export function registerCrud<T extends { id: number }>(app: FastifyInstance, o: CrudOptions<T>): void {
  const readers = requireRole('admin', 'supervisor');
  const writers = requireRole('admin');
  const itemRef = { $ref: `${o.schemas.item.$id as string}#` };
  const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' } };

  app.get<{ Querystring: { limit: number; offset: number } }>(
    o.path,
    {
      preHandler: readers,
      schema: { tags: [o.tag], summary: `List ${o.kind}s`, querystring: pageQuery, response: { 200: o.schemas.page, ...errors } },
    },
    async (req) => ({ ...(await o.repo.list(req.query)), ...req.query }),
  );

  app.get<IdRequest>(
    `${o.path}/:id`,
    {
      preHandler: readers,
      schema: { tags: [o.tag], summary: `Get one ${o.kind}`, params: idParams, response: { 200: itemRef, 404: { $ref: 'Error#' }, ...errors } },
    },
    async (req) => {
      const item = await o.repo.get(req.params.id);
      if (!item) throw notFound(o.kind);
      return item;
    },
  );

  app.post<{ Body: Row }>(
    o.path,
    {
      preHandler: writers,
      schema: { tags: [o.tag], summary: `Create a ${o.kind}`, body: o.schemas.create, response: { 201: itemRef, 409: { $ref: 'Error#' }, ...errors } },
    },
    async (req, reply) => {
      const values = o.prepareCreate ? await o.prepareCreate(req.body) : req.body;
      const item = await o.repo.create(values);
      return reply.code(201).header('location', `${o.path}/${String(item.id)}`).send(item);
    },
  );

  app.patch<IdRequest & { Body: Row }>(
    `${o.path}/:id`,
    {
      preHandler: writers,
      schema: {
        tags: [o.tag],
        summary: `Change a ${o.kind}`,
        params: idParams,
        body: o.schemas.patch,
        response: { 200: itemRef, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, ...errors },
      },
    },
    async (req) => {
      const current = await o.repo.get(req.params.id);
      if (!current) throw notFound(o.kind);
      const values = o.prepareUpdate ? await o.prepareUpdate(req.body, current) : req.body;
      const item = await o.repo.update(req.params.id, values);
      if (!item) throw notFound(o.kind);
      return item;
    },
  );

  app.delete<IdRequest>(
    `${o.path}/:id`,
    {
      preHandler: writers,
      schema: { tags: [o.tag], summary: `Delete a ${o.kind}`, params: idParams, response: { 204: { type: 'null' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, ...errors } },
    },
    async (req, reply) => {
      if (!(await o.repo.remove(req.params.id))) throw notFound(o.kind);
      return reply.code(204).send();
    },
  );
}
