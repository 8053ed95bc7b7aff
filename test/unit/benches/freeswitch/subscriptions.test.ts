/**
 * Event subscriptions and filters of one listener, as mod_event_socket's event_handler() and
 * parse_command("event") decide them.
 */
import { describe, expect, it } from 'vitest';

import { FsEvent } from '../../../benches/freeswitch/esl/event.js';
import { Subscriptions } from '../../../benches/freeswitch/esl/subscriptions.js';

function channelEvent(name: 'CHANNEL_EXECUTE_COMPLETE' | 'DTMF' | 'HEARTBEAT', uuid?: string): FsEvent {
  const event = new FsEvent(name).add('Event-Name', name);
  return uuid ? event.add('Unique-ID', uuid) : event;
}

function conferenceEvent(uuid: string, conferenceUuid: string): FsEvent {
  return new FsEvent('CUSTOM', 'conference::maintenance')
    .add('Event-Name', 'CUSTOM')
    .add('Event-Subclass', 'conference::maintenance')
    .add('Unique-ID', uuid)
    .add('Conference-Unique-ID', conferenceUuid);
}

describe('Subscriptions', () => {
  it('delivers nothing until an event command named at least one event', () => {
    const subscriptions = new Subscriptions();
    expect(subscriptions.add(['json'])).toBe(0);
    expect(subscriptions.wants(channelEvent('HEARTBEAT'))).toBe(false);
    expect(subscriptions.add(['HEARTBEAT'])).toBe(1);
    expect(subscriptions.wants(channelEvent('HEARTBEAT'))).toBe(true);
    expect(subscriptions.wants(channelEvent('DTMF'))).toBe(false);
  });

  it('reads every name after CUSTOM as a subclass, as FreeSWITCH reads drachtio-fsmrf’s list', () => {
    const subscriptions = new Subscriptions();
    // Endpoint's EVENTS_OF_INTEREST, then drachtio-modesl appends its required events.
    subscriptions.add(['CHANNEL_EXECUTE_COMPLETE', 'DTMF', 'CUSTOM', 'conference::maintenance', 'BACKGROUND_JOB']);
    expect(subscriptions.wants(conferenceEvent('u1', 'c1'))).toBe(true);
    expect(subscriptions.wants(new FsEvent('BACKGROUND_JOB').add('Event-Name', 'BACKGROUND_JOB'))).toBe(false);
    expect(subscriptions.wants(new FsEvent('CUSTOM', 'sofia::register'))).toBe(false);
  });

  it('ALL covers custom subclasses too; nixevent takes one type back out', () => {
    const subscriptions = new Subscriptions();
    subscriptions.add(['ALL']);
    expect(subscriptions.wants(new FsEvent('CUSTOM', 'anything::here'))).toBe(true);
    subscriptions.remove(['DTMF']);
    expect(subscriptions.wants(channelEvent('DTMF', 'u1'))).toBe(false);
    expect(subscriptions.wants(channelEvent('HEARTBEAT'))).toBe(true);
  });

  it('filters are alternatives: the endpoint filter plus the conference filter of a control leg', () => {
    const subscriptions = new Subscriptions();
    subscriptions.add(['CHANNEL_EXECUTE_COMPLETE', 'CUSTOM', 'conference::maintenance']);
    subscriptions.addFilter('Unique-ID', 'control');
    expect(subscriptions.wants(channelEvent('CHANNEL_EXECUTE_COMPLETE', 'control'))).toBe(true);
    expect(subscriptions.wants(conferenceEvent('guest', 'c1'))).toBe(false);
    subscriptions.addFilter('Conference-Unique-ID', 'c1');
    expect(subscriptions.wants(conferenceEvent('guest', 'c1'))).toBe(true);
    expect(subscriptions.wants(conferenceEvent('guest', 'c2'))).toBe(false);
    expect(subscriptions.wants(channelEvent('CHANNEL_EXECUTE_COMPLETE', 'guest'))).toBe(false);
  });

  it('compares without case, honours "-" vetoes and /regex/ values, and deletes filters', () => {
    const subscriptions = new Subscriptions();
    subscriptions.add(['DTMF']);
    subscriptions.addFilter('Unique-ID', '/^abc/');
    subscriptions.addFilter('DTMF-Digit', '-5');
    expect(subscriptions.wants(channelEvent('DTMF', 'ABCDEF'))).toBe(false);
    expect(subscriptions.wants(channelEvent('DTMF', 'abcdef'))).toBe(true);
    expect(subscriptions.wants(channelEvent('DTMF', 'abcdef').add('DTMF-Digit', '5'))).toBe(false);
    subscriptions.deleteFilter('all', undefined);
    expect(subscriptions.wants(channelEvent('DTMF', 'zzz'))).toBe(true);
  });
});
