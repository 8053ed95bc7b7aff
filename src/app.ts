import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type Srf from 'drachtio-srf';
import { CampOnStore } from './acd/camp-on-store.js';
import { Dispatcher } from './acd/dispatcher.js';
import { OperatorService } from './acd/operator-service.js';
import { OperatorStore } from './acd/operator-store.js';
import { QueueStore } from './acd/queue-store.js';
import { StateRecovery } from './acd/recovery.js';
import { StatusCache } from './acd/status-cache.js';
import { Sweeper } from './acd/sweeper.js';
import { buildApi } from './api/server.js';
import type { LiveDeps } from './api/routes/live.js';
import { AdmissionGate } from './calls/admission-gate.js';
import { LoopDelay } from './calls/loop-delay.js';
import { Callbacks } from './callback/service.js';
import { CallRegistry, type CallContext } from './calls/context.js';
import { CallControl } from './calls/control.js';
import { createFeatureCodeAuth } from './calls/feature-codes.js';
import { attachInbound } from './calls/inbound.js';
import { LinkLoss } from './calls/link-loss.js';
import { QueueCall } from './calls/queue-call.js';
import { Outbox } from './cdr/outbox.js';
import { RoomStore } from './conference/room-store.js';
import { Rooms } from './conference/rooms.js';
import { RecordWriter } from './cdr/writer.js';
import type { Config } from './config.js';
import { loadMigrations, migrate } from './db/migrate.js';
import { createPool, type Pool } from './db/pool.js';
import { publishRecordEvent } from './events/call-events.js';
import { Health } from './health.js';
import type { Logger } from './log.js';
import { OrphanChannels } from './media/orphan-channels.js';
import { MediaPool } from './media/pool.js';
import { startMessages, type Messages } from './messages/index.js';
import { startOperatorRecording } from './messages/operator-recording.js';
import type { RecordRequest, RecordStart } from './messages/operator-recording.js';
import { Prompts } from './media/prompts.js';
import { ROOT_DIR, SQL_DIR } from './paths.js';
import { ConfigCache } from './provisioning/cache.js';
import { createRedis, type Redis } from './redis/client.js';
import { EventBus } from './redis/events.js';
import { RedisKeys } from './redis/keys.js';
import { attachRegistrar } from './registrar/index.js';
import { setUpDrachtio } from './sip/connection.js';
import { attachStrayRequests } from './sip/stray-requests.js';
import { WakeupScheduler } from './wakeup/scheduler.js';
import { WakeupStore } from './wakeup/store.js';
import { StartupError, waitForPostgres, waitForRedis } from './startup.js';

const POSTGRES_PROBE_MS = 5_000;
const RECORD_DRAIN_MS = 3_000;
// Safety net for dispatch: queues with callers of ours are looked at this often even without news.
const DISPATCH_TICK_MS = 1_000;
// After the last calls end, how long their wake-up bookings get to be written back.
const WAKEUP_SETTLE_MS = 5_000;

export interface Switchboard {
  /** Where the HTTP API listens, e.g. http://127.0.0.1:8080 */
  url: string;
  health: Health;
  stop(): Promise<void>;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT_DIR, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function watchRedis(redis: Redis, health: Health, log: Logger): void {
  redis.on('ready', () => {
    if (!health.isUp('redis')) log.info('Redis connected');
    health.set('redis', true, 'connected');
  });
  redis.on('error', (err: Error) => health.set('redis', false, err.message));
  redis.on('close', () => {
    if (health.isUp('redis')) log.warn('lost Redis; reconnecting');
    health.set('redis', false, 'connection closed, reconnecting');
  });
}

function probePostgres(pool: Pool, health: Health, log: Logger): NodeJS.Timeout {
  const probe = async (): Promise<void> => {
    try {
      await pool.query('SELECT 1');
      if (!health.isUp('postgres')) log.info('PostgreSQL reachable');
      health.set('postgres', true, 'connected');
    } catch (err) {
      if (health.isUp('postgres')) log.warn({ err: (err as Error).message }, 'PostgreSQL unreachable; records wait in Redis');
      health.set('postgres', false, (err as Error).message);
    }
  };
  const timer = setInterval(() => void probe(), POSTGRES_PROBE_MS);
  timer.unref();
  return timer;
}

/**
 * Composition root: connects everything in dependency order and returns a handle that stops it
 * in reverse order. PostgreSQL and Redis must be reachable to start (configuration lives in one,
 * live state in the other); drachtio-server and FreeSWITCH are connected in the background and
 * reconnected whenever they go away.
 */
export async function startSwitchboard(config: Config, log: Logger): Promise<Switchboard> {
  const health = new Health();
  const pool = createPool(config.databaseUrl);
  const stops: (() => Promise<void> | void)[] = [() => pool.end()];
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      for (const stop of [...stops].reverse()) await Promise.resolve(stop()).catch((err: Error) => log.warn({ err: err.message }, 'while stopping'));
    })();
    return stopping;
  };

  try {
    await waitForPostgres(pool, config.databaseUrl, config.startupWaitSeconds);
    const result = await migrate(pool, await loadMigrations(SQL_DIR));
    log.info({ applied: result.applied }, result.applied.length ? 'database migrated' : 'database schema up to date');
    health.set('postgres', true, 'connected');
    const probe = probePostgres(pool, health, log);
    stops.push(() => clearInterval(probe));

    const redis = createRedis(config.redisUrl, `switchboard:${config.instanceId}`);
    watchRedis(redis, health, log);
    await waitForRedis(redis, config.redisUrl, config.startupWaitSeconds);
    stops.push(async () => void (await redis.quit().catch(() => redis.disconnect())));

    const keys = new RedisKeys(config.redisPrefix);
    const outbox = new Outbox(redis, keys, log);
    const writer = new RecordWriter({ redis, keys, pool, instanceId: config.instanceId, log, gatherMs: config.recordsGatherMs });
    writer.start();
    // Stopping, the last calls' records go to Redis first, and this writer stores what it can
    // before it stops; anything left is stored by another instance or after the next start.
    stops.push(async () => {
      await outbox.close();
      await drainRecords(writer, RECORD_DRAIN_MS);
      await writer.stop();
    });

    const settings = new ConfigCache(pool, log);
    await settings.start();
    stops.push(() => settings.stop());
    const bus = new EventBus(redis.duplicate({ connectionName: `switchboard:${config.instanceId}:events` }), redis, keys, config.instanceId, log);
    await bus.start();
    stops.push(() => bus.stop());
    bus.onEvent('config', () => void settings.refresh());

    const calls = new CallRegistry();
    const drachtio = setUpDrachtio(config.drachtio, health, log, new LinkLoss(calls, log));
    const srf = drachtio.srf;
    stops.push(() => disconnectSrf(srf));
    const media = new MediaPool(srf, config.freeswitch, health, log);
    media.start();
    stops.push(() => media.close());

    // Every record also becomes a live event (GET /v1/events) where it stands for a step of a call.
    const record: CallContext['record'] = (r) => {
      outbox.push(r);
      publishRecordEvent(bus, r);
    };
    const callCore = await startCallCore({ config, log, redis, keys, srf, media, settings, bus, calls, record, pool, health });
    stops.push(() => callCore.stop());
    drachtio.connect();

    const api = await buildApi({
      log,
      pool,
      health,
      apiKeys: config.apiKeys,
      sipDomain: config.sipDomain,
      version: packageVersion(),
      onConfigChange: async () => {
        await settings.refresh();
        bus.publish({ type: 'config' });
      },
      live: callCore.live,
      rooms: { rooms: callCore.rooms },
      callbacks: callCore.callbacks,
      maskCallerNumbers: config.maskCallerNumbers,
      events: { feed: bus, instanceId: config.instanceId },
      metrics: { callsInProgress: () => calls.size, recordBacklog: () => writer.backlog(), recordsBuffered: () => outbox.pending(), admission: callCore.admission },
      numbers: { directoryImportMaxBytes: config.directoryImportMaxBytes, defaultInterceptDays: config.numberChangeInterceptDays },
      messages: {
        mailbox: callCore.messages.mailbox,
        record: (extension, r) => callCore.recordMessage(extension, r),
        isExtension: (number) => settings.extension(number) !== undefined,
        operatorIdOf: (username) => settings.operatorByUsername(username)?.id,
      },
      wakeup: config.wakeup,
    });
    await listen(api, config);
    stops.push(() => api.close());

    const url = `http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${String((api.server.address() as { port: number }).port)}`;
    log.info({ url }, 'switchboard started');
    return { url, health, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface CallCoreDeps {
  config: Config;
  log: Logger;
  redis: Redis;
  keys: RedisKeys;
  srf: Srf;
  media: MediaPool;
  settings: ConfigCache;
  bus: EventBus;
  calls: CallRegistry;
  record: CallContext['record'];
  pool: Pool;
  health: Health;
}

/**
 * The call-handling half of the switchboard: operator state, queues, dispatch, registrations
 * and inbound calls. Returns how to stop it: refuse new calls, then give calls in progress up to
 * SHUTDOWN_GRACE_SECONDS before hanging them up.
 */
async function startCallCore(d: CallCoreDeps): Promise<{
  stop(): Promise<void>;
  live: Omit<LiveDeps, 'pool' | 'access'>;
  rooms: Rooms;
  admission: AdmissionGate;
  messages: Messages;
  recordMessage(extension: string, r: RecordRequest): Promise<RecordStart>;
  callbacks: Callbacks;
}> {
  const { config, log, calls, settings, bus } = d;
  const operatorStore = new OperatorStore(d.redis, d.keys);
  const statuses = new StatusCache(operatorStore, bus);
  const operators = new OperatorService(operatorStore, d.record, log, (id) => statuses.get(id));
  await statuses.load();
  const queues = new QueueStore(d.redis, d.keys);
  const callbacks = new Callbacks(d.redis, d.keys);
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const dispatcher = new Dispatcher({
    instanceId: config.instanceId,
    operators: operatorStore,
    queues,
    config: settings,
    statuses,
    redis: d.redis,
    keys: d.keys,
    log,
    waitingCall: (callId) => calls.get(callId)?.waiting() ?? callbacks.waiting(callId),
    offer: (callId, reserved) => {
      const call = calls.get(callId);
      if (call instanceof QueueCall) return call.offer(reserved);
      if (callbacks.offer(callId, reserved)) return;
      // The caller left between the match and now: give the operators back.
      for (const t of reserved) void operators.tryApply(t.operatorId, { type: 'release', callId, missed: false, maxMisses: 1 });
    },
  });
  const queuesWithCallers = (): Set<number> => new Set([...calls.all().flatMap((c) => (c.waiting() ? [c.waiting()?.queueId as number] : [])), ...callbacks.queues()]);
  // Asked on every operator freed and every caller entering or leaving a queue anywhere: stops at
  // the first caller found, without listing them all.
  const waitsIn = (queueId: number): boolean => calls.some((c) => c.waiting()?.queueId === queueId) || callbacks.queues().includes(queueId);
  statuses.on('changed', (s: { state: string; operatorId: number }, prev?: { state: string }) => {
    if (s.state !== 'available' || prev?.state === 'available') return;
    // Only queues this instance has callers in: the dispatcher offers no one else's.
    for (const q of settings.queuesOf(s.operatorId)) if (waitsIn(q)) dispatcher.kick(q);
  });
  bus.onEvent('queue', (e) => {
    // A caller of ours entering: the call itself kicked the dispatcher if it could be matched (QueueCall.joinQueue).
    if (e.reason === 'entered' && typeof e.callId === 'string' && calls.get(e.callId)) return;
    if (waitsIn(Number(e.queueId))) dispatcher.kick(Number(e.queueId));
  });
  const tick = setInterval(() => {
    for (const q of queuesWithCallers()) dispatcher.kick(q);
  }, DISPATCH_TICK_MS);
  tick.unref();

  const registrar = attachRegistrar(d.srf, { pool: d.pool, redis: d.redis, keys: d.keys, realm: config.sipDomain, log });
  const recovery = new StateRecovery({
    redis: d.redis,
    keys: d.keys,
    instanceId: config.instanceId,
    log,
    statuses,
    operators: operatorStore,
    queues,
    calls: () => calls.all(),
    restoreBindings: () => registrar.restoreBindings(),
  });
  await recovery.start();
  const channels = new OrphanChannels({ redis: d.redis, keys: d.keys, instanceId: config.instanceId, media: d.media, log });
  // A call may get a channel before the next lease renewal publishes the server's address.
  d.media.onAdopted(() => void channels.publish().catch((err: Error) => log.warn({ err: err.message }, 'cannot publish the outbound addresses')));
  const sweeper = new Sweeper({ redis: d.redis, keys: d.keys, instanceId: config.instanceId, statuses, operators, queues, settings, record: d.record, log, recovery, channels });
  await sweeper.start();
  const prompts = new Prompts(config.promptsDir);
  const featureAuth = await createFeatureCodeAuth({ redis: d.redis, keys: d.keys, pool: d.pool, realm: config.sipDomain });
  // Before the stray-request handlers: SUBSCRIBEs for message-summary are taken here.
  const messages = startMessages({ config, srf: d.srf, pool: d.pool, redis: d.redis, keys: d.keys, bus, settings, registrar, prompts, auth: featureAuth, log });
  const loopDelay = new LoopDelay();
  loopDelay.start();
  const admission = new AdmissionGate({ limits: config.admission, calls, media: d.media, loopDelay, log });
  const ctx: CallContext = {
    instanceId: config.instanceId,
    config,
    srf: d.srf,
    media: d.media,
    admission,
    prompts,
    settings,
    operators,
    statuses,
    queues,
    campOns: new CampOnStore(d.redis, d.keys),
    callbacks,
    dispatcher,
    registrar,
    messages: messages.recording,
    bus,
    calls,
    record: d.record,
    log,
    later,
  };
  await callbacks.start(ctx);
  let accepting = true;
  const rooms = new Rooms(ctx, new RoomStore(d.redis, d.keys));
  // Without Redis a call could be answered but neither queued nor given an operator: 503 it.
  const refusal = (): string | undefined => (!accepting ? 'shutting down' : d.redis.status !== 'ready' ? 'live state unavailable' : undefined);
  attachInbound(ctx, refusal, { featureAuth, rooms, admission, messages });
  attachStrayRequests(d.srf);
  const control = new CallControl(config.instanceId, calls, queues, settings, bus);
  // Bookings are claimed only while calls can be placed: after a restart, due ones go out as
  // soon as drachtio-server and FreeSWITCH are connected, not as failures before.
  const canCall = (): boolean => accepting && d.health.isUp('drachtio') && d.health.isUp('freeswitch') && d.redis.status === 'ready';
  const wakeups = new WakeupScheduler({ ctx, store: new WakeupStore(d.pool), config: config.wakeup, log, canCall });
  wakeups.start();

  return {
    live: { queues, operators, settings, control, callbacks: callbacks.store },
    rooms,
    admission,
    messages,
    recordMessage: (extension, r) => startOperatorRecording(ctx, messages.recording, extension, r),
    callbacks,
    stop: async () => {
      accepting = false;
      callbacks.stop();
      clearInterval(tick);
      // Wake-up attempts in progress are calls: they end within the grace period like the rest.
      const wakeupsStopped = wakeups.stop((config.shutdownGraceSeconds + WAKEUP_SETTLE_MS / 1000) * 1000);
      await drainCalls(calls, config.shutdownGraceSeconds, log);
      await wakeupsStopped;
      for (const t of timers) clearTimeout(t);
      await sweeper.stop();
      recovery.stop();
      registrar.close();
      featureAuth.stop();
      messages.stop();
      loopDelay.stop();
    },
  };
}

/** Lets calls in progress finish for up to graceSeconds, then hangs up the rest. */
async function drainCalls(calls: CallRegistry, graceSeconds: number, log: Logger): Promise<void> {
  if (calls.size === 0) return;
  log.info({ calls: calls.size, graceSeconds }, 'waiting for calls in progress to finish');
  const all = Promise.all(calls.all().map((c) => c.done));
  const graceOver = new Promise<'grace-over'>((resolve) => setTimeout(() => resolve('grace-over'), graceSeconds * 1000).unref());
  if ((await Promise.race([all, graceOver])) !== 'grace-over') return;
  log.warn({ calls: calls.size }, 'grace period over; hanging up the calls still in progress');
  for (const c of calls.all()) c.hangup('switchboard shutting down');
  await Promise.race([Promise.all(calls.all().map((c) => c.done)), new Promise((r) => setTimeout(r, 5_000).unref())]);
}

async function drainRecords(writer: RecordWriter, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (await writer.backlog().catch(() => 0)) > 0) await new Promise((r) => setTimeout(r, 50));
}

async function listen(api: FastifyInstance, config: Config): Promise<void> {
  try {
    await api.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    throw new StartupError(`cannot listen on ${config.http.host}:${config.http.port} (HTTP_HOST, HTTP_PORT): ${(err as Error).message}`);
  }
}

function disconnectSrf(srf: Srf): void {
  try {
    srf.disconnect();
  } catch {
    // Never connected: nothing to close.
  }
}
