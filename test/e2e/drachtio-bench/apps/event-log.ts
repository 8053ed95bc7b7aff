/**
 * What a test app saw, in order, with a bounded wait for the next thing it expects.
 */
export interface LoggedEvent {
  name: string;
  data: unknown;
  at: number;
}

export class EventLog {
  readonly events: LoggedEvent[] = [];
  private readonly waiters: { name: string; resolve: (data: unknown) => void; index: number }[] = [];

  add(name: string, data?: unknown): void {
    const event = { name, data, at: Date.now() };
    this.events.push(event);
    for (const w of [...this.waiters]) {
      if (w.name !== name || this.countOf(name) <= w.index) continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(data);
    }
  }

  names(): string[] {
    return this.events.map((e) => e.name);
  }

  countOf(name: string): number {
    return this.events.filter((e) => e.name === name).length;
  }

  dataOf<T>(name: string): T[] {
    return this.events.filter((e) => e.name === name).map((e) => e.data as T);
  }

  /** Resolve with the n-th (0-based) event of that name, recorded already or to come. */
  waitFor<T = unknown>(name: string, timeoutMs = 5000, n = 0): Promise<T> {
    const seen = this.events.filter((e) => e.name === name);
    if (seen.length > n) return Promise.resolve(seen[n]?.data as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no '${name}' event #${n} within ${timeoutMs} ms; saw: ${this.names().join(', ')}`));
      }, timeoutMs);
      const waiter = {
        name,
        index: n,
        resolve: (data: unknown) => {
          clearTimeout(timer);
          resolve(data as T);
        },
      };
      this.waiters.push(waiter);
    });
  }
}
