/**
 * Where message files lie: `<MESSAGES_DIR>/<extension>/<uuid>.wav`. FreeSWITCH writes them (its
 * record application is given the absolute path) and the switchboard reads, measures and deletes
 * them, so both must see MESSAGES_DIR at the same path: one host, or a volume shared by both.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, stat, unlink } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';

export class MessageFiles {
  constructor(readonly dir: string) {}

  /** A new file's name relative to the directory; its extension's folder is made if missing. */
  async allocate(extension: string): Promise<string> {
    await mkdir(join(this.dir, extension), { recursive: true });
    return `${extension}/${randomUUID()}.wav`;
  }

  /** The absolute path of a stored file; refuses any path that would leave the directory. */
  absolute(relative: string): string {
    const full = resolve(this.dir, relative);
    if (!full.startsWith(this.dir + sep)) throw new Error(`message path outside MESSAGES_DIR: ${relative}`);
    return full;
  }

  /** The file's size, or undefined when it is not there (nothing recorded, or not shared). */
  async size(relative: string): Promise<number | undefined> {
    try {
      return (await stat(this.absolute(relative))).size;
    } catch {
      return undefined;
    }
  }

  async remove(relative: string): Promise<void> {
    await unlink(this.absolute(relative)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}
