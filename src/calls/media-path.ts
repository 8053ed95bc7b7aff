import type { MediaMode } from '../provisioning/types.js';

/**
 * Where a two-party call's media flows. direct: phone to phone, no media server; anchoring: the
 * phones are being re-INVITEd onto media server endpoints; anchored: on them (bridged, on hold,
 * in a conference); releasing: being re-INVITEd towards each other again.
 */
export type MediaState = 'direct' | 'anchoring' | 'anchored' | 'releasing';

export type MediaEvent =
  /** Something needs the media server (hold, transfer, consultation, three-way, a prompt). */
  | 'need-media'
  /** Anchored for the caller alone, a feature now needs the operator's phone on it too. */
  | 'operator-needed'
  | 'anchored'
  /** A phone refused the re-INVITE onto the media server: the call cannot have its feature. */
  | 'anchor-failed'
  /** The call is a plain two-party call again (back from hold, a transfer completed). */
  | 'plain-talk'
  | 'released'
  /** A phone refused the re-INVITE towards the other: the call stays on the media server. */
  | 'release-failed';

/** anchor / release: re-INVITE the legs; wait: a change is under way, act once it is over. */
export type MediaEffect = 'anchor' | 'release' | 'wait' | 'none';

/**
 * The media path's decisions, without I/O. An anchored queue never leaves the media server; a
 * direct one anchors when media is needed and releases when the call is plain talk again.
 */
export function mediaStep(mode: MediaMode, state: MediaState, event: MediaEvent): { state: MediaState; effect: MediaEffect } {
  switch (event) {
    case 'need-media':
      if (state === 'direct') return { state: 'anchoring', effect: 'anchor' };
      return { state, effect: state === 'anchored' ? 'none' : 'wait' };
    case 'operator-needed':
      if (state === 'direct' || state === 'anchored') return { state: 'anchoring', effect: 'anchor' };
      return { state, effect: 'wait' };
    case 'anchored':
      return { state: state === 'anchoring' ? 'anchored' : state, effect: 'none' };
    case 'anchor-failed':
      return { state: state === 'anchoring' ? 'direct' : state, effect: 'none' };
    case 'plain-talk':
      if (mode === 'direct' && state === 'anchored') return { state: 'releasing', effect: 'release' };
      return { state, effect: 'none' };
    case 'released':
      return { state: state === 'releasing' ? 'direct' : state, effect: 'none' };
    case 'release-failed':
      return { state: state === 'releasing' ? 'anchored' : state, effect: 'none' };
  }
}
