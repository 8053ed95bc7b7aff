/**
 * Baseline: the signalling limit. A minimal drachtio-srf back-to-back user agent: each caller's
 * INVITE is relayed to the next operator's phone (round-robin over OPERATOR_CONTACTS) with
 * createB2BUA, the caller's SDP passed through, media direct between the phones; whoever hangs up,
 * the other leg is hung up too. No media server, no queue, no operator state, no records beyond
 * one line per call for the bench (CALL_LOG).
 *
 *   DRACHTIO_HOST=127.0.0.1 DRACHTIO_PORT=9022 DRACHTIO_SECRET=cymru \
 *   OPERATOR_CONTACTS=sip:op1@127.0.0.1:5071,sip:op2@127.0.0.1:5071 CALL_LOG=/tmp/b2bua.jsonl \
 *     node --import tsx bench/baselines/b2bua.ts
 */
import type Srf from 'drachtio-srf';
import { callLog, connect, connected, errorText, onStop, roundRobin, settings } from './common.js';

const s = settings();
const nextOperator = roundRobin(s.contacts);
const record = callLog(s.callLog);
const srf = await connect(s);

srf.invite((req: Srf.SrfRequest, res: Srf.SrfResponse) => {
  const arrivedAt = Date.now();
  void (async () => {
    try {
      const { uas, uac } = await srf.createB2BUA(req, res, nextOperator(), { localSdpB: req.body });
      const answeredAt = Date.now();
      let ended = false;
      const end = (other: Srf.Dialog): void => {
        if (ended) return;
        ended = true;
        if (connected(other)) other.destroy();
        record({ arrivedAt, answeredAt, endedAt: Date.now(), outcome: 'answered' });
      };
      uas.on('destroy', () => end(uac));
      uac.on('destroy', () => end(uas));
      // A BYE right behind the ACK can end a dialog before these listeners were attached.
      if (!connected(uas)) end(uac);
      else if (!connected(uac)) end(uas);
    } catch (err) {
      record({ arrivedAt, answeredAt: 0, endedAt: Date.now(), outcome: errorText(err) });
    }
  })();
});

onStop(() => srf.disconnect());
process.stdout.write('b2bua baseline ready\n');
