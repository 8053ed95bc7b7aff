import { ConfigError, loadDatabaseConfig } from './config.js';
import { loadMigrations, migrate } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { SQL_DIR } from './paths.js';
import { StartupError, waitForPostgres } from './startup.js';

/** `npm run migrate`: applies the migrations in sql/ and says what it did. */
async function main(): Promise<void> {
  const config = loadDatabaseConfig(process.env);
  const pool = createPool(config.databaseUrl);
  try {
    await waitForPostgres(pool, config.databaseUrl, config.startupWaitSeconds);
    const result = await migrate(pool, await loadMigrations(SQL_DIR));
    const applied = result.applied.length ? `applied ${result.applied.join(', ')}` : 'nothing to apply';
    process.stdout.write(`migrate: ${applied} (${result.alreadyApplied} already applied)\n`);
  } finally {
    await pool.end();
  }
}

main().catch((err: Error) => {
  const lines = err instanceof ConfigError ? err.problems.map((p) => `configuration: ${p}`) : [err instanceof StartupError ? err.message : err.message];
  for (const line of lines) process.stderr.write(`migrate: ${line}\n`);
  process.exit(1);
});
