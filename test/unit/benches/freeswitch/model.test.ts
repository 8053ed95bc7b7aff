/** The media model and its query interface, without any I/O. */
import { describe, expect, it } from 'vitest';

import { MediaModel, type NewMember } from '../../../benches/freeswitch/model/model.js';

function modelWith(...uuids: string[]): MediaModel {
  const model = new MediaModel();
  for (const uuid of uuids) {
    model.addChannel({ uuid, name: `sofia/drachtio_mrf/${uuid}@127.0.0.1`, callId: `call-${uuid}`, sipHeaders: { 'x-leg': uuid } });
    model.answer(uuid);
  }
  return model;
}

function member(id: number, uuid: string, overrides: Partial<NewMember> = {}): NewMember {
  return { id, uuid, canSpeak: true, canHear: true, moderator: false, ghost: false, endconf: false, ...overrides };
}

describe('MediaModel', () => {
  it('records bridges both ways and ends them from either side', () => {
    const model = modelWith('caller', 'operator', 'other');
    model.setParked('caller', true);
    model.bridge('caller', 'operator');
    expect(model.areBridged('caller', 'operator')).toBe(true);
    expect(model.areBridged('operator', 'caller')).toBe(true);
    expect(model.areBridged('caller', 'other')).toBe(false);
    expect(model.channel('caller')?.parked).toBe(false);
    expect(model.unbridge('operator')).toBe('caller');
    expect(model.bridgedWith('caller')).toBeUndefined();
  });

  it('a hangup ends the bridge and leaves the channel inspectable but not listed', () => {
    const model = modelWith('caller', 'operator');
    model.bridge('caller', 'operator');
    model.hangup('caller', 'NORMAL_CLEARING');
    expect(model.bridgedWith('operator')).toBeUndefined();
    expect(model.channel('caller')).toMatchObject({ state: 'hungup', hangupCause: 'NORMAL_CLEARING' });
    expect(model.channels().map((channel) => channel.uuid)).toEqual(['operator']);
  });

  it('keeps conference members in join order with their ids and flags', () => {
    const model = modelWith('control', 'a', 'b');
    model.createConference('3000', 'conf-uuid', 'default');
    model.addMember('3000', member(1, 'control', { canSpeak: false, endconf: true }));
    model.addMember('3000', member(2, 'a'));
    model.addMember('3000', member(3, 'b', { moderator: true }));
    expect(model.membersOf('3000').map((m) => [m.id, m.uuid])).toEqual([
      [1, 'control'],
      [2, 'a'],
      [3, 'b'],
    ]);
    expect(model.conferenceOf('a')).toEqual({ name: '3000', memberId: 2 });
    model.patchMember('3000', 2, { canSpeak: false });
    expect(model.membersOf('3000').find((m) => m.id === 2)?.canSpeak).toBe(false);
    model.removeMember('3000', 2);
    expect(model.conferenceOf('a')).toBeUndefined();
    expect(model.membersOf('3000')).toHaveLength(2);
    model.destroyConference('3000');
    expect(model.conference('3000')).toBeUndefined();
  });

  it('says what a channel hears: its own file first, then its partner, then its conference', () => {
    const model = modelWith('caller', 'operator', 'guest');
    expect(model.hearing('caller')).toEqual({ kind: 'silence' });
    model.setPlaying('caller', 'local_stream://moh');
    expect(model.hearing('caller')).toEqual({ kind: 'file', path: 'local_stream://moh' });
    model.bridge('caller', 'operator');
    expect(model.hearing('caller')).toEqual({ kind: 'file', path: 'local_stream://moh' });
    model.setPlaying('caller', undefined);
    expect(model.hearing('caller')).toEqual({ kind: 'channel', uuid: 'operator' });
    model.createConference('room', 'r', 'default');
    model.addMember('room', member(7, 'guest'));
    expect(model.hearing('guest')).toEqual({ kind: 'conference', name: 'room', file: undefined });
    model.patchConference('room', { playing: 'ivr/welcome.wav' });
    expect(model.hearing('guest')).toEqual({ kind: 'conference', name: 'room', file: 'ivr/welcome.wav' });
    model.patchMember('room', 7, { canHear: false });
    expect(model.hearing('guest')).toEqual({ kind: 'silence' });
  });

  it('finds channels by what their INVITE carried', () => {
    const model = modelWith('caller', 'operator');
    expect(model.findChannel((channel) => channel.sipHeaders['x-leg'] === 'operator')?.uuid).toBe('operator');
  });

  it('waitFor resolves on the change that makes the probe true, with its value', async () => {
    const model = modelWith('caller', 'operator');
    const waiting = model.waitFor(() => model.bridgedWith('caller'), { timeoutMs: 1_000 });
    model.bridge('caller', 'operator');
    await expect(waiting).resolves.toBe('operator');
  });

  it('waitFor rejects after its timeout, naming what it waited for', async () => {
    const model = modelWith('caller');
    await expect(model.waitFor(() => model.areBridged('caller', 'x'), { timeoutMs: 20, description: 'caller bridged' })).rejects.toThrow(
      /20 ms waiting for caller bridged/,
    );
  });
});
