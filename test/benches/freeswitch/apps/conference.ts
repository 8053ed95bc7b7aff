/**
 * The conference application (conference_function() in mod_conference.c): find or create the
 * room, refuse a wrong pin, a locked room or a full one (the application just returns), add the
 * member, and stay until kicked, transferred or hung up; the member is then removed and the
 * application completes, leaving the channel where it was (parked under the socket).
 */
import { parseJoinArgs } from '../conference/join-args.js';
import type { Application } from '../core/switch.js';

export const conference: Application = {
  async run(context) {
    const { sw, session, frame } = context;
    const args = parseJoinArgs(context.arg, session.getVariable('conference_member_flags'));
    if (!args) return;
    const rooms = sw.conferences;
    let room = rooms.find(args.name);
    if (!room) {
      if (args.flags.joinOnly) {
        sw.fire(rooms.rejectedJoinOnly(session, args.name, args.profile));
        if (session.getVariable('hangup_after_conference') !== 'false') sw.hangup(session);
        return;
      }
      room = rooms.create(args.name, args.profile);
      room.pin = args.pin;
      const maxMembers = Number.parseInt(session.getVariable('conference_max_members') ?? '', 10);
      if (maxMembers > 1) rooms.setMaxMembers(room, maxMembers);
    } else if (!admits(room, args.pin)) {
      return;
    }
    const member = rooms.addMember(room, session, frame, args.flags);
    await context.wait('forever');
    rooms.removeMember(room, member);
    sw.resumePark(session);
    session.executor.poke();
  },
};

/** The checks a caller joining an existing room passes (pin, lock, max_members). */
function admits(room: { pin: string; locked: boolean; maxMembers: number; count: number }, pin: string): boolean {
  if (room.pin && room.pin !== pin) return false;
  if (room.locked) return false;
  return !(room.maxMembers > 0 && room.count >= room.maxMembers);
}
