/**
 * Dispatch time seen from outside the system under test: the moment each caller's SIPp sent its
 * INVITE and the moment an operator's SIPp phone received the INVITE offering that caller,
 * matched by the caller's number (the From user, which every target copies onto the operator's
 * INVITE). Both SIPps log with -trace_logs (sipp-scenarios/caller-load.xml: "invite <number>
 * <epoch ms>", operator-auto-answer.xml: "offer <number> <epoch ms>"), on the same machine and
 * clock. Includes both SIPps' own delays in sending and reading, the same for every target.
 */

export interface Stamp {
  number: string;
  at: number;
}

/**
 * The "<kind> <number> <epoch ms>" lines of a SIPp log; anything else is skipped. The phones log
 * the From URI's start ("sip:<number>"): the scheme is dropped.
 */
export function parseStamps(text: string, kind: 'invite' | 'offer'): Stamp[] {
  const out: Stamp[] = [];
  for (const line of text.split('\n')) {
    const [k, number, at] = line.trim().split(/\s+/);
    if (k !== kind || !number || at === undefined) continue;
    const ms = Number(at);
    if (Number.isFinite(ms)) out.push({ number: number.replace(/^sips?:/, ''), at: ms });
  }
  return out;
}

export interface DispatchMatch {
  /** Caller INVITE -> first operator INVITE for that caller, ms, per offered caller. */
  ms: number[];
  /** Callers whose number was never offered to an operator (refused, abandoned, failed). */
  notOffered: number;
}

/**
 * Each caller's first offer at or after their INVITE (a caller offered again after a ring that
 * went unanswered counts once, by the first). Offers of numbers not among the invites are other
 * steps' and are ignored.
 */
export function matchDispatch(invites: Stamp[], offers: Stamp[]): DispatchMatch {
  const sent = new Map<string, number>();
  for (const i of invites) sent.set(i.number, i.at);
  const first = new Map<string, number>();
  for (const o of offers) {
    const at = sent.get(o.number);
    if (at === undefined || o.at < at) continue;
    const known = first.get(o.number);
    if (known === undefined || o.at < known) first.set(o.number, o.at);
  }
  const ms: number[] = [];
  for (const [number, at] of first) ms.push(at - (sent.get(number) as number));
  return { ms, notOffered: sent.size - first.size };
}
