import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadDatabaseConfig, parseCidr, type Env } from '../../src/config.js';

const valid: Env = {
  DATABASE_URL: 'postgres://sb:pw@db:5432/switchboard',
  REDIS_URL: 'redis://redis:6379/0',
  API_KEYS: 'admin:0123456789abcdef0123,supervisor:fedcba9876543210fedc',
  DRACHTIO_SECRET: 'cymru',
  FREESWITCH_PASSWORD: 'ClueCon',
  SIP_DOMAIN: 'pbx.example.com',
};

function problems(env: Env): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('accepts a minimal environment and fills in the documented defaults', () => {
    const c = loadConfig(valid);
    expect(c.http).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(c.drachtio).toEqual({ host: '127.0.0.1', port: 9022, secret: 'cymru' });
    expect(c.freeswitch.servers).toEqual([{ host: '127.0.0.1', port: 8021 }]);
    expect(c.freeswitch.profile).toBe('drachtio_mrf');
    expect(c.freeswitch.listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.logLevel).toBe('info');
    expect(c.redisPrefix).toBe('sb:');
    expect(c.trustedSources).toEqual([]);
    expect(c.shutdownGraceSeconds).toBe(30);
    expect(c.recordsGatherMs).toBe(500);
    expect(c.campOnTimeoutS).toBe(60);
    expect(c.apiKeys).toEqual([
      { key: '0123456789abcdef0123', role: 'admin' },
      { key: 'fedcba9876543210fedc', role: 'supervisor' },
    ]);
  });

  it('reads the intercept period of number changes and the directory import limit, one line per bad value', () => {
    expect(loadConfig(valid)).toMatchObject({ numberChangeInterceptDays: 90, directoryImportMaxBytes: 5 * 1024 * 1024 });
    expect(loadConfig({ ...valid, NUMBER_CHANGE_INTERCEPT_DAYS: '30', DIRECTORY_IMPORT_MAX_BYTES: '65536' })).toMatchObject({ numberChangeInterceptDays: 30, directoryImportMaxBytes: 65536 });
    expect(problems({ ...valid, NUMBER_CHANGE_INTERCEPT_DAYS: '0', DIRECTORY_IMPORT_MAX_BYTES: '5MB' })).toEqual([
      'DIRECTORY_IMPORT_MAX_BYTES must be a whole number, got "5MB"',
      'NUMBER_CHANGE_INTERCEPT_DAYS must be between 1 and 3650, got 0',
    ]);
  });

  it('reads the outbound gateway as host and port, 5060 by default, and none when unset', () => {
    expect(loadConfig(valid).outboundGateway).toBeUndefined();
    expect(loadConfig({ ...valid, OUTBOUND_GATEWAY: 'sbc.example.net' }).outboundGateway).toEqual({ host: 'sbc.example.net', port: 5060 });
    expect(loadConfig({ ...valid, OUTBOUND_GATEWAY: '10.0.0.5:5080' }).outboundGateway).toEqual({ host: '10.0.0.5', port: 5080 });
  });

  it('reads how long a caller rung first hears ringback: 5 s by default, 0 turns it off', () => {
    expect(loadConfig(valid).ringFirstMaxS).toBe(5);
    expect(loadConfig({ ...valid, RING_FIRST_MAX_SECONDS: '0' }).ringFirstMaxS).toBe(0);
    expect(problems({ ...valid, RING_FIRST_MAX_SECONDS: '-1' })).toEqual(['RING_FIRST_MAX_SECONDS must be between 0 and 300, got -1']);
  });

  it('reads the wake-up defaults, and values from the environment', () => {
    expect(loadConfig(valid).wakeup).toEqual({ retries: 2, retryIntervalS: 300, ringTimeoutS: 30, graceS: 600, escalationQueue: undefined });
    const env = { ...valid, WAKEUP_RETRIES: '0', WAKEUP_RETRY_INTERVAL_SECONDS: '60', WAKEUP_RING_TIMEOUT_SECONDS: '20', WAKEUP_GRACE_SECONDS: '0', WAKEUP_ESCALATION_QUEUE: '100' };
    expect(loadConfig(env).wakeup).toEqual({ retries: 0, retryIntervalS: 60, ringTimeoutS: 20, graceS: 0, escalationQueue: '100' });
  });

  it('names every missing required variable, one line each', () => {
    expect(problems({})).toEqual([
      'API_KEYS is required but not set',
      'DATABASE_URL is required but not set',
      'REDIS_URL is required but not set',
      'DRACHTIO_SECRET is required but not set',
      'FREESWITCH_PASSWORD is required but not set',
      'SIP_DOMAIN is required but not set',
    ]);
  });

  it('treats a blank value as missing', () => {
    expect(problems({ ...valid, DRACHTIO_SECRET: '   ' })).toEqual(['DRACHTIO_SECRET is required but not set']);
  });

  it.each([
    ['DATABASE_URL', 'nope', 'DATABASE_URL is not a valid URL (expected postgres://host:port/...)'],
    ['DATABASE_URL', 'mysql://db/x', 'DATABASE_URL must start with postgres: or postgresql:, got "mysql:"'],
    ['REDIS_URL', 'http://redis', 'REDIS_URL must start with redis: or rediss:, got "http:"'],
    ['HTTP_PORT', '80a', 'HTTP_PORT must be a whole number, got "80a"'],
    ['HTTP_PORT', '70000', 'HTTP_PORT must be between 1 and 65535, got 70000'],
    ['DRACHTIO_PORT', '0', 'DRACHTIO_PORT must be between 1 and 65535, got 0'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, got "loud"'],
    ['FREESWITCH_ESL', 'fs1:8021,fs2:x', 'FREESWITCH_ESL must be a comma-separated list of host:port, but "fs2:x" is not host:port'],
    ['FREESWITCH_ESL', 'fs1:99999', 'FREESWITCH_ESL must be a comma-separated list of host:port, but "fs1:99999" has a bad port'],
    ['API_KEYS', 'short', 'API_KEYS has a admin key shorter than 16 characters'],
    ['API_KEYS', 'root:0123456789abcdef0123', 'API_KEYS has an entry with unknown role "root" (roles: admin, supervisor, operator)'],
    ['SIP_DOMAIN', 'pbx example', 'SIP_DOMAIN must be a host name such as pbx.example.com, got "pbx example"'],
    ['TRUSTED_SOURCES', '10.0.0.0/8,bogus', 'TRUSTED_SOURCES has "bogus", which is not an IP address or CIDR block (e.g. 10.0.0.0/8)'],
    ['TRUSTED_SOURCES', '10.0.0.0/33', 'TRUSTED_SOURCES has "10.0.0.0/33", which is not an IP address or CIDR block (e.g. 10.0.0.0/8)'],
    ['MEDIA_LISTEN_ADDRESS', 'localhost', 'MEDIA_LISTEN_ADDRESS must be an IP address, got "localhost"'],
    ['MESSAGES_DIR', 'messages', 'MESSAGES_DIR must be an absolute path without spaces, got "messages"'],
    ['MESSAGES_DIR', '/var/my messages', 'MESSAGES_DIR must be an absolute path without spaces, got "/var/my messages"'],
    ['MESSAGE_MAX_SECONDS', '2', 'MESSAGE_MAX_SECONDS must be between 5 and 3600, got 2'],
    ['MESSAGES_MAX_PER_EXTENSION', '0', 'MESSAGES_MAX_PER_EXTENSION must be between 1 and 10000, got 0'],
    ['MESSAGE_MAX_AGE_DAYS', 'a month', 'MESSAGE_MAX_AGE_DAYS must be a whole number, got "a month"'],
    ['API_KEYS', '   ', 'API_KEYS is required but not set'],
    ['API_KEYS', ',,', 'API_KEYS lists no key'],
    ['FREESWITCH_ESL', ',', 'FREESWITCH_ESL lists no server'],
    ['SHUTDOWN_GRACE_SECONDS', '-1', 'SHUTDOWN_GRACE_SECONDS must be between 0 and 3600, got -1'],
    ['RECORDS_GATHER_MS', '5000', 'RECORDS_GATHER_MS must be between 0 and 1000, got 5000'],
    ['CAMP_ON_TIMEOUT_SECONDS', '1m', 'CAMP_ON_TIMEOUT_SECONDS must be a whole number, got "1m"'],
    ['OUTBOUND_GATEWAY', 'sip:gw@10.0.0.5', 'OUTBOUND_GATEWAY must be host or host:port of a SIP gateway, e.g. 10.0.0.5:5060, got "sip:gw@10.0.0.5"'],
    ['OUTBOUND_GATEWAY', '10.0.0.5:70000', 'OUTBOUND_GATEWAY must be host or host:port of a SIP gateway, e.g. 10.0.0.5:5060, got "10.0.0.5:70000"'],
    ['WAKEUP_RETRIES', '11', 'WAKEUP_RETRIES must be between 0 and 10, got 11'],
    ['WAKEUP_RETRY_INTERVAL_SECONDS', '5', 'WAKEUP_RETRY_INTERVAL_SECONDS must be between 10 and 3600, got 5'],
    ['WAKEUP_ESCALATION_QUEUE', 'front', 'WAKEUP_ESCALATION_QUEUE must be a queue\'s number (digits), got "front"'],
  ])('rejects a bad %s (%s) with one line naming it', (name, value, message) => {
    expect(problems({ ...valid, [name]: value })).toEqual([message]);
  });

  it('reads the admission limits: all off by default but the media share and endpoints in flight, one line per bad value', () => {
    expect(loadConfig(valid).admission).toEqual({
      maxCalls: 0, maxCallsPerSecond: 0, mediaMaxSessions: undefined, mediaMinIdleCpu: 0, mediaMaxPending: 10, maxLoopDelayMs: 250, maxMatchDelayMs: 1000, retryAfterS: 5, logIntervalS: 10,
    });
    const env = {
      ...valid, MAX_CALLS: '200', MAX_CALLS_PER_SECOND: '40', MEDIA_MAX_SESSIONS: '0', MEDIA_MIN_IDLE_CPU: '15', MEDIA_MAX_PENDING: '0',
      MAX_EVENT_LOOP_DELAY_MS: '0', MAX_MATCH_DELAY_MS: '2500', ADMISSION_RETRY_AFTER_SECONDS: '30', ADMISSION_LOG_INTERVAL_SECONDS: '60',
    };
    expect(loadConfig(env).admission).toEqual({
      maxCalls: 200, maxCallsPerSecond: 40, mediaMaxSessions: 0, mediaMinIdleCpu: 15, mediaMaxPending: 0, maxLoopDelayMs: 0, maxMatchDelayMs: 2500, retryAfterS: 30, logIntervalS: 60,
    });
    expect(problems({
      ...valid, MAX_CALLS: '-1', MAX_CALLS_PER_SECOND: 'lots', MEDIA_MAX_SESSIONS: '9%', MEDIA_MIN_IDLE_CPU: '100', MEDIA_MAX_PENDING: '2.5', MAX_EVENT_LOOP_DELAY_MS: 'soon', MAX_MATCH_DELAY_MS: '-5', ADMISSION_RETRY_AFTER_SECONDS: '0',
    })).toEqual([
      'MEDIA_MAX_SESSIONS must be a whole number, got "9%"',
      'MAX_CALLS must be between 0 and 1000000, got -1',
      'MAX_CALLS_PER_SECOND must be a whole number, got "lots"',
      'MEDIA_MIN_IDLE_CPU must be between 0 and 99, got 100',
      'MEDIA_MAX_PENDING must be a whole number, got "2.5"',
      'MAX_EVENT_LOOP_DELAY_MS must be a whole number, got "soon"',
      'MAX_MATCH_DELAY_MS must be between 0 and 60000, got -5',
      'ADMISSION_RETRY_AFTER_SECONDS must be between 1 and 3600, got 0',
    ]);
  });

  it('never repeats a secret from a bad URL in its message', () => {
    const [line] = problems({ ...valid, DATABASE_URL: 'postgres//sb:hunter2@db' });
    expect(line).toMatch(/^DATABASE_URL /);
    expect(line).not.toContain('hunter2');
  });

  it('reads lists of FreeSWITCH servers, IPv6 included, with the default port', () => {
    const c = loadConfig({ ...valid, FREESWITCH_ESL: 'fs1, fs2:8022,[::1]:8023' });
    expect(c.freeswitch.servers).toEqual([
      { host: 'fs1', port: 8021 },
      { host: 'fs2', port: 8022 },
      { host: '::1', port: 8023 },
    ]);
  });

  it('reads trusted sources as addresses and CIDR blocks', () => {
    const c = loadConfig({ ...valid, TRUSTED_SOURCES: '192.0.2.10, 10.0.0.0/8,2001:db8::/32' });
    expect(c.trustedSources).toEqual([
      { address: '192.0.2.10', prefix: 32, family: 4 },
      { address: '10.0.0.0', prefix: 8, family: 4 },
      { address: '2001:db8::', prefix: 32, family: 6 },
    ]);
  });

  it('gives operator keys their role and their operator', () => {
    const c = loadConfig({ ...valid, API_KEYS: 'operator/alice:abcdefghijklmnopqrstu' });
    expect(c.apiKeys).toEqual([{ key: 'abcdefghijklmnopqrstu', role: 'operator', operator: 'alice' }]);
  });

  it('refuses operator keys that do not name their operator, and names on other roles', () => {
    expect(() => loadConfig({ ...valid, API_KEYS: 'operator:abcdefghijklmnopqrstu' })).toThrow(/API_KEYS has an operator key without its operator: write operator\/<username>:<key>/);
    expect(() => loadConfig({ ...valid, API_KEYS: 'supervisor/alice:abcdefghijklmnopqrstu' })).toThrow(/only operator keys do/);
    expect(() => loadConfig({ ...valid, API_KEYS: 'operator/al ice:abcdefghijklmnopqrstu' })).toThrow(/not a valid username/);
    expect(() => loadConfig({ ...valid, API_KEYS: 'abcdefghijklmnopqrstu,supervisor:abcdefghijklmnopqrstu' })).toThrow(/same key twice/);
  });

  it('reads the roles that see callers\' numbers masked', () => {
    expect(loadConfig(valid).maskCallerNumbers).toEqual([]);
    expect(loadConfig({ ...valid, MASK_CALLER_NUMBERS: 'operator, supervisor' }).maskCallerNumbers).toEqual(['operator', 'supervisor']);
    expect(() => loadConfig({ ...valid, MASK_CALLER_NUMBERS: 'guest' })).toThrow(/MASK_CALLER_NUMBERS has unknown role "guest"/);
  });
});

describe('loadDatabaseConfig', () => {
  it('needs only DATABASE_URL', () => {
    expect(loadDatabaseConfig({ DATABASE_URL: 'postgresql://db/x' })).toEqual({
      databaseUrl: 'postgresql://db/x',
      startupWaitSeconds: 30,
    });
  });

  it('rejects a bad DATABASE_URL', () => {
    expect(() => loadDatabaseConfig({ DATABASE_URL: 'x' })).toThrow(/DATABASE_URL is not a valid URL/);
  });
});

describe('parseCidr', () => {
  it('rejects junk', () => {
    expect(parseCidr('1.2.3.4/8/9')).toBeUndefined();
    expect(parseCidr('1.2.3.4/x')).toBeUndefined();
    expect(parseCidr('::1/129')).toBeUndefined();
  });
});
