import { describe, expect, it } from 'vitest';
import { ALLOW, STRAY_METHODS, strayAnswer } from '../../../src/sip/stray-requests.js';

describe('strayAnswer', () => {
  it('answers 481 to any request naming a dialog (a To tag) that reached no dialog', () => {
    for (const method of STRAY_METHODS) {
      expect(strayAnswer(method, '<sip:20001@pbx>;tag=abc')).toEqual({ status: 481, headers: {} });
      expect(strayAnswer(method, '"x" <sip:1@pbx>; TAG = abc')).toMatchObject({ status: 481 });
    }
  });

  it('answers an OPTIONS ping 200 with Allow and Accept', () => {
    expect(strayAnswer('OPTIONS', '<sip:pbx>')).toEqual({ status: 200, headers: { Allow: ALLOW, Accept: 'application/sdp' } });
    expect(strayAnswer('OPTIONS', undefined).status).toBe(200);
  });

  it('answers other methods outside a dialog 405 with Allow', () => {
    for (const method of ['INFO', 'NOTIFY', 'MESSAGE'] as const) {
      expect(strayAnswer(method, '<sip:20001@pbx;user=phone>')).toEqual({ status: 405, headers: { Allow: ALLOW } });
    }
  });
});
