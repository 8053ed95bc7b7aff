/**
 * How a channel under outbound-socket control runs applications (src/switch_ivr.c,
 * switch_ivr_parse_event(); src/switch_core_session.c, switch_core_session_execute_application()).
 *
 * `sendmsg` execute messages queue up as private events; the channel takes them one at a time.
 * Two kinds of application exist here:
 * - foreground ones (playback, say, sleep, set, hangup ...) hold the queue until they return;
 * - resting ones (park, the socket app's park, conference) are loops that keep taking private
 *   events while they run, so the queue moves on under them. They stack: a conference joined
 *   from park returns to park when the member leaves.
 * Every application is announced with CHANNEL_EXECUTE and, when it returns, CHANNEL_EXECUTE_COMPLETE
 * carrying the same Application-UUID (the message's Event-UUID, which drachtio-modesl matches).
 *
 * Interruptions mirror FreeSWITCH's flags: `break` is CF_BREAK (uuid_break: stops the foreground
 * application only), `transfer` is CF_TRANSFER/CF_REDIRECT (uuid_bridge, uuid_transfer: every
 * running loop returns), `leave` ends one resting application (conference kick), `hangup` ends
 * everything and drops the queue.
 */
export type InterruptReason = 'break' | 'transfer' | 'leave' | 'hangup';

/** One-shot interruption signal an application races its waits against. */
export class Interruption {
  private reasonValue: InterruptReason | undefined;
  private resolveReason: (reason: InterruptReason) => void = () => undefined;
  readonly whenInterrupted: Promise<InterruptReason>;

  constructor() {
    this.whenInterrupted = new Promise((resolve) => {
      this.resolveReason = resolve;
    });
  }

  get reason(): InterruptReason | undefined {
    return this.reasonValue;
  }

  interrupt(reason: InterruptReason): void {
    if (this.reasonValue) return;
    this.reasonValue = reason;
    this.resolveReason(reason);
  }
}

export interface Invocation {
  readonly app: string;
  readonly arg: string;
  /** Application-UUID to report: the Event-UUID of the sendmsg, else a fresh one. */
  readonly appUuid: string | undefined;
  /** "loops" header: how many times to run it; -1 for ever. */
  readonly loops: number;
  /** Run without CHANNEL_EXECUTE events (the core parking a channel by itself). */
  readonly silent?: boolean;
  /** Checked when the message's turn comes: true drops it unrun. */
  readonly skip?: () => boolean;
  /** Called when the application has returned (the end of a dialplan hangs the channel up). */
  readonly onComplete?: (frame: Frame) => void;
}

export interface Frame {
  readonly invocation: Invocation;
  readonly interruption: Interruption;
  readonly resting: boolean;
}

/** What the executor needs from the rest of the switch to run one application. */
export interface ExecutorHost {
  /** Runs the application to its end; false when no such application exists. */
  run(frame: Frame): Promise<boolean> | false;
  /** Whether the channel takes its next private event now (false: it stays queued). */
  takesMessages(): boolean;
}

export class Executor {
  private readonly queue: Invocation[] = [];
  private foreground: Frame | undefined;
  private readonly resting: Frame[] = [];
  private pumpScheduled = false;

  constructor(private readonly host: ExecutorHost) {}

  enqueue(invocation: Invocation): void {
    this.queue.push(invocation);
    this.schedulePump();
  }

  /** A dialplan the channel was transferred to runs before any queued message. */
  enqueueFront(invocation: Invocation): void {
    this.queue.unshift(invocation);
    this.schedulePump();
  }

  /** Something that held the queue back has changed: look at it again. */
  poke(): void {
    this.schedulePump();
  }

  /** uuid_break [all]: stop the foreground application; `all` also drops what is queued. */
  breakForeground(all: boolean): void {
    if (all) this.queue.length = 0;
    this.foreground?.interruption.interrupt('break');
  }

  /** CF_TRANSFER: every running loop returns; queued messages stay for the new state. */
  transfer(): void {
    this.foreground?.interruption.interrupt('transfer');
    for (const frame of [...this.resting].reverse()) frame.interruption.interrupt('transfer');
  }

  hangup(): void {
    this.queue.length = 0;
    this.foreground?.interruption.interrupt('hangup');
    for (const frame of [...this.resting].reverse()) frame.interruption.interrupt('hangup');
  }

  /** Ends one resting application, e.g. the conference a member was kicked from. */
  leave(frame: Frame): void {
    frame.interruption.interrupt('leave');
  }

  /** Messages waiting for their turn. */
  queued(): number {
    return this.queue.length;
  }

  current(): Frame | undefined {
    return this.foreground;
  }

  restingFrames(): readonly Frame[] {
    return this.resting;
  }

  /** The frame an application runs in, resting or not, when it is still running. */
  isRunning(frame: Frame): boolean {
    return this.foreground === frame || this.resting.includes(frame);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // The session thread picks the message up after the socket has answered "+OK".
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.foreground && this.host.takesMessages()) {
      const invocation = this.queue.shift();
      if (!invocation) return;
      this.start(invocation);
    }
  }

  private start(invocation: Invocation): void {
    const resting = isResting(invocation.app);
    const frame: Frame = { invocation, interruption: new Interruption(), resting };
    if (resting) this.resting.push(frame);
    else this.foreground = frame;
    const running = this.host.run(frame);
    if (running === false) {
      this.finish(frame);
      return;
    }
    void running.finally(() => {
      this.finish(frame);
      this.schedulePump();
    });
  }

  private finish(frame: Frame): void {
    if (this.foreground === frame) this.foreground = undefined;
    const index = this.resting.indexOf(frame);
    if (index >= 0) this.resting.splice(index, 1);
    frame.invocation.onComplete?.(frame);
  }
}

const RESTING_APPS = new Set(['park', 'socket', 'conference']);

export function isResting(app: string): boolean {
  return RESTING_APPS.has(app);
}
