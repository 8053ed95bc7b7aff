/**
 * Applications that play to the channel: playback (mod_dptools playback_function() over
 * switch_ivr_play_file() in src/switch_ivr_play_say.c), say, speak and play_and_get_digits.
 * Time passes as {@link MediaTiming} says; the model shows the file while it "plays".
 */
import type { AppContext, Application } from '../core/switch.js';

const PLAY_ORIGIN = { file: 'switch_ivr_play_say.c', func: 'switch_ivr_play_file', line: 1649 };
const STOP_ORIGIN = { file: 'switch_ivr_play_say.c', func: 'switch_ivr_play_file', line: 2023 };
const SAMPLES_PER_MS = 8;

type PlayResult = 'done' | 'break' | 'missing';

/** The terminators playback_function()'s on_dtmf() honours: playback_terminators, default "*". */
export function terminators(context: AppContext): string {
  const value = context.session.getVariable('playback_terminators') ?? '*';
  if (value.toLowerCase() === 'any') return '1234567890*#';
  if (value.toLowerCase() === 'none') return '';
  return value;
}

/** "file_string://a!b", or "a!b" when playback_delimiter is set, plays several files in turn. */
function splitFiles(context: AppContext, data: string): string[] {
  if (data.startsWith('file_string://')) return data.slice('file_string://'.length).split('!');
  const delimiter = context.session.getVariable('playback_delimiter');
  if (delimiter && data.includes(delimiter)) return data.split(delimiter);
  return [data];
}

function fileType(path: string): string | undefined {
  if (path.startsWith('local_stream:')) return 'local_stream';
  if (path.startsWith('tone_stream:')) return 'tone_stream';
  return undefined;
}

/**
 * Plays one file: PLAYBACK_START, the wait (cut short by a terminator digit when `stopOnDigit`
 * says so), the playback_* variables, PLAYBACK_STOP with Playback-Status.
 */
export async function playFile(context: AppContext, path: string, stopOnDigit: (digit: string) => boolean): Promise<PlayResult> {
  const { sw, session } = context;
  const [file, offset] = path.split('@@');
  const length = sw.media.lengthOf(file ?? path);
  if (length === 'missing') return 'missing';
  const playing = file ?? path;
  sw.fire(sw.channelEvent('PLAYBACK_START', session, PLAY_ORIGIN).add('Playback-File-Type', fileType(playing)).add('Playback-File-Path', playing));
  sw.model.setPlaying(session.uuid, playing);
  const started = Date.now();
  let stopDigit: () => void = () => undefined;
  const digit = new Promise<'digit'>((resolve) => {
    stopDigit = context.sw.watchDtmf(session, (received) => {
      if (stopOnDigit(received)) resolve('digit');
    });
  });
  const outcome = await Promise.race([context.wait(length), digit]);
  stopDigit();
  // A file played to its end reports its whole length; a broken one the time it played.
  const elapsed = outcome === 'elapsed' && typeof length === 'number' ? length : Math.min(Date.now() - started, typeof length === 'number' ? length : Infinity);
  sw.model.setPlaying(session.uuid, undefined);
  const samples = elapsed * SAMPLES_PER_MS + Number.parseInt(offset ?? '0', 10);
  session.setVariable('playback_last_offset_pos', String(samples));
  session.setVariable('playback_seconds', String(Math.floor(elapsed / 1000)));
  session.setVariable('playback_ms', String(elapsed));
  session.setVariable('playback_samples', String(samples));
  const status = outcome === 'elapsed' ? 'done' : 'break';
  sw.fire(
    sw.channelEvent('PLAYBACK_STOP', session, STOP_ORIGIN)
      .add('Playback-File-Type', fileType(playing))
      .add('Playback-File-Path', playing)
      .add('Playback-Status', status),
  );
  return status;
}

export const playback: Application = {
  async run(context) {
    const stops = terminators(context);
    context.session.setVariable('playback_terminator_used', undefined);
    let result: PlayResult = 'done';
    for (const file of splitFiles(context, context.arg)) {
      result = await playFile(context, file, (digit) => {
        if (!stops.includes(digit)) return false;
        context.session.setVariable('playback_terminator_used', digit);
        return true;
      });
      if (result !== 'done') break;
    }
    // playback_function(): SUCCESS and BREAK both report FILE PLAYED.
    context.respond(result === 'missing' ? 'FILE NOT FOUND' : 'FILE PLAYED');
  },
};

/** say / speak: the stand-in "speaks" for MediaTiming.sayLength() and shows what it says. */
function speaking(prefix: string): Application {
  return {
    async run(context) {
      const { sw, session } = context;
      sw.model.setPlaying(session.uuid, `${prefix}:${context.arg}`);
      await context.wait(sw.media.sayLength());
      sw.model.setPlaying(session.uuid, undefined);
    },
  };
}

export const say = speaking('say');
export const speak = speaking('speak');

interface CollectOptions {
  min: number;
  max: number;
  tries: number;
  timeoutMs: number;
  terminators: string;
  file: string;
  invalidFile: string;
  variable: string;
  pattern: RegExp;
  digitTimeoutMs: number;
}

function collectOptions(arg: string): CollectOptions {
  const [min, max, tries, timeout, terms, file, invalidFile, variable, regexp, digitTimeout] = arg.trim().split(/\s+/);
  return {
    min: Number(min ?? 0),
    max: Number(max ?? 128),
    tries: Number(tries ?? 1),
    timeoutMs: Number(timeout ?? 5000),
    terminators: terms ?? '#',
    file: file ?? 'silence_stream://250',
    invalidFile: invalidFile ?? 'silence_stream://250',
    variable: variable ?? 'read_digits_var',
    pattern: new RegExp(`^(?:${regexp ?? '\\d+'})$`),
    digitTimeoutMs: Number(digitTimeout ?? timeout ?? 5000),
  };
}

/**
 * play_and_get_digits MIN MAX TRIES TIMEOUT TERMINATORS FILE INVALID_FILE VAR REGEXP DIGIT_TIMEOUT:
 * the prompt stops at the first digit; digits are collected until MAX, a terminator, or a
 * timeout; a valid entry goes into VAR, an invalid one into VAR_invalid and the prompt repeats.
 */
export const playAndGetDigits: Application = {
  async run(context) {
    const options = collectOptions(context.arg);
    const { session } = context;
    session.setVariable(options.variable, undefined);
    for (let attempt = 0; attempt < options.tries && session.isUp && !context.frame.interruption.reason; attempt++) {
      const digits = await collectOnce(context, options);
      if (digits.length >= options.min && options.pattern.test(digits)) {
        session.setVariable(options.variable, digits);
        return;
      }
      if (digits) session.setVariable(`${options.variable}_invalid`, digits);
      if (attempt + 1 < options.tries) await playFile(context, options.invalidFile, () => true);
    }
  },
};

async function collectOnce(context: AppContext, options: CollectOptions): Promise<string> {
  let digits = '';
  let terminated = false;
  let notify: () => void = () => undefined;
  const stopWatching = context.sw.watchDtmf(context.session, (digit) => {
    if (options.terminators.includes(digit)) {
      terminated = true;
      context.session.setVariable('read_terminator_used', digit);
    } else {
      digits += digit;
    }
    notify();
  });
  try {
    const prompted = await playFile(context, options.file, () => true);
    let waitMs = options.timeoutMs;
    while (!terminated && digits.length < options.max && prompted !== 'missing' && !context.frame.interruption.reason) {
      const before = digits.length;
      const arrived = new Promise<'digit'>((resolve) => {
        notify = () => resolve('digit');
      });
      const outcome = await Promise.race([context.wait(waitMs), arrived]);
      if (outcome !== 'digit' && digits.length === before) break;
      waitMs = options.digitTimeoutMs;
    }
  } finally {
    stopWatching();
  }
  return digits;
}
