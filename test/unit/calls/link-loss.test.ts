import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CallRegistry, type ActiveCall } from '../../../src/calls/context.js';
import { LINK_LOST_REASON, LinkLoss } from '../../../src/calls/link-loss.js';

/** A call that ends when hung up, and remembers why. */
function fakeCall(callId: string): ActiveCall & { hungUp: string[]; end(): void } {
  let end!: () => void;
  const done = new Promise<void>((r) => (end = r));
  const hungUp: string[] = [];
  return {
    callId,
    done,
    hungUp,
    end,
    waiting: () => undefined,
    hangup(reason) {
      hungUp.push(reason);
      end();
    },
  };
}

const silent = pino({ level: 'silent' });

describe('calls held over a lost drachtio-server connection', () => {
  it('hangs up, once the link is back, every call held when it dropped and still going', async () => {
    const calls = new CallRegistry();
    const talking = fakeCall('a');
    const waiting = fakeCall('b');
    const endedMeanwhile = fakeCall('c');
    for (const c of [talking, waiting, endedMeanwhile]) calls.add(c);
    const loss = new LinkLoss(calls, silent);

    loss.lost();
    endedMeanwhile.end();
    await endedMeanwhile.done;
    await Promise.resolve();
    const later = fakeCall('d');
    calls.add(later);
    loss.restored();

    expect(talking.hungUp).toEqual([LINK_LOST_REASON]);
    expect(waiting.hungUp).toEqual([LINK_LOST_REASON]);
    expect(endedMeanwhile.hungUp).toEqual([]);
    // A call that began on the new connection hears its parties: it goes on.
    expect(later.hungUp).toEqual([]);
  });

  it('ends the stage a call has moved on to under the same id', () => {
    const calls = new CallRegistry();
    calls.add(fakeCall('a'));
    const loss = new LinkLoss(calls, silent);
    loss.lost();
    const conversation = fakeCall('a');
    calls.add(conversation);
    loss.restored();
    expect(conversation.hungUp).toEqual([LINK_LOST_REASON]);
  });

  it('does nothing when the link comes back a second time', () => {
    const calls = new CallRegistry();
    const loss = new LinkLoss(calls, silent);
    loss.lost();
    const call = fakeCall('a');
    calls.add(call);
    loss.restored();
    loss.restored();
    expect(call.hungUp).toEqual([]);
  });
});
