/**
 * How long a played file lasts. The stand-in has no audio, so it decides from the path:
 * - silence_stream://MS[,...] lasts MS milliseconds (-1: until stopped), as in FreeSWITCH;
 * - tone_stream://%(ON,OFF,FREQ)...;loops=N lasts the tone's cadence N times (-1: until stopped);
 * - local_stream:// (music on hold) plays until stopped;
 * - anything else (a sound file, say:, http) lasts `defaultFileMs`, unless `files` names it.
 * A path listed in `files` as 'missing' answers FILE NOT FOUND, like a file not on disk.
 */
export type MediaLength = number | 'forever' | 'missing';

export interface MediaOptions {
  /** Length of a sound file not listed in `files` (default 200 ms). */
  readonly defaultFileMs?: number;
  /** Length of a `say` application (default 300 ms). */
  readonly sayMs?: number;
  /** Per-path lengths in milliseconds, 'forever', or 'missing'. */
  readonly files?: Readonly<Record<string, MediaLength>>;
}

const DEFAULT_FILE_MS = 200;
const DEFAULT_SAY_MS = 300;

export class MediaTiming {
  constructor(private readonly options: MediaOptions = {}) {}

  lengthOf(path: string): MediaLength {
    const listed = this.options.files?.[path];
    if (listed !== undefined) return listed;
    if (path.startsWith('silence_stream://')) return silenceLength(path);
    if (path.startsWith('tone_stream://')) return toneLength(path);
    if (path.startsWith('local_stream://')) return 'forever';
    return this.options.defaultFileMs ?? DEFAULT_FILE_MS;
  }

  sayLength(): number {
    return this.options.sayMs ?? DEFAULT_SAY_MS;
  }
}

function silenceLength(path: string): MediaLength {
  const ms = Number.parseInt(path.slice('silence_stream://'.length), 10);
  if (Number.isNaN(ms)) return 0;
  return ms < 0 ? 'forever' : ms;
}

/** Sums every %(on,off,...) cadence once, then multiplies by ;loops=N (default 1). */
function toneLength(path: string): MediaLength {
  const loops = /loops=(-?\d+)/.exec(path);
  const count = loops ? Number.parseInt(loops[1] as string, 10) : 1;
  if (count < 0) return 'forever';
  let cadence = 0;
  for (const match of path.matchAll(/%\((\d+),(\d+)/g)) {
    cadence += Number.parseInt(match[1] as string, 10) + Number.parseInt(match[2] as string, 10);
  }
  return cadence * count;
}
