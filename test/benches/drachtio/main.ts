/**
 * Run the drachtio-server stand-in by hand:
 *
 *   npx tsx test/benches/drachtio/main.ts --port 9022 --sip 127.0.0.1:5060 --secret cymru \
 *     [--transports udp,tcp] [--t1 500] [--cdrs] [--trace]
 *
 * --port is the port drachtio-srf apps connect to (drachtio-server's admin port, 9022 by
 * default); --sip the address and port for SIP. Ctrl-C stops it.
 */
import { parseArgs } from 'node:util';
import type { Protocol } from '../sip/index.js';
import { startDrachtioStandIn } from './stand-in.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9022' },
    sip: { type: 'string', default: '127.0.0.1:5060' },
    secret: { type: 'string', default: 'cymru' },
    transports: { type: 'string', default: 'udp,tcp' },
    t1: { type: 'string' },
    cdrs: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});

const [sipHost = '127.0.0.1', sipPort = '5060'] = values.sip.split(':');
const transports = values.transports.split(',').filter((t): t is Protocol => t === 'udp' || t === 'tcp');

const standIn = await startDrachtioStandIn({
  sipHost,
  sipPort: Number(sipPort),
  transports,
  adminPort: Number(values.port),
  secret: values.secret,
  timers: values.t1 ? { T1: Number(values.t1) } : undefined,
  cdrs: values.cdrs,
  log: values.verbose ? (line) => console.log(line) : undefined,
  onSipTrace: values.trace
    ? (dir, text, wire) => console.log(`${dir === 'in' ? '<<<' : '>>>'} ${wire.protocol} ${wire.address}:${wire.port}\n${text}`)
    : undefined,
});

console.log(
  `drachtio stand-in: apps on ${standIn.host}:${standIn.adminPort}, SIP on ${standIn.sipHost}:${standIn.sipPort} (${standIn.transports.join(',')})`,
);

const shutdown = (): void => {
  void standIn.stop().then(() => process.exit(0));
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
