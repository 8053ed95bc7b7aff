/**
 * Where the switchboard can call a number: an extension's registered phones, an operator's
 * phones (by username or work number), or an outside number through OUTBOUND_GATEWAY. Wake-up
 * calls, callbacks and anything else that places a call of its own start here.
 */
import type { CallContext } from '../calls/context.js';

export interface Reachable {
  kind: 'extension' | 'operator' | 'gateway';
  number: string;
  /** The Request-URI user and To header: the SIP user name, or the number for the gateway. */
  username: string;
  /** The extension's or operator's name; '' for an outside number. */
  name: string;
  /** Contact URIs to ring at once; empty when the extension's or operator's phones are not registered. */
  contacts: string[];
}

type ReachContext = Pick<CallContext, 'registrar' | 'settings' | 'config'>;

// Digits only: * and # would need escaping in a SIP URI, and no trunk expects them.
const OUTSIDE_NUMBER = /^\+?[0-9]{1,32}$/;

/** The way to ring `number`, or undefined when nothing the switchboard knows leads there. */
export async function reach(ctx: ReachContext, number: string): Promise<Reachable | undefined> {
  const extension = ctx.settings.extension(number);
  if (extension) return { kind: 'extension', number, username: number, name: extension.name, contacts: await contactsOf(ctx, number) };
  const operator = ctx.settings.operatorByUsername(number) ?? ctx.settings.operators().find((o) => o.workNumber === number);
  if (operator) {
    return { kind: 'operator', number, username: operator.username, name: operator.displayName, contacts: await contactsOf(ctx, operator.username) };
  }
  const gateway = ctx.config.outboundGateway;
  if (!gateway || !OUTSIDE_NUMBER.test(number)) return undefined;
  return { kind: 'gateway', number, username: number, name: '', contacts: [`sip:${number}@${gateway.host}:${gateway.port}`] };
}

async function contactsOf(ctx: ReachContext, username: string): Promise<string[]> {
  return (await ctx.registrar.contacts(username)).map((b) => b.contact);
}
