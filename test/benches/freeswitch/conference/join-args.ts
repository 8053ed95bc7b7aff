/**
 * Parsing of the conference application's data, as conference_function() and
 * conference_utils_set_mflags() do it (src/mod/applications/mod_conference/): 
 * "NAME[@PROFILE][+PIN][+flags{a|b|c}]". drachtio-fsmrf's Endpoint#join() builds exactly this,
 * e.g. "room3000++flags{endconf|mute|vmute}" for a conference's control leg.
 */
export interface MemberFlags {
  canSpeak: boolean;
  canHear: boolean;
  canBeSeen: boolean;
  moderator: boolean;
  ghost: boolean;
  endconf: boolean;
  mintwo: boolean;
  joinOnly: boolean;
  muteDetect: boolean;
  nomoh: boolean;
}

export interface JoinArgs {
  readonly name: string;
  readonly profile: string;
  readonly pin: string;
  readonly flags: MemberFlags;
}

const FLAGS_PREFIX = '+flags{';

export function defaultFlags(): MemberFlags {
  return {
    canSpeak: true,
    canHear: true,
    canBeSeen: true,
    moderator: false,
    ghost: false,
    endconf: false,
    mintwo: false,
    joinOnly: false,
    muteDetect: false,
    nomoh: false,
  };
}

/** conference_utils_set_mflags(): ',' also separates, unknown flags are ignored. */
export function parseMemberFlags(text: string | undefined): MemberFlags {
  const flags = defaultFlags();
  for (const flag of (text ?? '').replace(/,/g, '|').split('|')) {
    applyFlag(flags, flag.trim().toLowerCase());
  }
  return flags;
}

function applyFlag(flags: MemberFlags, flag: string): void {
  switch (flag) {
    case 'mute':
      flags.canSpeak = false;
      return;
    case 'deaf':
      flags.canHear = false;
      return;
    case 'vmute':
      flags.canBeSeen = false;
      return;
    case 'moderator':
      flags.moderator = true;
      return;
    case 'ghost':
      flags.ghost = true;
      return;
    case 'endconf':
      flags.endconf = true;
      return;
    case 'mintwo':
      flags.mintwo = true;
      return;
    case 'join-only':
      flags.joinOnly = true;
      return;
    case 'mute-detect':
      flags.muteDetect = true;
      return;
    case 'nomoh':
      flags.nomoh = true;
      return;
    default:
      return;
  }
}

export function parseJoinArgs(data: string, memberFlagsVariable?: string): JoinArgs | undefined {
  let rest = data.trimStart();
  let flagText: string | undefined;
  const flagsAt = rest.indexOf(FLAGS_PREFIX);
  if (flagsAt >= 0) {
    const inner = rest.slice(flagsAt + FLAGS_PREFIX.length);
    const close = inner.indexOf('}');
    flagText = close >= 0 ? inner.slice(0, close) : inner;
    rest = rest.slice(0, flagsAt);
  }
  if (memberFlagsVariable) flagText = flagText ? `${flagText}|${memberFlagsVariable}` : memberFlagsVariable;
  const plus = rest.indexOf('+');
  const pin = plus >= 0 ? rest.slice(plus + 1) : '';
  let name = plus >= 0 ? rest.slice(0, plus) : rest;
  let profile = 'default';
  const at = name.lastIndexOf('@');
  if (at >= 0) {
    profile = name.slice(at + 1);
    name = name.slice(0, at);
  }
  if (!name) return undefined;
  return { name, profile, pin, flags: parseMemberFlags(flagText) };
}
