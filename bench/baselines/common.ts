/**
 * What the two baseline apps share: their settings from the environment, the operators they call
 * (round-robin over fixed contacts: no registrar, no queue, no operator state), a log line per
 * call for the bench to time them by, and a clean stop on SIGTERM.
 *
 *   DRACHTIO_HOST, DRACHTIO_PORT, DRACHTIO_SECRET   the drachtio-server to connect to
 *   OPERATOR_CONTACTS   comma-separated SIP URIs of the operators' phones
 *   CALL_LOG            file to append one JSON line per call to
 */
import { createWriteStream } from 'node:fs';
import Srf from 'drachtio-srf';

export interface CallRecord {
  /** ms since the epoch: the caller's INVITE reached the app */
  arrivedAt: number;
  /** the operator's phone answered (0: never) */
  answeredAt: number;
  endedAt: number;
  /** 'answered', or why the call failed */
  outcome: string;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`baseline: ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

export function settings(): { host: string; port: number; secret: string; contacts: string[]; callLog: string } {
  return {
    host: required('DRACHTIO_HOST'),
    port: Number(required('DRACHTIO_PORT')),
    secret: required('DRACHTIO_SECRET'),
    contacts: required('OPERATOR_CONTACTS').split(',').map((c) => c.trim()).filter(Boolean),
    callLog: required('CALL_LOG'),
  };
}

/** The operators' phones in turn, without regard to whether they are on a call. */
export function roundRobin(contacts: string[]): () => string {
  let next = 0;
  return () => contacts[next++ % contacts.length] as string;
}

export function callLog(file: string): (record: CallRecord) => void {
  const out = createWriteStream(file, { flags: 'a' });
  process.once('exit', () => out.end());
  return (record) => out.write(`${JSON.stringify(record)}\n`);
}

/** Connects to drachtio-server (reconnecting by itself once an error listener exists). */
export async function connect(s: { host: string; port: number; secret: string }): Promise<Srf> {
  const srf = new Srf();
  srf.on('error', (err: Error) => process.stderr.write(`baseline: drachtio: ${err.message}\n`));
  await new Promise<void>((resolve, reject) => {
    srf.on('connect', (err: Error | null) => (err ? reject(err) : resolve()));
    void srf.connect({ host: s.host, port: s.port, secret: s.secret });
  });
  return srf;
}

/** True while a dialog can still carry requests: a BYE may already have ended it. */
export function connected(dialog: Srf.Dialog): boolean {
  return (dialog as unknown as { connected: boolean }).connected;
}

export function onStop(stop: () => void): void {
  const handler = (): void => {
    stop();
    // Let the call log flush, then leave.
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}

export function errorText(err: unknown): string {
  const e = err as { status?: number; reason?: string; message?: string };
  return e.status ? `${e.status} ${e.reason ?? ''}`.trim() : (e.message ?? String(err));
}
