import type { FastifyInstance } from 'fastify';
import type { Pool } from '../../db/pool.js';
import { intervalCount, MAX_INTERVALS, operatorStats, queueStats, type StatsInterval, type StatsRange } from '../../stats/queries.js';
import { requireRole } from '../auth.js';
import { invalid, notFound } from '../errors.js';

export interface StatsDeps {
  pool: Pool;
}

const err = { $ref: 'Error#' };
const num = { type: 'number' };
const ratio = { type: ['number', 'null'], description: '0 to 1; null when there is nothing to divide' };
const seconds = (description: string): Record<string, unknown> => ({ type: ['number', 'null'], description });
const count = (description: string): Record<string, unknown> => ({ type: 'integer', description });

const ratings = {
  rated: count('calls that ended in the interval whose caller rated them (1-5)'),
  notRated: count('calls that ended in the interval whose caller was asked to rate but did not (timeout, invalid keys, hung up)'),
  avgRating: { type: ['number', 'null'], description: 'mean rating 1-5 of the rated calls, 2 decimals; null without any' },
};

const interval = {
  start: { type: 'string', format: 'date-time' },
  end: { type: 'string', format: 'date-time' },
};

const queueInterval = {
  type: 'object',
  properties: {
    ...interval,
    offered: count('callers presented to the queue (entered, or refused because full or empty) in the interval'),
    answered: count('of those, connected to an operator'),
    answeredWithinT: count('answered after waiting at most T (the queue\'s serviceLevelS)'),
    abandoned: count('hung up while waiting'),
    abandonedWithinT: count('hung up after waiting at most T'),
    shortAbandoned: count('hung up after waiting less than shortAbandonS'),
    timedOut: count('left at the queue\'s maxWaitS'),
    overflowed: count('sent to the overflow (full, nobody logged in, or overflow)'),
    transferred: count('moved to another queue by a supervisor'),
    waiting: count('no outcome yet: still waiting or ringing'),
    serviceLevel: { ...ratio, description: 'answeredWithinT / answered' },
    serviceLevelWithAbandons: { ...ratio, description: '(answeredWithinT + abandonedWithinT) / (answered + abandoned)' },
    abandonRate: { ...ratio, description: 'abandoned / (answered + abandoned)' },
    abandonRateWithoutShort: { ...ratio, description: '(abandoned - shortAbandoned) / (answered + abandoned - shortAbandoned)' },
    avgSpeedOfAnswerS: seconds('mean wait of answered callers, queue entry to answer'),
    longestWaitS: seconds('longest wait of a caller with an outcome (answered, abandoned, timed out...)'),
    handled: count('answered calls that are over (talk and hold from the completion, wrap-up from the operator)'),
    talkS: num,
    holdS: num,
    wrapupS: num,
    avgHandleS: seconds('(talkS + holdS + wrapupS) / handled'),
    operatorsAnswering: count('operators who answered a call'),
    callsPerOperator: { type: ['number', 'null'], description: 'answered / operatorsAnswering' },
    ...ratings,
  },
};

const operatorInterval = {
  type: 'object',
  properties: {
    ...interval,
    offered: count('offers (the phone rang) in the interval'),
    answered: count('calls answered in the interval'),
    missed: count('offers not answered within the ring timeout or rejected'),
    handled: count('calls answered in the interval that are over'),
    talkS: num,
    holdS: num,
    wrapupS: num,
    avgHandleS: seconds('(talkS + holdS + wrapupS) / handled'),
    loggedInS: seconds('time in any state but logged-out, within the interval'),
    onBreakS: num,
    availableS: num,
    ringingS: num,
    busyS: num,
    wrapUpStateS: seconds('time in the wrap-up state within the interval'),
    occupancy: { ...ratio, description: '(busyS + wrapUpStateS) / (loggedInS - onBreakS)' },
    ...ratings,
  },
};

const reportHead = {
  from: { type: 'string', format: 'date-time' },
  to: { type: 'string', format: 'date-time' },
  interval: { type: ['string', 'null'] },
  tz: { type: 'string' },
};

const queueReport = {
  type: 'object',
  properties: {
    ...reportHead,
    shortAbandonS: { type: 'integer' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          queueId: { type: 'integer' },
          number: { type: 'string' },
          name: { type: 'string' },
          serviceLevelS: count('T, the queue\'s service level threshold'),
          intervals: { type: 'array', items: queueInterval },
        },
      },
    },
  },
};

const operatorReport = {
  type: 'object',
  properties: {
    ...reportHead,
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          operatorId: { type: 'integer' },
          username: { type: 'string' },
          displayName: { type: 'string' },
          intervals: { type: 'array', items: operatorInterval },
        },
      },
    },
  },
};

const rangeQuery = {
  from: { type: 'string', format: 'date-time', description: 'start of the report (inclusive)' },
  to: { type: 'string', format: 'date-time', description: 'end of the report (exclusive)' },
  interval: { type: 'string', enum: ['15m', '1h', '1d'], description: 'omitted: the whole range as one interval' },
  tz: { type: 'string', pattern: '^[A-Za-z0-9_+\\-/]{1,64}$', default: 'UTC', description: 'IANA time zone where days begin, e.g. Europe/Berlin' },
};

interface RangeQuery {
  from: string;
  to: string;
  interval?: StatsInterval;
  tz: string;
}

function range(q: RangeQuery): StatsRange {
  const from = new Date(q.from);
  const to = new Date(q.to);
  if (to.getTime() <= from.getTime()) throw invalid('to', 'must be later than from');
  const r: StatsRange = { from, to, tz: q.tz, ...(q.interval === undefined ? {} : { interval: q.interval }) };
  if (intervalCount(r) > MAX_INTERVALS) throw invalid('interval', `gives more than ${MAX_INTERVALS} intervals over this range; choose a longer one`);
  return r;
}

/** PostgreSQL's answer to an unknown time zone (invalid_parameter_value) becomes a 400. */
async function withTimeZone<T>(tz: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    const pgError = e as { code?: string; message?: string };
    if (pgError.code === '22023' && /time zone/i.test(pgError.message ?? '')) throw invalid('tz', `"${tz}" is not a known time zone`);
    throw e;
  }
}

function head(q: RangeQuery, r: StatsRange): Record<string, unknown> {
  return { from: r.from.toISOString(), to: r.to.toISOString(), interval: q.interval ?? null, tz: q.tz };
}

/** Statistics for supervisors: per queue and per operator, over any range, in intervals. */
export function registerStatsRoutes(app: FastifyInstance, d: StatsDeps): void {
  const readers = requireRole('admin', 'supervisor');
  const errors = { 400: err, 401: err, 403: err, 404: err };

  app.get<{ Querystring: RangeQuery & { queueId?: number; shortAbandonS: number } }>('/v1/stats/queues', {
    preHandler: readers,
    schema: {
      tags: ['statistics'],
      summary: 'Queue statistics per interval',
      description: 'Each caller counts in the interval in which they entered the queue. T is each queue\'s serviceLevelS.',
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['from', 'to'],
        properties: {
          ...rangeQuery,
          queueId: { type: 'integer', minimum: 1 },
          shortAbandonS: { type: 'integer', minimum: 0, maximum: 3600, default: 5, description: 'abandons after less than this are short' },
        },
      },
      response: { 200: queueReport, ...errors },
    },
  }, async (req) => {
    const r = range(req.query);
    const { queueId, shortAbandonS } = req.query;
    const items = await withTimeZone(req.query.tz, () => queueStats(d.pool, { ...r, shortAbandonS, ...(queueId === undefined ? {} : { queueId }) }));
    if (queueId !== undefined && items.length === 0) throw notFound('queue');
    return { ...head(req.query, r), shortAbandonS, items };
  });

  app.get<{ Querystring: RangeQuery & { operatorId?: number } }>('/v1/stats/operators', {
    preHandler: readers,
    schema: {
      tags: ['statistics'],
      summary: 'Operator statistics per interval',
      description: 'Calls count in the interval of their event (offer, answer); time in each state is split exactly over the intervals.',
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['from', 'to'],
        properties: { ...rangeQuery, operatorId: { type: 'integer', minimum: 1 } },
      },
      response: { 200: operatorReport, ...errors },
    },
  }, async (req) => {
    const r = range(req.query);
    const { operatorId } = req.query;
    const items = await withTimeZone(req.query.tz, () => operatorStats(d.pool, { ...r, ...(operatorId === undefined ? {} : { operatorId }) }));
    if (operatorId !== undefined && items.length === 0) throw notFound('operator');
    return { ...head(req.query, r), items };
  });
}
