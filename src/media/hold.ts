import type Mrf from 'drachtio-fsmrf';
import type { Logger } from '../log.js';

export interface Announcement {
  intervalS: number;
  /** Plays the announcement (e.g. the caller's position now) on the endpoint. */
  play(endpoint: Mrf.Endpoint): Promise<void>;
}

/**
 * FreeSWITCH's stock music-on-hold stream: a queue's default (as in sql/001), and what callers
 * without a queue and room members waiting for a moderator hear.
 */
export const DEFAULT_HOLD_MUSIC = 'local_stream://moh';

// A playback that fails at once (a missing file) must not spin: wait this long before retrying.
const FAILED_PLAY_PAUSE_MS = 1_000;
const FAST_FAILURE_MS = 200;

/**
 * Hold music on an endpoint, interrupted at an interval for an announcement (e.g. the caller's
 * position), until stopped. The music is played in a loop so that a file source that ends is
 * started again; a stream source (local_stream://) simply runs until broken off.
 */
export class HoldMusic {
  private stopped = false;
  private announceDue = false;
  private timer: NodeJS.Timeout | undefined;
  private pause: NodeJS.Timeout | undefined;

  constructor(
    private readonly endpoint: Mrf.Endpoint,
    private readonly music: string,
    private readonly log: Logger,
    private readonly announcement?: Announcement,
  ) {}

  start(): void {
    if (this.announcement && this.announcement.intervalS > 0) {
      this.timer = setInterval(() => {
        this.announceDue = true;
        this.breakOff();
      }, this.announcement.intervalS * 1000);
    }
    void this.loop();
  }

  private breakOff(): void {
    this.endpoint.api('uuid_break', `${this.endpoint.uuid} all`).catch(() => undefined);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (this.announceDue && this.announcement) {
        this.announceDue = false;
        await this.announcement.play(this.endpoint).catch(() => undefined);
        continue;
      }
      const started = Date.now();
      const failed = await this.endpoint.play(this.music).then(() => false, () => true);
      if (this.stopped || this.announceDue) continue;
      if (failed || Date.now() - started < FAST_FAILURE_MS) {
        if (failed) this.log.debug({ music: this.music }, 'hold music failed to play');
        await new Promise<void>((resolve) => {
          this.pause = setTimeout(resolve, FAILED_PLAY_PAUSE_MS);
        });
      }
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.pause);
    this.breakOff();
  }
}
