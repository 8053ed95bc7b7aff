/**
 * Timer values from RFC 3261 §17 and Table 4 (A-K), and RFC 6026 §8.4 (L, M).
 * T1, T2 and T4 can be shortened for tests; every other timer is derived from them as the
 * RFC defines, so a shortened T1 shortens B, F, H, J, L and M in proportion.
 */

export interface TimerSettings {
  /** RTT estimate, 500 ms by default. */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s. */
  T2: number;
  /** Maximum time a message stays in the network, 5 s. */
  T4: number;
}

export const DEFAULT_TIMERS: TimerSettings = { T1: 500, T2: 4000, T4: 5000 };

export function resolveTimers(partial?: Partial<TimerSettings>): TimerSettings {
  return { ...DEFAULT_TIMERS, ...partial };
}

export type TimerName = 'A' | 'B' | 'D' | 'E' | 'F' | 'G' | 'H' | 'I' | 'J' | 'K' | 'L' | 'M';

/** Initial value of each timer for a transaction on a reliable or unreliable transport. */
export function timerValue(name: TimerName, t: TimerSettings, reliable: boolean): number {
  switch (name) {
    case 'A': // INVITE request retransmit, unreliable only
    case 'E': // non-INVITE request retransmit, unreliable only
    case 'G': // INVITE final response retransmit, unreliable only
      return t.T1;
    case 'B': // INVITE transaction timeout
    case 'F': // non-INVITE transaction timeout
    case 'H': // wait for ACK to a non-2xx final response
    case 'L': // wait for INVITE retransmissions after a 2xx (RFC 6026)
    case 'M': // wait for 2xx retransmissions (RFC 6026)
      return 64 * t.T1;
    case 'D': // wait for response retransmits: "> 32 s" for UDP, i.e. 64*T1 at the default T1
      return reliable ? 0 : 64 * t.T1;
    case 'I': // wait for ACK retransmits
    case 'K': // wait for response retransmits
      return reliable ? 0 : t.T4;
    case 'J': // wait for non-INVITE request retransmits
      return reliable ? 0 : 64 * t.T1;
  }
}
