/**
 * Which app gets a new request: 503 when no app is routed for the method, round-robin over
 * the apps that are (client-controller.cpp selectClientForRequestOutsideDialog).
 */
import type Srf from 'drachtio-srf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disconnectSrf, useDrachtio, type DrachtioTarget } from '../../support/drachtio-env.js';
import { flow, responsesOf } from '../../support/sipp.js';
import { EventLog } from './apps/event-log.js';
import { callSipp, connectFor, expectPassed, transportsUnderTest, type Bench } from './helpers.js';

let target: DrachtioTarget;

beforeAll(async () => {
  target = await useDrachtio();
});
afterAll(async () => {
  await target?.stop();
});

const bench = (): Bench => ({ target }) as Bench;

describe.each(transportsUnderTest())('routing new requests over %s', (transport) => {
  it('answers 503 when no app takes the method (OPTIONS; INVITE after 100 Trying)', async () => {
    const options = await callSipp(bench(), transport, 'uac-options-503.xml');
    expectPassed(options);
    const invite = await callSipp(bench(), transport, 'uac-invite-503.xml');
    expectPassed(invite);
    expect(flow(invite)).toEqual(['> INVITE', '< 100 INVITE', '< 503 INVITE', '> ACK']);
  });

  it('spreads new requests round-robin over the apps routed for them', async () => {
    const log = new EventLog();
    const apps: Srf[] = [];
    for (const name of ['A', 'B']) {
      apps.push(
        await connectFor(target, ['options'], () => (_req, res) => {
          log.add('options', name);
          res.send(200, { headers: { 'X-App': name } });
        }),
      );
    }
    try {
      const result = await callSipp(bench(), transport, 'uac-options.xml', { calls: 4, rate: 20 });
      expectPassed(result);
      const answeredBy = responsesOf(result, 'received', 200).map((r) => r.get('X-App'));
      expect(answeredBy).toHaveLength(4);
      expect(answeredBy.filter((a) => a === 'A')).toHaveLength(2);
      expect(answeredBy.filter((a) => a === 'B')).toHaveLength(2);
      // Strictly alternating, whoever goes first.
      expect(answeredBy[0]).not.toBe(answeredBy[1]);
      expect(answeredBy[2]).toBe(answeredBy[0]);
      expect(answeredBy[3]).toBe(answeredBy[1]);
    } finally {
      await Promise.all(apps.map(disconnectSrf));
    }
  });
});
