import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import type { Redis } from './client.js';
import type { RedisKeys } from './keys.js';

/** Something every instance should hear about. `type` says which; the rest is its payload. */
export interface BusEvent {
  type: string;
  [field: string]: unknown;
}

/**
 * Live events published within this long of each other travel in one message: a call makes
 * about ten, most of them in its first tens of ms, so one PUBLISH (and one message for each
 * subscriber to read) carries several steps of a call and, under load, many calls' events. Every
 * PUBLISH costs each instance's CPU (system calls, not Redis), which the media server shares; a
 * supervisor's screen does not notice 50 ms.
 */
const EVENTS_GATHER_MS = 50;

/**
 * Redis pub/sub between instances: live events on one channel for everyone, and a channel of
 * its own for each instance (requests about calls it owns). A subscribed ioredis connection can
 * do nothing else, so this uses its own. A message on the events channel is one event or a JSON
 * array of them.
 */
export class EventBus extends EventEmitter {
  private readonly pending = new Map<string, (reply: BusEvent) => void>();
  private outgoing: string[] = [];
  private gatherTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly subscriber: Redis,
    private readonly publisher: Redis,
    private readonly keys: RedisKeys,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {
    super();
    this.setMaxListeners(50);
  }

  async start(): Promise<void> {
    // Outages are reported by the main connection's health; without a listener ioredis prints
    // every failed reconnect of this one to the console.
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (channel: string, text: string) => this.receive(channel, text));
    this.on('command:reply', (e: BusEvent) => {
      const resolve = this.pending.get(String(e.requestId));
      this.pending.delete(String(e.requestId));
      resolve?.(e);
    });
    await this.subscriber.subscribe(this.keys.eventsChannel(), this.keys.instanceCommands(this.instanceId));
  }

  private receive(channel: string, text: string): void {
    let message: BusEvent | BusEvent[];
    try {
      message = JSON.parse(text) as BusEvent | BusEvent[];
    } catch {
      this.log.warn({ channel }, 'ignoring a bus message that is not JSON');
      return;
    }
    const scope = channel === this.keys.eventsChannel() ? 'event' : 'command';
    for (const event of Array.isArray(message) ? message : [message]) this.emit(`${scope}:${event.type}`, event);
  }

  /** Publishes a live event to every instance, with those published in the next few ms. */
  publish(event: BusEvent): void {
    this.outgoing.push(JSON.stringify(event));
    this.gatherTimer ??= setTimeout(() => this.sendEvents(), EVENTS_GATHER_MS);
  }

  private sendEvents(): void {
    clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    const batch = this.outgoing;
    if (batch.length === 0) return;
    this.outgoing = [];
    // The events are JSON already: the array is only joined, not serialised again.
    const message = batch.length === 1 ? (batch[0] as string) : `[${batch.join(',')}]`;
    this.publisher.publish(this.keys.eventsChannel(), message).catch((err: Error) => {
      this.log.warn({ err: err.message, events: batch.length }, 'cannot publish events');
    });
  }

  /** Sends a request to the instance that owns a call. */
  async command(instanceId: string, event: BusEvent): Promise<boolean> {
    const receivers = await this.publisher.publish(this.keys.instanceCommands(instanceId), JSON.stringify(event));
    return receivers > 0;
  }

  /**
   * Asks the instance that owns a call to do something and waits for its answer; undefined if
   * that instance is not listening or does not answer in time.
   */
  async request(instanceId: string, event: BusEvent, timeoutMs = 3_000): Promise<BusEvent | undefined> {
    const requestId = randomUUID();
    const answer = new Promise<BusEvent | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        resolve(undefined);
      }, timeoutMs);
      this.pending.set(requestId, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
    const heard = await this.command(instanceId, { ...event, requestId, replyTo: this.instanceId });
    if (!heard) {
      this.pending.delete(requestId);
      return undefined;
    }
    return answer;
  }

  /** Answers requests of one type sent with request(). */
  onRequest(type: string, handler: (e: BusEvent) => Promise<Record<string, unknown>>): void {
    this.onCommand(type, (e) => {
      void handler(e)
        .catch((err: Error) => ({ ok: false, error: err.message }))
        .then((answer) => this.command(String(e.replyTo), { ...answer, type: 'reply', requestId: e.requestId }));
    });
  }

  onEvent(type: string, handler: (e: BusEvent) => void): void {
    this.on(`event:${type}`, handler);
  }

  onCommand(type: string, handler: (e: BusEvent) => void): void {
    this.on(`command:${type}`, handler);
  }

  async stop(): Promise<void> {
    this.sendEvents();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}
