/**
 * drachtio's application protocol framing (client.cpp readMessageLength / send): every
 * message is "<length>#<payload>", the length in bytes of the UTF-8 payload. The server reads
 * at most five digits before the '#'; anything else is a protocol error and the server drops
 * the connection.
 */

export class FramingError extends Error {}

export function frame(payload: string): string {
  return `${Buffer.byteLength(payload, 'utf8')}#${payload}`;
}

export class FrameDecoder {
  private buffer = Buffer.alloc(0);

  /** Add bytes; returns every complete payload now available. Throws FramingError. */
  push(chunk: Buffer): string[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const out: string[] = [];
    for (;;) {
      const hash = this.buffer.indexOf('#');
      if (hash < 0) {
        this.checkDigits(this.buffer.length);
        return out;
      }
      this.checkDigits(hash);
      const len = Number(this.buffer.subarray(0, hash).toString('ascii'));
      if (!Number.isInteger(len) || len <= 0) throw new FramingError('invalid message length specifier');
      const end = hash + 1 + len;
      if (this.buffer.length < end) return out;
      out.push(this.buffer.subarray(hash + 1, end).toString('utf8'));
      this.buffer = this.buffer.subarray(end);
    }
  }

  /** client.cpp: only digits, and no more than five of them, may precede the '#'. */
  private checkDigits(count: number): void {
    const head = this.buffer.subarray(0, Math.min(count, 6)).toString('ascii');
    if (!/^\d*$/.test(head) || head.length > 5) {
      throw new FramingError('invalid message length specifier');
    }
  }
}
