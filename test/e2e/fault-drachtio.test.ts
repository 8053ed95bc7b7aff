import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun } from '../support/sipp.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * The switchboard's connection to drachtio-server is lost with a caller talking to an operator
 * and another waiting, and comes back. The connection runs through a TcpProxy the test cuts, so
 * the same test runs against the stand-in and a real drachtio-server.
 *
 * drachtio-server routes a dialog's requests only to the connection that made it, so the calls
 * held when the link dropped cannot hear their parties any more: the switchboard ends them once
 * it is back (BYE to every party, one record each) and takes new calls as before.
 */
let bench: CallBench;
let proxy: TcpProxy;
let phone: Phone | undefined;
let operatorId: number;
const NUMBER = '8800';

interface LiveCall {
  callId: string;
  state: string;
}
interface HealthBody {
  status: string;
  components: { drachtio: { up: boolean } };
}

async function liveCalls(): Promise<LiveCall[]> {
  return ((await bench.sb.api('/v1/calls')).body as { items: LiveCall[] }).items;
}

async function health(): Promise<{ status: number; body: HealthBody }> {
  const res = await bench.sb.api('/health', { key: null });
  return { status: res.status, body: res.body as HealthBody };
}

beforeAll(async () => {
  bench = await startCallBench(async ({ drachtio }) => {
    proxy = await TcpProxy.start(drachtio.host, drachtio.port);
    return { DRACHTIO_HOST: '127.0.0.1', DRACHTIO_PORT: String(proxy.port) };
  });
  const queueId = (await bench.create('/v1/queues', { number: '800', name: 'Signalling', wrapupS: 0, announceIntervalS: 0 })).id as number;
  await bench.create('/v1/routes', { number: NUMBER, targetType: 'queue', queueId });
  const op = await addOperator(bench, 'dora', '800', { displayName: 'Dora' });
  operatorId = op.id;
  await bench.sb.api(`/v1/queues/${queueId}/members/${op.id}`, { method: 'PUT', body: {} });
  // The operator never hangs up: the switchboard's BYE (or the caller's) ends each call.
  phone = await operatorPhone(bench, op.username, op.password, 'operator-answer.xml', { calls: 3, timeoutMs: 90_000 });
}, 90_000);

afterAll(async () => {
  phone?.run.kill();
  await bench?.close();
  await proxy?.close();
});

describe('drachtio-server connection lost and back', () => {
  it('reconnects on its own, ends the calls it can no longer hear with one record each, and takes new calls', async () => {
    const talking = callers(bench, 'caller.xml', NUMBER, { calls: 1, name: 'talking', keys: { prefix: '4001' } });
    await until('the first caller connected', async () => ((await liveCalls()).some((c) => c.state === 'connected') ? true : undefined));
    const waiting = callers(bench, 'caller.xml', NUMBER, { calls: 1, name: 'waiting', keys: { prefix: '4002' } });
    await until('the second caller waiting', async () => ((await liveCalls()).some((c) => c.state === 'waiting') ? true : undefined));

    await proxy.sever();
    const down = await until('health to say drachtio-server is down', async () => {
      const h = await health();
      return h.body.components.drachtio.up ? undefined : h;
    });
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('down');

    // With no application connected, drachtio-server itself refuses new callers.
    const refused = await callers(bench, 'caller-refused.xml', NUMBER, { calls: 1, name: 'refused', keys: { prefix: '4003' } });
    expect(refused.passed, describeRun(refused)).toBe(true);
    expect(refused.messages.map((m) => m.label)).toContain('< 503 INVITE');

    await proxy.restore();
    const back = await until('health ok again', async () => {
      const h = await health();
      return h.body.status === 'ok' ? h : undefined;
    }, 15_000);
    expect(back.status).toBe(200);

    // Both callers get the switchboard's BYE (so does the operator's phone), and pass.
    const first = await talking;
    expect(first.passed, describeRun(first)).toBe(true);
    const second = await waiting;
    expect(second.passed, describeRun(second)).toBe(true);
    await until('no calls left', async () => ((await liveCalls()).length === 0 ? true : undefined));
    await until('the operator free', async () => (((await bench.sb.api(`/v1/operators/${operatorId}/state`)).body as { state: string }).state === 'available' ? true : undefined));

    // A new call works as before: the operator answers, the caller hangs up.
    const after = await callers(bench, 'caller-talk.xml', NUMBER, { calls: 1, name: 'after', keys: { prefix: '4004', stay_ms: 1500 } });
    expect(after.passed, describeRun(after)).toBe(true);

    // One record per call, none twice: the talking caller answered and ended by the switchboard,
    // the waiting one failed (never served), the new one answered as usual.
    const rows = await rowsWhenThere<{ caller_number: string; disposition: string; hangup_by: string }>(
      bench, 'SELECT caller_number, disposition, hangup_by FROM calls ORDER BY caller_number', 3,
    );
    expect(rows).toEqual([
      { caller_number: '40011', disposition: 'answered', hangup_by: 'system' },
      { caller_number: '40021', disposition: 'failed', hangup_by: 'system' },
      { caller_number: '40041', disposition: 'answered', hangup_by: 'caller' },
    ]);
    const legs = await rowsWhenThere<{ caller_number: string; role: string; n: number }>(
      bench,
      `SELECT c.caller_number, l.role, count(*)::int AS n FROM call_legs l JOIN calls c USING (call_id)
        GROUP BY 1, 2 ORDER BY 1, 2`,
      5,
    );
    expect(legs).toEqual([
      { caller_number: '40011', role: 'caller', n: 1 },
      { caller_number: '40011', role: 'operator', n: 1 },
      { caller_number: '40021', role: 'caller', n: 1 },
      { caller_number: '40041', role: 'caller', n: 1 },
      { caller_number: '40041', role: 'operator', n: 1 },
    ]);
    const events = await bench.db.query<{ event: string; n: number }>(`SELECT event, count(*)::int AS n FROM queue_events GROUP BY event ORDER BY event`);
    expect(Object.fromEntries(events.rows.map((r) => [r.event, r.n]))).toEqual({ enter: 3, offer: 2, connect: 2, 'complete-caller': 1 });
    expect(await liveCalls()).toEqual([]);
    const standIn = bench.freeswitch.standIn;
    if (standIn) await until('no media channels left', async () => (standIn.model.channels().length === 0 ? true : undefined));
  }, 120_000);
});
