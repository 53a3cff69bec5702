/**
 * Address text: dotted quad for IPv4, RFC 5952 canonical text for IPv6, colon-separated MAC.
 * The inputs are bounds-checked by the callers (4, 16 and 6 bytes from `o`).
 */

/** a.b.c.d from 4 bytes at `o`. */
export function formatIPv4(b: Uint8Array, o: number): string {
  return `${b[o]!}.${b[o + 1]!}.${b[o + 2]!}.${b[o + 3]!}`;
}

const groups = new Uint16Array(8);

/**
 * RFC 5952 text of the 16 bytes at `o`: lower-case hex without leading zeros, the longest run of
 * two or more zero groups (the first of equal runs) as "::", and "::ffff:a.b.c.d" for
 * IPv4-mapped addresses (RFC 5952 section 5).
 *
 * A capture holds the same few addresses over and over, and formatting them was the packet
 * decoder's largest cost: the text of recent addresses is kept in a small direct-mapped cache
 * (slot by a hash of the bytes, hit when all 16 bytes are equal), so a hit makes no string.
 */
export function formatIPv6(b: Uint8Array, o: number): string {
  let h = 0;
  for (let i = 0; i < 16; i++) h = (Math.imul(h, 31) + b[o + i]!) | 0;
  const slot = (h ^ (h >>> 12)) & (IPV6_CACHE_SLOTS - 1);
  const at = slot * 16;
  const text = ipv6CacheText[slot];
  if (text !== undefined) {
    let same = true;
    for (let i = 0; i < 16 && same; i++) same = ipv6CacheBytes[at + i] === b[o + i];
    if (same) return text;
  }
  const fresh = formatIPv6Text(b, o);
  for (let i = 0; i < 16; i++) ipv6CacheBytes[at + i] = b[o + i]!;
  ipv6CacheText[slot] = fresh;
  return fresh;
}

const IPV6_CACHE_SLOTS = 1024;
const ipv6CacheBytes = new Uint8Array(IPV6_CACHE_SLOTS * 16);
const ipv6CacheText: (string | undefined)[] = new Array<string | undefined>(IPV6_CACHE_SLOTS).fill(undefined);

/** formatIPv6 without the cache. */
function formatIPv6Text(b: Uint8Array, o: number): string {
  for (let i = 0; i < 8; i++) groups[i] = (b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!;
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(b, o + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if (groups[i] === 0) {
      if (runStart < 0) runStart = i;
      const len = i - runStart + 1;
      if (len > bestLen) {
        bestLen = len;
        bestStart = runStart;
      }
    } else {
      runStart = -1;
    }
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += groups[i]!.toString(16);
  }
  return s;
}

/** IPv4 or IPv6 text for a 4- or 16-byte address; "" for any other length. */
export function formatIP(b: Uint8Array): string {
  if (b.length === 4) return formatIPv4(b, 0);
  if (b.length === 16) return formatIPv6(b, 0);
  return '';
}

const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** aa:bb:cc:dd:ee:ff from 6 bytes at `o`. */
export function formatMac(b: Uint8Array, o: number): string {
  return `${HEX2[b[o]!]}:${HEX2[b[o + 1]!]}:${HEX2[b[o + 2]!]}:${HEX2[b[o + 3]!]}:${HEX2[b[o + 4]!]}:${HEX2[b[o + 5]!]}`;
}
