import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prompts } from '../../src/media/prompts.js';
import { callers, operatorPhone, rowsWhenThere, scenario, startCallBench, until, type CallBench } from '../support/call-bench.js';
import { describeRun, flow, requestsOf, runSipp, type SippResult } from '../support/sipp.js';

/**
 * Feature codes from an operator's phone, over real SIP through both benches: digest challenge
 * (407), the state change, the tone on the media server, the switchboard's BYE, the record, and
 * the state in Redis surviving a restart of the switchboard. The bench trusts no source here:
 * feature codes need no route and no trusted source.
 */
let bench: CallBench;
let operatorId: number;
const tones = new Prompts('');

beforeAll(async () => {
  bench = await startCallBench({ TRUSTED_SOURCES: '192.0.2.0/24' });
  operatorId = (await bench.create('/v1/operators', { username: 'dora', password: 'dora-secret', displayName: 'Dora', workNumber: '67001' })).id as number;
});

afterAll(async () => {
  await bench?.close();
});

function dial(code: string, password = 'dora-secret', file = 'feature-code.xml'): Promise<SippResult> {
  return runSipp({
    scenario: scenario(file),
    remote: bench.drachtio.sipAddress,
    transport: 'udp',
    service: code,
    keys: { user: 'dora' },
    extraArgs: ['-au', 'dora', '-ap', password, '-auth_uri', `${code}@${bench.drachtio.sipAddress}`],
    timeoutMs: 15_000,
    name: `feature-${code.slice(1)}`,
  });
}

async function state(): Promise<{ state: string; pending: string | null }> {
  const res = await bench.sb.api(`/v1/operators/${operatorId}/state`);
  return res.body as { state: string; pending: string | null };
}

/** Dials a code while watching the media model for the tone; returns the run and the tone heard. */
async function dialAndHear(code: string): Promise<{ run: SippResult; tone: string | undefined }> {
  const standIn = bench.freeswitch.standIn;
  const heard = standIn?.model
    .waitFor(() => standIn.model.channels().find((c) => c.playing === tones.confirm || c.playing === tones.refuse)?.playing, { timeoutMs: 10_000, description: 'a confirm or refuse tone' })
    .catch(() => undefined);
  const run = await dial(code);
  return { run, tone: await heard };
}

/** The newest record of calls to `code`, once there are `count` of them (the outbox is asynchronous). */
async function lastCdr(code: string, count: number): Promise<Record<string, unknown>> {
  const rows = await rowsWhenThere(bench, 'SELECT * FROM calls WHERE dialled_number = $1 ORDER BY arrived_at DESC', count, [code]);
  return rows[0] as Record<string, unknown>;
}

describe('feature codes', () => {
  it('challenges with 407 and refuses a wrong password with 403, leaving the state alone', async () => {
    const run = await dial('*21', 'wrong', 'feature-code-wrong-password.xml');
    expect(run.passed, describeRun(run)).toBe(true);
    expect(flow(run).filter((l) => !l.includes(' 100 '))).toEqual(['> INVITE', '< 407 INVITE', '> ACK', '> INVITE', '< 403 INVITE', '> ACK']);
    const [, retry] = requestsOf(run, 'sent', 'INVITE');
    expect(retry?.get('Proxy-Authorization')).toMatch(/^Digest /);
    expect((await state()).state).toBe('logged-out');
    const cdr = await lastCdr('*21', 1);
    expect(cdr).toMatchObject({ route_type: null, disposition: 'rejected', hangup_by: 'system', sip_status: 403 });
  });

  it('*21 logs in: 407, 200, the confirm tone, BYE from the switchboard; recorded with its leg', async () => {
    const { run, tone } = await dialAndHear('*21');
    expect(run.passed, describeRun(run)).toBe(true);
    expect(flow(run).filter((l) => !l.includes(' 100 '))).toEqual(['> INVITE', '< 407 INVITE', '> ACK', '> INVITE', '< 200 INVITE', '> ACK', '< BYE', '> 200 BYE']);
    if (bench.freeswitch.standIn) expect(tone).toBe(tones.confirm);
    expect((await state()).state).toBe('available');

    const cdr = await lastCdr('*21', 2);
    expect(cdr).toMatchObject({ route_type: null, disposition: 'answered', hangup_by: 'system', operator_username: 'dora', caller_number: 'dora' });
    const legs = await rowsWhenThere(bench, 'SELECT role, direction, hangup_by FROM call_legs WHERE call_id = $1', 1, [cdr.call_id]);
    expect(legs).toEqual([{ role: 'caller', direction: 'inbound', hangup_by: 'system' }]);
    if (bench.freeswitch.standIn) expect(bench.freeswitch.standIn.model.channels()).toEqual([]);
  });

  it('*23 puts the operator on a break, which survives a restart of the switchboard; *24 brings them back', async () => {
    const brk = await dialAndHear('*23');
    expect(brk.run.passed, describeRun(brk.run)).toBe(true);
    if (bench.freeswitch.standIn) expect(brk.tone).toBe(tones.confirm);
    expect((await state()).state).toBe('on-break');

    await bench.restart();
    expect((await state()).state).toBe('on-break');

    const back = await dialAndHear('*24');
    expect(back.run.passed, describeRun(back.run)).toBe(true);
    if (bench.freeswitch.standIn) expect(back.tone).toBe(tones.confirm);
    expect((await state()).state).toBe('available');
  });

  it('*24 when not on a break plays the refuse tone and changes nothing', async () => {
    const { run, tone } = await dialAndHear('*24');
    expect(run.passed, describeRun(run)).toBe(true);
    if (bench.freeswitch.standIn) expect(tone).toBe(tones.refuse);
    expect(await state()).toMatchObject({ state: 'available', pending: null });
    const cdr = await lastCdr('*24', 2);
    expect(cdr).toMatchObject({ disposition: 'rejected', hangup_by: 'system' });
  });

  it('*23 during a call is a break after the call: confirmed now, applied when the call ends', async () => {
    await bench.create('/v1/routes', { number: '7100', targetType: 'operator', operatorId, allowOutside: true });
    const phone = await operatorPhone(bench, 'dora', 'dora-secret', 'operator-answer.xml', { calls: 1, timeoutMs: 15_000 });
    try {
      const call = callers(bench, 'caller-hangup.xml', '7100', { calls: 1, pauseMs: 1500, timeoutMs: 15_000 });
      await until('dora to be busy', async () => ((await state()).state === 'busy' ? true : undefined));
      const { run, tone } = await dialAndHear('*23');
      expect(run.passed, describeRun(run)).toBe(true);
      if (bench.freeswitch.standIn) expect(tone).toBe(tones.confirm);
      expect(await state()).toMatchObject({ state: 'busy', pending: 'on-break' });
      expect((await call).passed).toBe(true);
      expect((await phone.run.done).passed).toBe(true);
      expect(await until('dora on a break after the call', async () => {
        const s = await state();
        return s.state === 'busy' ? undefined : s;
      })).toMatchObject({ state: 'on-break', pending: null });
    } finally {
      phone.run.kill();
    }
    const back = await dial('*24');
    expect(back.passed, describeRun(back)).toBe(true);
    expect((await state()).state).toBe('available');
  });

  it('*22 logs out', async () => {
    const { run, tone } = await dialAndHear('*22');
    expect(run.passed, describeRun(run)).toBe(true);
    if (bench.freeswitch.standIn) expect(tone).toBe(tones.confirm);
    expect((await state()).state).toBe('logged-out');
    const events = await rowsWhenThere<{ from_state: string; to_state: string }>(
      bench, 'SELECT from_state, to_state FROM operator_events WHERE operator_id = $1 ORDER BY at', 8, [operatorId],
    );
    expect(events.map((e) => `${e.from_state}>${e.to_state}`)).toEqual([
      'logged-out>available', 'available>on-break', 'on-break>available',
      'available>ringing', 'ringing>busy', 'busy>on-break', 'on-break>available',
      'available>logged-out',
    ]);
  });
});
