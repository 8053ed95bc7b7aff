// drachtio-fsmrf 4.1.2 ships no type declarations; these cover the parts the switchboard and its
// test benches use, checked against node_modules/drachtio-fsmrf/lib.
declare module 'drachtio-fsmrf' {
  import type { EventEmitter } from 'node:events';
  import type Srf from 'drachtio-srf';

  namespace Mrf {
    interface ConnectOptions {
      address: string;
      port?: number;
      secret?: string;
      listenAddress?: string;
      listenPort?: number;
      advertisedAddress?: string;
      advertisedPort?: number;
      profile?: string;
    }

    interface EslEvent {
      getHeader(name: string): string | undefined;
      getBody(): string;
      serialize(format?: string): string;
    }

    interface EslConnection extends EventEmitter {
      reconnectOpts: { retryMaxDelay?: number; maxAttempts?: number; connectTimeout?: number };
      api(command: string, callback: (res: EslEvent) => void): void;
      /** `event json <names>` (plus the library's own required events) on this session. */
      subscribe(events: string[]): void;
    }

    interface PlaybackResult {
      playbackSeconds?: string;
      playbackMilliseconds?: string;
      playbackLastOffsetPos?: string;
    }

    /** What Endpoint#record() reports (the record application's variables). */
    interface RecordResult {
      terminatorUsed?: string;
      recordSeconds?: string;
      recordMilliseconds?: string;
      recordSamples?: string;
    }

    interface CreateEndpointOptions {
      remoteSdp?: string;
      codecs?: string | string[];
      headers?: Record<string, string>;
      customEvents?: string[];
      is3pcc?: boolean;
    }

    interface JoinResult {
      memberId: number;
      confUuid: string;
    }

    class Endpoint extends EventEmitter {
      uuid: string;
      connected: boolean;
      local: { sdp: string; mediaIp?: string; mediaPort?: string };
      remote: { sdp: string; mediaIp?: string; mediaPort?: string };
      sip: { callId?: string };
      conf: { memberId?: number; name?: string; uuid?: string };
      dialog: Srf.Dialog;
      mediaserver: MediaServer;
      /** The channel's own event socket (FreeSWITCH's outbound connection); null once it closed. */
      conn: EslConnection | null;
      play(file: string | string[]): Promise<PlaybackResult>;
      say(text: string, opts: { sayType: string; sayMethod: string; lang?: string; gender?: string }): Promise<PlaybackResult>;
      execute(app: string, arg?: string): Promise<EslEvent>;
      /** The record application: `record <file> [timeLimitSecs] [silenceThresh] [silenceHits]`. */
      record(file: string, opts?: { timeLimitSecs?: number; silenceThresh?: number; silenceHits?: number }): Promise<RecordResult>;
      executeAsync(app: string, arg?: string): void;
      api(command: string, args?: string | string[]): Promise<EslEvent>;
      bridge(other: Endpoint | string): Promise<void>;
      unbridge(): Promise<void>;
      join(conference: string | Conference, opts?: { flags?: Record<string, boolean>; profile?: string }): Promise<JoinResult>;
      mute(): Promise<void>;
      unmute(): Promise<void>;
      modify(sdp: string): Promise<string>;
      destroy(): Promise<void>;
      set(name: string | Record<string, string>, value?: string): Promise<void>;
      /** Subscribes to `CUSTOM <event>` and emits `event` with (body, event) for this channel. */
      addCustomEventListener(event: string, handler: (body: unknown, event: EslEvent) => void): void;
      removeCustomEventListener(event: string, handler?: (body: unknown, event: EslEvent) => void): void;
    }

    class Conference extends EventEmitter {
      name: string;
      uuid: string;
      memberId: number;
      endpoint: Endpoint;
      participants: Map<number, unknown>;
      destroy(): Promise<void>;
      getSize(): Promise<number>;
      list(args?: string): Promise<EslEvent>;
      lock(): Promise<string>;
      unlock(): Promise<string>;
      mute(args: string): Promise<string>;
      unmute(args: string): Promise<string>;
      kick(args: string): Promise<string>;
      play(file: string | string[]): Promise<unknown>;
      set(param: string, value: string): Promise<string>;
    }

    /** FreeSWITCH's connection back to the app for one channel (the socket application). */
    interface OutboundConnection {
      getInfo(): EslEvent;
    }

    /** An endpoint being made, by its drachtio-fsmrf id: the INVITE's dialog and FreeSWITCH's connection back, as each comes. */
    interface PendingConnection {
      dialog?: Srf.Dialog;
      conn?: OutboundConnection;
    }

    class MediaServer extends EventEmitter {
      /** drachtio-fsmrf's own bookkeeping (not a documented API): endpoints being made. */
      pendingConnections: Map<string, PendingConnection>;
      /** drachtio-fsmrf's own (not a documented API): the server FreeSWITCH connects back to ('connection::ready'). */
      _server: EventEmitter;
      address: string;
      maxSessions: number;
      currentSessions: number;
      cps: number;
      cpuIdle?: number;
      conn: EslConnection;
      sip: { ipv4: { udp: { address?: string } } };
      /** Where FreeSWITCH connects back for this server's endpoints (their X-esl-outbound header). */
      advertisedAddress: string;
      advertisedPort: number;
      connected(): boolean;
      disconnect(): void;
      api(command: string): Promise<string>;
      createEndpoint(opts?: CreateEndpointOptions): Promise<Endpoint>;
      connectCaller(
        req: Srf.SrfRequest,
        res: Srf.SrfResponse,
        opts?: CreateEndpointOptions,
      ): Promise<{ endpoint: Endpoint; dialog: Srf.Dialog }>;
      createConference(name: string, opts?: { maxMembers?: number; flags?: Record<string, boolean> }): Promise<Conference>;
    }
  }

  class Mrf extends EventEmitter {
    constructor(srf: Srf, opts?: { customEvents?: string[] });
    connect(opts: Mrf.ConnectOptions): Promise<Mrf.MediaServer>;
  }

  export = Mrf;
}
