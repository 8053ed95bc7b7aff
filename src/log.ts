import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** The longest a log line waits in the buffer of bufferedStdout before it is written. */
const LOG_FLUSH_MS = 200;

/**
 * Standard output written in chunks (4 KiB, or whatever LOG_FLUSH_MS has gathered) instead of
 * one write per line: a busy switchboard logs thousands of lines a second, and a write each
 * costs it more than making them. What is left in the buffer is written when the process exits.
 */
export function bufferedStdout(): DestinationStream {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => destination.flush(), LOG_FLUSH_MS).unref();
  return destination;
}

/**
 * One JSON line per event. Secrets never reach the log: the redact paths cover every place a
 * password, digest or API key could appear in what we log.
 */
export function createLogger(level: string, instanceId: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { instance: instanceId },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'password',
        '*.password',
        'ha1',
        '*.ha1',
        'secret',
        '*.secret',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Every log line that concerns a call carries its call id. */
export function callLogger(log: Logger, callId: string): Logger {
  return log.child({ callId });
}
