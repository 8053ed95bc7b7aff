/**
 * What one event-socket listener wants to receive: the `event`/`nixevent`/`noevents` lists, the
 * `filter` list and `myevents`, evaluated as event_handler() in mod_event_socket.c does.
 */
import { EVENT_NAMES, nameEvent, type EventName, type FsEvent } from './event.js';

export class Subscriptions {
  enabled = false;
  private readonly names = new Set<EventName>();
  private readonly subclasses = new Set<string>();
  private allSubclasses = false;
  private readonly filters: Array<[string, string]> = [];

  /**
   * `event` arguments after the format: event names, and after CUSTOM only subclass names (so
   * "CUSTOM conference::maintenance BACKGROUND_JOB" subscribes to a subclass named BACKGROUND_JOB,
   * exactly as FreeSWITCH reads drachtio-fsmrf's subscription). Returns how many names counted.
   */
  add(tokens: readonly string[]): number {
    let keys = 0;
    let custom = false;
    for (const token of tokens) {
      if (custom) {
        this.subclasses.add(token);
        continue;
      }
      const name = nameEvent(token);
      if (!name) continue;
      keys++;
      this.names.add(name);
      if (name === 'ALL') this.allSubclasses = true;
      if (name === 'CUSTOM') custom = true;
    }
    if (keys > 0) this.enabled = true;
    return keys;
  }

  /** `nixevent`: after CUSTOM, names are subclasses to drop. */
  remove(tokens: readonly string[]): number {
    let keys = 0;
    let custom = false;
    for (const token of tokens) {
      if (custom) {
        this.subclasses.delete(token);
        continue;
      }
      const name = nameEvent(token);
      if (!name) continue;
      keys++;
      if (name === 'CUSTOM') custom = true;
      else this.removeName(name);
    }
    if (keys > 0) this.enabled = true;
    return keys;
  }

  private removeName(name: EventName): void {
    if (name === 'ALL') {
      this.names.clear();
      this.allSubclasses = false;
      return;
    }
    if (this.names.has('ALL')) {
      // nixevent after "event ALL": ALL becomes every single type, then one is dropped.
      this.names.delete('ALL');
      for (const each of EVENT_NAMES) if (each !== 'ALL') this.names.add(each);
    }
    this.names.delete(name);
  }

  clear(): void {
    this.names.clear();
    this.subclasses.clear();
    this.allSubclasses = false;
    this.enabled = false;
  }

  /** `myevents`: the channel events a controlling socket gets (LFLAG_MYEVENTS list). */
  addMyEvents(): void {
    this.add([
      'CHANNEL_ANSWER', 'CHANNEL_APPLICATION', 'CHANNEL_BRIDGE', 'CHANNEL_CREATE', 'CHANNEL_DATA',
      'CHANNEL_DESTROY', 'CHANNEL_EXECUTE', 'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_HANGUP',
      'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_ORIGINATE', 'CHANNEL_UUID', 'CHANNEL_OUTGOING', 'CHANNEL_PARK',
      'CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA', 'CHANNEL_STATE', 'CHANNEL_UNBRIDGE', 'CHANNEL_UNPARK',
      'DETECTED_SPEECH', 'DTMF', 'NOTALK', 'TALK',
    ]);
  }

  addFilter(header: string, value: string): void {
    this.filters.push([header, value]);
  }

  /** `filter delete NAME [VALUE]` and `filter delete all`. */
  deleteFilter(header: string, value: string | undefined): void {
    if (header.toLowerCase() === 'all') {
      this.filters.length = 0;
      return;
    }
    for (let i = this.filters.length - 1; i >= 0; i--) {
      const [name, candidate] = this.filters[i] as [string, string];
      if (name.toLowerCase() === header.toLowerCase() && (value === undefined || candidate === value)) this.filters.splice(i, 1);
    }
  }

  wants(event: FsEvent): boolean {
    if (!this.enabled) return false;
    return this.subscribed(event) && this.passesFilters(event);
  }

  private subscribed(event: FsEvent): boolean {
    if (this.names.has('ALL')) return true;
    if (!this.names.has(event.name)) return false;
    if (event.name !== 'CUSTOM' || !event.subclass) return true;
    return this.allSubclasses || this.subclasses.has(event.subclass);
  }

  /**
   * With filters present an event passes only if some filter header it carries matches; a value
   * prefixed with '-' vetoes instead, '/.../' is a regular expression, comparison ignores case.
   */
  private passesFilters(event: FsEvent): boolean {
    if (this.filters.length === 0) return true;
    let send = false;
    for (const [name, value] of this.filters) {
      const actual = event.get(name);
      if (actual === undefined) continue;
      const { positive, pattern } = parseFilterValue(value);
      if (send && positive) continue;
      if (!matches(actual, pattern)) continue;
      if (!positive) return false;
      send = true;
    }
    return send;
  }
}

function parseFilterValue(value: string): { positive: boolean; pattern: string } {
  let positive = true;
  let index = 0;
  while (index < value.length && '+- '.includes(value.charAt(index))) {
    if (value.charAt(index) === '+') positive = true;
    if (value.charAt(index) === '-') positive = false;
    index++;
  }
  return { positive, pattern: value.slice(index) };
}

function matches(actual: string, pattern: string): boolean {
  if (pattern.startsWith('/')) {
    const body = pattern.endsWith('/') && pattern.length > 1 ? pattern.slice(1, -1) : pattern.slice(1);
    return new RegExp(body).test(actual);
  }
  return actual.toLowerCase() === pattern.toLowerCase();
}
