/**
 * Call detail records pushed by the server (cdr.cpp) to an app that routes cdr:attempt,
 * cdr:start and cdr:stop. drachtio-server only sends them when configured with
 * <cdrs>true</cdrs>, so against a real server this file runs only with DRACHTIO_CDRS=1.
 */
import Srf from 'drachtio-srf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSrf, disconnectSrf, externalDrachtioConfigured, useDrachtio, type DrachtioTarget } from '../../support/drachtio-env.js';
import { EventLog } from './apps/event-log.js';
import { APP_SDP, callSipp, expectPassed, transportsUnderTest, type Bench } from './helpers.js';

const enabled = !externalDrachtioConfigured() || process.env.DRACHTIO_CDRS === '1';

let target: DrachtioTarget;
let srf: Srf;
const log = new EventLog();

beforeAll(async () => {
  if (!enabled) return;
  target = await useDrachtio({ cdrs: true });
  srf = new Srf();
  srf.on('cdr:attempt', (source: string) => log.add('attempt', { source }));
  srf.on('cdr:start', (source: string, _time: string, role: string) => log.add('start', { source, role }));
  srf.on('cdr:stop', (source: string, _time: string, reason: string) => log.add('stop', { source, reason }));
  srf.invite((req, res) => void srf.createUAS(req, res, { localSdp: APP_SDP }).catch(() => undefined));
  await connectSrf(target, { srf });
});
afterAll(async () => {
  if (!enabled) return;
  await disconnectSrf(srf);
  await target.stop();
});

describe.skipIf(!enabled)('CDRs', () => {
  it('posts attempt, start (uas) and stop (normal-release) for an answered call', async () => {
    const transport = transportsUnderTest()[0] ?? 'udp';
    const result = await callSipp({ target } as Bench, transport, 'uac-call.xml');
    expectPassed(result);
    expect(await log.waitFor('attempt')).toEqual({ source: 'network' });
    expect(await log.waitFor('start')).toEqual({ source: 'application', role: 'uas' });
    expect(await log.waitFor('stop')).toEqual({ source: 'network', reason: 'normal-release' });
  });
});
