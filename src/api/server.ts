import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { ApiKey, Role, WakeupConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { Health } from '../health.js';
import type { Logger } from '../log.js';
import { EventStream, type EventFeed } from '../events/stream.js';
import { ProvisioningError } from '../provisioning/errors.js';
import { registerWallboard } from '../wallboard/serve.js';
import { Access, ApiKeyAuth } from './auth.js';
import { ApiError, errorSchema } from './errors.js';
import { registerCallbackRoutes, type CallbackDeps } from './routes/callbacks.js';
import { registerDirectoryRoutes } from './routes/directory.js';
import { registerHealthRoute } from './routes/health.js';
import { registerEventRoutes } from './routes/events.js';
import { registerLiveRoutes, type LiveDeps } from './routes/live.js';
import { registerMessageRoutes, type MessagesDeps } from './routes/messages.js';
import { registerMetricsRoute, type MetricsDeps } from './routes/metrics.js';
import { registerNumberChangeRoutes } from './routes/number-changes.js';
import { registerProvisioningRoutes } from './routes/provisioning.js';
import { registerRoomLiveRoutes, type RoomsLiveDeps } from './routes/rooms-live.js';
import { registerStatsRoutes } from './routes/stats.js';
import { registerWakeupRoutes } from './routes/wakeup.js';
import { compileValidator, validationError } from './validation.js';

export interface ApiDeps {
  log: Logger;
  pool: Pool;
  health: Health;
  apiKeys: ApiKey[];
  sipDomain: string;
  version: string;
  /**
   * Called after every change to the configuration, before the reply goes out: reloads this
   * instance's copy (so the client's next request sees its change) and tells the others.
   */
  onConfigChange(): Promise<void>;
  live: Omit<LiveDeps, 'pool' | 'access'>;
  /** Rooms in use: members, control, dial-out, history. */
  rooms: Omit<RoomsLiveDeps, 'pool' | 'mask'>;
  /** The roles that see callers' numbers masked (MASK_CALLER_NUMBERS). */
  maskCallerNumbers: Role[];
  /** Live events of every instance, for GET /v1/events. */
  events: { feed: EventFeed; instanceId: string; heartbeatMs?: number };
  metrics: Pick<MetricsDeps, 'callsInProgress' | 'recordBacklog' | 'recordsBuffered' | 'admission'>;
  /** Callbacks that keep the caller's place: list and cancel. */
  callbacks: CallbackDeps['callbacks'];
  /** DIRECTORY_IMPORT_MAX_BYTES and NUMBER_CHANGE_INTERCEPT_DAYS. */
  numbers: { directoryImportMaxBytes: number; defaultInterceptDays: number };
  /** Extensions' voice messages. */
  messages: MessagesDeps;
  /** WAKEUP_*: the defaults of wake-up bookings. */
  wakeup: WakeupConfig;
}

/** Writes under these paths change the configuration every instance caches. */
const CONFIG_PATHS = /^\/v1\/(operators|queues|routes|rooms|caller-lists|number-changes|extensions)(\/\d+)?(\/members\/\d+)?(\?|$)/;

/** Paths anyone may read: the health probe, the API documentation and the wallboard's page. */
const PUBLIC_PATHS = /^\/(health|docs|wallboard)(\/|$|\?)/;
const BODY_LIMIT = 64 * 1024;

function toApiError(err: FastifyError | ProvisioningError | ApiError | Error): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ProvisioningError) {
    const status = { conflict: 409, invalid: 400, 'in-use': 409, 'not-found': 404 }[err.kind];
    const code = { conflict: 'conflict', invalid: 'invalid', 'in-use': 'in_use', 'not-found': 'not_found' }[err.kind];
    return new ApiError(status, code, err.message, err.field);
  }
  const fe = err as FastifyError;
  if (fe.validation) return validationError(fe.validation, fe.validationContext ?? 'request');
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) return new ApiError(status, (fe.code ?? 'bad_request').toLowerCase(), fe.message);
  return new ApiError(500, 'internal', 'internal error; see the switchboard log');
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    return503OnClosing: true,
    // A malformed URL or an overlong path parameter is refused by the router before any handler:
    // answer it in the API's error format too.
    frameworkErrors: (err, _request, reply) => {
      const apiError = toApiError(err);
      void (reply as FastifyReply).code(apiError.status).send(apiError.body());
    },
  });
  app.setValidatorCompiler(compileValidator);
  app.addSchema(errorSchema);

  await app.register(swagger, {
    openapi: {
      info: { title: 'Switchboard API', version: deps.version, description: 'Provisioning and call control of the SIP operator switchboard.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key from API_KEYS' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const auth = new ApiKeyAuth(deps.apiKeys);
  app.addHook('onRequest', async (request) => {
    if (PUBLIC_PATHS.test(request.url)) return;
    request.principal = auth.authenticate(request);
    request.role = request.principal.role;
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) request.log.error({ err }, 'request failed');
    return reply.code(apiError.status).send(apiError.body());
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(new ApiError(404, 'not_found', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`).body()),
  );

  registerHealthRoute(app, deps.health);
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method !== 'GET' && reply.statusCode < 300 && CONFIG_PATHS.test(request.url)) await deps.onConfigChange();
    return payload;
  });
  registerProvisioningRoutes(app, { pool: deps.pool, realm: deps.sipDomain });
  const access = new Access(deps.maskCallerNumbers, deps.live.settings);
  registerLiveRoutes(app, { ...deps.live, pool: deps.pool, access });
  registerRoomLiveRoutes(app, { ...deps.rooms, pool: deps.pool, mask: (req, item) => access.present(req.principal, item) });
  registerCallbackRoutes(app, { pool: deps.pool, callbacks: deps.callbacks, access, queues: deps.live.queues });
  registerStatsRoutes(app, { pool: deps.pool });
  registerDirectoryRoutes(app, { pool: deps.pool, importMaxBytes: deps.numbers.directoryImportMaxBytes });
  registerNumberChangeRoutes(app, { pool: deps.pool, defaultInterceptDays: deps.numbers.defaultInterceptDays });
  registerMessageRoutes(app, deps.messages);
  registerWakeupRoutes(app, { pool: deps.pool, settings: deps.live.settings, defaults: deps.wakeup });
  registerMetricsRoute(app, { ...deps.metrics, health: deps.health, queues: deps.live.queues, operators: deps.live.operators, settings: deps.live.settings });

  const stream = new EventStream(deps.events.feed, {
    instanceId: deps.events.instanceId,
    log: deps.log,
    username: (id) => deps.live.settings.operator(id)?.username,
    ...(deps.events.heartbeatMs === undefined ? {} : { heartbeatMs: deps.events.heartbeatMs }),
  });
  // Open streams would keep close() waiting for ever: end them first (SIGTERM, tests).
  app.addHook('preClose', async () => stream.close());
  registerEventRoutes(app, { stream, auth, access });
  registerWallboard(app);
  return app;
}
