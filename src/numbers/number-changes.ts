/**
 * Number changes and withdrawals, pure: when a change intercepts calls, what the caller is told
 * and what the call's record says. A change intercepts calls to its old number from
 * effectiveFrom until interceptUntil; before and after, the old number is routed as usual.
 */

export interface NumberChange {
  id: number;
  oldNumber: string;
  /** null: withdrawn, "no longer in service". */
  newNumber: string | null;
  effectiveFrom: Date;
  interceptUntil: Date;
  /** After the announcement, the caller is routed as if they had dialled newNumber. */
  connectToNew: boolean;
  note: string;
}

/** What the call's record says (calls.intercept). */
export type InterceptOutcome = 'withdrawn' | 'changed' | 'connected';

export function intercepts(change: NumberChange, now: number): boolean {
  return change.effectiveFrom.getTime() <= now && now < change.interceptUntil.getTime();
}

export function outcomeOf(change: NumberChange): InterceptOutcome {
  if (change.newNumber === null) return 'withdrawn';
  return change.connectToNew ? 'connected' : 'changed';
}

/** The digits of a number as the announcement says them, one by one ("+44 20" says 4, 4, 2, 0). */
export function spokenDigits(number: string): string {
  return number.replace(/[^0-9]/g, '');
}

const DAY_MS = 86_400_000;

/**
 * The rules across fields of a change as the API writes it (`current` for a PATCH), with
 * defaults on create: effectiveFrom now, interceptUntil effectiveFrom + defaultDays. The values to
 * write, or the field in the way and why.
 */
export function checkNumberChange(
  body: Record<string, unknown>,
  current: Partial<NumberChange> | undefined,
  defaultDays: number,
  now: number,
): { ok: true; values: Record<string, unknown> } | { ok: false; field: string; message: string } {
  const merged = { ...current, ...body };
  const values = { ...body };
  if (current === undefined && values.effectiveFrom === undefined) values.effectiveFrom = new Date(now).toISOString();
  const from = new Date((values.effectiveFrom ?? merged.effectiveFrom) as string | Date).getTime();
  if (current === undefined && values.interceptUntil === undefined) values.interceptUntil = new Date(from + defaultDays * DAY_MS).toISOString();
  const until = new Date((values.interceptUntil ?? merged.interceptUntil) as string | Date).getTime();
  const newNumber = merged.newNumber ?? null;
  if (newNumber !== null && newNumber === merged.oldNumber) return { ok: false, field: 'newNumber', message: 'must differ from oldNumber' };
  if (merged.connectToNew === true && newNumber === null) return { ok: false, field: 'connectToNew', message: 'needs a newNumber to connect to' };
  if (!(until > from)) return { ok: false, field: 'interceptUntil', message: 'must be after effectiveFrom' };
  return { ok: true, values };
}
