/**
 * record PATH [TIME_LIMIT_SECS] [SILENCE_THRESH] [SILENCE_HITS]: mod_dptools' record_function()
 * over switch_ivr_record_file() (src/switch_ivr_play_say.c). The stand-in has no audio, so what
 * it "records" is silence: a valid WAV file (8 kHz, 16-bit mono, as FreeSWITCH writes for a
 * narrowband channel) as long as the recording lasted. It ends, like the real one, at the time
 * limit, on a terminator digit (playback_terminators, default "*"; the digit is not recorded and
 * goes into playback_terminator_used), on a break, or when the channel hangs up (the file is kept).
 * Afterwards record_ms, record_samples and record_seconds say how long it was. No silence
 * detection (there is no audio to measure).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Application } from '../core/switch.js';
import { terminators } from './playback.js';

const RATE = 8000;

/** A PCM WAV file of `samples` samples of silence. */
export function silentWav(samples: number): Buffer {
  const data = samples * 2;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(RATE, 24);
  header.writeUInt32LE(RATE * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data, 40);
  return Buffer.concat([header, Buffer.alloc(data)]);
}

export const record: Application = {
  async run(context) {
    const { sw, session } = context;
    const [path, limit] = context.arg.trim().split(/\s+/);
    if (!path) return;
    const limitMs = Number(limit ?? 0) > 0 ? Number(limit) * 1000 : 'forever';
    const stops = terminators(context);
    session.setVariable('playback_terminator_used', undefined);
    const started = Date.now();
    let stopDigit: () => void = () => undefined;
    const digit = new Promise<'digit'>((resolve) => {
      stopDigit = sw.watchDtmf(session, (received) => {
        if (!stops.includes(received)) return;
        session.setVariable('playback_terminator_used', received);
        resolve('digit');
      });
    });
    const outcome = await Promise.race([context.wait(limitMs), digit]);
    stopDigit();
    const ms = outcome === 'elapsed' && typeof limitMs === 'number' ? limitMs : Date.now() - started;
    const samples = Math.floor((ms * RATE) / 1000);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, silentWav(samples));
    session.setVariable('record_ms', String(ms));
    session.setVariable('record_samples', String(samples));
    session.setVariable('record_seconds', String(Math.floor(ms / 1000)));
  },
};
