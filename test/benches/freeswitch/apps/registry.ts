/**
 * The applications this stand-in can execute, by the names FreeSWITCH registers them under.
 * An unknown name is an "Invalid Application": FreeSWITCH hangs the channel up with
 * DESTINATION_OUT_OF_ORDER, and so does the stand-in.
 */
import type { Application } from '../core/switch.js';
import { answer, exportVariable, hangup, multiset, noop, park, set, setMute, sleep, unset } from './basic.js';
import { conference } from './conference.js';
import { playAndGetDigits, playback, say, speak } from './playback.js';
import { record } from './record.js';
import { socket } from './socket.js';

export function defaultApplications(): Map<string, Application> {
  return new Map<string, Application>([
    ['answer', answer],
    ['pre_answer', noop],
    ['ring_ready', noop],
    ['set', set],
    ['export', exportVariable],
    ['multiset', multiset],
    ['unset', unset],
    ['hangup', hangup],
    ['set_mute', setMute],
    ['sleep', sleep],
    ['park', park],
    ['socket', socket],
    ['playback', playback],
    ['say', say],
    ['speak', speak],
    ['play_and_get_digits', playAndGetDigits],
    ['record', record],
    ['conference', conference],
    ['start_dtmf', noop],
    ['stop_dtmf', noop],
    ['record_session', noop],
    ['stop_record_session', noop],
    ['log', noop],
    ['info', noop],
  ]);
}
