/**
 * mod_commands API commands on channels (src/mod/applications/mod_commands/mod_commands.c), with
 * their exact reply texts: uuid_bridge, uuid_transfer, uuid_break, uuid_broadcast, uuid_kill,
 * uuid_exists, uuid_getvar, uuid_setvar, uuid_dump, uuid_set_media_stats, uuid_recv_dtmf, hupall.
 */
import { addChannelData } from '../core/channel-data.js';
import { causeFromText, NORMAL_CLEARING } from '../core/causes.js';
import { transfer } from '../core/dialplan.js';
import type { Session } from '../core/session.js';
import type { ApiHandler, Switch } from '../core/switch.js';

const TRANSFER_SYNTAX = '<uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]';
const BREAK_SYNTAX = '<uuid> [all]';
const BROADCAST_SYNTAX = '<uuid> <path> [aleg|bleg|holdb|both]';
const KILL_SYNTAX = '<uuid> [cause]';
const GETVAR_SYNTAX = '<uuid> <var>';
const SETVAR_SYNTAX = '<uuid> <var> [value]';
const DUMP_SYNTAX = '<uuid> [format]';
const RECV_DTMF_SYNTAX = '<uuid> <dtmf_data>';
const MEDIA_STATS_SYNTAX = '<uuid>';
const DUMP_ORIGIN = { file: 'mod_commands.c', func: 'uuid_dump_function', line: 5470 };

/** switch_separate_string() with a blank delimiter: runs of spaces separate, none are empty. */
export function words(text: string): string[] {
  return text.trim().split(/\s+/).filter(Boolean);
}

function partnerOf(sw: Switch, session: Session): Session | undefined {
  const uuid = sw.model.bridgedWith(session.uuid);
  return uuid ? sw.locate(uuid) : undefined;
}

export const uuidBridge: ApiHandler = (sw, args) => {
  const [a, b, fallback] = words(args);
  if (!a || !b) return '-USAGE: <uuid> <other_uuid>\n';
  const first = sw.locate(a);
  const bridgeTo = (uuid: string | undefined): boolean => {
    const other = uuid ? sw.locate(uuid) : undefined;
    return !!first && !!other && sw.bridge(first, other);
  };
  if (bridgeTo(b)) return `+OK ${b}\n`;
  if (fallback && bridgeTo(fallback)) return `+OK ${fallback}\n`;
  return '-ERR Invalid uuid\n';
};

export const uuidTransfer: ApiHandler = (sw, args) => {
  const argv = words(args);
  if (argv.length < 2 || argv.length > 5) return `-USAGE: ${TRANSFER_SYNTAX}\n`;
  const session = sw.locate(argv[0] as string);
  if (!session) return '-ERR No such channel!\n';
  let [, destination, dialplan] = argv;
  let leg: string | undefined;
  if (destination?.startsWith('-')) {
    leg = destination.slice(1).toLowerCase();
    [, , destination, dialplan] = argv;
  }
  const partner = partnerOf(sw, session);
  let target = session;
  if (leg === 'bleg' && partner) target = partner;
  const both = leg === 'both' && partner !== undefined;
  if (both) transfer(sw, partner, destination ?? '', dialplan, true);
  transfer(sw, target, destination ?? '', dialplan, both);
  return '+OK\n';
};

/** uuid_break / break: CF_BREAK on the channel (and its partner with "both"). */
export const uuidBreak: ApiHandler = (sw, args) => {
  if (!args.trim()) return `-USAGE: ${BREAK_SYNTAX}\n`;
  const [uuid = '', flag = ''] = words(args);
  const session = sw.locate(uuid);
  if (!session) return '-ERR No such channel!\n';
  const all = flag.includes('all');
  session.executor.breakForeground(all);
  if (flag.includes('both')) partnerOf(sw, session)?.executor.breakForeground(all);
  return '+OK\n';
};

/**
 * switch_ivr_broadcast(): "app::args" or a file for playback, queued on the A leg (default and
 * "aleg"), the bridged B leg ("bleg") or both; "app!cause" hangs up afterwards.
 */
export const uuidBroadcast: ApiHandler = (sw, args) => {
  // No leg given means SMF_ECHO_ALEG|SMF_HOLD_BLEG: the A leg plays, the B leg is left alone.
  const [uuid, path, legs = 'aleg'] = words(args);
  if (!uuid || !path) return `-USAGE: ${BROADCAST_SYNTAX}\n`;
  const session = sw.locate(uuid);
  if (!session) return '-ERR invalid uuid\n';
  let app = 'playback';
  let data = path;
  const separator = path.indexOf('::');
  if (separator >= 0) {
    app = path.slice(0, separator);
    data = path.slice(separator + 2);
  }
  const [appName = app, cause] = app.split('!');
  const targets: Session[] = [];
  if (legs.includes('aleg') || legs.includes('both')) targets.push(session);
  const partner = partnerOf(sw, session);
  if (partner && (legs.includes('bleg') || legs.includes('both'))) targets.push(partner);
  for (const target of targets) {
    sw.execute(target, { app: appName, arg: data, appUuid: undefined, loops: 1 });
    if (cause !== undefined) sw.execute(target, { app: 'hangup', arg: cause || 'normal_clearing', appUuid: undefined, loops: 1 });
  }
  return '+OK Message sent\n';
};

export const uuidKill: ApiHandler = (sw, args) => {
  if (!args.trim()) return `-USAGE: ${KILL_SYNTAX}\n`;
  const [uuid = '', causeText] = words(args);
  const session = sw.locate(uuid);
  if (!session) return '-ERR No such channel!\n';
  const cause = causeText ? causeFromText(causeText) : NORMAL_CLEARING;
  sw.hangup(session, cause === 'NONE' ? NORMAL_CLEARING : cause);
  return '+OK\n';
};

export const uuidExists: ApiHandler = (sw, args) => (sw.locate(args.trim()) ? 'true' : 'false');

export const uuidGetvar: ApiHandler = (sw, args) => {
  const [uuid, name] = words(args);
  if (!uuid || !name) return `-USAGE: ${GETVAR_SYNTAX}\n`;
  const session = sw.locate(uuid);
  if (!session) return '-ERR No such channel!\n';
  return session.getVariable(name) ?? '_undef_';
};

export const uuidSetvar: ApiHandler = (sw, args) => {
  const [uuid, name, value] = words(args);
  if (!uuid || !name) return `-USAGE: ${SETVAR_SYNTAX}\n`;
  const session = sw.locate(uuid);
  if (!session) return '-ERR No such channel!\n';
  session.setVariable(name, value);
  return '+OK\n';
};

/** uuid_dump: the channel's CHANNEL_DATA event; "json" as JSON, otherwise url-encoded text. */
export const uuidDump: ApiHandler = (sw, args) => {
  const [uuid, format = 'txt'] = words(args);
  if (!uuid) return `-USAGE: ${DUMP_SYNTAX}\n`;
  const session = sw.locate(uuid);
  if (!session) return '-ERR No such channel!\n';
  const event = sw.newEvent('CHANNEL_DATA', DUMP_ORIGIN);
  addChannelData(event, session);
  return format.toLowerCase() === 'json' ? event.toJson() : event.toPlain();
};

export const uuidSetMediaStats: ApiHandler = (sw, args) => {
  const uuid = args.trim();
  if (!uuid) return `-USAGE: ${MEDIA_STATS_SYNTAX}\n`;
  const session = sw.locate(uuid);
  if (!session) return `-ERR No such channel ${uuid}!\n`;
  for (const name of ['rtp_audio_in_raw_bytes', 'rtp_audio_in_media_bytes', 'rtp_audio_in_packet_count', 'rtp_audio_out_raw_bytes', 'rtp_audio_out_media_bytes', 'rtp_audio_out_packet_count']) {
    session.setVariable(name, '0');
  }
  return '+OK:\n';
};

/**
 * uuid_recv_dtmf: switch_channel_queue_dtmf_string(): digits, "+"-separated groups, each with an
 * optional "@ms" duration; reported with DTMF-Source APP.
 */
export const uuidRecvDtmf: ApiHandler = (sw, args) => {
  const [uuid, digits] = words(args);
  if (!uuid || !digits) return `-USAGE: ${RECV_DTMF_SYNTAX}\n`;
  const session = sw.locate(uuid);
  if (!session) return '-ERR Cannot locate session!\n';
  if (!queueDtmfString(sw, session, digits, 'APP')) return `-USAGE: ${RECV_DTMF_SYNTAX}\n`;
  return `+OK ${uuid} received DTMF ${digits}.\n`;
};

const DEFAULT_DTMF_SAMPLES = 2000;

export function queueDtmfString(sw: Switch, session: Session, text: string, source: string): boolean {
  let sent = 0;
  for (const group of text.replace(/^~/, '').split('+')) {
    const [digits = '', duration] = group.split('@');
    const ms = Number.parseInt(duration ?? '', 10);
    const samples = Number.isNaN(ms) ? DEFAULT_DTMF_SAMPLES : ms * 8;
    for (const digit of digits) {
      if (!/^[0-9*#A-Da-dwW]$/.test(digit)) continue;
      sw.receiveDtmf(session, digit.toUpperCase(), samples, source);
      sent++;
    }
  }
  return sent > 0;
}

/**
 * hupall_api_function(): "<cause> [<var> <value>]..." (at most ten words); with pairs, only the
 * channels on which every variable has exactly that value (switch_core_session_hupall_matching_vars()).
 */
export const hupall: ApiHandler = (sw, args) => {
  const argv = words(args).slice(0, 11);
  const parsed = causeFromText(argv[0]);
  const cause = parsed === 'NONE' ? 'MANAGER_REQUEST' : parsed;
  const vars: Array<[string, string]> = [];
  for (let i = 1; i < argv.length - 1; i += 2) vars.push([argv[i] as string, argv[i + 1] as string]);
  const matches = (session: Session): boolean => vars.every(([name, value]) => session.getVariable(name) === value);
  for (const session of sw.liveSessions().filter(matches)) sw.hangup(session, cause);
  if (vars.length === 0) return `+OK hangup all channels with cause ${cause}\n`;
  const [first] = vars as [[string, string]];
  return `+OK hangup all channels matching [${first[0]}]=[${first[1]}]${vars.length > 1 ? '...' : ''} with cause: ${cause}\n`;
};
