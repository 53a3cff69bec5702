/**
 * Transport layer: TCP (ports, flags, sequence numbers, header length, payload) and UDP (ports,
 * payload); SCTP, DCCP and UDP-Lite give their ports. ICMP and the rest are left to the caller.
 */
import { addIssue, cut } from './link.js';
import { view } from '../bytes.js';
import { IPPROTO } from './network.js';
import type { DecodedPacket } from './types.js';

const EMPTY = new Uint8Array(0);

/**
 * Decodes the transport header at `off`. `ipEnd` is where the IP packet ends by its own length
 * fields (may lie beyond the captured bytes).
 */
export function decodeTransport(p: DecodedPacket, data: Uint8Array, off: number, ipEnd: number): void {
  const n = data.length;
  const end = Math.min(n, ipEnd);
  switch (p.protocol) {
    case IPPROTO.TCP: {
      p.transportOffset = off;
      if (!ports(p, data, off, n, ipEnd, 'tcp')) return;
      if (off + 20 > end) {
        short(p, off, 20, n, ipEnd, 'tcp', 'TCP header');
        return;
      }
      p.tcpSequence = ((data[off + 4]! << 24) | (data[off + 5]! << 16) | (data[off + 6]! << 8) | data[off + 7]!) >>> 0;
      p.tcpAcknowledgement = ((data[off + 8]! << 24) | (data[off + 9]! << 16) | (data[off + 10]! << 8) | data[off + 11]!) >>> 0;
      const b12 = data[off + 12]!;
      p.tcpFlags = ((b12 & 0x0f) << 8) | data[off + 13]!;
      p.tcpWindow = (data[off + 14]! << 8) | data[off + 15]!;
      const hlen = (b12 >> 4) * 4;
      p.tcpHeaderLength = hlen;
      if (hlen < 20) {
        addIssue(p, 'BAD_LENGTH', 'tcp', off + 12, `TCP data offset ${hlen / 4} is below 5`);
        return;
      }
      if (off + hlen > end) {
        short(p, off, hlen, n, ipEnd, 'tcp', 'TCP header with options');
        return;
      }
      p.payloadOffset = off + hlen;
      p.payload = view(data, off + hlen, end);
      return;
    }
    case IPPROTO.UDP: {
      p.transportOffset = off;
      if (!ports(p, data, off, n, ipEnd, 'udp')) return;
      if (off + 8 > end) {
        short(p, off, 8, n, ipEnd, 'udp', 'UDP header');
        return;
      }
      const ulen = (data[off + 4]! << 8) | data[off + 5]!;
      let stop = end;
      if (ulen >= 8) {
        if (off + ulen < stop) stop = off + ulen;
        else if (off + ulen > ipEnd) addIssue(p, 'BAD_LENGTH', 'udp', off + 4, `UDP length ${ulen} runs past the IP packet`);
      } else if (ulen !== 0) {
        // 0 is legal for IPv6 jumbograms and UDP GSO; anything else below 8 is not.
        addIssue(p, 'BAD_LENGTH', 'udp', off + 4, `UDP length ${ulen} is below 8`);
      }
      p.payloadOffset = off + 8;
      p.payload = view(data, off + 8, stop);
      return;
    }
    case IPPROTO.SCTP:
    case IPPROTO.UDPLITE:
    case 33 /* DCCP */:
      p.transportOffset = off;
      ports(p, data, off, n, ipEnd, 'transport');
      return;
    default:
      return;
  }
}

/** Reads the two ports (the first 4 bytes of TCP, UDP, SCTP, DCCP). */
function ports(p: DecodedPacket, data: Uint8Array, off: number, n: number, ipEnd: number, layer: 'tcp' | 'udp' | 'transport'): boolean {
  if (off + 4 > Math.min(n, ipEnd)) {
    short(p, off, 4, n, ipEnd, layer, 'ports');
    return false;
  }
  p.sourcePort = (data[off]! << 8) | data[off + 1]!;
  p.destinationPort = (data[off + 2]! << 8) | data[off + 3]!;
  return true;
}

/** A header that does not fit: cut by the capture, or longer than the IP packet says. */
function short(
  p: DecodedPacket,
  off: number,
  need: number,
  n: number,
  ipEnd: number,
  layer: 'tcp' | 'udp' | 'transport',
  what: string,
): void {
  if (off + need > ipEnd) addIssue(p, 'BAD_LENGTH', layer, off, `${what} of ${need} bytes runs past the IP packet`);
  else cut(p, layer, off, need, n, what);
}

export { EMPTY as EMPTY_PAYLOAD };
