import type { Pool } from '../db/pool.js';
import type { Logger } from '../log.js';
import type { NumberChange } from '../numbers/number-changes.js';
import type { CallerList, Extension, Operator, Queue, Room, Route } from './types.js';

export interface Member {
  operatorId: number;
  queueId: number;
  penalty: number;
  skills: string[];
  /** The membership's grade, or the operator's where the membership names none. */
  grade: number;
}

interface Snapshot {
  operators: Map<number, Operator>;
  operatorsByUsername: Map<string, Operator>;
  queues: Map<number, Queue>;
  queuesByNumber: Map<string, Queue>;
  rooms: Map<number, Room>;
  routes: Map<string, Route>;
  membersByQueue: Map<number, Member[]>;
  queuesByOperator: Map<number, number[]>;
  /** Caller number -> the highest priority of the lists it is on. */
  priorities: Map<string, number>;
  numberChanges: Map<string, NumberChange>;
  extensionsByNumber: Map<string, Extension>;
}

const camel = (c: string): string => c.replace(/_([a-z])/g, (_m, x: string) => x.toUpperCase());

async function rows<T>(pool: Pool, sql: string): Promise<T[]> {
  const result = await pool.query<Record<string, unknown>>(sql);
  return result.rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [camel(k), v])) as T);
}

function group<K, V>(items: V[], key: (v: V) => K): Map<K, V[]> {
  const map = new Map<K, V[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

function highestPriorities(lists: Pick<CallerList, 'priority' | 'numbers'>[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const list of lists) {
    for (const number of list.numbers) map.set(number, Math.max(list.priority, map.get(number) ?? 0));
  }
  return map;
}

/**
 * The whole configuration in memory, for the call path: routing an INVITE or choosing an
 * operator must not wait for PostgreSQL, and must keep working while PostgreSQL is away.
 * Reloaded whenever any instance changes the configuration, and every `refreshMs` as a backstop.
 */
export class ConfigCache {
  private snapshot: Snapshot = {
    operators: new Map(),
    operatorsByUsername: new Map(),
    queues: new Map(),
    queuesByNumber: new Map(),
    rooms: new Map(),
    routes: new Map(),
    membersByQueue: new Map(),
    queuesByOperator: new Map(),
    priorities: new Map(),
    numberChanges: new Map(),
    extensionsByNumber: new Map(),
  };
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
    private readonly refreshMs = 30_000,
  ) {}

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Reloads. A call during a load waits for one more load after it, which sees whatever was
   * written before the call; calls during the same load share that next one.
   */
  refresh(): Promise<void> {
    if (this.loading) {
      this.next ??= this.loading.then(() => {
        this.next = undefined;
        return this.refresh();
      });
      return this.next;
    }
    this.loading = this.load()
      .catch((err: Error) => this.log.warn({ err: err.message }, 'cannot reload configuration; keeping the last one'))
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  private async load(): Promise<void> {
    const [operators, queues, rooms, routes, members, callerLists, numberChanges, extensions] = await Promise.all([
      rows<Operator>(this.pool, 'SELECT id, username, display_name, work_number, grade, created_at, updated_at FROM operators'),
      rows<Queue>(this.pool, 'SELECT * FROM queues'),
      rows<Room>(this.pool, 'SELECT * FROM rooms'),
      rows<Route>(this.pool, 'SELECT * FROM routes'),
      rows<Member>(
        this.pool,
        'SELECT m.queue_id, m.operator_id, m.penalty, m.skills, COALESCE(m.grade, o.grade) AS grade FROM queue_members m JOIN operators o ON o.id = m.operator_id',
      ),
      rows<CallerList>(this.pool, 'SELECT priority, numbers FROM caller_lists'),
      // Past intercepts are history: only those running now or later matter to routing.
      rows<NumberChange>(this.pool, 'SELECT * FROM number_changes WHERE intercept_until > now()'),
      rows<Extension>(this.pool, 'SELECT id, number, name, created_at, updated_at FROM extensions'),
    ]);
    this.snapshot = {
      operators: new Map(operators.map((o) => [o.id, o])),
      operatorsByUsername: new Map(operators.map((o) => [o.username, o])),
      queues: new Map(queues.map((q) => [q.id, q])),
      queuesByNumber: new Map(queues.map((q) => [q.number, q])),
      rooms: new Map(rooms.map((r) => [r.id, r])),
      routes: new Map(routes.map((r) => [r.number, r])),
      membersByQueue: group(members, (m) => m.queueId),
      queuesByOperator: new Map([...group(members, (m) => m.operatorId)].map(([op, ms]) => [op, ms.map((m) => m.queueId)])),
      priorities: highestPriorities(callerLists),
      numberChanges: new Map(numberChanges.map((c) => [c.oldNumber, c])),
      extensionsByNumber: new Map(extensions.map((e) => [e.number, e])),
    };
  }

  /** A caller's priority from the caller lists: 0 when on none. */
  callerPriority(number: string): number {
    return this.snapshot.priorities.get(number) ?? 0;
  }

  /** The number change of an old number (intercepting now, later, or until recently). */
  numberChange(oldNumber: string): NumberChange | undefined {
    return this.snapshot.numberChanges.get(oldNumber);
  }

  route(number: string): Route | undefined {
    return this.snapshot.routes.get(number);
  }

  queue(id: number): Queue | undefined {
    return this.snapshot.queues.get(id);
  }

  queueByNumber(number: string): Queue | undefined {
    return this.snapshot.queuesByNumber.get(number);
  }

  queues(): Queue[] {
    return [...this.snapshot.queues.values()];
  }

  extension(number: string): Extension | undefined {
    return this.snapshot.extensionsByNumber.get(number);
  }

  room(id: number): Room | undefined {
    return this.snapshot.rooms.get(id);
  }

  operator(id: number): Operator | undefined {
    return this.snapshot.operators.get(id);
  }

  operators(): Operator[] {
    return [...this.snapshot.operators.values()];
  }

  operatorByUsername(username: string): Operator | undefined {
    return this.snapshot.operatorsByUsername.get(username);
  }

  members(queueId: number): Member[] {
    return this.snapshot.membersByQueue.get(queueId) ?? [];
  }

  queuesOf(operatorId: number): number[] {
    return this.snapshot.queuesByOperator.get(operatorId) ?? [];
  }
}
