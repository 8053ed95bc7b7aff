/**
 * A blind-transfer handler (RFC 3515, RFC 5589): on an in-dialog REFER it answers 202, sends
 * a NOTIFY with "SIP/2.0 100 Trying", calls the Refer-To target, and sends a final NOTIFY with
 * the target's status line and Subscription-State: terminated.
 */
import type Srf from 'drachtio-srf';
import type { BenchDialog } from '../helpers.js';
import { asDialog } from '../helpers.js';
import type { EventLog } from './event-log.js';

const SIPFRAG = 'message/sipfrag;version=2.0';

export function handleRefers(srf: Srf, dialog: BenchDialog, log: EventLog): void {
  dialog.on('refer', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    const referTo = /<([^>]+)>/.exec(req.get('Refer-To'))?.[1] ?? req.get('Refer-To');
    log.add('refer', referTo);
    res.send(202);
    void transfer(srf, dialog, referTo, log);
  });
}

async function transfer(srf: Srf, dialog: BenchDialog, target: string, log: EventLog): Promise<void> {
  const notify = (status: string, state: string): Promise<unknown> =>
    dialog.request({
      method: 'NOTIFY',
      headers: { Event: 'refer', 'Subscription-State': state, 'Content-Type': SIPFRAG },
      body: `SIP/2.0 ${status}\r\n`,
    });
  await notify('100 Trying', 'active;expires=60');
  try {
    const leg = asDialog(await srf.createUAC(target, { localSdp: dialog.remote.sdp }));
    log.add('target-answered', leg);
    dialog.on('destroy', () => void leg.destroy().then(() => log.add('target-released')));
    await notify('200 OK', 'terminated;reason=noresource');
  } catch (err) {
    const status = (err as { status?: number; reason?: string }).status ?? 500;
    await notify(`${status} ${(err as { reason?: string }).reason ?? 'Failed'}`, 'terminated;reason=noresource');
  }
  log.add('notified');
}
