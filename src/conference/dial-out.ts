/**
 * Dial-out from the API: a supervisor adds a participant to a room by ringing an operator's
 * registered phones (named by operator id, or by a number whose route leads to an operator, or
 * an operator's work number). The switchboard has no trunks, so those phones are what it can
 * reach. The participant's call is a call of its own (its own call id and record, route type
 * 'room', one outbound leg with role 'guest') owned by the instance that took the request.
 *
 * What can be known at once is answered at once (no such operator, not available, no phone
 * registered, room locked, no media server); the ring's outcome comes later: the participant
 * appears among the room's members, or a `room` event `dial-out-failed` is published (and the
 * call's record says failed, with the phone's SIP status).
 *
 * The operator is reserved for the call as for a direct call (compare-and-set from available),
 * so no queue offers them a caller while they ring or sit in the room.
 */
import { randomUUID } from 'node:crypto';
import type Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import { LEASE_MARGIN_MS, MAX_MISSES_OUTSIDE_QUEUES } from '../acd/operator-rules.js';
import { hangUpDialog, settleOnce } from '../calls/arrival.js';
import type { ActiveCall, CallContext } from '../calls/context.js';
import { OperatorRing } from '../calls/operator-ring.js';
import { CallRecorder, type LegRecorder } from '../cdr/call-recorder.js';
import { callLogger, type Logger } from '../log.js';
import { isConnected } from '../media/answer.js';
import type { Operator, Room } from '../provisioning/types.js';
import type { LeftHow } from './membership.js';
import { RoomMember } from './room-member.js';
import type { MemberEntry } from './room-store.js';
import type { Rooms } from './rooms.js';
import { releaseEndpoint } from '../media/endpoint.js';

export interface DialOutRequest {
  number?: string;
  operatorId?: number;
}

export type DialOutResult =
  | { ok: true; callId: string; operatorId: number }
  | { ok: false; status: 400 | 404 | 409 | 503; message: string; field?: string };

/** The operator a dial-out request names; a failure result if it names none. */
export function operatorFor(ctx: CallContext, r: DialOutRequest): Operator | DialOutResult {
  if (r.operatorId !== undefined) return ctx.settings.operator(r.operatorId) ?? { ok: false, status: 404, message: 'operator not found', field: 'operatorId' };
  const number = r.number ?? '';
  const route = ctx.settings.route(number);
  const byRoute = route?.targetType === 'operator' && route.operatorId !== null ? ctx.settings.operator(route.operatorId) : undefined;
  const operator = byRoute ?? ctx.settings.operators().find((o) => o.workNumber === number);
  return operator ?? { ok: false, status: 400, message: 'number does not lead to an operator (a route of target type operator, or a work number)', field: 'number' };
}

/** Checks what can be checked now, reserves the operator and starts ringing. */
export async function dialOut(ctx: CallContext, rooms: Rooms, room: Room, r: DialOutRequest): Promise<DialOutResult> {
  const operator = operatorFor(ctx, r);
  if ('ok' in operator) return operator;
  if ((await rooms.store.state(room.id)).locked) return { ok: false, status: 409, message: 'the room is locked; unlock it to add a participant' };
  const contacts = (await ctx.registrar.contacts(operator.username)).map((b) => b.contact);
  if (contacts.length === 0) return { ok: false, status: 409, message: `operator ${operator.username} has no phone registered` };
  const ms = ctx.media.pick();
  if (!ms) return { ok: false, status: 503, message: 'no media server' };
  const callId = randomUUID();
  const ringMs = ctx.config.directRingTimeoutS * 1000;
  try {
    await ctx.operators.apply(operator.id, { type: 'reserve', callId, instance: ctx.instanceId, leaseMs: ringMs + LEASE_MARGIN_MS });
  } catch (err) {
    if ((err as Error).name !== 'TransitionRefused') throw err;
    return { ok: false, status: 409, message: `operator ${operator.username} is not available (${(err as Error).message})` };
  }
  const call = new DialOutCall(ctx, rooms, room, operator, callId, r.number ?? operator.workNumber);
  ctx.calls.add(call);
  call.ring(ms, contacts, ringMs);
  return { ok: true, callId, operatorId: operator.id };
}

interface Ending {
  how: LeftHow;
  hangupBy: 'operator' | 'system';
  reason: string;
}

export class DialOutCall implements ActiveCall {
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  private readonly log: Logger;
  private readonly recorder: CallRecorder;
  private readonly leg: LegRecorder;
  private readonly startedAt = Date.now();
  private ringing: OperatorRing | undefined;
  private ringTimer: NodeJS.Timeout | undefined;
  private dialog: Srf.Dialog | undefined;
  private endpoint: Mrf.Endpoint | undefined;
  private member: RoomMember | undefined;
  private cancelled = false;
  private finished = false;

  constructor(
    private readonly ctx: CallContext,
    private readonly rooms: Rooms,
    private readonly room: Room,
    private readonly operator: Operator,
    readonly callId: string,
    private readonly dialled: string,
  ) {
    this.log = callLogger(ctx.log, callId);
    this.recorder = new CallRecorder(
      { callId, instanceId: ctx.instanceId, callerNumber: room.number, callerName: room.name, dialledNumber: dialled, arrivedAt: this.startedAt },
      (rec) => ctx.record(rec),
      randomUUID,
    );
    this.recorder.routed('room');
    this.recorder.offer({ id: operator.id, username: operator.username }, this.startedAt);
    this.leg = this.recorder.leg('guest', 'outbound', '', operator.username, this.startedAt, operator.id);
  }

  waiting(): undefined {
    return undefined;
  }

  ring(ms: Mrf.MediaServer, contacts: string[], ringMs: number): void {
    this.log.info({ room: this.room.number, operator: this.operator.username, phones: contacts.length }, 'dialling out into the room');
    void this.publishLive('offering');
    this.ringing = new OperatorRing(
      this.ctx.srf,
      ms,
      {
        contacts,
        username: this.operator.username,
        domain: this.ctx.config.sipDomain,
        fromNumber: this.room.number,
        fromName: `Room ${this.room.name}`,
        headers: { 'X-Call-ID': this.callId },
      },
      { answered: (dialog, endpoint) => void this.answered(dialog, endpoint), failed: (status, reason) => this.failed(status, reason) },
      this.log,
    );
    this.ringTimer = setTimeout(() => this.cancelRing(), ringMs);
    void this.ringing.start();
  }

  hangup(reason: string): void {
    if (this.finished) return;
    if (!this.dialog) return this.cancelRing();
    hangUpDialog(this.dialog);
    void this.finish({ how: 'system', hangupBy: 'system', reason });
  }

  /** Stops ringing: the cancelled ring reports a failure (487), which ends the call. */
  private cancelRing(): void {
    this.cancelled = true;
    this.ringing?.cancel();
  }

  private async answered(dialog: Srf.Dialog, endpoint: Mrf.Endpoint): Promise<void> {
    clearTimeout(this.ringTimer);
    if (this.cancelled || this.finished) {
      // The phone answered just as the ring was given up: it is not wanted any more.
      hangUpDialog(dialog);
      await releaseEndpoint(endpoint);
      return this.failed(487, 'answered after the ring was cancelled');
    }
    this.dialog = dialog;
    this.endpoint = endpoint;
    const at = Date.now();
    this.leg.answered(at);
    dialog.on('destroy', () => void this.finish({ how: 'hangup', hangupBy: 'operator', reason: 'participant hung up' }));
    endpoint.on('destroy', () => this.hangup('media server ended the participant\'s channel'));
    await this.ctx.operators.tryApply(this.operator.id, { type: 'answer', callId: this.callId }).catch(() => undefined);
    if (!isConnected(dialog)) return this.finish({ how: 'hangup', hangupBy: 'operator', reason: 'participant hung up' });
    await this.ctx.queues.updateCall(this.callId, { state: 'connected', answeredAt: at }).catch(() => undefined);
    await this.admit(at);
  }

  private async admit(at: number): Promise<void> {
    const entry: MemberEntry = {
      callId: this.callId,
      owner: this.ctx.instanceId,
      number: this.dialled,
      name: this.operator.displayName,
      role: 'member',
      direction: 'outbound',
      state: 'waiting',
      memberId: null,
      muted: false,
      joinedAt: at,
      operatorId: this.operator.id,
    };
    const admission = await this.rooms.store.admit(this.room.id, entry, this.room.maxMembers, randomUUID()).catch((err: Error) => err);
    if (admission instanceof Error || !admission.admitted) {
      const why = admission instanceof Error ? 'room state unavailable' : `room ${admission.why}`;
      this.log.info({ room: this.room.number, why }, 'participant answered but cannot enter the room');
      const prompt = admission instanceof Error ? 'goodbye' : admission.why === 'locked' ? 'room-locked' : 'room-full';
      await this.endpoint?.play(this.ctx.prompts.file(prompt)).catch(() => undefined);
      return this.putOut('system', why);
    }
    if (this.finished) {
      await this.rooms.store.leave(this.room.id, this.callId).catch(() => undefined);
      return;
    }
    this.recorder.answered(at, { id: this.operator.id, username: this.operator.username });
    this.member = new RoomMember(
      this.rooms,
      this.room,
      {
        callId: this.callId,
        log: this.log,
        number: this.dialled,
        name: this.operator.displayName,
        role: 'member',
        direction: 'outbound',
        operatorId: this.operator.id,
        endpoint: this.endpoint as Mrf.Endpoint,
        sessionId: admission.sessionId,
        joinedAt: at,
      },
      (how, reason) => this.putOut(how, reason),
    );
    await this.member.start();
  }

  private putOut(how: LeftHow, reason: string): void {
    if (this.finished) return;
    if (this.dialog) hangUpDialog(this.dialog);
    void this.finish({ how, hangupBy: 'system', reason });
  }

  private failed(status: number, reason: string): void {
    clearTimeout(this.ringTimer);
    if (this.finished) return;
    this.finished = true;
    const at = Date.now();
    void this.ctx.operators.tryApply(this.operator.id, { type: 'release', callId: this.callId, missed: false, maxMisses: MAX_MISSES_OUTSIDE_QUEUES }).catch(() => undefined);
    this.leg.end(at, null, status, reason);
    this.recorder.end({ at, hangupBy: 'system', sipStatus: status, sipReason: reason, disposition: 'failed' });
    this.ctx.bus.publish({ type: 'room', what: 'dial-out-failed', roomId: this.room.id, callId: this.callId, operatorId: this.operator.id, status, reason });
    this.log.info({ room: this.room.number, status, reason }, 'dial-out failed');
    void this.ctx.queues.removeCall(this.callId, null).catch(() => undefined).finally(() => this.settled.resolve());
  }

  private async finish(e: Ending): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const at = Date.now();
    await this.member?.leave(e.how, at);
    await releaseEndpoint(this.endpoint);
    await this.ctx.operators.tryApply(this.operator.id, { type: 'hangup', callId: this.callId, wrapupMs: 0 }).catch(() => undefined);
    this.leg.end(at, e.hangupBy === 'operator' ? 'guest' : 'system', 200, e.reason);
    this.recorder.end({ at, hangupBy: e.hangupBy, sipStatus: 200, sipReason: e.reason });
    await this.ctx.queues.removeCall(this.callId, null).catch(() => undefined);
    this.log.info({ room: this.room.number, how: e.how, reason: e.reason }, 'dial-out participant left');
    this.settled.resolve();
  }

  private async publishLive(state: 'offering' | 'connected'): Promise<void> {
    await this.ctx.queues
      .saveCall({
        callId: this.callId,
        owner: this.ctx.instanceId,
        callerNumber: this.room.number,
        callerName: this.room.name,
        dialledNumber: this.dialled,
        arrivedAt: this.startedAt,
        state,
        queueId: null,
        queuedAt: null,
        priority: 0,
        score: null,
        operatorId: this.operator.id,
        answeredAt: state === 'connected' ? Date.now() : null,
      })
      .catch((err: Error) => this.log.warn({ err: err.message }, 'cannot publish the live call'));
  }
}
