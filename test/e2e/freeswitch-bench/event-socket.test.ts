/**
 * The event socket itself, without drachtio-fsmrf on top: authentication, subscriptions, bgapi,
 * and an outbound connection for a call placed the way drachtio-fsmrf places them (drachtio-srf
 * INVITE with User-Agent drachtio-fsmrf:<id> and X-esl-outbound), spoken to with drachtio-modesl:
 * the connect reply's channel data, sendmsg execute, myevents and linger.
 */
import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server } from 'node:net';

import esl from 'drachtio-modesl';
import type Srf from 'drachtio-srf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { onTheWire } from '../../benches/freeswitch/sip/sdp.js';
import { nextEvent, phoneOffer, startBench, withTimeout, type Bench } from './harness.js';

/** Sends raw commands and collects the raw bytes until the server closes the socket. */
function rawSession(port: number, host: string, commands: string[]): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve) => {
      let received = '';
      const socket = connect({ port, host });
      socket.on('data', (chunk) => {
        received += chunk.toString();
        if (received.startsWith('Content-Type: auth/request\n\n') && commands.length > 0) socket.write(commands.shift() as string);
      });
      socket.on('close', () => resolve(received));
    }),
    5_000,
    'the server to close the socket',
  );
}

function inbound(bench: Bench): Promise<esl.Connection> {
  const { address, port, secret } = bench.freeswitch;
  return withTimeout(
    new Promise<esl.Connection>((resolve) => {
      const connection: esl.Connection = new esl.Connection(address, port, secret, () => resolve(connection));
    }),
    5_000,
    'an inbound connection',
  );
}

function reply(connection: esl.Connection, command: string): Promise<esl.Event> {
  return withTimeout(new Promise<esl.Event>((resolve) => connection.sendRecv(command, resolve)), 3_000, `reply to ${command}`);
}

describe('the FreeSWITCH stand-in’s event socket', () => {
  let bench: Bench;
  let outboundServer: Server;
  let outbound: esl.Server;

  beforeAll(async () => {
    bench = await startBench();
    outboundServer = createServer();
    await new Promise<void>((resolve) => outboundServer.listen(0, bench.freeswitch.listenAddress, resolve));
    outbound = await new Promise<esl.Server>((resolve) => {
      const server: esl.Server = new esl.Server({ server: outboundServer, myevents: false }, () => resolve(server));
    });
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => outbound?.close(() => resolve()));
    await bench?.stop();
  });

  it('refuses commands before auth and a wrong password, then says goodbye', async () => {
    const text = await rawSession(bench.freeswitch.port, bench.freeswitch.address, ['api status\n\n', 'auth not-the-password\n\n']);
    expect(text).toContain('Content-Type: command/reply\nReply-Text: -ERR command not found\n\n');
    expect(text).toContain('Content-Type: command/reply\nReply-Text: -ERR invalid\n\n');
    expect(text).toMatch(/Content-Type: text\/disconnect-notice\nContent-Length: \d+\n\nDisconnected, goodbye\./);
  });

  it('answers event, filter and bgapi as FreeSWITCH does', async () => {
    const connection = await inbound(bench);
    try {
      expect((await reply(connection, 'event plain CHANNEL_ANSWER BACKGROUND_JOB')).getHeader('Reply-Text')).toBe('+OK event listener enabled plain');
      expect((await reply(connection, 'event json')).getHeader('Reply-Text')).toBe('-ERR no keywords supplied');
      expect((await reply(connection, 'filter Unique-ID abc')).getHeader('Reply-Text')).toBe('+OK filter added. [Unique-ID]=[abc]');
      expect((await reply(connection, 'filter delete Unique-ID abc')).getHeader('Reply-Text')).toBe('+OK filter deleted. [Unique-ID][abc]');
      const job = await withTimeout(new Promise<esl.Event>((resolve) => connection.bgapi('status', '', resolve)), 3_000, 'BACKGROUND_JOB');
      expect(job.getBody()).toMatch(/^UP /);
      expect((await reply(connection, 'no_such_command')).getHeader('Reply-Text')).toBe('-ERR command not found');
    } finally {
      connection.disconnect();
    }
  });

  it('lets an inbound connection follow and control a channel: myevents, sendmsg execute and hangup', async () => {
    const endpoint = await bench.createEndpoint(phoneOffer(43_010));
    const connection = await inbound(bench);
    // Bound to the channel by myevents, the connection is closed when the channel goes; let go at
    // once so drachtio-modesl does not start reconnecting.
    const goodbye = nextEvent<[esl.Event]>(connection, 'esl::event::disconnect::notice', 5_000);
    connection.once('esl::event::disconnect::notice', () => connection.disconnect());
    try {
      expect((await reply(connection, `myevents ${endpoint.uuid} json`)).getHeader('Reply-Text')).toBe('+OK Events Enabled');
      const played = nextEvent<[esl.Event]>(connection, `esl::event::CHANNEL_EXECUTE_COMPLETE::${endpoint.uuid}`, 3_000);
      const sent = await reply(connection, `sendmsg ${endpoint.uuid}\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://100\nEvent-UUID: inbound-1`);
      expect(sent.getHeader('Reply-Text')).toBe('+OK');
      const [complete] = await played;
      expect(complete.getHeader('Application-UUID')).toBe('inbound-1');
      expect(complete.getHeader('Application-Response')).toBe('FILE PLAYED');
      const destroyed = nextEvent(endpoint, 'destroy', 3_000);
      const hangup = nextEvent<[esl.Event]>(connection, `esl::event::CHANNEL_HANGUP::${endpoint.uuid}`, 3_000);
      expect((await reply(connection, `sendmsg ${endpoint.uuid}\ncall-command: hangup\nhangup-cause: USER_BUSY`)).getHeader('Reply-Text')).toBe('+OK');
      expect((await hangup)[0].getHeader('Hangup-Cause')).toBe('USER_BUSY');
      await destroyed;
      expect((await goodbye)[0].getHeader('Controlled-Session-UUID')).toBe(endpoint.uuid);
    } finally {
      connection.disconnect();
    }
  });

  it('says which session id is invalid', async () => {
    const connection = await inbound(bench);
    try {
      const sent = await reply(connection, 'sendmsg 00000000-0000-0000-0000-000000000000\ncall-command: hangup');
      expect(sent.getHeader('Reply-Text')).toBe('-ERR invalid session id [00000000-0000-0000-0000-000000000000]');
    } finally {
      connection.disconnect();
    }
  });

  it('connects back for a drachtio-fsmrf INVITE with the channel data, runs sendmsg, lingers after the BYE', async () => {
    const tag = randomUUID();
    const [sipAddress] = /[\d.]+:\d+/.exec(bench.ms.sip.ipv4.udp.address ?? '') ?? [''];
    const address = outboundServer.address();
    const eslOutbound = `${bench.freeswitch.listenAddress}:${typeof address === 'object' && address ? address.port : 0}`;
    const connected = nextEvent<[esl.Connection]>(outbound, 'connection::ready', 5_000);
    const dialog: Srf.Dialog = await withTimeout(
      bench.srf.createUAC(`sip:drachtio@${sipAddress}`, {
        headers: { 'User-Agent': `drachtio-fsmrf:${tag}`, 'X-esl-outbound': eslOutbound },
        localSdp: phoneOffer(43_000),
      }),
      5_000,
      'the INVITE to be answered',
    );
    const [connection] = await connected;
    const info = connection.getInfo();
    expect(info?.getHeader('variable_sip_user_agent')).toBe(`drachtio-fsmrf:${tag}`);
    expect(info?.getHeader('Channel-Unique-ID')).toBe(info?.getHeader('Unique-ID'));
    expect(info?.getHeader('Socket-Mode')).toBe('async');
    expect(info?.getHeader('Control')).toBe('full');
    expect(info?.getHeader('variable_sip_call_id')).toBe(dialog.sip.callId);
    // On the wire sofia's SOA puts 192.0.2.2 on the o= line and leaves out a=sendrecv.
    expect(dialog.remote.sdp).toBe(onTheWire(info?.getHeader('variable_rtp_local_sdp_str') ?? ''));

    expect((await reply(connection, 'myevents json')).getHeader('Reply-Text')).toBe('+OK Events Enabled');
    const done = await withTimeout(new Promise<esl.Event>((resolve) => connection.execute('playback', 'silence_stream://100', resolve)), 3_000, 'playback');
    expect(done.getHeader('Application-Response')).toBe('FILE PLAYED');

    expect((await reply(connection, 'linger 1')).getHeader('Reply-Text')).toBe('+OK will linger 1 seconds');
    const lingering = nextEvent<[esl.Event]>(connection, 'esl::event::disconnect::notice', 3_000);
    const hangupComplete = nextEvent<[esl.Event]>(connection, 'esl::event::CHANNEL_HANGUP_COMPLETE::*', 3_000);
    await dialog.destroy();
    expect((await lingering)[0].getHeader('Content-Disposition')).toBe('linger');
    expect((await hangupComplete)[0].getHeader('Hangup-Cause')).toBe('NORMAL_CLEARING');
    await nextEvent(connection, 'esl::end', 3_000);
  });
});
