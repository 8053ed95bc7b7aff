/**
 * The `conference` API (conference_api_main_real() and conference_api_dispatch() in
 * src/mod/applications/mod_conference/conference_api.c, plus the tag/gettag commands of
 * drachtio's build, files/conference_api.c of docker-drachtio-freeswitch-mrf). Reply texts are
 * FreeSWITCH's, including the usage text a failed command appends.
 */
import type { Conference, Conferences, Member } from '../conference/conferences.js';
import type { ApiHandler, Switch } from '../core/switch.js';
import { words } from './channel-commands.js';

type MemberCommand = (rooms: Conferences, conference: Conference, member: Member, data: string | undefined) => string;
type RoomCommand = (sw: Switch, conference: Conference, argv: string[]) => string | false;

interface CommandSpec {
  readonly syntax: string;
  readonly member?: MemberCommand;
  readonly room?: RoomCommand;
}

const MEMBER_COMMANDS: Record<string, CommandSpec> = {
  mute: {
    syntax: '<[member_id|all]|last|non_moderator> [<quiet>]',
    member: (rooms, room, member) => {
      rooms.setSpeak(room, member, false);
      return `+OK mute ${member.id}\n`;
    },
  },
  unmute: {
    syntax: '<[member_id|all]|last|non_moderator> [<quiet>]',
    member: (rooms, room, member) => {
      rooms.setSpeak(room, member, true);
      return `+OK unmute ${member.id}\n`;
    },
  },
  deaf: {
    syntax: '<[member_id|all]|last|non_moderator>',
    member: (rooms, room, member) => {
      rooms.setHear(room, member, false);
      return `+OK deaf ${member.id}\n`;
    },
  },
  undeaf: {
    syntax: '<[member_id|all]|last|non_moderator>',
    member: (rooms, room, member) => {
      rooms.setHear(room, member, true);
      return `+OK undeaf ${member.id}\n`;
    },
  },
  kick: {
    syntax: '<[member_id|all|last|non_moderator]> [<optional sound file>]',
    member: (rooms, room, member) => {
      rooms.kick(room, member);
      return `+OK kicked ${member.id}\n`;
    },
  },
  hup: {
    syntax: '<[member_id|all|last|non_moderator]>',
    member: (rooms, room, member) => {
      rooms.hup(room, member);
      return `+OK hup ${member.id}\n`;
    },
  },
  tag: {
    syntax: '<member_id> <string>',
    member: (rooms, room, member, data) => {
      rooms.setTag(room, member, data);
      return `+OK tag ${member.id}\n`;
    },
  },
};

const ROOM_COMMANDS: Record<string, CommandSpec> = {
  list: { syntax: '[delim <string>]|[count]', room: (sw, room, argv) => list(sw.conferences, room, argv) },
  count: { syntax: '', room: (_sw, room) => String(room.count) },
  lock: {
    syntax: '',
    room: (sw, room, argv) => {
      sw.conferences.setLocked(room, true);
      return `+OK ${argv[0]} locked\n`;
    },
  },
  unlock: {
    syntax: '',
    room: (sw, room, argv) => {
      sw.conferences.setLocked(room, false);
      return `+OK ${argv[0]} unlocked\n`;
    },
  },
  set: { syntax: '<max_members|sound_prefix|caller_id_name|caller_id_number|endconference_grace_time> <value>', room: set },
  get: { syntax: '<parameter-name>', room: get },
  play: { syntax: '<file_path> [async|<member_id> [nomux]]', room: play },
  stop: { syntax: '<[current|all|async|last]> [<member_id>]', room: stop },
  gettag: { syntax: '<tag> [nomatch]', room: gettag },
};

/** conference_api_main_real(): "NAME COMMAND ..." or the room-less list/count. */
export const conferenceApi: ApiHandler = (sw, args) => {
  const argv = words(args);
  const [name, command] = argv;
  if (!name) return '';
  const room = sw.conferences.find(name);
  if (room) {
    if (!command) return "Conference command, not specified.\nTry 'help'\n";
    return dispatch(sw, room, argv);
  }
  if (name.toLowerCase() === 'list') return listAll(sw, argv);
  if (name.toLowerCase() === 'count') return String(sw.conferences.all().length);
  return `-ERR Conference ${name} not found\n`;
};

function dispatch(sw: Switch, room: Conference, argv: string[]): string {
  const command = (argv[1] as string).toLowerCase();
  const memberSpec = MEMBER_COMMANDS[command];
  if (memberSpec?.member) return dispatchMember(sw.conferences, room, command, memberSpec, argv);
  const roomSpec = ROOM_COMMANDS[command];
  if (!roomSpec?.room) return `-ERR Conference command '${argv[1]}' not found.\n`;
  const reply = roomSpec.room(sw, room, argv);
  return reply === false ? `${command} ${roomSpec.syntax}` : reply;
}

/** CONF_API_SUB_MEMBER_TARGET: a member id, all, non_moderator, last or var=value. */
function dispatchMember(rooms: Conferences, room: Conference, command: string, spec: CommandSpec, argv: string[]): string {
  const run = spec.member as MemberCommand;
  const target = argv[2];
  const data = argv[3];
  const id = Number.parseInt(target ?? '', 10);
  if (target === 'all' || target === 'non_moderator') {
    const chosen = room.members.filter((member) => target === 'all' || !member.flags.moderator);
    return chosen.map((member) => run(rooms, room, member, data)).join('');
  }
  if (target === 'last') {
    const last = room.members.reduce<Member | undefined>((found, member) => (!found || member.id > found.id ? member : found), undefined);
    return last ? run(rooms, room, last, data) : '';
  }
  if (id > 0) {
    const member = rooms.memberOf(room, id);
    return member ? run(rooms, room, member, data) : `-ERR Non-Existant ID ${id}\n`;
  }
  if (target?.includes('=')) {
    const [variable = '', value] = target.split('=');
    const member = room.members.find((candidate) => candidate.session.getVariable(variable) === value);
    return member ? run(rooms, room, member, data) : '-ERR Non-Existant member\n';
  }
  return `${command} ${spec.syntax}`;
}

/** conference_api_sub_list() for one room: member lines, or the count with "list count". */
function list(rooms: Conferences, room: Conference, argv: string[]): string {
  const option = argv[2]?.toLowerCase();
  if (option === 'count') return String(room.count);
  const delimiter = option === 'delim' && argv[3] ? argv[3].replace(/^"([^"]*)"?.*$/, '$1') || ';' : ';';
  return rooms.listLines(room, delimiter);
}

/** `conference list` without a room: a header line per room, then its members. */
function listAll(sw: Switch, argv: string[]): string {
  const rooms = sw.conferences.all();
  if (rooms.length === 0) return '+OK No active conferences.\n';
  const summary = argv[1]?.toLowerCase() === 'summary';
  return rooms
    .map((room) => {
      const flags = room.locked ? 'locked|running|answered|dynamic' : 'running|answered|dynamic';
      const header = `+OK Conference ${room.name} (${room.count} member${room.count === 1 ? '' : 's'} rate: 8000${room.locked ? ' locked' : ''} flags: ${flags})\n`;
      return summary ? header : header + sw.conferences.listLines(room, ';');
    })
    .join('');
}

/** conference_api_sub_set(): replies with the previous value; a bad call gets the usage text. */
function set(sw: Switch, room: Conference, argv: string[]): string | false {
  const [, , parameter, value] = argv;
  if (argv.length !== 4 || !value) return false;
  if (parameter?.toLowerCase() === 'max_members') {
    const max = Number.parseInt(value, 10);
    if (!(max >= 0)) return false;
    const previous = room.maxMembers;
    sw.conferences.setMaxMembers(room, max);
    return String(previous);
  }
  if (parameter?.toLowerCase() === 'endconference_grace_time') {
    const previous = room.endconfGraceTime;
    room.endconfGraceTime = Number.parseInt(value, 10) || 0;
    return String(previous);
  }
  return false;
}

function get(_sw: Switch, room: Conference, argv: string[]): string | false {
  if (argv.length !== 3) return false;
  const values: Record<string, string> = {
    run_time: String(Math.floor(Date.now() / 1000) - room.runTime),
    count: String(room.count),
    count_ghosts: String(room.ghosts),
    max_members: String(room.maxMembers),
    rate: '8000',
    profile_name: room.profile,
    is_locked: room.locked ? 'locked' : '',
    endconference_grace_time: String(room.endconfGraceTime),
    uuid: room.uuid,
    wait_mod: '',
  };
  const value = values[(argv[2] as string).toLowerCase()];
  return value ?? false;
}

/** conference_api_sub_play(): to the room, or to one member when an id follows the file. */
function play(sw: Switch, room: Conference, argv: string[]): string | false {
  const args = argv.at(-1)?.toLowerCase() === 'async' ? argv.slice(0, -1) : argv;
  const file = args[2];
  if (args.length === 3 && file) {
    if (sw.conferences.playToRoom(room, file)) return `+OK (play) Playing file ${file}\n`;
    return `-ERR (play) File: ${file} not found.\n`;
  }
  if (args.length >= 4 && file) {
    const id = Number.parseInt(args[3] as string, 10);
    const member = sw.conferences.memberOf(room, id);
    if (!member) return `-ERR Member: ${Number.isNaN(id) ? 0 : id} not found.\n`;
    if (sw.conferences.playToMember(room, member, file)) return `+OK (play) Playing file ${file} to member ${member.id}\n`;
    return `-ERR (play) File: ${file} not found.\n`;
  }
  return false;
}

function stop(sw: Switch, room: Conference, argv: string[]): string | false {
  const which = argv[2]?.toLowerCase() ?? 'all';
  if (!['current', 'all', 'async', 'last'].includes(which)) return false;
  const scope = which === 'current' ? 'current' : 'all';
  if (argv.length === 4) {
    const member = sw.conferences.memberOf(room, Number.parseInt(argv[3] as string, 10));
    if (!member) return `-ERR Member: ${argv[3]} not found.\n`;
    return `+OK Stopped ${sw.conferences.stopMemberFiles(room, member, scope)} files.\n`;
  }
  return `+OK Stopped ${sw.conferences.stopRoomFiles(room, scope)} files.\n`;
}

/** drachtio's gettag: ids of members whose tag matches (or, with nomatch, does not). */
function gettag(_sw: Switch, room: Conference, argv: string[]): string | false {
  const tag = argv[2];
  if (!tag) return '-ERR missing tag\n';
  const nomatch = argv[3]?.toLowerCase() === 'nomatch';
  const ids = room.members
    .filter((member) => (nomatch ? member.tag?.toLowerCase() !== tag.toLowerCase() : member.tag?.toLowerCase() === tag.toLowerCase()))
    .map((member) => member.id);
  return ids.join(',');
}
