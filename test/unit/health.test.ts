import { describe, expect, it } from 'vitest';
import { Health } from '../../src/health.js';

describe('Health', () => {
  it('starts down, with every component not connected yet', () => {
    const r = new Health().report();
    expect(r.status).toBe('down');
    expect(Object.values(r.components).every((c) => !c.up)).toBe(true);
  });

  it('is ok when everything is up, degraded without PostgreSQL, down without a required part', () => {
    const h = new Health();
    for (const c of ['postgres', 'redis', 'drachtio', 'freeswitch'] as const) h.set(c, true, 'connected');
    expect(h.report().status).toBe('ok');
    h.set('postgres', false, 'gone');
    expect(h.report().status).toBe('degraded');
    h.set('freeswitch', false, 'gone');
    expect(h.report().status).toBe('down');
  });

  it('keeps the time a component came up or went down, not of the last report', () => {
    let t = 0;
    const h = new Health(() => new Date(t));
    t = 1000;
    h.set('redis', true, 'connected');
    t = 5000;
    h.set('redis', true, 'still connected');
    expect(h.report().components.redis).toMatchObject({ up: true, detail: 'still connected', since: new Date(1000).toISOString() });
    h.set('redis', false, 'closed');
    expect(h.report().components.redis.since).toBe(new Date(5000).toISOString());
  });
});
