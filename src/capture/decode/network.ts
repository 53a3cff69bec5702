/**
 * Network layer: IPv4 (options skipped by IHL, fragments) and IPv6 with its extension headers
 * walked safely (Hop-by-Hop, Routing, Fragment, Destination Options, AH, and the RFC 6564
 * uniform-format ones). The Hop-by-Hop options are exposed for the IOAM decoder.
 */
import { formatIPv4, formatIPv6 } from './address.js';
import { addIssue, cut } from './link.js';
import { view } from '../bytes.js';
import type { DecodedPacket } from './types.js';

export const IPPROTO = {
  HOPOPTS: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
  SCTP: 132,
  MOBILITY: 135,
  UDPLITE: 136,
  HIP: 139,
  SHIM6: 140,
  EXPERIMENT1: 253,
  EXPERIMENT2: 254,
} as const;

/** At most this many IPv6 extension headers are walked (each is at least 8 bytes anyway). */
export const MAX_EXTENSION_HEADERS = 16;

/**
 * Upper-layer protocols the IPv6 walk stops at without calling them unknown (a value outside this
 * set and outside the extension headers may be an extension header this walker does not know).
 */
const KNOWN_UPPER = new Set([1, 2, 4, 6, 8, 9, 17, 33, 41, 46, 47, 50, 58, 59, 88, 89, 94, 97, 103, 108, 112, 115, 132, 136, 137, 143]);

/**
 * Decodes the IPv4 header at `off`. Returns the transport offset, or -1 when the transport header
 * is not there to decode (later fragment, header cut or malformed).
 */
export function decodeIPv4(p: DecodedPacket, data: Uint8Array, off: number): number {
  const n = data.length;
  p.networkOffset = off;
  if (off + 20 > n) {
    cut(p, 'ipv4', off, 20, n, 'IPv4 header');
    return -1;
  }
  const vihl = data[off]!;
  if (vihl >> 4 !== 4) {
    addIssue(p, 'BAD_VERSION', 'ipv4', off, `IPv4 EtherType but IP version ${vihl >> 4}`);
    return -1;
  }
  const ihl = (vihl & 0x0f) * 4;
  p.ipVersion = 4;
  p.tos = data[off + 1]!;
  const total = (data[off + 2]! << 8) | data[off + 3]!;
  p.ipTotalLength = total;
  p.fragmentId = (data[off + 4]! << 8) | data[off + 5]!;
  const ff = (data[off + 6]! << 8) | data[off + 7]!;
  p.moreFragments = (ff & 0x2000) !== 0;
  p.fragmentOffset = (ff & 0x1fff) * 8;
  p.isFragment = p.moreFragments || p.fragmentOffset !== 0;
  p.ttl = data[off + 8]!;
  p.protocol = data[off + 9]!;
  p.sourceAddress = formatIPv4(data, off + 12);
  p.destinationAddress = formatIPv4(data, off + 16);
  p.ipHeaderLength = ihl;
  if (ihl < 20) {
    addIssue(p, 'BAD_LENGTH', 'ipv4', off, `IPv4 header length ${ihl} is below 20`);
    return -1;
  }
  if (total < ihl) {
    addIssue(p, 'BAD_LENGTH', 'ipv4', off + 2, `IPv4 total length ${total} is below the header length ${ihl}`);
  } else if (off + total > n) {
    p.truncated = true;
  }
  if (off + ihl > n) {
    cut(p, 'ipv4', off, ihl, n, 'IPv4 header with options');
    return -1;
  }
  if (p.fragmentOffset !== 0) return -1;
  return off + ihl;
}

/**
 * Decodes the IPv6 header at `off` and walks its extension headers. Returns the transport offset,
 * or -1 when there is no transport header to decode (later fragment, ESP, no next header, cut).
 */
export function decodeIPv6(p: DecodedPacket, data: Uint8Array, off: number): number {
  const n = data.length;
  p.networkOffset = off;
  if (off + 40 > n) {
    cut(p, 'ipv6', off, 40, n, 'IPv6 header');
    return -1;
  }
  const b0 = data[off]!;
  if (b0 >> 4 !== 6) {
    addIssue(p, 'BAD_VERSION', 'ipv6', off, `IPv6 EtherType but IP version ${b0 >> 4}`);
    return -1;
  }
  const b1 = data[off + 1]!;
  p.ipVersion = 6;
  p.tos = ((b0 & 0x0f) << 4) | (b1 >> 4);
  p.flowLabel = ((b1 & 0x0f) << 16) | (data[off + 2]! << 8) | data[off + 3]!;
  const payloadLength = (data[off + 4]! << 8) | data[off + 5]!;
  p.ipTotalLength = 40 + payloadLength;
  let nh = data[off + 6]!;
  p.ttl = data[off + 7]!;
  p.sourceAddress = formatIPv6(data, off + 8);
  p.destinationAddress = formatIPv6(data, off + 24);
  // Payload length 0 with a Hop-by-Hop header is a jumbogram (RFC 2675): the length is in an option.
  const jumbo = payloadLength === 0 && nh === IPPROTO.HOPOPTS;
  if (!jumbo && off + p.ipTotalLength > n) p.truncated = true;
  const declaredEnd = jumbo ? Infinity : off + p.ipTotalLength;
  const end = Math.min(n, declaredEnd);

  let pos = off + 40;
  let transport = -1;
  walk: for (let count = 0; ; count++) {
    if (count >= MAX_EXTENSION_HEADERS) {
      addIssue(p, 'BAD_HEADER', 'ipv6', pos, `more than ${MAX_EXTENSION_HEADERS} IPv6 extension headers`);
      break;
    }
    switch (nh) {
      case IPPROTO.HOPOPTS:
      case IPPROTO.ROUTING:
      case IPPROTO.DSTOPTS:
      case IPPROTO.MOBILITY:
      case IPPROTO.HIP:
      case IPPROTO.SHIM6:
      case IPPROTO.AH: {
        if (pos + 2 > end) {
          extensionCut(p, pos, 2, n, declaredEnd, nh);
          break walk;
        }
        const len = nh === IPPROTO.AH ? (data[pos + 1]! + 2) * 4 : (data[pos + 1]! + 1) * 8;
        if (pos + len > end) {
          extensionCut(p, pos, len, n, declaredEnd, nh);
          break walk;
        }
        if (nh === IPPROTO.HOPOPTS) {
          if (count !== 0) {
            addIssue(p, 'BAD_HEADER', 'ipv6', pos, 'Hop-by-Hop options header not directly after the IPv6 header');
          } else {
            p.hopByHopOffset = pos + 2;
            p.hopByHopOptions = view(data, pos + 2, pos + len);
          }
        }
        nh = data[pos]!;
        pos += len;
        continue;
      }
      case IPPROTO.FRAGMENT: {
        if (pos + 8 > end) {
          extensionCut(p, pos, 8, n, declaredEnd, nh);
          break walk;
        }
        const ff = (data[pos + 2]! << 8) | data[pos + 3]!;
        p.isFragment = true;
        p.fragmentOffset = ff & 0xfff8;
        p.moreFragments = (ff & 1) !== 0;
        p.fragmentId = ((data[pos + 4]! << 24) | (data[pos + 5]! << 16) | (data[pos + 6]! << 8) | data[pos + 7]!) >>> 0;
        nh = data[pos]!;
        pos += 8;
        if (p.fragmentOffset !== 0) break walk;
        continue;
      }
      case IPPROTO.EXPERIMENT1:
      case IPPROTO.EXPERIMENT2:
        p.unknownNextHeader = true;
        break walk;
      default:
        if (!KNOWN_UPPER.has(nh)) p.unknownNextHeader = true;
        else if (nh !== IPPROTO.ESP && nh !== IPPROTO.NONE) transport = pos;
        break walk;
    }
  }
  p.protocol = nh;
  p.ipHeaderLength = pos - off;
  if (!p.isFragment || p.fragmentOffset === 0) {
    return transport;
  }
  return -1;
}

/** An extension header that does not fit: cut by the capture, or longer than the payload length says. */
function extensionCut(p: DecodedPacket, pos: number, need: number, n: number, declaredEnd: number, nh: number): void {
  if (pos + need > declaredEnd) {
    addIssue(p, 'BAD_LENGTH', 'ipv6', pos, `IPv6 extension header ${nh} of ${need} bytes runs past the payload length`);
  } else {
    cut(p, 'ipv6', pos, need, n, `IPv6 extension header ${nh}`);
  }
}
