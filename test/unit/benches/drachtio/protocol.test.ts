import { describe, expect, it } from 'vitest';
import { splitClientMessage } from '../../../benches/drachtio/app-connection.js';
import { ClientController } from '../../../benches/drachtio/client-controller.js';
import { FrameDecoder, FramingError, frame } from '../../../benches/drachtio/framing.js';
import { parseAppHeaders } from '../../../benches/drachtio/headers.js';
import { formatMeta, stackTime } from '../../../benches/drachtio/meta.js';
import type { AppConnection } from '../../../benches/drachtio/app-connection.js';

describe('framing (client.cpp)', () => {
  it('prefixes the UTF-8 byte length and a #', () => {
    expect(frame('abc|ping')).toBe('8#abc|ping');
    expect(frame('é')).toBe('2#é');
  });

  it('reassembles split frames and splits joined ones', () => {
    const d = new FrameDecoder();
    const wire = Buffer.from(frame('one|ping') + frame('two|route|invite'));
    expect(d.push(wire.subarray(0, 3))).toEqual([]);
    expect(d.push(wire.subarray(3, 12))).toEqual(['one|ping']);
    expect(d.push(wire.subarray(12))).toEqual(['two|route|invite']);
  });

  it('refuses lengths that are not 1-5 digits', () => {
    expect(() => new FrameDecoder().push(Buffer.from('x1#a'))).toThrow(FramingError);
    expect(() => new FrameDecoder().push(Buffer.from('123456#'))).toThrow(FramingError);
    expect(() => new FrameDecoder().push(Buffer.from('0#'))).toThrow(FramingError);
  });
});

describe('client messages (drachtio.cpp splitMsg/splitTokens)', () => {
  it('splits the leader into tokens (keeping empty ones), start line, headers and body', () => {
    const m = splitClientMessage('id|sip|txn||\r\nSIP/2.0 200 OK\r\nX-A: 1\r\nContent-Type: text/plain\r\n\r\nhello');
    expect(m.tokens).toEqual(['id', 'sip', 'txn', '', '']);
    expect(m.startLine).toBe('SIP/2.0 200 OK');
    expect(m.headers).toBe('X-A: 1\r\nContent-Type: text/plain');
    expect(m.body).toBe('hello');
  });

  it('drops the headers the stack owns and rewrites @localhost (makeTags)', () => {
    const h = parseAppHeaders(
      'Via: SIP/2.0/UDP x\r\nContent-Length: 9\r\nFrom: <sip:alice@localhost>\r\nx-custom: 1\r\nbad header\r\nRecord-Route: <sip:x>',
      { host: '10.0.0.1', port: 5070 },
    );
    expect(h).toEqual([
      { name: 'From', value: '<sip:alice@10.0.0.1:5070>' },
      { name: 'X-Custom', value: '1' },
    ]);
    expect(parseAppHeaders('From: <sip:a@b>\r\nReason: SIP;cause=200', { host: 'h', port: 1 }, true)).toEqual([
      { name: 'Reason', value: 'SIP;cause=200' },
    ]);
  });

  it('formats SipMsgData_t meta as source|bytes|protocol|address|port|time', () => {
    const t = stackTime(new Date(Date.UTC(2024, 0, 1, 3, 4, 5, 678)), 678_000);
    expect(t).toBe('03:04:05.678000');
    expect(formatMeta({ source: 'network', bytes: 12, protocol: 'udp', address: '127.0.0.1', port: 5060, time: t })).toBe(
      'network|12|udp|127.0.0.1|5060|03:04:05.678000',
    );
  });
});

describe('ClientController', () => {
  const app = (name: string): AppConnection => ({ id: name, hasTag: () => false }) as unknown as AppConnection;

  it('round-robins new requests per verb and forgets apps that leave', () => {
    const cc = new ClientController();
    const [a, b] = [app('a'), app('b')];
    cc.wantsRequests(a, 'invite');
    cc.wantsRequests(b, 'invite');
    const picks = [1, 2, 3, 4].map(() => cc.selectClientForRequestOutsideDialog('INVITE')?.id);
    expect(picks).toEqual(['a', 'b', 'a', 'b']);
    expect(cc.selectClientForRequestOutsideDialog('OPTIONS')).toBeUndefined();
    cc.leave(a);
    expect(cc.selectClientForRequestOutsideDialog('INVITE')?.id).toBe('b');
  });

  it('remove_route drops the app from every verb, as the C++ loop does', () => {
    const cc = new ClientController();
    const a = app('a');
    cc.wantsRequests(a, 'invite');
    cc.wantsRequests(a, 'options');
    cc.noLongerWantsRequests(a, 'invite');
    expect(cc.selectClientForRequestOutsideDialog('OPTIONS')).toBeUndefined();
  });
});
