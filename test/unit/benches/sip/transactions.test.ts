/**
 * The four RFC 3261 transaction state machines against fake timers: which timer fires when,
 * what goes out, and which state follows (Figures 5 to 8, Table 4; RFC 6026 Accepted).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_TIMERS,
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  SipRequest,
  SipResponse,
  TransactionLayer,
  parseMessage,
  type ClientTransactionUser,
  type TransactionContext,
} from '../../../benches/sip/index.js';

const T1 = DEFAULT_TIMERS.T1;
const T2 = DEFAULT_TIMERS.T2;
const T4 = DEFAULT_TIMERS.T4;

function request(method: string, branch = 'z9hG4bKtest'): SipRequest {
  return new SipRequest(method, 'sip:bob@127.0.0.1', [
    { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:5060;branch=${branch}` },
    { name: 'From', value: '<sip:alice@127.0.0.1>;tag=a' },
    { name: 'To', value: '<sip:bob@127.0.0.1>' },
    { name: 'Call-ID', value: 'call-1' },
    { name: 'CSeq', value: `1 ${method}` },
  ]);
}

function response(req: SipRequest, status: number): SipResponse {
  const res = new SipResponse(status, 'X');
  for (const h of ['Via', 'From', 'Call-ID', 'CSeq']) res.add(h, req.get(h) ?? '');
  res.add('To', `${req.get('To')};tag=b`);
  return res;
}

/** A context whose "transport" records what was sent. */
function context(reliable: boolean): { ctx: TransactionContext; sent: string[]; terminated: () => boolean } {
  const sent: string[] = [];
  let done = false;
  const ctx: TransactionContext = {
    timers: DEFAULT_TIMERS,
    reliable,
    destination: { protocol: reliable ? 'tcp' : 'udp', address: '127.0.0.1', port: 5060 },
    send: (text) => {
      sent.push(text);
      return Promise.resolve({ protocol: 'udp', address: '127.0.0.1', port: 5060, localAddress: '127.0.0.1', localPort: 5070 });
    },
    terminated: () => (done = true),
  };
  return { ctx, sent, terminated: () => done };
}

function tu(): ClientTransactionUser & { responses: number[]; timeouts: number } {
  const t = {
    responses: [] as number[],
    timeouts: 0,
    onResponse: (r: SipResponse) => t.responses.push(r.status),
    onTimeout: () => t.timeouts++,
    onTransportError: () => undefined,
  };
  return t;
}

const methods = (sent: string[]): string[] => sent.map((s) => parseMessage(s).startLine.split(' ')[0] ?? '');

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('INVITE client transaction (17.1.1)', () => {
  it('retransmits on Timer A (T1, doubling) over UDP and times out on Timer B (64*T1)', async () => {
    const { ctx, sent, terminated } = context(false);
    const user = tu();
    const txn = new InviteClientTransaction('k', request('INVITE'), ctx, user);
    txn.start();
    const at = async (ms: number): Promise<void> => {
      await vi.advanceTimersByTimeAsync(ms);
    };
    expect(sent).toHaveLength(1);
    await at(T1);
    expect(sent).toHaveLength(2);
    await at(2 * T1);
    expect(sent).toHaveLength(3);
    await at(4 * T1);
    expect(sent).toHaveLength(4);
    await at(64 * T1 - 7 * T1 - 1);
    expect(user.timeouts).toBe(0);
    await at(1);
    expect(user.timeouts).toBe(1);
    expect(txn.state).toBe('terminated');
    expect(terminated()).toBe(true);
    // A fires at 1,3,7,15,31,63 T1: six retransmissions before B at 64 T1.
    expect(sent).toHaveLength(7);
  });

  it('stops Timer A in Proceeding; a 2xx goes to Accepted and each 2xx reaches the TU (RFC 6026)', async () => {
    const { ctx, sent } = context(false);
    const user = tu();
    const req = request('INVITE');
    const txn = new InviteClientTransaction('k', req, ctx, user);
    txn.start();
    txn.receiveResponse(response(req, 180));
    expect(txn.state).toBe('proceeding');
    await vi.advanceTimersByTimeAsync(10 * T1);
    expect(sent).toHaveLength(1);
    txn.receiveResponse(response(req, 200));
    txn.receiveResponse(response(req, 200));
    expect(txn.state).toBe('accepted');
    expect(user.responses).toEqual([180, 200, 200]);
    expect(sent).toHaveLength(1); // the ACK for a 2xx is the TU's
    await vi.advanceTimersByTimeAsync(64 * T1);
    expect(txn.state).toBe('terminated'); // Timer M
  });

  it('ACKs a non-2xx with the INVITE branch, re-ACKs retransmissions, and ends on Timer D', async () => {
    const { ctx, sent } = context(false);
    const user = tu();
    const req = request('INVITE');
    const txn = new InviteClientTransaction('k', req, ctx, user);
    txn.start();
    txn.receiveResponse(response(req, 486));
    txn.receiveResponse(response(req, 486));
    expect(methods(sent)).toEqual(['INVITE', 'ACK', 'ACK']);
    const ack = parseMessage(sent[1] ?? '');
    expect(ack.topVia.branch).toBe('z9hG4bKtest');
    expect(ack.toTag).toBe('b');
    expect(ack.cseq).toEqual({ seq: 1, method: 'ACK' });
    expect(user.responses).toEqual([486]);
    await vi.advanceTimersByTimeAsync(64 * T1 - 1);
    expect(txn.state).toBe('completed');
    await vi.advanceTimersByTimeAsync(1);
    expect(txn.state).toBe('terminated');
  });

  it('does not retransmit over TCP and leaves Completed at once (Timer D = 0)', async () => {
    const { ctx, sent } = context(true);
    const req = request('INVITE');
    const txn = new InviteClientTransaction('k', req, ctx, tu());
    txn.start();
    await vi.advanceTimersByTimeAsync(10 * T1);
    expect(sent).toHaveLength(1);
    txn.receiveResponse(response(req, 503));
    await vi.advanceTimersByTimeAsync(0);
    expect(txn.state).toBe('terminated');
  });
});

describe('non-INVITE client transaction (17.1.2)', () => {
  it('retransmits on Timer E, doubling up to T2, and times out on Timer F', async () => {
    const { ctx, sent } = context(false);
    const user = tu();
    const txn = new NonInviteClientTransaction('k', request('OPTIONS'), ctx, user);
    txn.start();
    const fired: number[] = [];
    txn.onTimerFired((name) => name === 'E' && fired.push(Date.now()));
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(64 * T1);
    const offsets = fired.map((t) => t - start);
    expect(offsets.slice(0, 6)).toEqual([T1, 3 * T1, 7 * T1, 15 * T1, 15 * T1 + T2, 15 * T1 + 2 * T2]);
    expect(user.timeouts).toBe(1);
    expect(txn.state).toBe('terminated');
    expect(sent.length).toBe(1 + offsets.filter((o) => o < 64 * T1).length);
  });

  it('retransmits every T2 in Proceeding and waits Timer K (T4) in Completed over UDP', async () => {
    const { ctx, sent } = context(false);
    const req = request('REGISTER');
    const txn = new NonInviteClientTransaction('k', req, ctx, tu());
    txn.start();
    txn.receiveResponse(response(req, 100));
    await vi.advanceTimersByTimeAsync(T1); // Timer E was already armed at T1
    const before = sent.length;
    await vi.advanceTimersByTimeAsync(2 * T2);
    expect(sent.length - before).toBe(2);
    txn.receiveResponse(response(req, 200));
    expect(txn.state).toBe('completed');
    await vi.advanceTimersByTimeAsync(T4 - 1);
    expect(txn.state).toBe('completed');
    await vi.advanceTimersByTimeAsync(1);
    expect(txn.state).toBe('terminated');
  });
});

describe('INVITE server transaction (17.2.1)', () => {
  it('retransmits a non-2xx final on Timer G up to T2 and gives up on Timer H', async () => {
    const { ctx, sent } = context(false);
    const req = request('INVITE');
    const txn = new InviteServerTransaction('k', req, ctx);
    let timedOut = false;
    txn.tu = { onTimeout: () => (timedOut = true) };
    txn.respond(response(req, 486));
    expect(txn.state).toBe('completed');
    const g: number[] = [];
    const start = Date.now();
    txn.onTimerFired((n) => n === 'G' && g.push(Date.now() - start));
    await vi.advanceTimersByTimeAsync(64 * T1);
    expect(g.slice(0, 5)).toEqual([T1, 3 * T1, 7 * T1, 15 * T1, 15 * T1 + T2]);
    expect(timedOut).toBe(true);
    expect(txn.state).toBe('terminated');
    expect(sent.length).toBe(1 + g.length);
  });

  it('goes to Confirmed on the ACK and ends on Timer I (T4)', async () => {
    const { ctx, sent } = context(false);
    const req = request('INVITE');
    const txn = new InviteServerTransaction('k', req, ctx);
    txn.respond(response(req, 100));
    txn.receiveRequest(req); // retransmitted INVITE: the last provisional again
    expect(sent).toHaveLength(2);
    txn.respond(response(req, 404));
    const ack = request('ACK');
    txn.receiveRequest(ack);
    expect(txn.state).toBe('confirmed');
    await vi.advanceTimersByTimeAsync(T4);
    expect(txn.state).toBe('terminated');
    expect(sent).toHaveLength(3);
  });

  it('after a 2xx is Accepted: absorbs INVITE retransmissions, ends on Timer L', async () => {
    const { ctx, sent } = context(false);
    const req = request('INVITE');
    const txn = new InviteServerTransaction('k', req, ctx);
    txn.respond(response(req, 200));
    expect(txn.state).toBe('accepted');
    txn.receiveRequest(req);
    expect(sent).toHaveLength(1);
    expect(txn.respond(response(req, 200))).toBe(true); // the core's 2xx retransmission
    expect(txn.respond(response(req, 486))).toBe(false);
    await vi.advanceTimersByTimeAsync(64 * T1);
    expect(txn.state).toBe('terminated');
  });
});

describe('non-INVITE server transaction (17.2.2)', () => {
  it('answers retransmissions with the last response and ends on Timer J (64*T1 UDP, 0 TCP)', async () => {
    for (const reliable of [false, true]) {
      const { ctx, sent } = context(reliable);
      const req = request('OPTIONS');
      const txn = new NonInviteServerTransaction('k', req, ctx);
      txn.receiveRequest(req); // Trying: absorbed
      expect(sent).toHaveLength(0);
      txn.respond(response(req, 200));
      txn.receiveRequest(req);
      expect(sent).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(reliable ? 0 : 64 * T1 - 1);
      expect(txn.state).toBe(reliable ? 'terminated' : 'completed');
      await vi.advanceTimersByTimeAsync(1);
      expect(txn.state).toBe('terminated');
    }
  });
});

describe('transaction matching (17.1.3, 17.2.3)', () => {
  it('matches the non-2xx ACK to its INVITE but not an ACK for a 2xx; CANCEL finds its INVITE', () => {
    const layer = new TransactionLayer();
    const { ctx } = context(false);
    const invite = request('INVITE', 'z9hG4bKinv');
    const server = layer.createServer(invite, ctx);
    expect(layer.matchRequest(invite)).toBe(true); // retransmission
    server.respond(response(invite, 486));
    expect(layer.matchRequest(request('ACK', 'z9hG4bKinv'))).toBe(true);
    expect(layer.matchRequest(request('ACK', 'z9hG4bKother'))).toBe(false);
    const cancel = request('CANCEL', 'z9hG4bKinv');
    expect(layer.matchRequest(cancel)).toBe(false); // a transaction of its own
    expect(layer.findInviteServer(cancel)).toBe(server);
    layer.destroyAll();
  });

  it('matches responses by branch and CSeq method', () => {
    const layer = new TransactionLayer();
    const { ctx } = context(false);
    const req = request('OPTIONS', 'z9hG4bKopt');
    const user = tu();
    layer.createClient(req, ctx, user).start();
    expect(layer.matchResponse(response(req, 200))).toBe(true);
    const other = response(req, 200);
    other.set('CSeq', '1 INVITE');
    expect(layer.matchResponse(other)).toBe(false);
    expect(user.responses).toEqual([200]);
    layer.destroyAll();
  });
});
