/**
 * An operator records a voice message for an extension through the API: the switchboard rings
 * the operator's phones (as a dial-out does: the operator is reserved first, so no queue offers
 * them a caller meanwhile), and on the answer they hear the recording prompt and speak. The call
 * is a call of its own: its own call id and record (dialled number = the extension, one outbound
 * leg with role `operator`), owned by the instance that took the request. The outcome is published
 * as a `message` event (`recorded`, `not-recorded` or `failed`).
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
import { releaseEndpoint } from '../media/endpoint.js';
import type { Operator } from '../provisioning/types.js';
import { recordMessage, type RecordingDeps, type RecordingOutcome } from './recording.js';

export interface RecordRequest {
  operatorId: number;
  /** Who the message is from (a caller the operator speaks for); the operator if not given. */
  fromNumber?: string;
  fromName?: string;
}

export type RecordStart = { ok: true; callId: string } | { ok: false; status: 404 | 409 | 503; message: string; field?: string };

/** Checks what can be checked now, reserves the operator and starts ringing. */
export async function startOperatorRecording(ctx: CallContext, deps: RecordingDeps, extension: string, r: RecordRequest): Promise<RecordStart> {
  const operator = ctx.settings.operator(r.operatorId);
  if (!operator) return { ok: false, status: 404, message: 'operator not found', field: 'operatorId' };
  if (await deps.mailbox.full(extension)) return { ok: false, status: 409, message: `the mailbox of ${extension} is full` };
  const contacts = (await ctx.registrar.contacts(operator.username)).map((b) => b.contact);
  if (contacts.length === 0) return { ok: false, status: 409, message: `operator ${operator.username} has no phone registered` };
  const ms = ctx.media.pick();
  if (!ms) return { ok: false, status: 503, message: 'no media server' };
  const callId = randomUUID();
  const ringMs = ctx.config.directRingTimeoutS * 1000;
  // Reserved as for a direct call: no queue offers them a caller while they ring or record.
  try {
    await ctx.operators.apply(operator.id, { type: 'reserve', callId, instance: ctx.instanceId, leaseMs: ringMs + LEASE_MARGIN_MS });
  } catch (err) {
    if ((err as Error).name !== 'TransitionRefused') throw err;
    return { ok: false, status: 409, message: `operator ${operator.username} is not available (${(err as Error).message})` };
  }
  const from = { number: r.fromNumber ?? operator.workNumber ?? operator.username, name: r.fromName ?? operator.displayName };
  const call = new OperatorRecordingCall(ctx, deps, operator, extension, from, callId);
  ctx.calls.add(call);
  call.ring(ms, contacts, ringMs);
  return { ok: true, callId };
}

class OperatorRecordingCall implements ActiveCall {
  private readonly settled = settleOnce();
  readonly done = this.settled.done;
  private readonly log: Logger;
  private readonly recorder: CallRecorder;
  private readonly leg: LegRecorder;
  private ringing: OperatorRing | undefined;
  private ringTimer: NodeJS.Timeout | undefined;
  private dialog: Srf.Dialog | undefined;
  private cancelled = false;
  private finished = false;

  constructor(
    private readonly ctx: CallContext,
    private readonly deps: RecordingDeps,
    private readonly operator: Operator,
    private readonly extension: string,
    private readonly from: { number: string; name: string },
    readonly callId: string,
  ) {
    this.log = callLogger(ctx.log, callId);
    const at = Date.now();
    this.recorder = new CallRecorder(
      { callId, instanceId: ctx.instanceId, callerNumber: from.number, callerName: from.name, dialledNumber: extension, arrivedAt: at },
      (rec) => ctx.record(rec),
      randomUUID,
    );
    this.recorder.offer({ id: operator.id, username: operator.username }, at);
    this.leg = this.recorder.leg('operator', 'outbound', '', operator.username, at, operator.id);
  }

  waiting(): undefined {
    return undefined;
  }

  ring(ms: Mrf.MediaServer, contacts: string[], ringMs: number): void {
    this.log.info({ extension: this.extension, operator: this.operator.username, phones: contacts.length }, 'ringing the operator to record a message');
    this.ringing = new OperatorRing(
      this.ctx.srf,
      ms,
      {
        contacts,
        username: this.operator.username,
        domain: this.ctx.config.sipDomain,
        fromNumber: this.extension,
        fromName: `Message for ${this.extension}`,
        headers: { 'X-Call-ID': this.callId },
      },
      { answered: (dialog, endpoint) => void this.answered(dialog, endpoint), failed: (status, reason) => this.failed(status, reason) },
      this.log,
    );
    this.ringTimer = setTimeout(() => this.cancelRing(), ringMs);
    void this.ringing.start();
  }

  hangup(): void {
    if (this.finished) return;
    if (!this.dialog) return this.cancelRing();
    hangUpDialog(this.dialog);
  }

  private cancelRing(): void {
    this.cancelled = true;
    this.ringing?.cancel();
  }

  private async answered(dialog: Srf.Dialog, endpoint: Mrf.Endpoint): Promise<void> {
    clearTimeout(this.ringTimer);
    if (this.cancelled || this.finished) {
      hangUpDialog(dialog);
      await releaseEndpoint(endpoint);
      return this.failed(487, 'answered after the ring was cancelled');
    }
    this.dialog = dialog;
    const at = Date.now();
    this.leg.answered(at);
    this.recorder.answered(at, { id: this.operator.id, username: this.operator.username });
    await this.ctx.operators.tryApply(this.operator.id, { type: 'answer', callId: this.callId }).catch(() => undefined);
    let outcome: RecordingOutcome;
    try {
      outcome = await recordMessage({ dialog, endpoint }, { extension: this.extension, fromNumber: this.from.number, fromName: this.from.name, callId: this.callId }, this.deps);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'recording the message failed');
      outcome = { kind: 'nothing', why: (err as Error).message };
    }
    const hungUpBy = isConnected(dialog) ? 'system' : 'operator';
    hangUpDialog(dialog);
    await releaseEndpoint(endpoint);
    await this.finish(outcome, hungUpBy);
  }

  private failed(status: number, reason: string): void {
    clearTimeout(this.ringTimer);
    if (this.finished) return;
    this.finished = true;
    const at = Date.now();
    void this.ctx.operators.tryApply(this.operator.id, { type: 'release', callId: this.callId, missed: false, maxMisses: MAX_MISSES_OUTSIDE_QUEUES }).catch(() => undefined);
    this.leg.end(at, null, status, reason);
    this.recorder.end({ at, hangupBy: 'system', sipStatus: status, sipReason: reason, disposition: 'failed' });
    this.ctx.bus.publish({ type: 'message', what: 'failed', extension: this.extension, callId: this.callId, status, reason });
    this.log.info({ status, reason }, 'the operator could not be reached to record a message');
    this.settled.resolve();
  }

  private async finish(outcome: RecordingOutcome, hungUpBy: 'system' | 'operator'): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const at = Date.now();
    await this.ctx.operators.tryApply(this.operator.id, { type: 'hangup', callId: this.callId, wrapupMs: 0 }).catch(() => undefined);
    const reason = outcome.kind === 'stored' ? `message ${outcome.message.id} recorded` : outcome.kind === 'full' ? 'mailbox full' : `no message: ${outcome.why}`;
    this.leg.end(at, hungUpBy === 'operator' ? 'operator' : 'system', 200, reason);
    this.recorder.end({ at, hangupBy: hungUpBy, sipStatus: 200, sipReason: reason });
    const messageId = outcome.kind === 'stored' ? outcome.message.id : null;
    this.ctx.bus.publish({ type: 'message', what: messageId ? 'recorded' : 'not-recorded', extension: this.extension, callId: this.callId, messageId });
    this.log.info({ extension: this.extension, messageId, reason }, 'message recording call ended');
    this.settled.resolve();
  }
}
