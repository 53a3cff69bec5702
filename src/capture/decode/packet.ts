/**
 * Packet decoding, layer by layer: link (decodeLink) → network (decodeIPv4 / decodeIPv6) →
 * transport (decodeTransport), each writing into one DecodedPacket. `decodePacket` runs them all;
 * later decoders (IOAM from `hopByHopOptions`, HTTP from `payload`) start from its result.
 * Pure and allocation-light: one object per packet, addresses as text, payload as a view (a plain Uint8Array).
 */
import { ETHERTYPE, decodeLink } from './link.js';
import { decodeIPv4, decodeIPv6 } from './network.js';
import { EMPTY_PAYLOAD, decodeTransport } from './transport.js';
import type { DecodedPacket } from './types.js';

const NONE: readonly number[] = Object.freeze([]);

/** A DecodedPacket with nothing decoded yet (every field present, so all packets share one shape). */
export function emptyDecodedPacket(linkType: number): DecodedPacket {
  return {
    linkType,
    link: 'unknown',
    etherType: 0,
    vlanIds: NONE,
    mplsLabels: NONE,
    sllPacketType: -1,
    sllInterfaceIndex: -1,
    networkOffset: -1,
    ipVersion: 0,
    sourceAddress: '',
    destinationAddress: '',
    protocol: 0,
    ttl: 0,
    tos: 0,
    flowLabel: 0,
    ipTotalLength: 0,
    ipHeaderLength: 0,
    fragmentId: 0,
    fragmentOffset: 0,
    moreFragments: false,
    isFragment: false,
    unknownNextHeader: false,
    hopByHopOptions: undefined,
    hopByHopOffset: -1,
    transportOffset: -1,
    sourcePort: 0,
    destinationPort: 0,
    tcpFlags: 0,
    tcpSequence: 0,
    tcpAcknowledgement: 0,
    tcpWindow: 0,
    tcpHeaderLength: 0,
    payloadOffset: -1,
    payload: EMPTY_PAYLOAD,
    truncated: false,
    issues: [],
  };
}

/**
 * Decodes a captured packet of link type `linkType` (LINKTYPE_*): Ethernet, Linux SLL/SLL2,
 * raw IP (101, 12, 14, 228, 229), BSD null/loop. Never throws.
 */
export function decodePacket(data: Uint8Array, linkType: number): DecodedPacket {
  const p = emptyDecodedPacket(linkType);
  const off = decodeLink(p, data, linkType);
  if (off >= 0) decodeNetwork(p, data, off);
  return p;
}

/** Decodes the IP packet at `off` (as `p.etherType` says) and its transport header into `p`. */
export function decodeNetwork(p: DecodedPacket, data: Uint8Array, off: number): void {
  let t: number;
  if (p.etherType === ETHERTYPE.IPV4) t = decodeIPv4(p, data, off);
  else if (p.etherType === ETHERTYPE.IPV6) t = decodeIPv6(p, data, off);
  else return;
  if (t < 0) return;
  const ipEnd = p.ipTotalLength >= p.ipHeaderLength ? p.networkOffset + p.ipTotalLength : data.length;
  decodeTransport(p, data, t, ipEnd);
}
