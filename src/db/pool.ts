import pg from 'pg';

// bigint ids stay far below 2^53 and numeric columns hold seconds: plain numbers read better in
// code and JSON than the strings pg returns by default.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(databaseUrl: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Lends fn a client of its own and takes it back. pg-pool takes its error listener off a client
 * while it is lent out, so a server that goes away then (a restart, a failover) would make the
 * client's 'error' event uncaught and end the process. Here the error is kept instead: the query
 * in flight fails with it anyway, and the client is thrown away rather than lent again.
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const keep = (err: Error): void => {
    lost ??= err;
  };
  client.on('error', keep);
  try {
    return await fn(client);
  } finally {
    client.off('error', keep);
    client.release(lost);
  }
}

/** Runs fn inside one transaction: everything it writes lands, or nothing does. */
export function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}

/** Describes where a database URL points, without its password, for log and error lines. */
export function describeDatabaseUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    const port = url.port === '' ? '5432' : url.port;
    return `${url.hostname}:${port}${url.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}
