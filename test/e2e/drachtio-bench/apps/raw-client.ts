/**
 * A bare drachtio application-protocol client: frames "<length>#<payload>", correlates
 * "response|<msgId>" answers with requests, and queues everything else ("sip|...", "cdr:...").
 * For tests of the wire protocol itself, below drachtio-srf.
 */
import crypto from 'node:crypto';
import net from 'node:net';

export interface RawMessage {
  /** The "|"-separated leader line. */
  tokens: string[];
  /** What follows the first CRLF (a SIP message), or ''. */
  body: string;
  raw: string;
}

export function parseRaw(raw: string): RawMessage {
  const i = raw.indexOf('\r\n');
  return { tokens: (i < 0 ? raw : raw.slice(0, i)).split('|'), body: i < 0 ? '' : raw.slice(i + 2), raw };
}

export class RawDrachtioClient {
  private buffer = Buffer.alloc(0);
  private readonly pending = new Map<string, (m: RawMessage) => void>();
  private readonly queue: RawMessage[] = [];
  private readonly waiters: ((m: RawMessage) => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  static connect(host: string, port: number): Promise<RawDrachtioClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port }, () => resolve(new RawDrachtioClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Send "<msgId>|<rest>" and resolve with the server's "response|<msgId>|..." message. */
  request(rest: string, timeoutMs = 3000): Promise<RawMessage> {
    const msgId = crypto.randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response to ${rest.split('\r\n')[0]}`)), timeoutMs);
      this.pending.set(msgId, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.writeFramed(`${msgId}|${rest}`);
    });
  }

  /** Write raw bytes as they are (for framing tests). */
  writeRaw(bytes: string): void {
    this.socket.write(bytes);
  }

  writeFramed(payload: string): void {
    this.socket.write(`${Buffer.byteLength(payload)}#${payload}`);
  }

  /** The next message that is not a response to one of our requests. */
  next(timeoutMs = 3000): Promise<RawMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error('no message from the server'));
      }, timeoutMs);
      const waiter = (m: RawMessage): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, d]);
    for (;;) {
      const hash = this.buffer.indexOf('#');
      if (hash < 0) return;
      const len = Number(this.buffer.subarray(0, hash).toString());
      if (this.buffer.length < hash + 1 + len) return;
      const raw = this.buffer.subarray(hash + 1, hash + 1 + len).toString('utf8');
      this.buffer = this.buffer.subarray(hash + 1 + len);
      this.dispatch(parseRaw(raw));
    }
  }

  private dispatch(m: RawMessage): void {
    if (m.tokens[1] === 'response') {
      const fn = this.pending.get(m.tokens[2] ?? '');
      if (fn) {
        this.pending.delete(m.tokens[2] ?? '');
        fn(m);
        return;
      }
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter(m);
    else this.queue.push(m);
  }
}
