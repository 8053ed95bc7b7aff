/**
 * One event-socket connection (listener_t in mod_event_socket.c), inbound (a client connected to
 * port 8021 and must `auth`) or outbound (FreeSWITCH connected to the application for one channel
 * with the `socket` application; already authenticated, it waits for `connect`).
 *
 * Commands are answered in the order they arrive. Events fired while a command runs are queued
 * and written after its reply, as the listener thread does (it sends queued events between
 * reads), so "+OK" to a sendmsg always precedes that application's CHANNEL_EXECUTE.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';

import { addCallerProfile, addChannelData } from '../core/channel-data.js';
import type { Session } from '../core/session.js';
import type { Switch } from '../core/switch.js';
import type { EventSink } from '../core/events.js';
import { nameEvent, type FsEvent } from './event.js';
import {
  apiResponse,
  authRequest,
  CommandReader,
  commandReply,
  disconnectNotice,
  eventMessage,
  GOODBYE,
  header,
  lingerNotice,
  type EslCommand,
  type EventFormat,
} from './framing.js';
import { Subscriptions } from './subscriptions.js';

export type ListenerOptions =
  | { readonly kind: 'inbound'; readonly password: string }
  | { readonly kind: 'outbound'; readonly session: Session; readonly async: boolean; readonly full: boolean };

type Reply = string | undefined;

const CONNECT_ORIGIN = { file: 'mod_event_socket.c', func: 'parse_command', line: 2031 };
const JOB_ORIGIN = { file: 'mod_event_socket.c', func: 'api_exec', line: 1580 };

export class EslListener implements EventSink {
  readonly closed: Promise<void>;
  private readonly reader = new CommandReader();
  private readonly subscriptions = new Subscriptions();
  private format: EventFormat = 'plain';
  private authed: boolean;
  private session: Session | undefined;
  private myEvents = false;
  private lingerSeconds: number | undefined;
  private connectedToSession = false;
  private running = true;
  private readonly queue: FsEvent[] = [];
  private flushScheduled = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private markClosed: () => void = () => undefined;
  private readonly connectWaiters: Array<() => void> = [];

  constructor(
    private readonly sw: Switch,
    private readonly socket: Socket,
    private readonly options: ListenerOptions,
  ) {
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
    this.authed = options.kind === 'outbound';
    this.session = options.kind === 'outbound' ? options.session : undefined;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onClose());
    sw.attach(this);
    if (options.kind === 'outbound') this.watch(options.session);
    if (options.kind === 'inbound') this.write(authRequest());
  }

  /**
   * A listener bound to a session (outbound, or inbound after `myevents <uuid>`) ends when the
   * channel goes down, unless it lingers (read_packet()'s check of switch_channel_down()).
   */
  private watch(session: Session): void {
    const onHangup = (ended: Session): void => {
      if (ended === session) this.sessionEnded();
    };
    this.sw.onHangup.add(onHangup);
    void this.closed.then(() => this.sw.onHangup.delete(onHangup));
    if (!session.isUp) this.sessionEnded();
  }

  /** Resolves once the application has sent `connect` (or the socket is gone). */
  whenConnected(): Promise<boolean> {
    if (this.connectedToSession || !this.running) return Promise.resolve(this.connectedToSession);
    return new Promise((resolve) => this.connectWaiters.push(() => resolve(this.connectedToSession)));
  }

  // ---- events ----

  deliver(event: FsEvent): void {
    if (!this.running || !this.subscriptions.wants(event) || !this.isMine(event)) return;
    this.queue.push(event);
    this.scheduleFlush();
  }

  /** LFLAG_MYEVENTS: only events of the controlled session (and its background jobs). */
  private isMine(event: FsEvent): boolean {
    if (!this.myEvents || !this.session) return true;
    return event.get('Unique-ID') === this.session.uuid || event.get('Job-Owner-UUID') === this.session.uuid;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    for (const event of this.queue.splice(0)) this.write(eventMessage(this.format, event));
  }

  // ---- the controlled session ends ----

  /**
   * read_packet(): when the controlled channel is down, a lingering socket gets a linger notice
   * and stays until the linger time passes; otherwise the listener ends with a disconnect notice.
   */
  private sessionEnded(): void {
    if (!this.running) return;
    setImmediate(() => {
      this.flush();
      if (this.lingerSeconds === undefined) {
        this.close(GOODBYE);
        return;
      }
      const session = this.session as Session;
      this.write(lingerNotice(session.uuid, session.name, this.lingerSeconds));
      if (this.lingerSeconds >= 0) this.lingerTimer = setTimeout(() => this.close(GOODBYE), this.lingerSeconds * 1000);
    });
  }

  /** Ends the connection as listener_run() does: flush, disconnect notice, close. */
  close(message: string = GOODBYE): void {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.lingerTimer);
    this.flush();
    this.write(disconnectNotice(message, this.session?.uuid));
    this.socket.end();
  }

  private onClose(): void {
    this.running = false;
    clearTimeout(this.lingerTimer);
    this.sw.detach(this);
    for (const waiter of this.connectWaiters.splice(0)) waiter();
    if (this.options.kind === 'outbound') this.sw.socketClosed(this.options.session);
    this.markClosed();
  }

  private write(text: string): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(text);
  }

  // ---- commands ----

  private onData(chunk: Buffer): void {
    for (const command of this.reader.push(chunk)) {
      if (!this.running) return;
      this.flush();
      const reply = this.handle(command);
      if (reply !== undefined) this.write(commandReply(reply));
      if (reply === '+OK bye' || (reply === '-ERR invalid' && !this.authed)) this.close(GOODBYE);
    }
  }

  private handle(command: EslCommand): Reply {
    const line = command.line.trim();
    if (!line) return '-ERR command parse error.';
    if (/^(exit|\.\.\.)/i.test(line)) return '+OK bye';
    if (!this.authed) return this.handleUnauthenticated(line);
    const [verb = '', ...rest] = line.split(' ');
    const args = rest.join(' ');
    const handler = this.handlers[verb.toLowerCase()];
    return handler ? handler(args, command) : '-ERR command not found';
  }

  private handleUnauthenticated(line: string): Reply {
    if (!/^auth /i.test(line)) return '-ERR command not found';
    if (line.slice(5) !== (this.options as { password: string }).password) return '-ERR invalid';
    this.authed = true;
    return '+OK accepted';
  }

  private readonly handlers: Record<string, (args: string, command: EslCommand) => Reply> = {
    auth: () => '-ERR command not found',
    filter: (args) => this.filter(args),
    resume: () => (this.session ? '+OK' : '-ERR command not found'),
    connect: () => this.connect(),
    getvar: (args) => this.session?.getVariable(args.trim()) || '-ERR command not found',
    myevents: (args) => this.myevents(args),
    divert_events: (args) => this.divertEvents(args),
    sendmsg: (args, command) => this.sendmsg(args, command),
    sendevent: (args, command) => this.fullOnly(() => this.sendevent(args, command)),
    api: (args) => this.fullOnly(() => this.api(args)),
    bgapi: (args, command) => this.fullOnly(() => this.bgapi(args, command)),
    log: (args) => this.fullOnly(() => `+OK log level ${args.trim() || 'debug'} [7]`),
    nolog: () => this.fullOnly(() => '-ERR not loging'),
    linger: (args) => this.fullOnly(() => this.linger(args)),
    nolinger: () => this.fullOnly(() => this.nolinger()),
    event: (args) => this.fullOnly(() => this.event(args)),
    nixevent: (args) => this.fullOnly(() => this.nixevent(args)),
    noevents: () => this.fullOnly(() => this.noevents()),
  };

  /** An outbound socket without `full` may only control its own channel. */
  private fullOnly(run: () => Reply): Reply {
    if (this.options.kind === 'outbound' && !this.options.full) return '-ERR command not found';
    return run();
  }

  private filter(args: string): Reply {
    let [name = '', ...rest] = args.trimStart().split(' ');
    let value: string | undefined = rest.length > 0 ? rest.join(' ') : undefined;
    if (name.toLowerCase() === 'delete' && value !== undefined) {
      const [deleteName = '', ...deleteRest] = value.split(' ');
      const deleteValue = deleteRest.length > 0 ? deleteRest.join(' ') : undefined;
      this.subscriptions.deleteFilter(deleteName, deleteValue);
      return `+OK filter deleted. [${deleteName}][${deleteValue ?? ''}]`;
    }
    if (value === undefined) return '-ERR invalid syntax';
    if (name.toLowerCase() === 'add') {
      [name = '', ...rest] = value.split(' ');
      value = rest.join(' ');
    }
    this.subscriptions.addFilter(name, value);
    return `+OK filter added. [${name}]=[${value}]`;
  }

  /**
   * parse_command() "connect": a CHANNEL_DATA event serialised as plain text, with the
   * command/reply headers inside it; drachtio-modesl keeps it as the connection's channel data.
   */
  private connect(): Reply {
    const session = this.session;
    if (!session || this.options.kind !== 'outbound') return '-ERR command not found';
    const event = this.sw.newEvent('CHANNEL_DATA', CONNECT_ORIGIN);
    addCallerProfile(event, session, 'Channel');
    addChannelData(event, session);
    event
      .set('Content-Type', 'command/reply')
      .set('Reply-Text', '+OK\n')
      .set('Socket-Mode', this.options.async ? 'async' : 'static')
      .set('Control', this.options.full ? 'full' : 'single-channel');
    this.write(event.toPlain());
    this.connectedToSession = true;
    for (const waiter of this.connectWaiters.splice(0)) waiter();
    return undefined;
  }

  private myevents(args: string): Reply {
    if (this.myEvents) return '-ERR aready enabled.';
    const [uuid, format] = args.trim().split(/\s+/);
    if (!this.session) {
      if (!uuid) return '-ERR command not found';
      const session = this.sw.locate(uuid);
      if (!session && format) return '-ERR invalid uuid';
      this.session = session;
      if (session) this.watch(session);
    }
    this.subscriptions.addMyEvents();
    this.myEvents = true;
    const requested = (format ?? uuid ?? '').toLowerCase();
    if (requested === 'json' || requested === 'plain') this.format = requested;
    return '+OK Events Enabled';
  }

  private divertEvents(args: string): Reply {
    if (!this.session) return '-ERR not controlling a session.';
    const value = args.trim();
    if (!value) return '-ERR missing value.';
    return value.toLowerCase() === 'on' ? '+OK events diverted' : '+OK events not diverted';
  }

  /** sendmsg [UUID]: call-command execute / hangup on the channel's private event queue. */
  private sendmsg(args: string, command: EslCommand): Reply {
    const uuid = args.trim() || header(command, 'session-id');
    const target = uuid ? this.sw.locate(uuid) : this.session;
    if (!target) return `-ERR invalid session id [${uuid ?? ''}]`;
    const callCommand = (header(command, 'call-command') ?? '').toLowerCase();
    if (callCommand === 'execute') this.executeMessage(target, command);
    // A hangup message is a private event like an execute: it waits its turn in the queue.
    if (callCommand === 'hangup') {
      const cause = header(command, 'hangup-cause') || 'NORMAL_CLEARING';
      this.sw.execute(target, { app: 'hangup', arg: cause, appUuid: undefined, loops: 1, silent: true });
    }
    return '+OK';
  }

  private executeMessage(target: Session, command: EslCommand): void {
    const app = header(command, 'execute-app-name');
    if (!app) return;
    let arg = header(command, 'execute-app-arg') ?? '';
    if (!arg && header(command, 'content-type')?.toLowerCase() === 'text/plain') arg = command.body ?? '';
    const loops = Number.parseInt(header(command, 'loops') ?? '1', 10);
    this.sw.execute(target, { app, arg, appUuid: header(command, 'event-uuid'), loops: Number.isNaN(loops) ? 1 : loops });
  }

  private sendevent(args: string, command: EslCommand): Reply {
    const name = nameEvent(args.trim()) ?? 'CUSTOM';
    const uuid = randomUUID();
    const event = this.sw.newEvent(name, undefined, header(command, 'event-subclass'));
    for (const [key, value] of command.headers) event.add(key, value);
    event.add('Event-UUID', uuid);
    if (command.body) event.body = command.body;
    this.sw.fire(event);
    return `+OK ${uuid}`;
  }

  private api(args: string): Reply {
    const [name, argText] = splitApi(args);
    this.write(apiResponse(this.sw.api(name, argText, { sessionUuid: this.session?.uuid })));
    return undefined;
  }

  private bgapi(args: string, command: EslCommand): Reply {
    const [name, argText] = splitApi(args);
    const jobUuid = header(command, 'job-uuid') ?? randomUUID();
    setImmediate(() => {
      const body = this.sw.api(name, argText, { sessionUuid: this.session?.uuid });
      const event = this.sw.newEvent('BACKGROUND_JOB', JOB_ORIGIN)
        .add('Job-UUID', jobUuid)
        .add('Job-Owner-UUID', this.session?.uuid)
        .add('Job-Command', name)
        .add('Job-Command-Arg', argText || undefined);
      event.body = body;
      this.sw.fire(event);
    });
    return `~Reply-Text: +OK Job-UUID: ${jobUuid}\nJob-UUID: ${jobUuid}\n\n`;
  }

  private linger(args: string): Reply {
    if (!this.session) return '-ERR not controlling a session';
    const seconds = Number.parseInt(args.trim(), 10);
    this.lingerSeconds = Number.isNaN(seconds) ? -1 : seconds;
    return this.lingerSeconds >= 0 ? `+OK will linger ${this.lingerSeconds} seconds` : '+OK will linger';
  }

  private nolinger(): Reply {
    if (!this.session) return '-ERR not controlling a session';
    this.lingerSeconds = undefined;
    return '+OK will not linger';
  }

  /** event [plain|json|xml] NAME... ; xml is accepted but events are then sent as plain. */
  private event(args: string): Reply {
    const tokens = args.trim().split(' ').filter(Boolean);
    const first = tokens[0]?.toLowerCase();
    if (first === 'plain' || first === 'json' || first === 'xml') {
      this.format = first === 'json' ? 'json' : 'plain';
      tokens.shift();
    }
    if (this.subscriptions.add(tokens) === 0) return '-ERR no keywords supplied';
    return `+OK event listener enabled ${first === 'xml' ? 'xml' : this.format}`;
  }

  private nixevent(args: string): Reply {
    const tokens = args.trim().split(' ').filter(Boolean);
    if (this.subscriptions.remove(tokens) === 0) return '-ERR no keywords supplied';
    return '+OK events nixed';
  }

  private noevents(): Reply {
    if (!this.subscriptions.enabled) return '-ERR not listening for events';
    this.subscriptions.clear();
    this.queue.length = 0;
    return '+OK no longer listening for events';
  }
}

/** parse_command() "api": the command name ends at the first space; the rest is its argument. */
function splitApi(text: string): [string, string] {
  const space = text.indexOf(' ');
  if (space < 0) return [text, ''];
  return [text.slice(0, space), text.slice(space + 1)];
}
