import { describe, expect, it } from 'vitest';
import { checkNumberChange, intercepts, outcomeOf, spokenDigits, type NumberChange } from '../../../src/numbers/number-changes.js';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const change = (over: Partial<NumberChange> = {}): NumberChange => ({
  id: 1,
  oldNumber: '4100',
  newNumber: '4200',
  effectiveFrom: new Date(NOW - 1000),
  interceptUntil: new Date(NOW + 1000),
  connectToNew: false,
  note: '',
  ...over,
});

describe('number changes', () => {
  it('intercept from effectiveFrom (inclusive) until interceptUntil (exclusive)', () => {
    expect(intercepts(change(), NOW)).toBe(true);
    expect(intercepts(change({ effectiveFrom: new Date(NOW) }), NOW)).toBe(true);
    expect(intercepts(change({ interceptUntil: new Date(NOW) }), NOW)).toBe(false);
    expect(intercepts(change({ effectiveFrom: new Date(NOW + 1) }), NOW)).toBe(false);
  });

  it('tell withdrawn, changed and connected apart', () => {
    expect(outcomeOf(change({ newNumber: null }))).toBe('withdrawn');
    expect(outcomeOf(change())).toBe('changed');
    expect(outcomeOf(change({ connectToNew: true }))).toBe('connected');
  });

  it('say only the digits of the new number', () => {
    expect(spokenDigits('+44 20*7')).toBe('44207');
  });
});

describe('checkNumberChange', () => {
  it('fills in now and the default period on create', () => {
    expect(checkNumberChange({ oldNumber: '4100' }, undefined, 90, NOW)).toEqual({
      ok: true,
      values: { oldNumber: '4100', effectiveFrom: new Date(NOW).toISOString(), interceptUntil: new Date(NOW + 90 * 86_400_000).toISOString() },
    });
    const from = '2027-01-01T00:00:00.000Z';
    expect(checkNumberChange({ oldNumber: '4100', effectiveFrom: from }, undefined, 1, NOW)).toMatchObject({ values: { interceptUntil: '2027-01-02T00:00:00.000Z' } });
  });

  it('refuses a new number equal to the old one, connecting to no number, and an end before the start', () => {
    expect(checkNumberChange({ oldNumber: '4100', newNumber: '4100' }, undefined, 90, NOW)).toMatchObject({ ok: false, field: 'newNumber' });
    expect(checkNumberChange({ oldNumber: '4100', connectToNew: true }, undefined, 90, NOW)).toMatchObject({ ok: false, field: 'connectToNew' });
    expect(checkNumberChange({ oldNumber: '4100', interceptUntil: new Date(NOW - 1).toISOString() }, undefined, 90, NOW)).toMatchObject({ ok: false, field: 'interceptUntil' });
  });

  it('checks a change (PATCH) against the entry as it is, without filling in defaults', () => {
    const current = change();
    expect(checkNumberChange({ newNumber: null }, current, 90, NOW)).toEqual({ ok: true, values: { newNumber: null } });
    expect(checkNumberChange({ newNumber: null }, { ...current, connectToNew: true }, 90, NOW)).toMatchObject({ ok: false, field: 'connectToNew' });
    expect(checkNumberChange({ interceptUntil: new Date(NOW - 5000).toISOString() }, current, 90, NOW)).toMatchObject({ ok: false, field: 'interceptUntil' });
  });
});
