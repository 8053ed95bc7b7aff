export type ComponentName = 'postgres' | 'redis' | 'drachtio' | 'freeswitch';

export interface ComponentStatus {
  up: boolean;
  /** Without a required component the switchboard cannot take calls. */
  required: boolean;
  detail: string;
  since: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  components: Record<ComponentName, ComponentStatus>;
}

/**
 * The connection state of everything the switchboard depends on, kept up to date by each adapter
 * as it connects and disconnects. PostgreSQL is not required: records wait in the Redis outbox
 * while it is away, so its loss degrades the switchboard without stopping calls.
 */
export class Health {
  private readonly components: Record<ComponentName, ComponentStatus>;

  constructor(now: () => Date = () => new Date()) {
    this.now = now;
    const initial = (required: boolean): ComponentStatus => ({
      up: false,
      required,
      detail: 'not connected yet',
      since: now().toISOString(),
    });
    this.components = {
      postgres: initial(false),
      redis: initial(true),
      drachtio: initial(true),
      freeswitch: initial(true),
    };
  }

  private readonly now: () => Date;

  set(name: ComponentName, up: boolean, detail: string): void {
    const current = this.components[name];
    const since = current.up === up ? current.since : this.now().toISOString();
    this.components[name] = { ...current, up, detail, since };
  }

  isUp(name: ComponentName): boolean {
    return this.components[name].up;
  }

  report(): HealthReport {
    const all = Object.values(this.components);
    const requiredDown = all.some((c) => c.required && !c.up);
    const anyDown = all.some((c) => !c.up);
    const status = requiredDown ? 'down' : anyDown ? 'degraded' : 'ok';
    return { status, components: structuredClone(this.components) };
  }
}
