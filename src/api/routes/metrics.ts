import type { FastifyInstance } from 'fastify';
import type { OperatorService } from '../../acd/operator-service.js';
import type { LiveCall, QueueStore } from '../../acd/queue-store.js';
import type { OperatorState } from '../../cdr/records.js';
import type { ComponentName, Health } from '../../health.js';
import type { ConfigCache } from '../../provisioning/cache.js';
import { REFUSAL_KINDS, type AdmissionFigures } from '../../calls/admission-gate.js';
import { requireRole } from '../auth.js';

/** Where the figures come from; the call core and the record path provide them. */
export interface MetricsDeps {
  health: Health;
  queues: QueueStore;
  operators: OperatorService;
  settings: ConfigCache;
  /** Calls this instance holds now. */
  callsInProgress(): number;
  /** Records in the Redis outbox stream, not yet in PostgreSQL (all instances). */
  recordBacklog(): Promise<number>;
  /** Records in this process, not yet handed to Redis. */
  recordsBuffered(): number;
  /** Admission control: refusals, and the media servers' load it decides on. */
  admission: AdmissionFigures;
}

const STATES: OperatorState[] = ['logged-out', 'available', 'ringing', 'busy', 'wrap-up', 'on-break'];
const COMPONENTS: ComponentName[] = ['postgres', 'redis', 'drachtio', 'freeswitch'];

/** Prometheus' text format, version 0.0.4: one family = HELP, TYPE, samples. */
class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter', help: string, samples: [Record<string, string>, number][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) this.lines.push(`${name}${labelText(labels)} ${formatValue(value)}`);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function formatValue(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : 'NaN';
}

/** Callers not answered yet (waiting, or ringing an operator), by queue. */
function waitingByQueue(calls: LiveCall[]): Map<number, LiveCall[]> {
  const byQueue = new Map<number, LiveCall[]>();
  for (const c of calls) {
    if (c.queueId === null || c.queuedAt === null || c.answeredAt !== null) continue;
    if (c.state !== 'waiting' && c.state !== 'offering') continue;
    byQueue.set(c.queueId, [...(byQueue.get(c.queueId) ?? []), c]);
  }
  return byQueue;
}

async function operatorCounts(d: MetricsDeps): Promise<Map<OperatorState, number>> {
  const statuses = new Map((await d.operators.store.all()).map((s) => [s.operatorId, s.state]));
  const counts = new Map<OperatorState, number>(STATES.map((s) => [s, 0]));
  for (const op of d.settings.operators()) {
    const state = statuses.get(op.id) ?? 'logged-out';
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  return counts;
}

async function render(d: MetricsDeps): Promise<string> {
  const now = Date.now();
  const out = new Exposition();
  out.family('switchboard_calls_in_progress', 'gauge', 'Calls this instance holds now (sum over instances for the switchboard).', [[{}, d.callsInProgress()]]);

  const waiting = waitingByQueue(await d.queues.liveCalls());
  const queues = d.settings.queues().sort((a, b) => a.number.localeCompare(b.number));
  const label = (q: { number: string; name: string }): Record<string, string> => ({ queue: q.number, name: q.name });
  out.family('switchboard_queue_waiting', 'gauge', 'Callers waiting in a queue, ringing ones included (whole switchboard).',
    queues.map((q) => [label(q), waiting.get(q.id)?.length ?? 0]));
  out.family('switchboard_queue_longest_wait_seconds', 'gauge', 'Wait so far of the caller waiting longest in a queue; 0 when none waits.',
    queues.map((q) => [label(q), Math.max(0, ...(waiting.get(q.id) ?? []).map((c) => (now - (c.queuedAt as number)) / 1000))]));

  const counts = await operatorCounts(d);
  out.family('switchboard_operators', 'gauge', 'Configured operators by state (whole switchboard).', STATES.map((s) => [{ state: s }, counts.get(s) ?? 0]));

  out.family('switchboard_record_backlog', 'gauge', 'History records in the Redis outbox waiting for PostgreSQL (whole switchboard).', [[{}, await d.recordBacklog()]]);
  out.family('switchboard_records_buffered', 'gauge', 'History records this instance keeps in memory until Redis takes them.', [[{}, d.recordsBuffered()]]);

  renderAdmission(out, d.admission);
  out.family('switchboard_up', 'gauge', 'Connection state of this instance to a component: 1 up, 0 down.',
    COMPONENTS.map((c) => [{ component: c }, d.health.isUp(c) ? 1 : 0]));
  return out.text();
}

function renderAdmission(out: Exposition, a: AdmissionFigures): void {
  const refused = a.refused();
  out.family('switchboard_calls_refused_total', 'counter', 'New calls this instance refused with 503 by admission control, by why (calls, rate, media-sessions, media-cpu, media-pending, media-unreachable).',
    REFUSAL_KINDS.map((k) => [{ reason: k }, refused.get(k) ?? 0]));
  const media = a.media();
  out.family('switchboard_media_sessions', 'gauge', 'Sessions on a connected media server: its last HEARTBEAT plus this instance\'s endpoints made and ended since.',
    media.map((m) => [{ server: m.server }, m.sessions]));
  out.family('switchboard_media_pending', 'gauge', 'Endpoints this instance is setting up on a connected media server (asked for, not connected back yet).',
    media.map((m) => [{ server: m.server }, m.pending]));
  out.family('switchboard_media_max_sessions', 'gauge', 'Max-Sessions of a connected media server (0 until its first HEARTBEAT).', media.map((m) => [{ server: m.server }, m.maxSessions || 0]));
  out.family('switchboard_media_idle_cpu', 'gauge', 'Idle CPU in percent of a connected media server, as its last HEARTBEAT said (NaN until then).',
    media.map((m) => [{ server: m.server }, m.idleCpu ?? Number.NaN]));
}

/** GET /metrics in Prometheus' text format, for admin and supervisor keys (bearer token). */
export function registerMetricsRoute(app: FastifyInstance, d: MetricsDeps): void {
  app.get('/metrics', {
    preHandler: requireRole('admin', 'supervisor'),
    logLevel: 'warn',
    schema: { tags: ['health'], summary: 'Prometheus metrics', response: { 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' } } },
  }, async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(await render(d)));
}
