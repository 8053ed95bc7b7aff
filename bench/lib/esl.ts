/**
 * The least of FreeSWITCH's event socket the bench needs: authenticate, run one `api` command,
 * read its reply. Used to count the media server's sessions before and after a run (calls left
 * behind on the media server are stuck calls).
 */
import net from 'node:net';

export async function eslApi(host: string, port: number, password: string, command: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buffer = '';
    let stage: 'auth' | 'authed' | 'api' = 'auth';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`FreeSWITCH event socket ${host}:${port}: no answer to "${command}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err: Error | undefined, text?: string): void => {
      clearTimeout(timer);
      socket.end();
      if (err) reject(err);
      else resolve(text ?? '');
    };
    socket.on('error', (err) => done(err));
    socket.on('data', (d: Buffer) => {
      buffer += d.toString();
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end < 0) return;
        const head = buffer.slice(0, end);
        const length = Number(/^Content-Length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 2 + length) return;
        const body = buffer.slice(end + 2, end + 2 + length);
        buffer = buffer.slice(end + 2 + length);
        const type = /^Content-Type:\s*(\S+)/im.exec(head)?.[1] ?? '';
        if (type === 'auth/request' && stage === 'auth') {
          socket.write(`auth ${password}\n\n`);
          stage = 'authed';
        } else if (type === 'command/reply' && stage === 'authed') {
          if (!/Reply-Text:\s*\+OK/i.test(head)) return done(new Error(`FreeSWITCH event socket refused the password: ${head}`));
          socket.write(`api ${command}\n\n`);
          stage = 'api';
        } else if (type === 'api/response' && stage === 'api') {
          return done(undefined, body);
        }
      }
    });
  });
}

/** The number of sessions (channels) FreeSWITCH has right now, from `status`. */
export async function freeswitchSessions(host: string, port: number, password: string): Promise<number> {
  const text = await eslApi(host, port, password, 'status');
  const m = /(\d+) session\(s\) - peak/.exec(text);
  if (!m) throw new Error(`unexpected "status" answer from FreeSWITCH: ${text.slice(0, 200)}`);
  return Number(m[1]);
}
