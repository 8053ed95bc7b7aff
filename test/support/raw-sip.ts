/**
 * A SIP client that sends exactly the bytes it is given, for hostile and broken requests no
 * stack (nor SIPp) would build: INVITEs with missing or garbage bodies, oversized headers,
 * requests for dialogs that do not exist, non-SIP noise. It reads back responses (status line
 * and headers) and ACKs non-2xx final responses to its INVITEs as RFC 3261 §17.1.1.3 wants, so
 * the server stops retransmitting them.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';

export interface RawResponse {
  status: number;
  reason: string;
  headers: Map<string, string>;
  raw: string;
}

export interface RawRequest {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  body?: string;
  /** Call-ID, tags and branch; fresh ones unless given (an in-dialog request names its dialog). */
  callId?: string;
  fromTag?: string;
  toTag?: string;
  cseq?: number;
}

const token = (): string => randomBytes(6).toString('hex');

/** Parses one response; undefined for anything that is not a SIP response. */
export function parseResponse(text: string): RawResponse | undefined {
  const [head = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const m = /^SIP\/2\.0 (\d{3}) (.*)$/.exec(statusLine);
  if (!m) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(m[1]), reason: m[2] ?? '', headers, raw: text };
}

export class RawSipClient {
  private responses: RawResponse[] = [];
  private readonly waiters: (() => void)[] = [];
  private tcpBuffer = '';

  private constructor(
    private readonly transport: 'udp' | 'tcp',
    private readonly send: (bytes: string) => void,
    private readonly local: { address: string; port: number },
    private readonly remote: { host: string; port: number },
    private readonly closeSocket: () => void,
  ) {}

  static async udp(remoteAddress: string): Promise<RawSipClient> {
    const [host = '127.0.0.1', port = '5060'] = remoteAddress.split(':');
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const client = new RawSipClient(
      'udp',
      (bytes) => socket.send(bytes, Number(port), host),
      socket.address(),
      { host, port: Number(port) },
      () => socket.close(),
    );
    socket.on('message', (msg) => client.received(msg.toString('latin1')));
    return client;
  }

  static async tcp(remoteAddress: string): Promise<RawSipClient> {
    const [host = '127.0.0.1', port = '5060'] = remoteAddress.split(':');
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port: Number(port), localAddress: '127.0.0.1' }, () => resolve(s));
      s.once('error', reject);
    });
    socket.on('error', () => undefined); // a server that closes on a hostile request is allowed to
    const client = new RawSipClient(
      'tcp',
      (bytes) => socket.write(bytes),
      { address: socket.localAddress ?? '127.0.0.1', port: socket.localPort ?? 0 },
      { host, port: Number(port) },
      () => socket.destroy(),
    );
    socket.on('data', (d: Buffer) => client.onTcpData(d.toString('latin1')));
    return client;
  }

  /** A request URI on the server for `user`. */
  uri(user: string): string {
    return `sip:${user}@${this.remote.host}:${this.remote.port}`;
  }

  /** Builds a request from parts (Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length filled in). */
  build(r: RawRequest): { text: string; callId: string; branch: string; fromTag: string } {
    const callId = r.callId ?? `${token()}@raw`;
    const fromTag = r.fromTag ?? token();
    const branch = `z9hG4bK${token()}`;
    const body = r.body ?? '';
    const proto = this.transport.toUpperCase();
    const lines = [
      `${r.method} ${r.uri} SIP/2.0`,
      `Via: SIP/2.0/${proto} ${this.local.address}:${this.local.port};branch=${branch};rport`,
      `From: <sip:hostile@${this.local.address}>;tag=${fromTag}`,
      `To: <${r.uri}>${r.toTag ? `;tag=${r.toTag}` : ''}`,
      `Call-ID: ${callId}`,
      `CSeq: ${r.cseq ?? 1} ${r.method}`,
      'Max-Forwards: 70',
      `Contact: <sip:hostile@${this.local.address}:${this.local.port};transport=${this.transport}>`,
      ...Object.entries(r.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
      `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
      '',
      body,
    ];
    return { text: lines.join('\r\n'), callId, branch, fromTag };
  }

  /**
   * Sends a request and waits for its final response (undefined if none came within `ms`: a
   * server may drop what it cannot parse). Non-2xx final responses to INVITE are ACKed.
   */
  async request(r: RawRequest, ms = 5_000): Promise<RawResponse | undefined> {
    const built = this.build(r);
    this.send(built.text);
    const final = await this.waitFor((res) => res.status >= 200 && res.headers.get('call-id') === built.callId, ms);
    if (final && r.method === 'INVITE' && final.status >= 300) this.ackFor(r, built, final);
    // Forget this request's responses: a long run must not hold every answer it ever got.
    this.responses = this.responses.filter((res) => res.headers.get('call-id') !== built.callId);
    return final;
  }

  /** Sends bytes as they are (noise, or a request built by hand). */
  sendRaw(bytes: string): void {
    this.send(bytes);
  }

  close(): void {
    this.closeSocket();
  }

  private ackFor(r: RawRequest, built: { callId: string; branch: string; fromTag: string }, final: RawResponse): void {
    const to = final.headers.get('to') ?? `<${r.uri}>`;
    const proto = this.transport.toUpperCase();
    const ack = [
      `ACK ${r.uri} SIP/2.0`,
      `Via: SIP/2.0/${proto} ${this.local.address}:${this.local.port};branch=${built.branch};rport`,
      `From: <sip:hostile@${this.local.address}>;tag=${built.fromTag}`,
      `To: ${to}`,
      `Call-ID: ${built.callId}`,
      `CSeq: ${r.cseq ?? 1} ACK`,
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    this.send(ack);
  }

  private async waitFor(match: (res: RawResponse) => boolean, ms: number): Promise<RawResponse | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.responses.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private received(text: string): void {
    const res = parseResponse(text);
    if (!res) return;
    this.responses.push(res);
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** TCP is a stream: cut it into messages by Content-Length (RFC 3261 §18.3). */
  private onTcpData(text: string): void {
    this.tcpBuffer += text;
    for (;;) {
      const end = this.tcpBuffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(this.tcpBuffer.slice(0, end + 2))?.[1] ?? 0);
      if (this.tcpBuffer.length < end + 4 + length) return;
      this.received(this.tcpBuffer.slice(0, end + 4 + length));
      this.tcpBuffer = this.tcpBuffer.slice(end + 4 + length);
    }
  }
}
