import { startSwitchboard } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { bufferedStdout, createLogger } from './log.js';
import { StartupError } from './startup.js';

/** One line per problem on stderr, then a non-zero exit: what a person starting the service needs. */
function die(lines: string[]): never {
  for (const line of lines) process.stderr.write(`switchboard: ${line}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) die(err.problems.map((p) => `configuration: ${p}`));
    throw err;
  }
  const log = createLogger(config.logLevel, config.instanceId, bufferedStdout());

  let switchboard;
  try {
    switchboard = await startSwitchboard(config, log);
  } catch (err) {
    if (err instanceof StartupError) die([err.message]);
    throw err;
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    switchboard.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: Error) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // One failed promise somewhere (a BYE for a dialog drachtio-server already dropped) must not
  // take every call in progress down with the process: log it and carry on.
  process.on('unhandledRejection', (reason: unknown) => {
    log.error({ err: reason instanceof Error ? { message: reason.message, stack: reason.stack } : String(reason) }, 'unhandled promise rejection');
  });
}

main().catch((err: Error) => die([`unexpected error: ${err.stack ?? err.message}`]));
