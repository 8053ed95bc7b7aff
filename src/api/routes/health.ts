import type { FastifyInstance } from 'fastify';
import type { Health } from '../../health.js';

const component = {
  type: 'object',
  properties: {
    up: { type: 'boolean' },
    required: { type: 'boolean' },
    detail: { type: 'string' },
    since: { type: 'string', format: 'date-time' },
  },
};
const report = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded', 'down'] },
    components: {
      type: 'object',
      properties: { postgres: component, redis: component, drachtio: component, freeswitch: component },
    },
  },
};

/** 200 while calls can be taken (ok or degraded), 503 when a required component is down. */
export function registerHealthRoute(app: FastifyInstance, health: Health): void {
  app.get(
    '/health',
    {
      logLevel: 'warn',
      schema: { tags: ['health'], summary: 'Connection state of PostgreSQL, Redis, drachtio-server and FreeSWITCH', security: [], response: { 200: report, 503: report } },
    },
    async (_req, reply) => {
      const r = health.report();
      return reply.code(r.status === 'down' ? 503 : 200).send(r);
    },
  );
}
