import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WakeupConfig } from '../../config.js';
import type { Pool } from '../../db/pool.js';
import type { ConfigCache } from '../../provisioning/cache.js';
import { isTimeZone, parseCivilDate } from '../../wakeup/local-time.js';
import { freshProgress, type BookingStatus, type Progress } from '../../wakeup/plan.js';
import { WakeupStore, type Booking, type BookingSettings } from '../../wakeup/store.js';
import { requireRole } from '../auth.js';
import { ApiError, invalid, notFound } from '../errors.js';
import { idParams, pageQuery } from '../schemas.js';

export interface WakeupDeps {
  pool: Pool;
  settings: Pick<ConfigCache, 'extension' | 'queueByNumber'>;
  /** WAKEUP_*: the defaults of a booking's retries, interval and ring time. */
  defaults: WakeupConfig;
}

const STATUSES: BookingStatus[] = ['scheduled', 'answered', 'escalated', 'missed', 'cancelled'];
const err = { $ref: 'Error#' };
const errors = { 400: err, 401: err, 403: err };
const nullable = (s: object): object => ({ anyOf: [s, { type: 'null' }] });
const number = { type: 'string', pattern: '^[0-9]{1,16}$' };

const writable = {
  extension: { ...number, description: 'the extension (guest room) to wake: its number' },
  time: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'local time, HH:MM (24 h)' },
  timeZone: { type: 'string', minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Europe/Berlin' },
  repeat: { type: 'string', enum: ['once', 'daily'] },
  date: { ...nullable({ type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' }), description: 'once: the local date (null: the next time the clock shows `time`); daily: the first day' },
  retries: { type: 'integer', minimum: 0, maximum: 10, description: 'tries after the first (default WAKEUP_RETRIES)' },
  retryIntervalS: { type: 'integer', minimum: 10, maximum: 3600, description: 'seconds between tries (default WAKEUP_RETRY_INTERVAL_SECONDS)' },
  ringTimeoutS: { type: 'integer', minimum: 5, maximum: 300, description: 'seconds each try rings (default WAKEUP_RING_TIMEOUT_SECONDS)' },
  escalationQueue: { ...nullable(number), description: 'the queue (number) whose operator is called after the last try; null: WAKEUP_ESCALATION_QUEUE' },
  // It becomes part of a SIP display name: no control characters (a CR LF would start a header).
  note: { type: 'string', maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description: 'shown to the operator with an escalation, e.g. the guest\'s name' },
};

const bookingSchema = {
  $id: 'WakeupCall',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    ...writable,
    status: { type: 'string', enum: STATUSES, description: 'scheduled until done; a daily booking stays scheduled' },
    lastOutcome: nullable({ type: 'string', enum: ['answered', 'escalated', 'missed'] }),
    occurrenceAt: nullable({ type: 'string', format: 'date-time' }),
    nextDueAt: { ...nullable({ type: 'string', format: 'date-time' }), description: 'when the next try is due; null when nothing is left' },
    attempt: { type: 'integer', description: 'tries made for the current occurrence' },
    escalationCallId: nullable({ type: 'string' }),
    createdBy: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};

const attemptSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    bookingId: { type: 'integer' },
    occurrenceAt: { type: 'string', format: 'date-time' },
    attempt: { type: 'integer' },
    instanceId: { type: 'string' },
    callId: nullable({ type: 'string' }),
    startedAt: { type: 'string', format: 'date-time' },
    endedAt: nullable({ type: 'string', format: 'date-time' }),
    result: nullable({ type: 'string', enum: ['answered', 'no-answer', 'busy', 'failed', 'unreachable', 'missed'] }),
    sipStatus: nullable({ type: 'integer' }),
  },
};

type Writable = Partial<BookingSettings>;
type IdRequest = { Params: { id: number } };
type ListQuery = { extension?: string; status?: BookingStatus; limit: number; offset: number };

/** Who booked: the key's role, and for an operator key their user name. */
function bookedBy(req: FastifyRequest): string {
  const p = req.principal;
  return p?.operator === undefined ? (p?.role ?? '') : `operator/${p.operator}`;
}

/** Checks what the schema cannot: the extension and queue exist, the zone is known, the time is ahead. */
function check(deps: WakeupDeps, s: BookingSettings, now: number): Progress {
  if (!deps.settings.extension(s.extension)) throw invalid('extension', `${s.extension} is not an extension (see /v1/extensions)`);
  if (!isTimeZone(s.timeZone)) throw invalid('timeZone', `"${s.timeZone}" is not a known IANA time zone`);
  if (s.escalationQueue !== null && !deps.settings.queueByNumber(s.escalationQueue)) throw invalid('escalationQueue', `${s.escalationQueue} is not a queue's number`);
  if (s.date !== null && !parseCivilDate(s.date)) throw invalid('date', `${s.date} is not a date`);
  const progress = freshProgress(s, now);
  if (!progress) throw invalid('date', 'and time are in the past');
  return progress;
}

/** Wake-up calls: booked, listed, changed and cancelled by admins, supervisors and operators. */
export function registerWakeupRoutes(app: FastifyInstance, deps: WakeupDeps): void {
  const store = new WakeupStore(deps.pool);
  const anyone = requireRole('admin', 'supervisor', 'operator');
  const ref = { $ref: 'WakeupCall#' };
  const tags = ['wake-up calls'];
  app.addSchema(bookingSchema);

  const withDefaults = (b: Writable): BookingSettings => ({
    extension: b.extension ?? '',
    time: b.time ?? '',
    timeZone: b.timeZone ?? '',
    repeat: b.repeat ?? 'once',
    date: b.date ?? null,
    retries: b.retries ?? deps.defaults.retries,
    retryIntervalS: b.retryIntervalS ?? deps.defaults.retryIntervalS,
    ringTimeoutS: b.ringTimeoutS ?? deps.defaults.ringTimeoutS,
    escalationQueue: b.escalationQueue ?? null,
    note: b.note ?? '',
  });

  app.post<{ Body: Writable }>(
    '/v1/wakeup-calls',
    {
      preHandler: anyone,
      schema: {
        tags,
        summary: 'Book a wake-up call',
        body: { type: 'object', additionalProperties: false, required: ['extension', 'time', 'timeZone'], properties: writable },
        response: { 201: ref, ...errors },
      },
    },
    async (req, reply) => {
      const s = withDefaults(req.body);
      const booking = await store.create(s, check(deps, s, Date.now()), bookedBy(req));
      req.log.info({ wakeup: booking.id, extension: booking.extension, due: booking.nextDueAt }, 'wake-up call booked');
      return reply.code(201).header('location', `/v1/wakeup-calls/${String(booking.id)}`).send(booking);
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/v1/wakeup-calls',
    {
      preHandler: anyone,
      schema: {
        tags,
        summary: 'Wake-up calls, next due first; filter by extension and status',
        querystring: { ...pageQuery, properties: { ...pageQuery.properties, extension: number, status: { type: 'string', enum: STATUSES } } },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: ref }, total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' } } },
          ...errors,
        },
      },
    },
    async (req) => {
      const { extension, status, limit, offset } = req.query;
      const found = await store.list({ ...(extension === undefined ? {} : { extension }), ...(status === undefined ? {} : { status }), limit, offset });
      return { ...found, limit, offset };
    },
  );

  app.get<IdRequest>(
    '/v1/wakeup-calls/:id',
    { preHandler: anyone, schema: { tags, summary: 'One wake-up call', params: idParams, response: { 200: ref, 404: err, ...errors } } },
    async (req) => {
      const booking = await store.get(req.params.id);
      if (!booking) throw notFound('wake-up call');
      return booking;
    },
  );

  app.patch<IdRequest & { Body: Writable }>(
    '/v1/wakeup-calls/:id',
    {
      preHandler: anyone,
      schema: {
        tags,
        summary: 'Change a wake-up call (only what is named); it starts afresh from its next occurrence',
        params: idParams,
        body: { type: 'object', additionalProperties: false, properties: writable },
        response: { 200: ref, 404: err, 409: err, ...errors },
      },
    },
    async (req) => {
      const current = await store.get(req.params.id);
      if (!current) throw notFound('wake-up call');
      if (current.status === 'cancelled') throw new ApiError(409, 'conflict', 'the wake-up call is cancelled; book a new one');
      const s = withDefaults({ ...settingsOf(current), ...req.body });
      const updated = await store.update(current.id, s, check(deps, s, Date.now()));
      if (!updated) throw notFound('wake-up call');
      return updated;
    },
  );

  app.delete<IdRequest>(
    '/v1/wakeup-calls/:id',
    { preHandler: anyone, schema: { tags, summary: 'Cancel a wake-up call (kept with its attempts, status cancelled)', params: idParams, response: { 204: { type: 'null' }, 404: err, ...errors } } },
    async (req, reply) => {
      if (!(await store.cancel(req.params.id))) throw notFound('wake-up call');
      return reply.code(204).send();
    },
  );

  app.get<IdRequest>(
    '/v1/wakeup-calls/:id/attempts',
    {
      preHandler: anyone,
      schema: { tags, summary: 'Every attempt of a wake-up call and its result', params: idParams, response: { 200: { type: 'object', properties: { items: { type: 'array', items: attemptSchema } } }, 404: err, ...errors } },
    },
    async (req) => {
      if (!(await store.get(req.params.id))) throw notFound('wake-up call');
      return { items: await store.attempts(req.params.id) };
    },
  );
}

function settingsOf(b: Booking): BookingSettings {
  const { extension, time, timeZone, repeat, date, retries, retryIntervalS, ringTimeoutS, escalationQueue, note } = b;
  return { extension, time, timeZone, repeat, date, retries, retryIntervalS, ringTimeoutS, escalationQueue, note };
}
