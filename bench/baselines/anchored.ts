/**
 * Baseline: the media-anchored limit. A minimal drachtio-srf + drachtio-fsmrf app: each caller
 * is answered onto the media server (connectCaller), the next operator's phone (round-robin over
 * OPERATOR_CONTACTS) is called from a second endpoint (createEndpoint, then createUAC with its
 * SDP), and the two endpoints are bridged; whoever hangs up, everything of the call is released.
 * The switchboard's call path without its queue, operator state, Redis or PostgreSQL.
 * WAIT_MS > 0 (the bench's wait shape): the answered caller hears hold music (local_stream://moh)
 * for that long before the operator is called, as a queue's waiting caller would.
 *
 *   DRACHTIO_HOST=127.0.0.1 DRACHTIO_PORT=9022 DRACHTIO_SECRET=cymru \
 *   FREESWITCH_ESL=127.0.0.1:8021 FREESWITCH_PASSWORD=ClueCon [FREESWITCH_LISTEN_ADDRESS=127.0.0.1] \
 *   OPERATOR_CONTACTS=sip:op1@127.0.0.1:5071 CALL_LOG=/tmp/anchored.jsonl [WAIT_MS=0] \
 *     node --import tsx bench/baselines/anchored.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Mrf from 'drachtio-fsmrf';
import type Srf from 'drachtio-srf';
import { callLog, connect, connected, errorText, onStop, roundRobin, settings } from './common.js';

const s = settings();
const esl = process.env.FREESWITCH_ESL ?? '127.0.0.1:8021';
const colon = esl.lastIndexOf(':');
const waitMs = Number(process.env.WAIT_MS ?? 0);
const nextOperator = roundRobin(s.contacts);
const record = callLog(s.callLog);
const srf = await connect(s);
const ms = await new Mrf(srf).connect({
  address: esl.slice(0, colon),
  port: Number(esl.slice(colon + 1)),
  secret: process.env.FREESWITCH_PASSWORD ?? 'ClueCon',
  listenAddress: process.env.FREESWITCH_LISTEN_ADDRESS ?? '127.0.0.1',
});
ms.on('error', (err: Error) => process.stderr.write(`anchored baseline: FreeSWITCH: ${err.message}\n`));

srf.invite((req: Srf.SrfRequest, res: Srf.SrfResponse) => {
  const arrivedAt = Date.now();
  let answeredAt = 0;
  let callerGone = false;
  let ended = false;
  let operatorRequest: Srf.SrfRequest | undefined;
  let caller: { endpoint: Mrf.Endpoint; dialog: Srf.Dialog } | undefined;
  let operatorEndpoint: Mrf.Endpoint | undefined;
  let operatorDialog: Srf.Dialog | undefined;

  const end = (outcome: string): void => {
    if (ended) return;
    ended = true;
    for (const d of [caller?.dialog, operatorDialog]) if (d && connected(d)) d.destroy();
    for (const e of [caller?.endpoint, operatorEndpoint]) void e?.destroy().catch(() => undefined);
    record({ arrivedAt, answeredAt, endedAt: Date.now(), outcome });
  };

  void (async () => {
    try {
      caller = await ms.connectCaller(req, res);
      caller.dialog.on('destroy', () => {
        callerGone = true;
        if (operatorDialog) end('answered');
        else if (operatorRequest) operatorRequest.cancel(() => undefined);
      });
      if (!connected(caller.dialog)) return end('caller left while being answered');
      if (waitMs > 0) await holdMusic(caller.endpoint, waitMs);
      if (callerGone) return end('caller left while waiting');
      operatorEndpoint = await ms.createEndpoint();
      if (callerGone) return end('caller left before the operator was called');
      // The caller's number on the operator's phone, as the switchboard shows it (and the bench matches by it).
      operatorDialog = await srf.createUAC(nextOperator(), { localSdp: operatorEndpoint.local.sdp, headers: { from: `<sip:${req.callingNumber}@localhost>` } }, {
        cbRequest: (...args: unknown[]) => {
          // drachtio-srf calls back (err, req) although its typings say (req).
          operatorRequest = args[1] as Srf.SrfRequest;
        },
      });
      operatorDialog.on('destroy', () => end('answered'));
      if (callerGone || !connected(operatorDialog)) return end(callerGone ? 'caller left while the operator answered' : 'answered');
      await operatorEndpoint.modify(operatorDialog.remote.sdp);
      // Where the switchboard records the operator's answer too: the phone's SDP is on the media server.
      answeredAt = Date.now();
      await caller.endpoint.bridge(operatorEndpoint);
    } catch (err) {
      end(callerGone ? 'caller left while the operator rang' : errorText(err));
    }
  })();
});

/** Music on the endpoint for `ms`, then broken off (a stream plays until then). */
async function holdMusic(endpoint: Mrf.Endpoint, ms: number): Promise<void> {
  void endpoint.play('local_stream://moh').catch(() => undefined);
  await sleep(ms);
  await endpoint.api('uuid_break', `${endpoint.uuid} all`).catch(() => undefined);
}

onStop(() => {
  ms.disconnect();
  srf.disconnect();
});
process.stdout.write('anchored baseline ready\n');
