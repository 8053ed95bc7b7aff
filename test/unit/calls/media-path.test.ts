import { describe, expect, it } from 'vitest';
import { mediaStep, type MediaEvent, type MediaState } from '../../../src/calls/media-path.js';
import type { MediaMode } from '../../../src/provisioning/types.js';

const run = (mode: MediaMode, from: MediaState, events: MediaEvent[]): { state: MediaState; effects: string[] } => {
  let state = from;
  const effects: string[] = [];
  for (const e of events) {
    const step = mediaStep(mode, state, e);
    state = step.state;
    effects.push(step.effect);
  }
  return { state, effects };
};

describe('media path of a conversation', () => {
  it('anchors a direct call when media is needed and releases it once it is plain talk again', () => {
    expect(run('direct', 'direct', ['need-media', 'anchored', 'plain-talk', 'released'])).toEqual({ state: 'direct', effects: ['anchor', 'none', 'release', 'none'] });
  });

  it('anchors once when several features ask at the same time; the later ones wait', () => {
    expect(run('direct', 'direct', ['need-media', 'need-media'])).toEqual({ state: 'anchoring', effects: ['anchor', 'wait'] });
  });

  it('asks nothing of an anchored call that needs media', () => {
    expect(mediaStep('direct', 'anchored', 'need-media')).toEqual({ state: 'anchored', effect: 'none' });
  });

  it('anchors the operator too when the call was anchored for the caller alone', () => {
    expect(run('direct', 'anchored', ['operator-needed', 'anchored'])).toEqual({ state: 'anchored', effects: ['anchor', 'none'] });
  });

  it('never releases an anchored queue\'s call', () => {
    expect(mediaStep('anchored', 'anchored', 'plain-talk')).toEqual({ state: 'anchored', effect: 'none' });
  });

  it('stays anchored when a phone refuses to be released, and direct when it refuses to be anchored', () => {
    expect(run('direct', 'anchored', ['plain-talk', 'release-failed']).state).toBe('anchored');
    expect(run('direct', 'direct', ['need-media', 'anchor-failed']).state).toBe('direct');
  });

  it('makes a feature wait for a release under way, then anchor again', () => {
    expect(run('direct', 'anchored', ['plain-talk', 'need-media', 'released', 'need-media'])).toEqual({ state: 'anchoring', effects: ['release', 'wait', 'none', 'anchor'] });
  });
});
