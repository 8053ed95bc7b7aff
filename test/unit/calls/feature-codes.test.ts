import { describe, expect, it } from 'vitest';
import { FEATURE_CODES, featureCodeOf } from '../../../src/calls/feature-codes.js';

describe('feature codes', () => {
  it('knows *21 to *24 and what each does to the operator', () => {
    expect(Object.fromEntries(Object.entries(FEATURE_CODES).map(([code, m]) => [code, m.event.type]))).toEqual({
      '*21': 'login',
      '*22': 'logout',
      '*23': 'break',
      '*24': 'back',
    });
  });

  it('reads a code from the dialled number, escaped or not, and nothing else', () => {
    expect(featureCodeOf('*21')).toBe('*21');
    expect(featureCodeOf('%2A23')).toBe('*23');
    expect(featureCodeOf('%2a24')).toBe('*24');
    for (const other of ['*25', '21', '*210', '8000', '', '%E0%A4%A', '*2']) expect(featureCodeOf(other)).toBeUndefined();
  });
});
