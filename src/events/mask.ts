/**
 * Masking of callers' numbers for roles that must not see them (MASK_CALLER_NUMBERS), shared by
 * the API's responses and the event stream so that both hide the same way.
 */

/** Shows the last two characters of a caller's number and hides the rest (all of a short one). */
export function maskNumber(number: string): string {
  if (number.length <= 4) return '*'.repeat(number.length);
  return '*'.repeat(number.length - 2) + number.slice(-2);
}

/** Masks the caller's number and drops the caller's name (a name identifies a caller as well). */
export function maskCaller<T extends { callerNumber?: unknown; callerName?: unknown }>(item: T): T {
  const masked = { ...item };
  if (typeof item.callerNumber === 'string') masked.callerNumber = maskNumber(item.callerNumber);
  if (typeof item.callerName === 'string' && item.callerName !== '') masked.callerName = '';
  return masked;
}
