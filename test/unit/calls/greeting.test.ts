import { describe, expect, it } from 'vitest';
import { greetingPlan, greets } from '../../../src/calls/greeting.js';

const queue = { number: '100', greeting: false, greetingPrompt: 'greeting', whisper: false };

describe('the work-number greeting', () => {
  it('is nothing at all for a queue with neither greeting nor whisper, and for calls without a queue', () => {
    expect(greets(queue)).toBe(false);
    expect(greetingPlan(queue, '67354')).toBeUndefined();
    expect(greets(undefined)).toBe(false);
    expect(greetingPlan(undefined, '67354')).toBeUndefined();
  });

  it('plays the queue\'s greeting prompt, then the work number digit by digit, to the caller only', () => {
    const q = { ...queue, greeting: true, greetingPrompt: 'front-desk-hello' };
    expect(greets(q)).toBe(true);
    expect(greetingPlan(q, '67354')).toEqual({
      caller: [{ kind: 'play', prompt: 'front-desk-hello' }, { kind: 'say-digits', digits: '67354' }],
      operator: [],
    });
  });

  it('whispers the queue\'s name (queue-<number>) to the operator, also without a greeting for the caller', () => {
    expect(greetingPlan({ ...queue, whisper: true }, '67354')).toEqual({ caller: [], operator: [{ kind: 'play', prompt: 'queue-100' }] });
    expect(greetingPlan({ ...queue, whisper: true, greeting: true }, '7')).toEqual({
      caller: [{ kind: 'play', prompt: 'greeting' }, { kind: 'say-digits', digits: '7' }],
      operator: [{ kind: 'play', prompt: 'queue-100' }],
    });
  });

  it('plays a call\'s note to the operator after any whisper, whatever the queue says', () => {
    const note = [{ kind: 'play' as const, prompt: 'wakeup-failed' }, { kind: 'say-digits' as const, digits: '101' }];
    expect(greets(queue, note)).toBe(true);
    expect(greetingPlan(queue, '7', note)).toEqual({ caller: [], operator: note });
    expect(greetingPlan({ ...queue, whisper: true }, '7', note)).toEqual({ caller: [], operator: [{ kind: 'play', prompt: 'queue-100' }, ...note] });
    expect(greetingPlan(undefined, '7', note)).toEqual({ caller: [], operator: note });
  });
});
