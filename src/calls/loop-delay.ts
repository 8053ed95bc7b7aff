import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Each figure covers this long. */
const WINDOW_MS = 500;
/** How often the event loop's delay is sampled, ms. */
const RESOLUTION_MS = 10;

/**
 * How far behind its timers this process's event loop runs: the 99th percentile of its delays
 * over each half second, the higher of the last two, in ms (so one stall counts for at least
 * half a second after it). An instance short of CPU shows it here first, before the calls it has
 * let in start to time out; admission control refuses new calls on it (MAX_EVENT_LOOP_DELAY_MS).
 */
export class LoopDelay {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private previous = 0;

  start(): void {
    this.histogram.enable();
    this.timer = setInterval(() => this.renew(), WINDOW_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }

  /** Milliseconds; 0 until the first window has passed. */
  current(): number {
    return Math.max(this.last, this.previous);
  }

  private renew(): void {
    this.previous = this.last;
    // The histogram counts from its own timer's due time, in ns, and never below the resolution.
    this.last = Math.max(0, this.histogram.percentile(99) / 1e6 - RESOLUTION_MS);
    this.histogram.reset();
  }
}
