import type { QueueStore } from '../acd/queue-store.js';
import type { ConfigCache } from '../provisioning/cache.js';
import type { EventBus } from '../redis/events.js';
import type { CallRegistry } from './context.js';
import { Conversation, type ConversationResult } from './conversation.js';
import { QueueCall } from './queue-call.js';

export type ControlResult = 'done' | 'not-found' | 'not-waiting' | 'not-talking' | 'not-consulting' | 'no-route' | 'unreachable';

/** What can be done to a caller who talks to an operator. */
export type ConversationAction =
  | { action: 'transfer'; number: string }
  | { action: 'consult'; number: string }
  | { action: 'complete' }
  | { action: 'cancel' }
  | { action: 'three-way'; number: string };

type Action = { action: 'hangup' } | { action: 'front' } | { action: 'move'; queueId: number } | ConversationAction;

function onConversation(call: Conversation, a: ConversationAction): Promise<ConversationResult> {
  switch (a.action) {
    case 'transfer':
      return call.transfer(a.number);
    case 'consult':
      return call.consult(a.number);
    case 'complete':
      return call.complete();
    case 'cancel':
      return call.cancel();
    case 'three-way':
      return call.threeWay(a.number);
  }
}

/**
 * Acts on live calls for the API, whichever instance owns them: a call is handled where its SIP
 * dialogs are, so a request for another instance's call is sent to that instance through Redis.
 */
export class CallControl {
  constructor(
    private readonly instanceId: string,
    private readonly calls: CallRegistry,
    private readonly queues: QueueStore,
    private readonly settings: ConfigCache,
    private readonly bus: EventBus,
  ) {
    bus.onRequest('call-control', async (e) => ({ ok: true, result: await this.local(String(e.callId), e.request as Action) }));
  }

  private async local(callId: string, request: Action): Promise<ControlResult> {
    const call = this.calls.get(callId);
    if (!call) return 'not-found';
    if (request.action === 'hangup') {
      call.hangup('hung up through the API');
      return 'done';
    }
    if (request.action !== 'front' && request.action !== 'move') {
      return call instanceof Conversation ? onConversation(call, request) : 'not-talking';
    }
    if (!(call instanceof QueueCall)) return 'not-waiting';
    if (request.action === 'front') return (await call.moveToFront()) ? 'done' : 'not-waiting';
    const target = this.settings.queue(request.queueId);
    if (!target) return 'not-found';
    return (await call.moveToQueue(target)) ? 'done' : 'not-waiting';
  }

  private async act(callId: string, request: Action): Promise<ControlResult> {
    const live = await this.queues.getCall(callId);
    if (!live) return 'not-found';
    if (live.owner === this.instanceId) return this.local(callId, request);
    const reply = await this.bus.request(live.owner, { type: 'call-control', callId, request });
    return reply ? (reply.result as ControlResult) : 'unreachable';
  }

  hangup(callId: string): Promise<ControlResult> {
    return this.act(callId, { action: 'hangup' });
  }

  moveToFront(callId: string): Promise<ControlResult> {
    return this.act(callId, { action: 'front' });
  }

  /** Transfers, consultations and three-way calls of a caller who talks to an operator. */
  conversation(callId: string, action: ConversationAction): Promise<ControlResult> {
    return this.act(callId, action);
  }

  moveToQueue(callId: string, queueId: number): Promise<ControlResult> {
    return this.act(callId, { action: 'move', queueId });
  }
}
