/**
 * A small server-sent events client for tests: reads a text/event-stream response and keeps what
 * it received, so a test can wait for an event that matches.
 */
export interface SseEvent {
  event: string;
  data: string;
  json: Record<string, unknown>;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  /** Comment lines (heartbeats) received. */
  comments = 0;
  readonly ended: Promise<void>;
  private readonly waiters = new Set<() => void>();
  private readonly abort = new AbortController();

  private constructor(
    readonly status: number,
    readonly contentType: string,
    body: ReadableStream<Uint8Array> | null,
  ) {
    this.ended = this.read(body);
  }

  /** Opens the stream; resolves once the response's headers are in (check status). */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    const client = new SseClient(res.status, res.headers.get('content-type') ?? '', res.ok ? res.body : null);
    client.abort.signal.addEventListener('abort', () => abort.abort());
    if (!res.ok) await res.text();
    return client;
  }

  /** The first event (already received or still to come) that matches, within timeoutMs. */
  async next(match: (e: SseEvent) => boolean, timeoutMs = 10_000, what = 'an event'): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.events.map((e) => `${e.event}:${e.data}`).join('\n')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Call events received for one call, in order. */
  callEvents(callId: string): string[] {
    return this.events.filter((e) => e.event === 'call' && e.json.callId === callId).map((e) => String(e.json.event));
  }

  close(): void {
    this.abort.abort();
  }

  private async read(body: ReadableStream<Uint8Array> | null): Promise<void> {
    if (!body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // Aborted by close(), or the server went away: the stream is over either way.
    }
    this.wake();
  }

  private parse(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments++;
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length === 0) return;
    const text = data.join('\n');
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Not JSON: the text is there.
    }
    this.events.push({ event, data: text, json });
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }
}
