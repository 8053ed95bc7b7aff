import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addOperator, callers, operatorPhone, rowsWhenThere, scenario, startCallBench, until, type CallBench, type Phone } from '../support/call-bench.js';
import { RawSipClient } from '../support/raw-sip.js';
import { describeRun, requestsOf, runSipp, type SippResult } from '../support/sipp.js';
import { Softphone } from '../support/softphone.js';
import { ADMIN_KEY, OPERATOR_KEY, SIP_DOMAIN } from '../support/switchboard.js';
import { testServices } from '../support/services.js';
import { mediaDriver, post, roomEnv, type MediaDriver } from './room-bench.js';

/**
 * Voice messages end to end, over real SIP through both benches (or real servers): an operator
 * records a message through the API (their phone rings, they hear the prompt, # ends it; the
 * FreeSWITCH record application writes the file into MESSAGES_DIR), the extension's subscribed
 * phone gets message-summary NOTIFYs (RFC 3842) and an unsubscribed registered phone gets them
 * unsolicited; the owner dials *98 and deletes the message with DTMF (uuid_recv_dtmf, as the
 * room PIN tests send it); the API lists, fetches and deletes.
 */
let bench: CallBench;
let media: MediaDriver;
let redis: Redis;
let alice: { id: number; username: string; password: string };
let alicePhone: Phone;
const dir = mkdtempSync(join(tmpdir(), 'sb-messages-'));

beforeAll(async () => {
  bench = await startCallBench(roomEnv({ MESSAGES_DIR: dir, MESSAGE_MAX_SECONDS: '30' }));
  media = await mediaDriver(bench);
  redis = new Redis(testServices().redisUrl);
  alice = await addOperator(bench, 'alice', '67354', { displayName: 'Alice' });
  alicePhone = await operatorPhone(bench, alice.username, alice.password, 'operator-answer.xml', { calls: 10, timeoutMs: 120_000 });
}, 60_000);

beforeEach(() => media.reset());

afterAll(async () => {
  alicePhone?.run.kill();
  media?.close();
  redis?.disconnect();
  await bench?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function extension(number: string): Promise<void> {
  await bench.create('/v1/extensions', { number, name: `Room ${number}`, password: `${number}-secret` });
}

interface MessageView {
  id: number;
  extension: string;
  fromNumber: string;
  fromName: string;
  callId: string;
  durationS: number;
  sizeBytes: number;
  state: 'new' | 'saved';
}

async function messagesOf(number: string): Promise<MessageView[]> {
  const res = await bench.sb.api(`/v1/extensions/${number}/messages`);
  expect(res.status).toBe(200);
  return (res.body as { items: MessageView[] }).items;
}

/** Has alice record a message of `speakMs` for `number`; returns the stored row's view. */
async function recordByOperator(number: string): Promise<{ callId: string; message: MessageView }> {
  const res = await post(bench.sb, `/v1/extensions/${number}/messages/record`, { operatorId: alice.id });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const callId = (res.body as { callId: string }).callId;
  const uuid = await media.nextPrompt('message-record');
  // Speak a little over the shortest message kept (1 s) after the prompt and tone, then #.
  await new Promise((r) => setTimeout(r, 2_500));
  await media.dtmf(uuid, '#');
  const message = await until(`the message for ${number}`, async () => (await messagesOf(number)).find((m) => m.callId === callId));
  return { callId, message };
}

function subscriber(number: string, notifies: number): Promise<SippResult> {
  return runSipp({
    scenario: scenario('mwi-subscriber.xml'),
    remote: bench.drachtio.sipAddress,
    transport: 'udp',
    service: number,
    keys: { domain: SIP_DOMAIN, expires: 600, notifies },
    extraArgs: ['-au', number, '-ap', `${number}-secret`, '-auth_uri', `${number}@${bench.drachtio.sipAddress}`],
    timeoutMs: 60_000,
    name: `mwi-${number}`,
  });
}

async function subscribed(number: string): Promise<void> {
  await until(`the subscription of ${number}`, async () => ((await redis.hlen(`${bench.sb.config.redisPrefix}mwi:${number}`)) > 0 ? true : undefined));
}

const summaries = (result: SippResult): string[] =>
  requestsOf(result, 'received', 'NOTIFY').map((n) => `${n.get('Subscription-State')?.split(';')[0] ?? ''} ${/Voice-Message: (\S+)/.exec(n.body)?.[1] ?? ''}`);

describe('recorded by an operator through the API', () => {
  it('rings the operator, stores row and WAV, NOTIFYs the subscribed phone 1/0; the API lists, fetches and deletes (NOTIFY 0/0)', async () => {
    await extension('7001');
    const phone = subscriber('7001', 3);
    await subscribed('7001');
    const { callId, message } = await recordByOperator('7001');
    expect(message).toMatchObject({ extension: '7001', fromNumber: '67354', fromName: 'Alice', state: 'new' });
    expect(message.durationS).toBeGreaterThanOrEqual(1);

    // The row and the file agree; the file is a WAV.
    const [row] = await rowsWhenThere<{ path: string; size_bytes: number }>(bench, 'SELECT path, size_bytes FROM messages WHERE id = $1', 1, [message.id]);
    const file = join(dir, row?.path ?? '');
    const bytes = readFileSync(file);
    expect(bytes.length).toBe(row?.size_bytes);
    expect(bytes.subarray(0, 4).toString('ascii')).toBe('RIFF');
    expect(bytes.subarray(8, 12).toString('ascii')).toBe('WAVE');

    const one = await bench.sb.api(`/v1/extensions/7001/messages/${message.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: message.id, sizeBytes: bytes.length });
    const audio = await fetch(`${bench.sb.url}/v1/extensions/7001/messages/${message.id}/audio`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(audio.status).toBe(200);
    expect(audio.headers.get('content-type')).toBe('audio/wav');
    expect(Buffer.from(await audio.arrayBuffer()).equals(bytes)).toBe(true);
    expect((await bench.sb.api(`/v1/extensions/7001/messages/${message.id}/audio`, { key: null })).status).toBe(401);

    expect((await bench.sb.api(`/v1/extensions/7001/messages/${message.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(existsSync(file)).toBe(false);
    expect((await bench.sb.api(`/v1/extensions/7001/messages/${message.id}`)).status).toBe(404);
    expect((await bench.sb.api(`/v1/extensions/7001/messages/${message.id}`, { method: 'DELETE' })).status).toBe(404);

    const result = await phone;
    expect(result.passed, describeRun(result)).toBe(true);
    expect(summaries(result)).toEqual(['active 0/0', 'active 1/0', 'active 0/0', 'terminated 0/0']);
    const [call] = await rowsWhenThere(bench, 'SELECT dialled_number, caller_number, disposition, operator_id FROM calls WHERE call_id = $1', 1, [callId]);
    expect(call).toMatchObject({ dialled_number: '7001', caller_number: '67354', disposition: 'answered', operator_id: alice.id });
  }, 60_000);

  it('refuses unknown extensions and operators, and operator keys naming someone else', async () => {
    await extension('7003');
    expect((await post(bench.sb, '/v1/extensions/7999/messages/record', { operatorId: alice.id })).status).toBe(404);
    expect((await post(bench.sb, '/v1/extensions/7003/messages/record', { operatorId: 9999 })).status).toBe(404);
    expect((await bench.sb.api('/v1/extensions/7999/messages')).status).toBe(404);
    const bob = await addOperator(bench, 'bob', '67355');
    expect((await post(bench.sb, '/v1/extensions/7003/messages/record', { operatorId: bob.id }, OPERATOR_KEY)).status).toBe(403);
    // bob has no phone registered
    expect((await post(bench.sb, '/v1/extensions/7003/messages/record', { operatorId: bob.id })).status).toBe(409);
  });
});

describe('unsolicited indication and the owner\'s mailbox', () => {
  it('a registered phone that never subscribed gets NOTIFY 1/0; the owner dials *98, hears the message and deletes it with 3; NOTIFY 0/0', async () => {
    await extension('7002');
    const guest = await Softphone.start('7002', '7002-secret', SIP_DOMAIN, bench.drachtio.sipAddress);
    try {
      await guest.register();
      const { message } = await recordByOperator('7002');
      const notifyWith = (counts: string) => () => guest.received.find((r) => r.method === 'NOTIFY' && r.body.includes(`Voice-Message: ${counts} (0/0)`));
      const first = await guest.until('an unsolicited NOTIFY 1/0', notifyWith('1/0'));
      expect(first.get('Event')).toBe('message-summary');
      expect(first.get('Content-Type')).toBe('application/simple-message-summary');
      expect(first.body).toContain('Messages-Waiting: yes\r\nMessage-Account: sip:7002@');

      const owner = runSipp({
        scenario: scenario('feature-code.xml'),
        remote: bench.drachtio.sipAddress,
        transport: 'udp',
        service: '*98',
        keys: { user: '7002' },
        extraArgs: ['-au', '7002', '-ap', '7002-secret', '-auth_uri', `*98@${bench.drachtio.sipAddress}`],
        timeoutMs: 40_000,
        name: 'mailbox-7002',
      });
      const uuid = await media.nextPrompt('mailbox-options', 15_000);
      await media.dtmf(uuid, '3');
      await media.nextPrompt('mailbox-message-deleted');
      const result = await owner;
      expect(result.passed, describeRun(result)).toBe(true);
      expect(await messagesOf('7002')).toEqual([]);
      // Heard to its end first (saved: 0/1), then deleted (0/0).
      await guest.until('an unsolicited NOTIFY 0/0', notifyWith('0/0'));
      expect(existsSync(join(dir, '7002'))).toBe(true);
      expect(await rowsWhenThere(bench, 'SELECT id FROM messages WHERE id = $1', 0, [message.id])).toEqual([]);
      const [call] = await rowsWhenThere(bench, "SELECT disposition, hangup_by FROM calls WHERE dialled_number = '*98'", 1);
      expect(call).toMatchObject({ disposition: 'answered', hangup_by: 'system' });
    } finally {
      await guest.close();
    }
  }, 60_000);

  it('*98 from an operator\'s credentials is refused 403', async () => {
    const result = await runSipp({
      scenario: scenario('feature-code-wrong-password.xml'),
      remote: bench.drachtio.sipAddress,
      transport: 'udp',
      service: '*98',
      keys: { user: 'alice' },
      extraArgs: ['-au', 'alice', '-ap', alice.password, '-auth_uri', `*98@${bench.drachtio.sipAddress}`],
      timeoutMs: 15_000,
      name: 'mailbox-operator',
    });
    expect(result.passed, describeRun(result)).toBe(true);
  });
});

describe('a waiting caller', () => {
  it('presses the queue\'s message key, names the extension and records; the queue records the exit', async () => {
    await extension('7004');
    const queueId = (await bench.create('/v1/queues', { number: '7100', name: 'Reception', messageKey: '*', announceIntervalS: 1 })).id as number;
    await bench.create('/v1/routes', { number: '7100', targetType: 'queue', queueId, allowOutside: true });
    const caller = callers(bench, 'caller.xml', '7100', { calls: 1, keys: { prefix: '2301' }, timeoutMs: 40_000 });
    // The position announcement finds the caller's channel on the media server.
    const uuid = await media.nextPrompt('position', 15_000);
    await media.dtmf(uuid, '*');
    await media.nextPrompt('message-extension');
    await media.dtmf(uuid, '7999#');
    await media.nextPrompt('message-no-extension');
    await media.nextPrompt('message-extension');
    await media.dtmf(uuid, '7004#');
    await media.nextPrompt('message-record');
    await new Promise((r) => setTimeout(r, 2_500));
    await media.dtmf(uuid, '#');
    const result = await caller;
    expect(result.passed, describeRun(result)).toBe(true);
    const [message] = await messagesOf('7004');
    expect(message).toMatchObject({ extension: '7004', fromNumber: '23011', state: 'new' });
    const [exit] = await rowsWhenThere<{ event: string; data: Record<string, unknown>; call_id: string }>(
      bench,
      "SELECT event, data, call_id FROM queue_events WHERE queue_id = $1 AND event <> 'enter' ORDER BY at",
      1,
      [queueId],
    );
    expect(exit).toMatchObject({ event: 'exit-overflow', data: { key: '*', to: 'voice-message' }, call_id: message?.callId });
    const [call] = await rowsWhenThere(bench, 'SELECT hangup_by, sip_reason FROM calls WHERE call_id = $1', 1, [message?.callId]);
    expect(call).toMatchObject({ hangup_by: 'system' });
  }, 60_000);
});

describe('SUBSCRIBE refusals', () => {
  it('challenges with 401, and refuses other event packages, other bodies, unknown numbers and short expiries first', async () => {
    await extension('7005');
    const udp = await RawSipClient.udp(bench.drachtio.sipAddress);
    try {
      const subscribe = (user: string, headers: Record<string, string>) => udp.request({ method: 'SUBSCRIBE', uri: udp.uri(user), headers: { Expires: '600', ...headers } });
      const challenged = await subscribe('7005', { Event: 'message-summary' });
      expect(challenged?.status).toBe(401);
      expect(challenged?.headers.get('www-authenticate')).toMatch(/^Digest realm="switchboard.test"/);
      expect((await subscribe('7005', { Event: 'presence' }))?.status).toBe(489);
      expect((await subscribe('7005', { Event: 'message-summary', Accept: 'application/pidf+xml' }))?.status).toBe(406);
      expect((await subscribe('7998', { Event: 'message-summary' }))?.status).toBe(404);
      const brief = await subscribe('7005', { Event: 'message-summary', Expires: '30' });
      expect(brief?.status).toBe(423);
      expect(brief?.headers.get('min-expires')).toBe('60');
    } finally {
      udp.close();
    }
  });
});
