/**
 * The stand-in's event-socket framing, read back by drachtio-modesl's own Parser (the client
 * drachtio-fsmrf uses), so "FreeSWITCH-shaped" means "what the real client understands".
 */
import { EventEmitter } from 'node:events';

import esl from 'drachtio-modesl';
import { describe, expect, it } from 'vitest';

import { FsEvent, nameEvent } from '../../../benches/freeswitch/esl/event.js';
import {
  apiResponse,
  authRequest,
  CommandReader,
  commandReply,
  disconnectNotice,
  eventMessage,
  GOODBYE,
  header,
} from '../../../benches/freeswitch/esl/framing.js';
import { switchUrlEncode } from '../../../benches/freeswitch/esl/url.js';

interface Parsed {
  event: esl.Event;
  headers: Record<string, string | number>;
  body: string | undefined;
}

/** Feeds text through modesl's Parser and collects what it emits. */
function parseWithModesl(...chunks: string[]): Parsed[] {
  const socket = new EventEmitter();
  const parser = new esl.Parser(socket);
  const parsed: Parsed[] = [];
  parser.on('esl::event', (event: esl.Event, headers: Record<string, string | number>, body?: string) => parsed.push({ event, headers, body }));
  for (const chunk of chunks) socket.emit('data', Buffer.from(chunk));
  return parsed;
}

describe('switch_url_encode', () => {
  it('encodes the unsafe characters with upper-case hex and leaves the rest', () => {
    expect(switchUrlEncode('+OK\n')).toBe('%2BOK%0A');
    expect(switchUrlEncode('sofia/drachtio_mrf/drachtio@127.0.0.1')).toBe('sofia/drachtio_mrf/drachtio%40127.0.0.1');
    expect(switchUrlEncode('a b;c=d')).toBe('a%20b%3Bc%3Dd');
  });

  it('keeps an existing %XX escape (double_encode is off) and encodes UTF-8 byte by byte', () => {
    expect(switchUrlEncode('%2B already')).toBe('%2B%20already');
    expect(switchUrlEncode('é')).toBe('%C3%A9');
  });
});

describe('CommandReader', () => {
  it('splits commands on the empty line, with or without CR, skipping stray newlines', () => {
    const reader = new CommandReader();
    const commands = reader.push(Buffer.from('\n\nauth ClueCon\n\napi status\r\n\r\nevent json ALL\n\n'));
    expect(commands.map((command) => command.line)).toEqual(['auth ClueCon', 'api status', 'event json ALL']);
  });

  it('reads header lines and a Content-Length body, across chunk boundaries', () => {
    const reader = new CommandReader();
    const text = 'sendmsg abc\ncall-command: execute\nexecute-app-name: playback\nContent-Length: 5\n\nhello';
    expect(reader.push(Buffer.from(text.slice(0, 20)))).toEqual([]);
    expect(reader.push(Buffer.from(text.slice(20, text.length - 2)))).toEqual([]);
    const [command] = reader.push(Buffer.from(text.slice(text.length - 2)));
    expect(command?.line).toBe('sendmsg abc');
    expect(command && header(command, 'Call-Command')).toBe('execute');
    expect(command && header(command, 'EXECUTE-APP-NAME')).toBe('playback');
    expect(command?.body).toBe('hello');
  });
});

describe('replies as drachtio-modesl reads them', () => {
  it('auth/request', () => {
    const [parsed] = parseWithModesl(authRequest());
    expect(parsed?.headers['Content-Type']).toBe('auth/request');
  });

  it('command/reply: modesl turns Reply-Text "+OK accepted" into Modesl-Reply-OK', () => {
    const [parsed] = parseWithModesl(commandReply('+OK accepted'));
    expect(parsed?.headers['Content-Type']).toBe('command/reply');
    expect(parsed?.event.getHeader('Modesl-Reply-OK')).toBe('accepted');
  });

  it('command/reply in the ready-made "~" form of bgapi', () => {
    const [parsed] = parseWithModesl(commandReply('~Reply-Text: +OK Job-UUID: j1\nJob-UUID: j1\n\n'));
    expect(parsed?.event.getHeader('Reply-Text')).toBe('+OK Job-UUID: j1');
    expect(parsed?.event.getHeader('Job-UUID')).toBe('j1');
  });

  it('api/response carries its body by byte length (multi-byte text included)', () => {
    const body = '+OK é\n';
    const parsed = parseWithModesl(apiResponse(body), apiResponse(''));
    expect(parsed[0]?.event.getBody()).toBe(body);
    expect(parsed[1]?.event.getBody()).toBe('-ERR no reply\n');
  });

  it('text/event-json: headers from the JSON object, body from _body', () => {
    const event = new FsEvent('BACKGROUND_JOB').add('Event-Name', 'BACKGROUND_JOB').add('Job-UUID', 'j1');
    event.body = '+OK done\n';
    const [parsed] = parseWithModesl(eventMessage('json', event));
    expect(parsed?.headers['Content-Type']).toBe('text/event-json');
    expect(parsed?.event.getHeader('Job-UUID')).toBe('j1');
    expect(parsed?.event.getBody()).toBe('+OK done\n');
  });

  it('text/event-plain: url-encoded headers come back decoded', () => {
    const event = new FsEvent('CHANNEL_EXECUTE_COMPLETE')
      .add('Event-Name', 'CHANNEL_EXECUTE_COMPLETE')
      .add('Unique-ID', 'u1')
      .add('Application-Data', 'silence_stream://500 and more');
    const [parsed] = parseWithModesl(eventMessage('plain', event));
    expect(parsed?.event.getHeader('Application-Data')).toBe('silence_stream://500 and more');
    expect(parsed?.event.getHeader('Unique-ID')).toBe('u1');
  });

  it('a connect reply (a plain CHANNEL_DATA event with the reply headers inside) is channel data', () => {
    const event = new FsEvent('CHANNEL_DATA')
      .add('Event-Name', 'CHANNEL_DATA')
      .add('Unique-ID', 'u1')
      .add('variable_sip_user_agent', 'drachtio-fsmrf:abc')
      .add('Content-Type', 'command/reply')
      .add('Reply-Text', '+OK\n');
    const [parsed] = parseWithModesl(event.toPlain());
    expect(parsed?.headers['Content-Type']).toBe('command/reply');
    expect(parsed?.headers['Event-Name']).toBe('CHANNEL_DATA');
    expect(parsed?.event.getHeader('variable_sip_user_agent')).toBe('drachtio-fsmrf:abc');
  });

  it('text/disconnect-notice for a controlled session names it', () => {
    const [parsed] = parseWithModesl(disconnectNotice(GOODBYE, 'u1'));
    expect(parsed?.headers['Content-Type']).toBe('text/disconnect-notice');
    expect(parsed?.headers['Controlled-Session-UUID']).toBe('u1');
    expect(parsed?.body).toBe(GOODBYE);
  });

  it('several messages in one chunk, and one message split over many', () => {
    const text = commandReply('+OK') + apiResponse('+OK a\n') + commandReply('-ERR invalid');
    const parsed = parseWithModesl(...text.split(''));
    expect(parsed.map((entry) => entry.event.getHeader('Reply-Text') ?? entry.event.getBody())).toEqual(['+OK', '+OK a\n', '-ERR invalid']);
  });
});

describe('FsEvent', () => {
  it('plain: an empty value is "_undef_"; a body adds its Content-Length', () => {
    const event = new FsEvent('CUSTOM').add('A', 'x').add('B', '');
    expect(event.toPlain()).toBe('A: x\nB: _undef_\n\n');
    event.body = 'hi';
    expect(event.toPlain()).toBe('A: x\nB: _undef_\nContent-Length: 2\n\nhi');
  });

  it('set() replaces a header case-insensitively, add() keeps the first for get()', () => {
    const event = new FsEvent('CUSTOM').add('Unique-ID', 'a').set('unique-id', 'b').add('X', '1').add('X', '2');
    expect(event.get('UNIQUE-ID')).toBe('b');
    expect(event.get('x')).toBe('1');
  });

  it('names events as switch_name_event() does, skipping a 13-character "SWITCH_EVENT_" prefix', () => {
    expect(nameEvent('channel_answer')).toBe('CHANNEL_ANSWER');
    expect(nameEvent('SWITCH_EVENT_PLAYBACK_START')).toBe('PLAYBACK_START');
    expect(nameEvent('NOT_AN_EVENT')).toBeUndefined();
  });
});
