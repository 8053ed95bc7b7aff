import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Pool } from '../../db/pool.js';
import { exportCsv, readImport, type EntryCheck, type LineError } from '../../directory/csv-entries.js';
import type { DirectoryEntryInput } from '../../directory/entry.js';
import { DirectoryRepository } from '../../directory/repository.js';
import { MATCHES } from '../../directory/search.js';
import { requireRole } from '../auth.js';
import { errorSchema, invalid, notFound } from '../errors.js';
import { directoryEntryBody, directoryEntrySchema, directorySearchQuery, idParams } from '../schemas.js';
import { compileValidator, validationError } from '../validation.js';

export interface DirectoryDeps {
  pool: Pool;
  /** DIRECTORY_IMPORT_MAX_BYTES: the largest CSV file an import takes. */
  importMaxBytes: number;
}

type SearchQuery = { q?: string; department?: string; number?: string; limit: number; offset: number };
type IdRequest = { Params: { id: number } };

const err = { $ref: 'Error#' };
const errors = { 400: err, 401: err, 403: err };
const entryRef = { $ref: 'DirectoryEntry#' };

/** An entry found, with why it matched q (null without q). */
const hitSchema = {
  type: 'object',
  properties: { ...directoryEntrySchema.properties, match: { type: ['string', 'null'], enum: [...MATCHES, null] } },
};

const lineErrors = {
  type: 'array',
  items: { type: 'object', properties: { line: { type: 'integer' }, field: { type: 'string' }, message: { type: 'string' } } },
};

/** Operator keys never see unlisted entries; admins and supervisors see them all. */
const seesPrivate = (req: FastifyRequest): boolean => req.role !== 'operator';

/** The same rules for a CSV line as for a JSON body: the entry's schema, defaults included. */
function entryCheck(): EntryCheck {
  const validate = compileValidator({ schema: directoryEntryBody, httpPart: 'body' });
  return (entry) => {
    if (validate(entry)) return undefined;
    const e = validationError(validate.errors ?? [], 'entry');
    return e.field === undefined ? { message: e.message } : { field: e.field, message: e.message };
  };
}

/**
 * Directory enquiries: search for operators, supervisors and admins; changes, import and export
 * for admins (export also for supervisors).
 */
export function registerDirectoryRoutes(app: FastifyInstance, deps: DirectoryDeps): void {
  const repo = new DirectoryRepository(deps.pool);
  const searchers = requireRole('admin', 'supervisor', 'operator');
  const admins = requireRole('admin');
  const check = entryCheck();
  app.addSchema(directoryEntrySchema);

  app.get<{ Querystring: SearchQuery }>(
    '/v1/directory',
    {
      preHandler: searchers,
      schema: {
        tags: ['directory'],
        summary: 'Search the directory: by name, department or number, best matches first',
        querystring: directorySearchQuery,
        response: {
          200: {
            type: 'object',
            properties: {
              items: { type: 'array', items: hitSchema },
              total: { type: 'integer' },
              limit: { type: 'integer' },
              offset: { type: 'integer' },
            },
          },
          ...errors,
        },
      },
    },
    async (req) => {
      const { q, department, number, limit, offset } = req.query;
      const found = await repo.search({
        ...(q === undefined ? {} : { q }),
        ...(department === undefined ? {} : { department }),
        ...(number === undefined ? {} : { number }),
        includePrivate: seesPrivate(req),
        limit,
        offset,
      });
      return { ...found, limit, offset };
    },
  );

  app.get(
    '/v1/directory.csv',
    {
      preHandler: requireRole('admin', 'supervisor'),
      schema: { tags: ['directory'], summary: 'The whole directory as CSV (RFC 4180)', produces: ['text/csv'], response: { 200: { type: 'string' }, ...errors } },
    },
    async (_req, reply) =>
      reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="directory.csv"').send(exportCsv(await repo.all())),
  );

  app.get<IdRequest>(
    '/v1/directory/:id',
    { preHandler: searchers, schema: { tags: ['directory'], summary: 'One directory entry', params: idParams, response: { 200: entryRef, 404: err, ...errors } } },
    async (req) => {
      const entry = await repo.get(req.params.id);
      if (!entry || (entry.private && !seesPrivate(req))) throw notFound('directory entry');
      return entry;
    },
  );

  app.post<{ Body: DirectoryEntryInput }>(
    '/v1/directory',
    { preHandler: admins, schema: { tags: ['directory'], summary: 'Add a directory entry', body: directoryEntryBody, response: { 201: entryRef, ...errors } } },
    async (req, reply) => {
      const entry = await repo.create(req.body);
      return reply.code(201).header('location', `/v1/directory/${String(entry.id)}`).send(entry);
    },
  );

  app.put<IdRequest & { Body: DirectoryEntryInput }>(
    '/v1/directory/:id',
    {
      preHandler: admins,
      schema: { tags: ['directory'], summary: 'Replace a directory entry (fields not sent get their defaults)', params: idParams, body: directoryEntryBody, response: { 200: entryRef, 404: err, ...errors } },
    },
    async (req) => {
      const entry = await repo.replace(req.params.id, req.body);
      if (!entry) throw notFound('directory entry');
      return entry;
    },
  );

  app.delete<IdRequest>(
    '/v1/directory/:id',
    { preHandler: admins, schema: { tags: ['directory'], summary: 'Delete a directory entry', params: idParams, response: { 204: { type: 'null' }, 404: err, ...errors } } },
    async (req, reply) => {
      if (!(await repo.remove(req.params.id))) throw notFound('directory entry');
      return reply.code(204).send();
    },
  );

  registerImport(app, repo, check, deps.importMaxBytes);
}

type ImportRequest = { Body: string; Querystring: { mode: 'all' | 'partial'; sync: boolean } };

function registerImport(app: FastifyInstance, repo: DirectoryRepository, check: EntryCheck, maxBytes: number): void {
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: maxBytes }, (_req, body, done) => done(null, body));
  const outcome = {
    type: 'object',
    properties: { created: { type: 'integer' }, updated: { type: 'integer' }, deleted: { type: 'integer' }, errors: lineErrors },
  };
  app.post<ImportRequest>(
    '/v1/directory/import',
    {
      preHandler: requireRole('admin'),
      bodyLimit: maxBytes,
      schema: {
        tags: ['directory'],
        summary: 'Import entries from CSV (text/csv): a line with an id replaces that entry, one without adds an entry',
        description:
          'mode=all (default): any line in error and nothing is written (400 with every line\'s error). mode=partial: the good lines are written and the others reported. ' +
          'sync=true: entries the file does not name by id are deleted, so the directory becomes the file.',
        consumes: ['text/csv'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { mode: { type: 'string', enum: ['all', 'partial'], default: 'all' }, sync: { type: 'boolean', default: false } },
        },
        response: {
          200: outcome,
          400: { type: 'object', properties: { error: errorSchema.properties.error, errors: lineErrors } },
          401: err,
          403: err,
          413: err,
          415: err,
        },
      },
    },
    async (req, reply) => {
      if (typeof req.body !== 'string') return reply.code(415).send({ error: { status: 415, code: 'unsupported_media_type', message: 'send the CSV file as text/csv' } });
      const partial = req.query.mode === 'partial';
      // A sync must know every line: a line in error would have its entry deleted.
      if (partial && req.query.sync) throw invalid('sync', 'needs mode=all');
      const read = readImport(req.body, check);
      // Refused or not, the report names every bad line, unknown ids included.
      const result = await repo.import(read.lines, { sync: req.query.sync, partial, write: partial || read.errors.length === 0 });
      const unknown = result.unknownIds.map((l) => ({ line: l.line, field: 'id', message: `names no entry (${String(l.id)})` }));
      const lineErrorsFound = [...read.errors, ...unknown].sort((a, b) => a.line - b.line);
      if (lineErrorsFound.length > 0 && !partial) return refuseImport(reply, lineErrorsFound);
      req.log.info({ created: result.created, updated: result.updated, deleted: result.deleted, errors: lineErrorsFound.length }, 'directory imported');
      return { created: result.created, updated: result.updated, deleted: result.deleted, errors: lineErrorsFound };
    },
  );
}

function refuseImport(reply: FastifyReply, lines: LineError[]): FastifyReply {
  const message = `${lines.length} line${lines.length === 1 ? ' has an error' : 's have errors'}; nothing was imported`;
  return reply.code(400).send({ error: { status: 400, code: 'invalid', message }, errors: lines });
}
