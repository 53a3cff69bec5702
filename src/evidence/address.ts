/**
 * IP address text ⇄ 128-bit value, for the evidence stores.
 *
 * Every address is held as four big-endian 32-bit words; IPv4 a.b.c.d is held as the
 * IPv4-mapped ::ffff:a.b.c.d, so "10.0.0.1" in a span attribute and "::ffff:10.0.0.1" from a
 * dual-stack socket are the same endpoint when flows are matched. A family flag remembers which
 * text form to give back. Text comes back canonical: dotted quad for IPv4, RFC 5952 for IPv6
 * (lower case, shortest, first longest zero run as "::", ::ffff:0:0/96 in mixed notation).
 * Decoders emit canonical text, so flow addresses round-trip exactly.
 *
 * Parsing writes into a caller's Uint32Array so the insert path allocates nothing.
 */

export type AddressFamily = 4 | 6;

/**
 * Parses `text` into out[at..at+3]; returns 4 or 6, or 0 if it is not an IP address (the
 * words are then unspecified). Zone ids ("fe80::1%eth0") and leading zeros in IPv4 octets
 * ("010.0.0.1", ambiguous: octal to some parsers) are refused.
 */
export function parseAddress(text: string, out: Uint32Array, at: number): AddressFamily | 0 {
  const v4 = parseIPv4(text, 0, text.length);
  if (v4 >= 0) {
    out[at] = 0;
    out[at + 1] = 0;
    out[at + 2] = 0xffff;
    out[at + 3] = v4;
    return 4;
  }
  return parseIPv6(text, out, at) ? 6 : 0;
}

/** Dotted quad in text[from, to) as an unsigned 32-bit value, or -1. */
function parseIPv4(text: string, from: number, to: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255) return -1;
      digits++;
    } else if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}

const groups = new Uint16Array(8);

function parseIPv6(text: string, out: Uint32Array, at: number): boolean {
  const n = text.length;
  if (n < 2 || n > 45) return false;
  let count = 0; // groups written
  let gap = -1; // group index where "::" stands
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === n) {
      groups.fill(0);
      return writeGroups(out, at);
    }
  }
  while (i < n) {
    // One group: hex digits up to ':' or end, or an IPv4 tail.
    let value = 0;
    let digits = 0;
    let j = i;
    for (; j < n; j++) {
      const c = text.charCodeAt(j);
      const h = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (h < 0) break;
      value = value * 16 + h;
      digits++;
    }
    if (j < n && text.charCodeAt(j) === 46) {
      // IPv4 tail: takes the last two groups, and must end the text.
      const v4 = parseIPv4(text, i, n);
      if (v4 < 0 || count > 6) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = n;
      break;
    }
    if (digits === 0 || digits > 4 || count === 8) return false;
    groups[count++] = value;
    if (j === n) {
      i = n;
      break;
    }
    if (text.charCodeAt(j) !== 58) return false;
    if (j + 1 < n && text.charCodeAt(j + 1) === 58) {
      if (gap >= 0) return false; // a second "::"
      gap = count;
      i = j + 2;
    } else {
      if (j + 1 === n) return false; // trailing single ':'
      i = j + 1;
    }
  }
  if (gap < 0) {
    if (count !== 8) return false;
  } else {
    if (count > 7) return false; // "::" must stand for at least one group
    const tail = count - gap;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[count - 1 - k]!;
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  }
  return writeGroups(out, at);
}

function writeGroups(out: Uint32Array, at: number): true {
  for (let k = 0; k < 4; k++) out[at + k] = ((groups[2 * k]! << 16) | groups[2 * k + 1]!) >>> 0;
  return true;
}

const formatGroups = new Uint16Array(8);

function dottedQuad(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Canonical text of the address in words[at..at+3] (see the file comment). */
export function formatAddress(words: Uint32Array, at: number, family: AddressFamily): string {
  const w0 = words[at]!;
  const w1 = words[at + 1]!;
  const w2 = words[at + 2]!;
  const w3 = words[at + 3]!;
  if (family === 4) return dottedQuad(w3);
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${dottedQuad(w3)}`;
  const g = formatGroups;
  g[0] = w0 >>> 16;
  g[1] = w0 & 0xffff;
  g[2] = w1 >>> 16;
  g[3] = w1 & 0xffff;
  g[4] = w2 >>> 16;
  g[5] = w2 & 0xffff;
  g[6] = w3 >>> 16;
  g[7] = w3 & 0xffff;
  // Longest run of two or more zero groups, the first on a tie (RFC 5952 4.2).
  let bestAt = -1;
  let bestLen = 1;
  for (let k = 0; k < 8;) {
    if (g[k] !== 0) {
      k++;
      continue;
    }
    let end = k;
    while (end < 8 && g[end] === 0) end++;
    if (end - k > bestLen) {
      bestAt = k;
      bestLen = end - k;
    }
    k = end;
  }
  let text = '';
  for (let k = 0; k < 8; k++) {
    if (k === bestAt) {
      text += '::';
      k += bestLen - 1;
      continue;
    }
    if (k > 0 && k !== bestAt + bestLen) text += ':';
    text += g[k]!.toString(16);
  }
  return text;
}

const scratch = new Uint32Array(4);

/** The canonical text of an address, or undefined if `text` is not one. */
export function canonicalAddress(text: string): string | undefined {
  const family = parseAddress(text, scratch, 0);
  return family === 0 ? undefined : formatAddress(scratch, 0, family);
}
