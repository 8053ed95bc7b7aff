/**
 * Helpers of the room tests: rooms and routes through the API, the room's members and history,
 * and a driver on FreeSWITCH's event socket that finds the channel a prompt is played to and
 * sends it DTMF with `uuid_recv_dtmf`. The driver speaks to the stand-in and to a real
 * FreeSWITCH the same way (SIPp sends RFC 2833 only with RTP, which the stand-in does not carry),
 * so the PIN tests run against both.
 */
import type esl from 'drachtio-modesl';
import { eventSocket } from '../support/freeswitch-env.js';
import { until, type CallBench } from '../support/call-bench.js';
import type { TestSwitchboard } from '../support/switchboard.js';

export interface RoomMemberView {
  memberId: number | null;
  callId: string;
  callerNumber: string;
  moderator: boolean;
  muted: boolean;
  state: 'waiting' | 'joining' | 'joined';
  direction: 'inbound' | 'outbound';
  owner: string;
  operatorId: number | null;
}

export interface RoomView {
  locked: boolean;
  sessionId: string | null;
  items: RoomMemberView[];
}

export interface HistoryEntry {
  sessionId: string;
  callId: string;
  callerNumber: string;
  role: 'moderator' | 'member';
  direction: 'inbound' | 'outbound';
  joinedAt: string;
  enteredAt: string | null;
  leftAt: string;
  leftHow: string;
  instanceId: string;
}

/**
 * The switchboard's environment for room tests: PROMPTS_DIR passes through, so that against a
 * real FreeSWITCH the prompts can be real files (the tests also pass without them: a prompt that
 * does not play simply leaves the caller to the digit timer).
 */
export function roomEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { ...(process.env.PROMPTS_DIR ? { PROMPTS_DIR: process.env.PROMPTS_DIR } : {}), ...extra };
}

/** A room with a route on its own number (open to outside callers); returns the room's id. */
export async function createRoom(bench: CallBench, number: string, extra: Record<string, unknown> = {}): Promise<number> {
  const roomId = (await bench.create('/v1/rooms', { number, name: `Room ${number}`, ...extra })).id as number;
  await bench.create('/v1/routes', { number, targetType: 'room', roomId, allowOutside: true });
  return roomId;
}

export async function roomView(sb: TestSwitchboard, roomId: number): Promise<RoomView> {
  const res = await sb.api(`/v1/rooms/${roomId}/members`);
  if (res.status !== 200) throw new Error(`GET members answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as RoomView;
}

/** Waits until the room's member list satisfies `ok`; returns it. */
export async function membersWhen(sb: TestSwitchboard, roomId: number, what: string, ok: (items: RoomMemberView[]) => boolean, timeoutMs = 10_000): Promise<RoomMemberView[]> {
  return until(what, async () => {
    const { items } = await roomView(sb, roomId);
    return ok(items) ? items : undefined;
  }, timeoutMs);
}

export async function historyWhen(sb: TestSwitchboard, roomId: number, count: number, query = ''): Promise<HistoryEntry[]> {
  return until(`${count} history entries of room ${roomId}`, async () => {
    const res = await sb.api(`/v1/rooms/${roomId}/history${query}`);
    const items = (res.body as { items: HistoryEntry[] }).items;
    return items.length >= count ? items : undefined;
  }, 15_000);
}

export async function post(sb: TestSwitchboard, path: string, body?: unknown, key?: string): Promise<{ status: number; body: unknown }> {
  return sb.api(path, { method: 'POST', ...(body === undefined ? {} : { body }), ...(key === undefined ? {} : { key }) });
}

export interface ConferenceSeat {
  id: number;
  uuid: string;
  /** mod_conference's flags of the member: hear, speak, moderator ... */
  flags: string[];
}

export interface MediaDriver {
  /** The uuid of the next channel (in order of play) that is played the prompt `name`, e.g. 'room-pin'. */
  nextPrompt(name: string, timeoutMs?: number): Promise<string>;
  /** What was last started with the playback application on a channel (a file, local_stream://...). */
  lastPlayback(uuid: string): string | undefined;
  /** DTMF to a channel, as if its phone sent it (FreeSWITCH's uuid_recv_dtmf). */
  dtmf(uuid: string, digits: string): Promise<void>;
  /** The members of a conference as `conference NAME list` prints them; none if it does not run. */
  conference(name: string): Promise<ConferenceSeat[]>;
  /** `conference NAME get is_locked`. */
  isLocked(name: string): Promise<boolean>;
  /** Forgets prompts played so far (between tests). */
  reset(): void;
  close(): void;
}

/** Connects to the bench's FreeSWITCH (stand-in or real) over its inbound event socket. */
export async function mediaDriver(bench: CallBench): Promise<MediaDriver> {
  const conn = await eventSocket(bench.freeswitch);
  const api = (command: string, args: string): Promise<string> => new Promise((resolve) => conn.api(command, args, (res) => resolve(res.getBody())));
  // Every playback that starts (CHANNEL_EXECUTE comes even when a real FreeSWITCH lacks the
  // file, so the tests need no prompt files), by prompt name and by channel.
  const played = new Map<string, string[]>();
  const lastPlayed = new Map<string, string>();
  const waiters = new Map<string, (uuid: string) => void>();
  conn.on('esl::event::CHANNEL_EXECUTE::*', (evt: esl.Event) => {
    const uuid = evt.getHeader('Unique-ID');
    const data = evt.getHeader('Application-Data') ?? '';
    if (evt.getHeader('Application') !== 'playback' || !uuid) return;
    lastPlayed.set(uuid, data);
    const name = /([^/]+)\.wav$/.exec(data)?.[1];
    if (!name) return;
    const waiter = waiters.get(name);
    if (waiter) {
      waiters.delete(name);
      waiter(uuid);
      return;
    }
    played.set(name, [...(played.get(name) ?? []), uuid]);
  });
  await new Promise<void>((resolve) => conn.events('plain', 'CHANNEL_EXECUTE', () => resolve()));
  return {
    nextPrompt: (name, timeoutMs = 10_000) => {
      const queued = played.get(name);
      if (queued && queued.length > 0) return Promise.resolve(queued.shift() as string);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(name);
          reject(new Error(`no channel was played ${name} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.set(name, (uuid) => {
          clearTimeout(timer);
          resolve(uuid);
        });
      });
    },
    lastPlayback: (uuid) => lastPlayed.get(uuid),
    dtmf: async (uuid, digits) => {
      const body = await api('uuid_recv_dtmf', `${uuid} ${digits}`);
      if (!body.startsWith('+OK')) throw new Error(`uuid_recv_dtmf ${uuid} ${digits}: ${body.trim()}`);
    },
    conference: async (name) => {
      const body = await api('conference', `${name} list`);
      if (body.startsWith('-ERR')) return [];
      // id;channel name;uuid;caller id name;caller id number;flags;volume in;volume out;energy
      return body
        .split('\n')
        .filter((line) => /^\d+;/.test(line))
        .map((line) => {
          const f = line.split(';');
          return { id: Number(f[0]), uuid: f[2] ?? '', flags: (f[5] ?? '').split('|').filter(Boolean) };
        });
    },
    isLocked: async (name) => (await api('conference', `${name} get is_locked`)).trim() === 'locked',
    reset: () => {
      played.clear();
      waiters.clear();
    },
    close: () => conn.disconnect(),
  };
}
