import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { describeRun } from '../support/sipp.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * The event socket to FreeSWITCH is lost with a caller talking to an operator and another
 * waiting, and comes back. The link runs through a TcpProxy the test cuts, so the same test runs
 * against the stand-in and a real FreeSWITCH: what the switchboard sees is what it sees when
 * FreeSWITCH dies or the network between them fails (the event socket reset, then refused).
 * The calls' own media channels (FreeSWITCH's outbound socket per call, SIP and RTP) are not
 * cut: the calls in progress go on, and a waiting caller still reaches the operator (an
 * operator's channel needs SIP and its own socket, not the event socket); only new callers,
 * for whom no media server can be chosen, are refused.
 */
let bench: CallBench;
let proxy: TcpProxy;
let phone: Phone | undefined;
let operatorId: number;
const NUMBER = '8700';
const TALK_MS = 4_000;

interface LiveCall {
  callId: string;
  state: string;
}
interface HealthBody {
  status: string;
  components: { freeswitch: { up: boolean; detail: string } };
}

async function liveCalls(): Promise<LiveCall[]> {
  return ((await bench.sb.api('/v1/calls')).body as { items: LiveCall[] }).items;
}

async function health(): Promise<{ status: number; body: HealthBody }> {
  const res = await bench.sb.api('/health', { key: null });
  return { status: res.status, body: res.body as HealthBody };
}

beforeAll(async () => {
  bench = await startCallBench(async ({ freeswitch }) => {
    proxy = await TcpProxy.start(freeswitch.address, freeswitch.port);
    return { FREESWITCH_ESL: proxy.address };
  });
  const queueId = (await bench.create('/v1/queues', { number: '700', name: 'Media', wrapupS: 0, announceIntervalS: 0 })).id as number;
  await bench.create('/v1/routes', { number: NUMBER, targetType: 'queue', queueId });
  const op = await addOperator(bench, 'fiona', '700', { displayName: 'Fiona' });
  operatorId = op.id;
  await bench.sb.api(`/v1/queues/${queueId}/members/${op.id}`, { method: 'PUT', body: {} });
  phone = await operatorPhone(bench, op.username, op.password, 'operator-hangup.xml', { pauseMs: TALK_MS, calls: 3, timeoutMs: 90_000 });
}, 90_000);

afterAll(async () => {
  phone?.run.kill();
  await bench?.close();
  await proxy?.close();
});

describe('FreeSWITCH connection lost', () => {
  it('says so, refuses new callers with 503, keeps the calls in progress and the waiting caller, reconnects on its own', async () => {
    const talking = callers(bench, 'caller.xml', NUMBER, { calls: 1, name: 'talking', keys: { prefix: '3001' } });
    await until('the first caller connected', async () => ((await liveCalls()).some((c) => c.state === 'connected') ? true : undefined));
    const waiting = callers(bench, 'caller.xml', NUMBER, { calls: 1, name: 'waiting', keys: { prefix: '3002' } });
    await until('the second caller waiting', async () => ((await liveCalls()).some((c) => c.state === 'waiting') ? true : undefined));

    await proxy.sever();
    const down = await until('health to say FreeSWITCH is down', async () => {
      const h = await health();
      return h.body.components.freeswitch.up ? undefined : h;
    });
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('down');

    // A new caller gets a clean 503 at once, without being answered.
    const refused = await callers(bench, 'caller-refused.xml', NUMBER, { calls: 1, name: 'refused', keys: { prefix: '3003' } });
    expect(refused.passed, describeRun(refused)).toBe(true);
    expect(refused.messages.map((m) => m.label)).toContain('< 503 INVITE');
    expect(refused.messages.map((m) => m.label)).not.toContain('< 200 INVITE');

    // The call in progress goes on until the operator hangs up, and ends normally.
    const first = await talking;
    expect(first.passed, describeRun(first)).toBe(true);
    // The waiting caller is served even with the link down: the operator's channel is set up
    // over SIP and the per-call socket, which do not need the event socket.
    await until('the waiting caller connected', async () => ((await liveCalls()).map((c) => c.state).join() === 'connected' ? true : undefined));
    expect((await health()).body.components.freeswitch.up).toBe(false);

    await proxy.restore();
    const back = await until('health ok again', async () => {
      const h = await health();
      return h.body.status === 'ok' ? h : undefined;
    }, 15_000);
    expect(back.status).toBe(200);

    // Reconnected: new callers get through again.
    const second = await waiting;
    expect(second.passed, describeRun(second)).toBe(true);
    const after = await callers(bench, 'caller.xml', NUMBER, { calls: 1, name: 'after', keys: { prefix: '3004' } });
    expect(after.passed, describeRun(after)).toBe(true);

    const rows = await rowsWhenThere<{ caller_number: string; disposition: string; sip_status: number | null }>(
      bench, 'SELECT caller_number, disposition, sip_status FROM calls ORDER BY caller_number', 4,
    );
    expect(rows).toEqual([
      { caller_number: '30011', disposition: 'answered', sip_status: null },
      { caller_number: '30021', disposition: 'answered', sip_status: null },
      { caller_number: '30031', disposition: 'failed', sip_status: 503 },
      { caller_number: '30041', disposition: 'answered', sip_status: null },
    ]);
    const events = await bench.db.query<{ event: string; n: string }>(
      `SELECT event, count(*) AS n FROM queue_events GROUP BY event ORDER BY event`,
    );
    // Three callers entered, were offered once each and connected; no failed offers.
    expect(Object.fromEntries(events.rows.map((r) => [r.event, Number(r.n)]))).toMatchObject({ enter: 3, offer: 3, connect: 3 });
    expect(events.rows.map((r) => r.event)).not.toContain('ring-no-answer');
    const state = (await bench.sb.api(`/v1/operators/${operatorId}/state`)).body as { state: string };
    expect(state.state).toBe('available');
    expect(await liveCalls()).toEqual([]);
    const standIn = bench.freeswitch.standIn;
    if (standIn) await until('no media channels left', async () => (standIn.model.channels().length === 0 ? true : undefined));
  }, 120_000);
});
