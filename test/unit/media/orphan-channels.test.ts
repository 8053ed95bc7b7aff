import { describe, expect, it } from 'vitest';
import { orphanedAddresses } from '../../../src/media/orphan-channels.js';

describe('orphanedAddresses', () => {
  it('takes every address of an instance that is gone', () => {
    const owners = [
      { instanceId: 'a', alive: true, addresses: ['10.0.0.1:40001'] },
      { instanceId: 'b', alive: false, addresses: ['10.0.0.2:40002', '10.0.0.2:40003'] },
    ];
    expect(orphanedAddresses(owners, 'a', ['10.0.0.1:40001'])).toEqual([
      { instanceId: 'b', address: '10.0.0.2:40002' },
      { instanceId: 'b', address: '10.0.0.2:40003' },
    ]);
  });

  it('leaves a live instance alone', () => {
    expect(orphanedAddresses([{ instanceId: 'b', alive: true, addresses: ['10.0.0.2:40002'] }], 'a', [])).toEqual([]);
  });

  it('takes the addresses of a predecessor under this instance id, not this process\'s own', () => {
    const owners = [{ instanceId: 'a', alive: true, addresses: ['10.0.0.1:40001', '10.0.0.1:40009'] }];
    expect(orphanedAddresses(owners, 'a', ['10.0.0.1:40009'])).toEqual([{ instanceId: 'a', address: '10.0.0.1:40001' }]);
  });

  it('before this process has a media server, every address under its id is a predecessor\'s', () => {
    const owners = [{ instanceId: 'a', alive: true, addresses: ['10.0.0.1:40001'] }];
    expect(orphanedAddresses(owners, 'a', [])).toEqual([{ instanceId: 'a', address: '10.0.0.1:40001' }]);
  });

  it('spares an address a live instance uses now (a port used again)', () => {
    const owners = [
      { instanceId: 'b', alive: false, addresses: ['10.0.0.1:40001', '10.0.0.1:40002'] },
      { instanceId: 'c', alive: true, addresses: ['10.0.0.1:40001'] },
    ];
    expect(orphanedAddresses(owners, 'a', ['10.0.0.1:40002'])).toEqual([]);
  });
});
