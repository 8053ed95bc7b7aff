/**
 * Operators' and extensions' HA1s by SIP user name, from PostgreSQL, kept for a few seconds: a REGISTER storm (every
 * phone re-registering after a network blip, each twice because of the challenge) then costs one
 * query per operator, and a changed password still takes effect within the cache time.
 */
import type { Pool } from '../db/pool.js';
import { isUsername } from '../provisioning/types.js';

/** Who a SIP user name belongs to: an operator (their username) or an extension (its number). */
export type SipCredentials =
  | { kind: 'operator'; operatorId: number; username: string; ha1: string }
  | { kind: 'extension'; extensionId: number; username: string; ha1: string };

export type OperatorCredentials = Extract<SipCredentials, { kind: 'operator' }>;

interface Entry {
  value: SipCredentials | undefined;
  until: number;
}

export const DEFAULT_CREDENTIALS_TTL_MS = 5_000;
// Unknown usernames are cached too (a flood of guesses must not reach PostgreSQL), so the map is
// bounded: the oldest entries go first.
const MAX_ENTRIES = 10_000;

export class CredentialsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<SipCredentials | undefined>>();

  constructor(
    private readonly pool: Pool,
    private readonly ttlMs = DEFAULT_CREDENTIALS_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The user's credentials, or undefined for a name that is neither an operator nor an extension. */
  async get(username: string): Promise<SipCredentials | undefined> {
    // Anything else can be neither (an extension's number is a username too), so no query is needed.
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

  private async load(username: string): Promise<SipCredentials | undefined> {
    // An operator comes first: the API refuses an extension numbered like an operator's username.
    const { rows } = await this.pool.query<{ kind: 'operator' | 'extension'; id: string; ha1: string }>(
      `SELECT 'operator' AS kind, id, ha1 FROM operators WHERE username = $1
       UNION ALL SELECT 'extension', id, ha1 FROM extensions WHERE number = $1
       ORDER BY kind DESC LIMIT 1`,
      [username],
    );
    const row = rows[0];
    const value: SipCredentials | undefined = !row
      ? undefined
      : row.kind === 'operator'
        ? { kind: 'operator', operatorId: Number(row.id), username, ha1: row.ha1 }
        : { kind: 'extension', extensionId: Number(row.id), username, ha1: row.ha1 };
    this.remember(username, value);
    return value;
  }

  private remember(username: string, value: SipCredentials | undefined): void {
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
