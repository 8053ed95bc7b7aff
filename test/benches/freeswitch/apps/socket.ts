/**
 * The socket application in async mode: connect back to the application, wait for its
 * `connect`, then park (taking the queued sendmsg messages) until transferred, bridged or hung up.
 * A failed connection makes the application return at once, which ends the dialplan and the call.
 */
import { connectOutbound, parseSocketData } from '../esl/outbound.js';
import type { Application } from '../core/switch.js';
import { parkUntilInterrupted } from './basic.js';

export const socket: Application = {
  async run(context) {
    const { sw, session } = context;
    const target = parseSocketData(context.arg);
    if (!target) return;
    const listener = await connectOutbound(sw, session, target);
    if (!listener) return;
    sw.connections.add(listener);
    void listener.closed.then(() => sw.connections.delete(listener));
    if (!session.isUp) return;
    if (!target.async) {
      // A static socket runs the listener inside the application until it closes.
      await Promise.race([listener.closed, context.wait('forever')]);
      return;
    }
    const connected = await Promise.race([listener.whenConnected(), context.wait('forever').then(() => false)]);
    if (!connected || !session.isUp) return;
    await parkUntilInterrupted(context);
  },
};
