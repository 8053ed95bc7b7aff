/**
 * Operators' HA1s by username, from PostgreSQL, kept for a few seconds: a REGISTER storm (every
 * phone re-registering after a network blip, each twice because of the challenge) then costs one
 * query per operator, and a changed password still takes effect within the cache time.
 */
import type { Pool } from '../db/pool.js';
import { isUsername } from '../provisioning/types.js';

export interface OperatorCredentials {
  operatorId: number;
  username: string;
  ha1: string;
}

interface Entry {
  value: OperatorCredentials | undefined;
  until: number;
}

export const DEFAULT_CREDENTIALS_TTL_MS = 5_000;
// Unknown usernames are cached too (a flood of guesses must not reach PostgreSQL), so the map is
// bounded: the oldest entries go first.
const MAX_ENTRIES = 10_000;

export class CredentialsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<OperatorCredentials | undefined>>();

  constructor(
    private readonly pool: Pool,
    private readonly ttlMs = DEFAULT_CREDENTIALS_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The operator's credentials, or undefined for a username that is not an operator. */
  async get(username: string): Promise<OperatorCredentials | undefined> {
    // Anything else cannot be an operator, so no query is needed.
    if (!isUsername(username)) return undefined;
    const cached = this.entries.get(username);
    if (cached && cached.until > this.now()) return cached.value;
    // Concurrent REGISTERs for one user share a single query.
    const pending = this.inFlight.get(username);
    if (pending) return pending;
    const query = this.load(username).finally(() => this.inFlight.delete(username));
    this.inFlight.set(username, query);
    return query;
  }

  private async load(username: string): Promise<OperatorCredentials | undefined> {
    const { rows } = await this.pool.query<{ id: number; username: string; ha1: string }>(
      'SELECT id, username, ha1 FROM operators WHERE username = $1',
      [username],
    );
    const row = rows[0];
    const value = row ? { operatorId: Number(row.id), username: row.username, ha1: row.ha1 } : undefined;
    this.remember(username, value);
    return value;
  }

  private remember(username: string, value: OperatorCredentials | undefined): void {
    this.entries.delete(username);
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(username, { value, until: this.now() + this.ttlMs });
  }

  clear(): void {
    this.entries.clear();
  }
}
