import { describe, expect, it } from 'vitest';
import type { HostPort } from '../../../src/config.js';
import type { Extension, Operator } from '../../../src/provisioning/types.js';
import { reach } from '../../../src/sip/reach.js';

const stamp = { createdAt: new Date(0), updatedAt: new Date(0) };
const room: Extension = { id: 1, number: '101', name: 'Room 101', ...stamp };
const alice: Operator = { id: 7, username: 'alice', displayName: 'Alice', workNumber: '2001', grade: 1, ...stamp };
const bindings: Record<string, string[]> = { '101': ['sip:101@10.0.0.9:5062'], alice: ['sip:alice@10.0.0.7:5060', 'sip:alice@10.0.0.8:5060'] };

function ctx(outboundGateway?: HostPort): Parameters<typeof reach>[0] {
  return {
    config: { outboundGateway } as Parameters<typeof reach>[0]['config'],
    settings: {
      extension: (n: string) => (n === room.number ? room : undefined),
      operatorByUsername: (u: string) => (u === alice.username ? alice : undefined),
      operators: () => [alice],
    } as unknown as Parameters<typeof reach>[0]['settings'],
    registrar: {
      contacts: async (u: string) => (bindings[u] ?? []).map((contact) => ({ contact })),
    } as unknown as Parameters<typeof reach>[0]['registrar'],
  };
}

describe('reach', () => {
  it('rings an extension at its registered phones, by its number', async () => {
    expect(await reach(ctx(), '101')).toEqual({ kind: 'extension', number: '101', username: '101', name: 'Room 101', contacts: ['sip:101@10.0.0.9:5062'] });
  });

  it('rings an operator by username or work number at all their phones', async () => {
    const expected = { kind: 'operator', username: 'alice', name: 'Alice', contacts: bindings.alice };
    expect(await reach(ctx(), 'alice')).toEqual({ ...expected, number: 'alice' });
    expect(await reach(ctx(), '2001')).toEqual({ ...expected, number: '2001' });
  });

  it('sends other numbers to the gateway, and knows no way without one', async () => {
    const gateway = { host: 'sbc.example.net', port: 5080 };
    expect(await reach(ctx(gateway), '+4930123456')).toEqual({ kind: 'gateway', number: '+4930123456', username: '+4930123456', name: '', contacts: ['sip:+4930123456@sbc.example.net:5080'] });
    expect(await reach(ctx(), '4930123456')).toBeUndefined();
    expect(await reach(ctx(gateway), '12#34')).toBeUndefined();
  });

  it('says an extension with no phone registered has no contacts rather than no way', async () => {
    expect(await reach(ctx(), '101')).toMatchObject({ contacts: ['sip:101@10.0.0.9:5062'] });
    bindings['101'] = [];
    expect(await reach(ctx(), '101')).toMatchObject({ kind: 'extension', contacts: [] });
  });
});
