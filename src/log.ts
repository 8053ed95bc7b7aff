import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One JSON line per event. Secrets never reach the log: the redact paths cover every place a
 * password, digest or API key could appear in what we log.
 */
export function createLogger(level: string, instanceId: string): Logger {
  return pino({
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
  });
}

/** Every log line that concerns a call carries its call id. */
export function callLogger(log: Logger, callId: string): Logger {
  return log.child({ callId });
}
