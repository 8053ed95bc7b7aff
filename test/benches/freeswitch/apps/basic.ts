/**
 * Small dialplan applications from mod_dptools (src/mod/applications/mod_dptools/mod_dptools.c)
 * and the core's park: what the mrf dialplan and drachtio-fsmrf's Endpoint send.
 */
import { causeFromText, NORMAL_CLEARING } from '../core/causes.js';
import type { AppContext, Application } from '../core/switch.js';

const PARK_ORIGIN = { file: 'switch_ivr.c', func: 'switch_ivr_park', line: 1005 };

/** answer: the SIP side sends its 200 OK (a no-op once answered). */
export const answer: Application = {
  run({ sw, session }) {
    session.sip?.answer();
    sw.markAnswered(session);
    return Promise.resolve();
  },
};

/** set / export: "name=value"; an empty value unsets (set_function, export_function). */
function setter(): Application {
  return {
    run({ session, arg }) {
      const equals = arg.indexOf('=');
      if (equals < 0) session.setVariable(arg.trim(), undefined);
      else session.setVariable(arg.slice(0, equals).trim(), arg.slice(equals + 1));
      return Promise.resolve();
    },
  };
}

export const set = setter();
export const exportVariable = setter();

/** multiset: "^^<d>a=1<d>b=2" picks the delimiter <d>, else the pairs are space separated. */
export const multiset: Application = {
  async run(context) {
    let text = context.arg;
    let delimiter = ' ';
    if (text.startsWith('^^') && text.length > 2) {
      delimiter = text.charAt(2);
      text = text.slice(3);
    }
    for (const pair of text.split(delimiter).filter(Boolean)) {
      await set.run({ ...context, arg: pair });
    }
  },
};

export const unset: Application = {
  run({ session, arg }) {
    session.setVariable(arg.trim(), undefined);
    return Promise.resolve();
  },
};

/** hangup [cause] */
export const hangup: Application = {
  run({ sw, session, arg }) {
    const cause = arg.trim() ? causeFromText(arg) : NORMAL_CLEARING;
    sw.hangup(session, cause === 'NONE' ? NORMAL_CLEARING : cause);
    return Promise.resolve();
  },
};

/** set_mute: "read|write true|false" mutes what the channel sends (read) or hears (write). */
export const setMute: Application = {
  run({ sw, session, arg }) {
    const [direction, value] = arg.trim().split(/\s+/);
    if (direction === 'read' && value !== undefined) sw.model.setMuted(session.uuid, value === 'true' || Number(value) > 0);
    return Promise.resolve();
  },
};

/** sleep MS */
export const sleep: Application = {
  async run({ arg, wait }) {
    await wait(Number.parseInt(arg, 10) || 0);
  },
};

/** Applications accepted and reported on without any effect on the model. */
export const noop: Application = {
  run() {
    return Promise.resolve();
  },
};

/**
 * switch_ivr_park(): CHANNEL_PARK, then private events are taken while parked, until the channel
 * is transferred, bridged or hung up; CHANNEL_UNPARK on the way out.
 */
export async function parkUntilInterrupted(context: AppContext): Promise<void> {
  const { sw, session } = context;
  session.state = 'CS_PARK';
  sw.model.setParked(session.uuid, true);
  sw.fire(sw.channelEvent('CHANNEL_PARK', session, PARK_ORIGIN));
  await context.wait('forever');
  sw.model.setParked(session.uuid, false);
  sw.fire(sw.channelEvent('CHANNEL_UNPARK', session, PARK_ORIGIN));
}

export const park: Application = {
  run: parkUntilInterrupted,
};
