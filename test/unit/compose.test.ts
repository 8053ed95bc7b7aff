import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, type Env } from '../../src/config.js';
import { ROOT_DIR } from '../../src/paths.js';

// docker-compose.yml cannot run here (no Docker engine), so check that what it configures is what
// the switchboard validates and what the other services listen on.
const compose = parse(readFileSync(join(ROOT_DIR, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { environment?: Record<string, string>; command?: string[]; ports?: string[]; volumes?: string[] }>;
};

/** Compose's ${NAME:-default} with nothing set: the default. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
}

describe('docker-compose.yml', () => {
  const env: Env = Object.fromEntries(
    Object.entries(compose.services.switchboard?.environment ?? {}).map(([k, v]) => [k, withDefaults(String(v))]),
  );

  it('gives the switchboard an environment that passes its own validation', () => {
    const config = loadConfig(env);
    expect(config.drachtio).toMatchObject({ host: 'drachtio', port: 9022 });
    expect(config.freeswitch.servers).toEqual([{ host: 'freeswitch', port: 8021 }]);
    expect(config.http.port).toBe(8080);
  });

  it('uses the same secrets on both ends of each connection', () => {
    const drachtioCmd = (compose.services.drachtio?.command ?? []).map(withDefaults);
    expect(drachtioCmd[drachtioCmd.indexOf('--secret') + 1]).toBe(env.DRACHTIO_SECRET);
    const fsCmd = (compose.services.freeswitch?.command ?? []).map(withDefaults);
    expect(fsCmd[fsCmd.indexOf('--password') + 1]).toBe(env.FREESWITCH_PASSWORD);
    expect(env.DATABASE_URL).toContain(`:${withDefaults(String(compose.services.postgres?.environment?.POSTGRES_PASSWORD))}@`);
  });

  it('publishes the RTP range that FreeSWITCH is told to use', () => {
    const fsCmd = compose.services.freeswitch?.command ?? [];
    const start = fsCmd[fsCmd.indexOf('--rtp-range-start') + 1];
    const end = fsCmd[fsCmd.indexOf('--rtp-range-end') + 1];
    expect(compose.services.freeswitch?.ports).toContain(`${start}-${end}:${start}-${end}/udp`);
    const switchConf = readFileSync(join(ROOT_DIR, 'docker/freeswitch/switch.conf.xml'), 'utf8');
    expect(switchConf).toContain(`name="rtp-start-port" value="${start}"`);
    expect(switchConf).toContain(`name="rtp-end-port" value="${end}"`);
  });

  it('mounts the voice messages\' volume at MESSAGES_DIR in both the switchboard and FreeSWITCH', () => {
    const dir = loadConfig(env).messages.dir;
    for (const name of ['switchboard', 'freeswitch']) {
      expect(compose.services[name]?.volumes, name).toContain(`messages:${dir}`);
    }
  });

  it('mounts only files that exist in docker/', () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] ?? '';
        if (!source.startsWith('./')) continue;
        expect(() => readFileSync(join(ROOT_DIR, source === './docker/freeswitch/sounds' ? `${source}/README.md` : source))).not.toThrow();
      }
    }
  });
});
