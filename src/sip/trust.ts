import { isIP } from 'node:net';
import type { Cidr } from '../config.js';

function ipv4ToBits(address: string): bigint {
  return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBits(address: string): bigint {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const expand = (groups: string[]): string[] =>
    groups.flatMap((g) => (g.includes('.') ? [(Number(ipv4ToBits(g) >> 16n)).toString(16), (Number(ipv4ToBits(g) & 0xffffn)).toString(16)] : [g]));
  const l = expand(left);
  const r = expand(right);
  const groups = tail === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

function inBlock(address: string, block: Cidr): boolean {
  const family = isIP(address);
  const mapped = family === 6 && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : undefined;
  if (mapped && block.family === 4) return inBlock(mapped, block);
  if (family !== block.family) return false;
  const width = family === 4 ? 32 : 128;
  const bits = family === 4 ? ipv4ToBits : ipv6ToBits;
  const shift = BigInt(width - block.prefix);
  return bits(address) >> shift === bits(block.address) >> shift;
}

/** Is this source address one of the configured trusted sources (TRUSTED_SOURCES)? */
export function isTrusted(address: string, sources: readonly Cidr[]): boolean {
  return sources.some((block) => inBlock(address, block));
}
