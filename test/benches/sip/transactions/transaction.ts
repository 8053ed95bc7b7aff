/**
 * What every transaction shares (RFC 3261 §17): a state, named timers, a way to hand bytes to
 * the transport, and a callback when it reaches Terminated so the transaction layer can
 * forget it. The four state machines live in their own files.
 */
import type { SipRequest, SipResponse, WireInfo } from '../message.js';
import { serializeMessage } from '../parser.js';
import type { Destination } from '../transport/transport.js';
import { timerValue, type TimerName, type TimerSettings } from './timers.js';

export type TransactionKind = 'invite-client' | 'non-invite-client' | 'invite-server' | 'non-invite-server';

/** What a transaction needs from the layers around it. */
export interface TransactionContext {
  timers: TimerSettings;
  /** True on TCP: no retransmissions, and timers D, I, J, K are zero. */
  reliable: boolean;
  destination: Destination;
  send(text: string, to: Destination): Promise<WireInfo>;
  /** Called once, when the transaction enters Terminated. */
  terminated(txn: Transaction): void;
}

export type StateListener = (state: string, txn: Transaction) => void;

/** Every state machine ends in Terminated. */
export type BaseState = 'terminated';

export abstract class Transaction<S extends string = string> {
  abstract readonly kind: TransactionKind;
  abstract state: S | BaseState;
  private readonly timers = new Map<TimerName, NodeJS.Timeout>();
  private readonly stateListeners: StateListener[] = [];
  private readonly timerListeners: ((name: TimerName) => void)[] = [];
  /** How the last message of this transaction went out; for TCP it names the connection. */
  lastWire?: WireInfo;

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    protected readonly ctx: TransactionContext,
  ) {}

  get destination(): Destination {
    return this.ctx.destination;
  }

  /** Observe state changes (tests and logs). */
  onStateChange(fn: StateListener): void {
    this.stateListeners.push(fn);
  }

  /** Observe timers firing (tests of the timer logic). */
  onTimerFired(fn: (name: TimerName) => void): void {
    this.timerListeners.push(fn);
  }

  protected setState(state: S | BaseState): void {
    if (this.state === state) return;
    this.state = state;
    for (const fn of this.stateListeners) fn(state, this as Transaction);
    if (state === 'terminated') {
      this.clearTimers();
      this.ctx.terminated(this as Transaction);
    }
  }

  protected initialTimer(name: TimerName): number {
    return timerValue(name, this.ctx.timers, this.ctx.reliable);
  }

  protected startTimer(name: TimerName, ms: number, fire: () => void): void {
    this.stopTimer(name);
    this.timers.set(
      name,
      setTimeout(() => {
        this.timers.delete(name);
        for (const fn of this.timerListeners) fn(name);
        fire();
      }, ms),
    );
  }

  protected stopTimer(name: TimerName): void {
    const t = this.timers.get(name);
    if (t) clearTimeout(t);
    this.timers.delete(name);
  }

  hasTimer(name: TimerName): boolean {
    return this.timers.has(name);
  }

  private clearTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Hand a message to the transport; a transport failure is the transaction's to handle. */
  protected transmit(msg: SipRequest | SipResponse, to: Destination = this.ctx.destination): void {
    this.ctx.send(serializeMessage(msg), to).then(
      (wire) => {
        this.lastWire = wire;
      },
      (err: unknown) => this.onTransportError(err instanceof Error ? err : new Error(String(err))),
    );
  }

  /** The transaction user: told of a transport error. */
  protected abstract readonly tu: { onTransportError?(err: Error): void };

  /** §17.1.4 / §17.2.4: a transport error terminates the transaction and informs the TU. */
  protected onTransportError(err: Error): void {
    if (this.state === 'terminated') return;
    this.setState('terminated');
    this.tu.onTransportError?.(err);
  }

  /** Stop everything now (stack shutdown). */
  destroy(): void {
    this.setState('terminated');
  }
}
