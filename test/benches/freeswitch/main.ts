/**
 * Runs the FreeSWITCH stand-in on its own:
 *
 *   npx tsx test/benches/freeswitch/main.ts [--esl-port 8021] [--password ClueCon]
 *                                           [--sip-port 5080] [--sip-host 127.0.0.1]
 *                                           [--heartbeat-ms 20000] [--file-ms 200]
 *
 * Prints the event-socket and SIP addresses, then serves until SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util';

import { startFreeswitchStandIn } from './index.js';

const { values } = parseArgs({
  options: {
    'esl-port': { type: 'string', default: '8021' },
    'esl-host': { type: 'string', default: '127.0.0.1' },
    password: { type: 'string', default: 'ClueCon' },
    'sip-port': { type: 'string', default: '5080' },
    'sip-host': { type: 'string', default: '127.0.0.1' },
    'heartbeat-ms': { type: 'string', default: '20000' },
    'file-ms': { type: 'string', default: '200' },
  },
});

const standIn = await startFreeswitchStandIn({
  eslPort: Number(values['esl-port']),
  eslHost: values['esl-host'],
  password: values.password,
  sipPort: Number(values['sip-port']),
  sipHost: values['sip-host'],
  heartbeatIntervalMs: Number(values['heartbeat-ms']),
  media: { defaultFileMs: Number(values['file-ms']) },
});

console.log(`FreeSWITCH stand-in: event socket ${standIn.eslHost}:${standIn.eslPort} (password ${standIn.password})`);
console.log(`FreeSWITCH stand-in: drachtio_mrf profile sip:mod_sofia@${standIn.sipAddress}`);

const stop = (): void => {
  void standIn.stop().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
