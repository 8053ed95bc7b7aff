/**
 * The switch core without sockets: applications, bridges, conferences and the events they fire,
 * in FreeSWITCH's order, driven through the same API handlers the event socket uses.
 */
import { describe, expect, it } from 'vitest';

import { defaultApis } from '../../../benches/freeswitch/api/registry.js';
import { defaultApplications } from '../../../benches/freeswitch/apps/registry.js';
import type { FsEvent } from '../../../benches/freeswitch/esl/event.js';
import { fireHeartbeat } from '../../../benches/freeswitch/core/heartbeat.js';
import type { Session } from '../../../benches/freeswitch/core/session.js';
import { Switch } from '../../../benches/freeswitch/core/switch.js';

interface Bench {
  sw: Switch;
  events: FsEvent[];
  hangups: string[];
  channel(user: string): Session;
  api(line: string): string;
  run(session: Session, app: string, arg?: string, appUuid?: string): void;
  nextEvent(predicate: (event: FsEvent) => boolean): Promise<FsEvent>;
}

function bench(): Bench {
  const sw = new Switch({
    identity: { coreUuid: 'core', hostname: 'fs', ipv4: '127.0.0.1', ipv6: '::1' },
    sipAddress: () => '127.0.0.1:5080',
    maxSessions: 1200,
    sessionsPerSecond: 80,
    media: { defaultFileMs: 30 },
    applications: defaultApplications(),
    apis: defaultApis(),
  });
  const events: FsEvent[] = [];
  const waiters: Array<{ predicate: (event: FsEvent) => boolean; resolve: (event: FsEvent) => void }> = [];
  sw.attach({
    deliver(event) {
      events.push(event);
      for (const waiter of [...waiters]) {
        if (!waiter.predicate(event)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    },
  });
  const hangups: string[] = [];
  return {
    sw,
    events,
    hangups,
    channel(user) {
      const session = sw.createSession({
        name: `sofia/drachtio_mrf/${user}@127.0.0.1`,
        callId: `call-${user}`,
        sipHeaders: {},
        profile: { username: user, dialplan: 'XML', callerIdName: user, callerIdNumber: user, networkAddr: '127.0.0.1', ani: user, destinationNumber: 'drachtio', source: 'mod_sofia', context: 'mrf', profileIndex: '1' },
        variables: [['park_after_bridge', 'true']],
      });
      session.sip = { answer: () => undefined, hangup: (cause) => hangups.push(`${user}:${cause}`) };
      sw.markAnswered(session);
      sw.execute(session, { app: 'park', arg: '', appUuid: undefined, loops: 1 });
      return session;
    },
    api(line) {
      const space = line.indexOf(' ');
      return sw.api(line.slice(0, space), line.slice(space + 1), { sessionUuid: undefined });
    },
    run(session, app, arg = '', appUuid = undefined) {
      sw.execute(session, { app, arg, appUuid, loops: 1 });
    },
    nextEvent(predicate) {
      const seen = events.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('event did not come')), 2_000);
        waiters.push({ predicate, resolve: (event) => (clearTimeout(timer), resolve(event)) });
      });
    },
  };
}

const action = (name: string) => (event: FsEvent) => event.get('Action') === name;
const named = (name: string, uuid: string) => (event: FsEvent) => event.name === name && event.get('Unique-ID') === uuid;

describe('applications', () => {
  it('reports CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE with the message’s Event-UUID and the response', async () => {
    const { sw, channel, run, nextEvent, events } = bench();
    const a = channel('a');
    run(a, 'playback', 'ivr/welcome.wav', 'evt-1');
    const complete = await nextEvent((event) => event.name === 'CHANNEL_EXECUTE_COMPLETE' && event.get('Application-UUID') === 'evt-1');
    expect(complete.get('Application')).toBe('playback');
    expect(complete.get('Application-Response')).toBe('FILE PLAYED');
    expect(complete.get('variable_playback_ms')).toBe('30');
    const names = events.filter((event) => event.get('Unique-ID') === a.uuid).map((event) => event.name);
    expect(names.slice(names.indexOf('PLAYBACK_START') - 1)).toEqual(['CHANNEL_EXECUTE', 'PLAYBACK_START', 'PLAYBACK_STOP', 'CHANNEL_EXECUTE_COMPLETE']);
    expect(sw.model.playing(a.uuid)).toBeUndefined();
  });

  it('a missing file answers FILE NOT FOUND; an unknown application hangs up with DESTINATION_OUT_OF_ORDER', async () => {
    const b = bench();
    const sw = new Switch({ ...b.sw.options, media: { files: { 'missing.wav': 'missing' } } });
    expect(sw.media.lengthOf('missing.wav')).toBe('missing');
    const a = b.channel('a');
    b.run(a, 'no_such_app', '');
    const hangup = await b.nextEvent(named('CHANNEL_HANGUP', a.uuid));
    expect(hangup.get('Hangup-Cause')).toBe('DESTINATION_OUT_OF_ORDER');
    expect(b.hangups).toEqual(['a:DESTINATION_OUT_OF_ORDER']);
  });

  it('runs queued applications one at a time; uuid_break stops the one playing', async () => {
    const { sw, channel, run, nextEvent, api } = bench();
    const a = channel('a');
    run(a, 'playback', 'local_stream://moh', 'moh');
    run(a, 'set', 'after=yes', 'set');
    await sw.model.waitFor(() => sw.model.playing(a.uuid) === 'local_stream://moh');
    expect(a.getVariable('after')).toBeUndefined();
    expect(api(`uuid_break ${a.uuid}`)).toBe('+OK\n');
    const stopped = await nextEvent((event) => event.name === 'PLAYBACK_STOP' && event.get('Unique-ID') === a.uuid);
    expect(stopped.get('Playback-Status')).toBe('break');
    await nextEvent((event) => event.get('Application-UUID') === 'set' && event.name === 'CHANNEL_EXECUTE_COMPLETE');
    expect(a.getVariable('after')).toBe('yes');
  });
});

describe('bridges', () => {
  it('uuid_bridge interrupts both channels, then bridges them; a hangup parks the other side', async () => {
    const { sw, channel, run, api, nextEvent, events } = bench();
    const a = channel('a');
    const b = channel('b');
    run(a, 'playback', 'local_stream://moh', 'moh');
    await sw.model.waitFor(() => sw.model.playing(a.uuid));
    expect(api(`uuid_bridge ${a.uuid} ${b.uuid}`)).toBe(`+OK ${b.uuid}\n`);
    expect(sw.model.areBridged(a.uuid, b.uuid)).toBe(true);
    const bridged = await nextEvent(named('CHANNEL_BRIDGE', a.uuid));
    expect(bridged.get('Bridge-B-Unique-ID')).toBe(b.uuid);
    const interrupted = events.findIndex((event) => event.get('Application-UUID') === 'moh' && event.name === 'CHANNEL_EXECUTE_COMPLETE');
    expect(interrupted).toBeGreaterThan(-1);
    expect(interrupted).toBeLessThan(events.indexOf(bridged));
    expect(sw.model.hearing(a.uuid)).toEqual({ kind: 'channel', uuid: b.uuid });
    sw.hangup(b, 'NORMAL_CLEARING');
    await nextEvent(named('CHANNEL_UNBRIDGE', a.uuid));
    await sw.model.waitFor(() => sw.model.channel(a.uuid)?.parked);
    expect(a.isUp).toBe(true);
  });

  it('uuid_transfer -both park inline ends the bridge and parks both', async () => {
    const { sw, channel, api, nextEvent } = bench();
    const a = channel('a');
    const b = channel('b');
    api(`uuid_bridge ${a.uuid} ${b.uuid}`);
    await nextEvent(named('CHANNEL_BRIDGE', a.uuid));
    expect(api(`uuid_transfer ${a.uuid} -both park inline`)).toBe('+OK\n');
    expect(sw.model.bridgedWith(a.uuid)).toBeUndefined();
    await nextEvent(named('CHANNEL_UNBRIDGE', a.uuid));
    await sw.model.waitFor(() => sw.model.channel(a.uuid)?.parked && sw.model.channel(b.uuid)?.parked);
    expect(api(`uuid_transfer nope park inline`)).toBe('-ERR No such channel!\n');
    expect(api(`uuid_bridge ${a.uuid} nope`)).toBe('-ERR Invalid uuid\n');
  });

  it('a transfer of the originator before the bridge is up hangs the other channel up, as FreeSWITCH does', async () => {
    const { sw, channel, api, hangups, events } = bench();
    const a = channel('a');
    const b = channel('b');
    expect(api(`uuid_bridge ${a.uuid} ${b.uuid}`)).toBe(`+OK ${b.uuid}\n`);
    expect(api(`uuid_transfer ${a.uuid} -both park inline`)).toBe('+OK\n');
    expect(b.isUp).toBe(false);
    expect(hangups).toEqual(['b:DESTINATION_OUT_OF_ORDER']);
    await sw.model.waitFor(() => sw.model.channel(a.uuid)?.parked, { description: 'a parked' });
    expect(a.isUp).toBe(true);
    expect(events.some((event) => event.name === 'CHANNEL_BRIDGE')).toBe(false);
  });

  it('the other channel hung up before the bridge is up takes the originator with it (ORIGINATOR_CANCEL)', async () => {
    const { sw, channel, api, hangups, nextEvent } = bench();
    const a = channel('a');
    const b = channel('b');
    api(`uuid_bridge ${a.uuid} ${b.uuid}`);
    sw.hangup(b, 'NORMAL_CLEARING');
    expect(a.isUp).toBe(false);
    expect(hangups).toEqual(['b:NORMAL_CLEARING', 'a:ORIGINATOR_CANCEL']);
    const c = channel('c');
    const d = channel('d');
    api(`uuid_bridge ${c.uuid} ${d.uuid}`);
    await nextEvent(named('CHANNEL_BRIDGE', c.uuid));
    expect(c.getVariable('bridge_to')).toBe(d.uuid);
    sw.hangup(d, 'NORMAL_CLEARING');
    await sw.model.waitFor(() => sw.model.channel(c.uuid)?.parked, { description: 'c parked' });
    expect(c.isUp).toBe(true);
  });

  it('a channel left behind by a transfer or a new bridge meets park_after_bridge', async () => {
    const { sw, channel, api } = bench();
    const [a, b, c] = [channel('a'), channel('b'), channel('c')];
    api(`uuid_bridge ${a.uuid} ${b.uuid}`);
    api(`uuid_bridge ${a.uuid} ${c.uuid}`);
    expect(sw.model.areBridged(a.uuid, c.uuid)).toBe(true);
    await sw.model.waitFor(() => sw.model.channel(b.uuid)?.parked, { description: 'b parked' });
    api(`uuid_transfer ${c.uuid} park inline`);
    await sw.model.waitFor(() => sw.model.channel(a.uuid)?.parked && sw.model.channel(c.uuid)?.parked, { description: 'a and c parked' });
    expect([a, b, c].every((session) => session.isUp)).toBe(true);
  });
});

describe('conferences', () => {
  it('numbers members from one pool, lists them newest first and announces add-member', async () => {
    const { sw, channel, run, api, nextEvent } = bench();
    const [control, a, b] = [channel('control'), channel('a'), channel('b')];
    expect(api('conference 3000 list count')).toBe('-ERR Conference 3000 not found\n');
    run(control, 'conference', '3000++flags{endconf|mute|vmute}');
    await nextEvent((event) => action('add-member')(event) && event.get('Unique-ID') === control.uuid);
    run(a, 'conference', '3000');
    run(b, 'conference', '3000+flags{moderator}');
    const added = await nextEvent((event) => action('add-member')(event) && event.get('Unique-ID') === b.uuid);
    expect(added.subclass).toBe('conference::maintenance');
    expect(added.get('Conference-Size')).toBe('3');
    expect(added.get('Member-ID')).toBe('3');
    expect(added.get('Member-Type')).toBe('moderator');
    expect(added.get('Conference-Unique-ID')).toBe(sw.model.conference('3000')?.uuid);
    expect(api('conference 3000 list count')).toBe('3');
    // The conference thread then gives the free floor to the first member of its list.
    const floor = await nextEvent(action('floor-change'));
    expect([floor.get('Old-ID'), floor.get('New-ID')]).toEqual(['none', '3']);
    expect(api('conference 3000 list')).toBe(
      [
        `3;sofia/drachtio_mrf/b@127.0.0.1;${b.uuid};b;b;hear|speak|floor|moderator;0;0;100`,
        `2;sofia/drachtio_mrf/a@127.0.0.1;${a.uuid};a;a;hear|speak;0;0;100`,
        `1;sofia/drachtio_mrf/control@127.0.0.1;${control.uuid};control;control;hear;0;0;100`,
        '',
      ].join('\n'),
    );
    expect(sw.model.membersOf('3000').map((member) => member.id)).toEqual([1, 2, 3]);
  });

  it('mute, deaf, lock and set max_members answer as mod_conference does, events after the reply', async () => {
    const { sw, channel, run, api, nextEvent } = bench();
    const a = channel('a');
    run(a, 'conference', 'room');
    await nextEvent(action('add-member'));
    expect(api('conference room mute 1 ')).toBe('+OK mute 1\n');
    expect((await nextEvent(action('mute-member'))).get('Speak')).toBe('false');
    expect(sw.model.membersOf('room')[0]?.canSpeak).toBe(false);
    expect(api('conference room unmute 1')).toBe('+OK unmute 1\n');
    expect(api('conference room deaf all')).toBe('+OK deaf 1\n');
    expect(api('conference room undeaf last')).toBe('+OK undeaf 1\n');
    expect(api('conference room mute non_moderator')).toBe('+OK mute 1\n');
    expect(api('conference room mute')).toBe('mute <[member_id|all]|last|non_moderator> [<quiet>]');
    expect(api('conference room mute 9')).toBe('-ERR Non-Existant ID 9\n');
    expect(api('conference room lock')).toBe('+OK room locked\n');
    expect(api('conference room set max_members 5')).toBe('0');
    expect(api('conference room get max_members')).toBe('5');
    expect(api('conference room set max_members')).toMatch(/^set <max_members/);
    expect(api('conference room frobnicate')).toBe("-ERR Conference command 'frobnicate' not found.\n");
    expect(sw.model.conference('room')).toMatchObject({ locked: true, maxMembers: 5 });
  });

  it('a locked or full room refuses a member: the application returns at once', async () => {
    const { channel, run, api, nextEvent } = bench();
    const [a, b] = [channel('a'), channel('b')];
    run(a, 'conference', 'room');
    await nextEvent(action('add-member'));
    api('conference room lock');
    run(b, 'conference', 'room', 'join-b');
    await nextEvent((event) => event.name === 'CHANNEL_EXECUTE_COMPLETE' && event.get('Application-UUID') === 'join-b');
    expect(api('conference room list count')).toBe('1');
  });

  it('kick: reply, kick-member, del-member, the application completes and the channel stays parked', async () => {
    const { sw, channel, run, api, nextEvent, events } = bench();
    const [a, b] = [channel('a'), channel('b')];
    run(a, 'conference', 'room');
    run(b, 'conference', 'room', 'join-b');
    await nextEvent((event) => action('add-member')(event) && event.get('Unique-ID') === b.uuid);
    expect(api('conference room kick 2')).toBe('+OK kicked 2\n');
    await nextEvent((event) => event.name === 'CHANNEL_EXECUTE_COMPLETE' && event.get('Application-UUID') === 'join-b');
    const actions = events.filter((event) => event.get('Unique-ID') === b.uuid && event.get('Action')).map((event) => event.get('Action'));
    expect(actions).toEqual(['add-member', 'kick-member', 'del-member']);
    expect(b.isUp).toBe(true);
    await sw.model.waitFor(() => sw.model.channel(b.uuid)?.parked);
    expect(sw.model.conferenceOf(b.uuid)).toBeUndefined();
  });

  it('hup takes a member out without hanging the channel up; the last one out ends the room', async () => {
    const { sw, channel, run, api, nextEvent } = bench();
    const a = channel('a');
    run(a, 'conference', 'room');
    await nextEvent(action('add-member'));
    expect(api('conference room hup all')).toBe('+OK hup 1\n');
    await nextEvent(action('conference-destroy'));
    expect(a.isUp).toBe(true);
    expect(api('conference list')).toBe('+OK No active conferences.\n');
    expect(sw.model.conferences()).toEqual([]);
  });

  it('a member that may not send media takes no queued messages until it leaves the room', async () => {
    const { sw, channel, run, api, nextEvent, events } = bench();
    const control = channel('control');
    sw.setMediaSendable(control, false);
    run(control, 'conference', 'room++flags{endconf|mute}');
    await nextEvent(action('add-member'));
    run(control, 'hangup', '', 'queued-hangup');
    expect(api(`uuid_exists ${control.uuid}`)).toBe('true');
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.some((event) => event.get('Application-UUID') === 'queued-hangup')).toBe(false);
    expect(control.isUp).toBe(true);
    api('conference room kick all');
    await nextEvent(named('CHANNEL_HANGUP', control.uuid));
  });

  it('when the endconf member leaves, the others are hung up and the room is destroyed', async () => {
    const { sw, channel, run, nextEvent } = bench();
    const [control, a] = [channel('control'), channel('a')];
    run(control, 'conference', 'room++flags{endconf|mute}');
    run(a, 'conference', 'room');
    await nextEvent((event) => action('add-member')(event) && event.get('Unique-ID') === a.uuid);
    sw.hangup(control, 'NORMAL_CLEARING');
    await nextEvent(action('conference-destroy'));
    expect(a.isUp).toBe(false);
    expect(sw.model.conference('room')).toBeUndefined();
  });

  it('plays a file to the room and to one member, with play-file-done at the end', async () => {
    const { sw, channel, run, api, nextEvent } = bench();
    const a = channel('a');
    run(a, 'conference', 'room');
    await nextEvent(action('add-member'));
    expect(api('conference room play ivr/one.wav')).toBe('+OK (play) Playing file ivr/one.wav\n');
    expect(sw.model.conference('room')?.playing).toBe('ivr/one.wav');
    const done = await nextEvent(action('play-file-done'));
    expect(done.get('File')).toBe('ivr/one.wav');
    expect(api('conference room play ivr/two.wav  1')).toBe('+OK (play) Playing file ivr/two.wav to member 1\n');
    expect(sw.model.hearing(a.uuid)).toEqual({ kind: 'file', path: 'ivr/two.wav' });
    expect((await nextEvent(action('play-file-member-done'))).get('Member-ID')).toBe('1');
  });
});

describe('DTMF', () => {
  it('uuid_recv_dtmf fires one DTMF event per digit and records them', async () => {
    const { sw, channel, api, nextEvent } = bench();
    const a = channel('a');
    expect(api(`uuid_recv_dtmf ${a.uuid} 12#@100`)).toBe(`+OK ${a.uuid} received DTMF 12#@100.\n`);
    const last = await nextEvent((event) => event.name === 'DTMF' && event.get('DTMF-Digit') === '#');
    expect(last.get('DTMF-Duration')).toBe('800');
    expect(last.get('DTMF-Source')).toBe('APP');
    expect(sw.model.channel(a.uuid)?.dtmf).toBe('12#');
  });

  it('play_and_get_digits collects digits into its variable', async () => {
    const { sw, channel, run, nextEvent } = bench();
    const a = channel('a');
    run(a, 'play_and_get_digits', '1 4 1 500 # silence_stream://2000 silence_stream://10 pin \\d+ 200', 'pagd');
    await sw.model.waitFor(() => sw.model.playing(a.uuid));
    for (const digit of '42#') sw.receiveDtmf(a, digit, 2000, 'RTP');
    const done = await nextEvent((event) => event.name === 'CHANNEL_EXECUTE_COMPLETE' && event.get('Application-UUID') === 'pagd');
    expect(done.get('variable_pin')).toBe('42');
    expect(done.get('variable_read_terminator_used')).toBe('#');
  });
});

describe('load', () => {
  it('HEARTBEAT reports the live sessions, the limit fsctl max_sessions sets and the idle CPU', () => {
    const b = bench();
    b.channel('alice');
    b.channel('bob');
    expect(b.api('fsctl max_sessions 2')).toBe('+OK max sessions: 2\n');
    expect(b.api('fsctl max_sessions')).toBe('+OK max sessions: 2\n');
    b.sw.load.idleCpu = 37.5;
    fireHeartbeat(b.sw);
    const beat = b.events.filter((e) => e.name === 'HEARTBEAT').at(-1);
    expect([beat?.get('Session-Count'), beat?.get('Max-Sessions'), beat?.get('Idle-CPU')]).toEqual(['2', '2', '37.500000']);
    expect(b.api('status ')).toContain('2 session(s) max\nmin idle cpu 0.00/37.50\n');
    expect(b.api('fsctl pause inbound')).toMatch(/^-ERR/);
  });
});
