// drachtio-modesl 1.3.1 (the event-socket client drachtio-fsmrf 4.1.2 depends on) ships no type
// declarations. The FreeSWITCH stand-in's tests parse its output with the library's own Parser
// and talk to it with its Connection, so the framing is checked by the real client; these are
// the parts they use, checked against node_modules/drachtio-modesl/lib/esl.
declare module 'drachtio-modesl' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';

  namespace esl {
    class Event {
      constructor(headers: Record<string, string | number>, body?: string);
      getHeader(name: string): string | null;
      getBody(): string;
      getType(): string;
      headers: Array<{ name: string; value: string }>;
    }

    /** Emits 'esl::event' (event, headers, body) for every message read from the socket. */
    class Parser extends EventEmitter {
      constructor(socket: EventEmitter);
    }

    class Connection extends EventEmitter {
      /** Inbound: (host, port, password, readyCallback). */
      constructor(host: string, port: number, password: string, ready?: () => void);
      /** Outbound: wraps a socket FreeSWITCH connected with. */
      constructor(socket: Socket, ready?: () => void);
      socket: Socket | null;
      api(command: string, args: string | string[], callback: (event: Event) => void): void;
      api(command: string, callback: (event: Event) => void): void;
      bgapi(command: string, args: string, callback: (event: Event) => void): void;
      sendRecv(command: string, callback?: (event: Event) => void): void;
      sendRecv(command: string, args: Record<string, string>, callback?: (event: Event) => void): void;
      send(command: string, args?: Record<string, string>): void;
      events(type: 'plain' | 'json' | 'xml', events: string | string[], callback?: (event: Event) => void): void;
      subscribe(events: string | string[], callback?: (event: Event) => void): void;
      filter(header: string, value: string, callback?: (event: Event) => void): void;
      execute(app: string, arg: string, uuid: string, callback?: (event: Event) => void): string;
      execute(app: string, arg: string, callback?: (event: Event) => void): string;
      getInfo(): Event | null;
      connected(): boolean;
      disconnect(): void;
    }

    class Server extends EventEmitter {
      constructor(opts: { server?: NetServer; port?: number; host?: string; myevents?: boolean }, ready?: () => void);
      close(callback?: () => void): void;
    }
  }

  export = esl;
}
