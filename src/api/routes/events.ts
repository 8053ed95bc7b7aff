import type { FastifyInstance } from 'fastify';
import type { EventStream } from '../../events/stream.js';
import { EVENT_TOKEN_TTL_MS, EVENTS_PATH, requireRole, type Access, type ApiKeyAuth } from '../auth.js';
import { ApiError } from '../errors.js';

export interface EventRouteDeps {
  stream: EventStream;
  auth: ApiKeyAuth;
  access: Access;
}

const err = { $ref: 'Error#' };

/**
 * GET /v1/events: server-sent events (call, queue, operator), with the API key in a header or,
 * for a browser's EventSource (which cannot send headers), a token from POST /v1/events/tokens.
 */
export function registerEventRoutes(app: FastifyInstance, d: EventRouteDeps): void {
  const anyone = requireRole('admin', 'supervisor', 'operator');

  app.post('/v1/events/tokens', {
    preHandler: anyone,
    schema: {
      tags: ['events'],
      summary: 'A short-lived token that opens the event stream',
      description: `For EventSource in a browser: GET ${EVENTS_PATH}?token=<token>. Valid for ${EVENT_TOKEN_TTL_MS / 1000} s, only for the event stream, with the rights of the key that asked for it.`,
      response: {
        201: { type: 'object', properties: { token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' }, url: { type: 'string' } } },
        401: err,
        403: err,
      },
    },
  }, async (req, reply) => {
    const principal = req.principal;
    // Checked here so that a key whose operator is not configured gets its 403 now, not later.
    d.access.ownOperator(principal);
    if (!principal) throw new ApiError(401, 'unauthorized', 'an API key is required');
    const { token, expiresAt } = d.auth.issueToken(principal);
    return reply.code(201).send({ token, expiresAt: new Date(expiresAt).toISOString(), url: `${EVENTS_PATH}?token=${encodeURIComponent(token)}` });
  });

  app.get(EVENTS_PATH, {
    preHandler: anyone,
    schema: {
      tags: ['events'],
      summary: 'Live call, queue and operator events (text/event-stream)',
      description:
        'Server-sent events named call, queue and operator, each a JSON object; first a hello event, a comment line as heartbeat every 15 s, ' +
        'a bye event when the switchboard stops. Operator keys get only their own state and calls. Callers\' numbers are masked for the roles in MASK_CALLER_NUMBERS.',
      querystring: { type: 'object', additionalProperties: false, properties: { token: { type: 'string', maxLength: 1000 } } },
      response: { 401: err, 403: err },
    },
  }, async (req, reply) => {
    const operatorId = d.access.ownOperator(req.principal);
    const viewer = {
      masked: d.access.masks(req.principal),
      ...(operatorId === undefined ? {} : { operatorId, operatorUsername: req.principal?.operator as string }),
    };
    // From here the response is the stream's, not fastify's.
    reply.hijack();
    d.stream.add(reply.raw, viewer);
  });
}
