import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The wallboard's files, beside this module (npm run build copies them into dist/). */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'wallboard.js': 'text/javascript; charset=utf-8',
  'wallboard.css': 'text/css; charset=utf-8',
};

export const WALLBOARD_PATH = '/wallboard/';

// The page holds an API key: it may load nothing but its own files and talk to nobody but us.
const HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

function loadFiles(): Map<string, Buffer> {
  const dir = dirname(fileURLToPath(import.meta.url));
  const files = new Map<string, Buffer>();
  for (const name of Object.keys(FILES)) {
    const path = join(dir, name);
    if (!existsSync(path)) throw new Error(`the wallboard file ${path} is missing (npm run build copies src/wallboard/ into dist/)`);
    files.set(name, readFileSync(path));
  }
  return files;
}

/**
 * Serves the wallboard page at /wallboard/ without a key: the page has no data of its own, it asks
 * for a key and then reads the API like any client.
 */
export function registerWallboard(app: FastifyInstance): void {
  const files = loadFiles();
  const send = (name: string) => async (_req: unknown, reply: FastifyReply) =>
    reply.headers(HEADERS).type(FILES[name] as string).send(files.get(name));
  const hidden = { schema: { hide: true }, logLevel: 'warn' as const };
  app.get('/wallboard', hidden, async (_req, reply) => reply.redirect(WALLBOARD_PATH));
  app.get(WALLBOARD_PATH, hidden, send('index.html'));
  for (const name of Object.keys(FILES)) app.get(`${WALLBOARD_PATH}${name}`, hidden, send(name));
}
