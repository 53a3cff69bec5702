/**
 * The UDP datagrams of a classic pcap file (what tcpdump -w writes), for replaying captured flow
 * exports to a reference collector. Deliberately small and independent of netspan's own capture
 * code, which the tests check: Ethernet (with 802.1Q), Linux cooked (SLL, SLL2) and raw IP;
 * IPv4 and IPv6 without extension headers; fragments are refused.
 */
import { readFileSync } from 'node:fs';

export interface UdpDatagram {
  /** Capture time, Unix nanoseconds. */
  timeUnixNano: bigint;
  source: string;
  sourcePort: number;
  destination: string;
  destinationPort: number;
  payload: Buffer;
}

function ipv6Text(b: Buffer, offset: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(offset + 2 * i).toString(16));
  return canonicalIp(groups.join(':'));
}

/**
 * One text per address, whatever its source wrote: IPv6 as the WHATWG URL serializer writes it
 * (lowercase, no leading zeros, the longest run of zero groups as ::, as RFC 5952), IPv4 as it is.
 */
export function canonicalIp(text: string): string {
  if (!text.includes(':')) return text;
  const host = new URL(`http://[${text}]/`).hostname;
  return host.slice(1, -1);
}

/** Reads every UDP datagram of a pcap file. */
export function readUdpDatagrams(path: string): UdpDatagram[] {
  const b = readFileSync(path);
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) {
    le = true;
    nano = magic === 0xa1b23c4d;
  } else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) {
    le = false;
    nano = magic === 0x4d3cb2a1;
  } else throw new Error(`${path}: not a classic pcap file (magic ${magic.toString(16)})`);
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const linkType = u32(20) & 0xffff;
  const out: UdpDatagram[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const sec = u32(o);
    const frac = u32(o + 4);
    const caplen = u32(o + 8);
    const origlen = u32(o + 12);
    const frame = b.subarray(o + 16, o + 16 + caplen);
    o += 16 + caplen;
    if (caplen !== origlen) throw new Error(`${path}: truncated frame (snaplen)`);
    let p: number;
    let etherType: number;
    if (linkType === 1) {
      p = 14;
      etherType = frame.readUInt16BE(12);
      while (etherType === 0x8100 || etherType === 0x88a8) {
        etherType = frame.readUInt16BE(p + 2);
        p += 4;
      }
    } else if (linkType === 113) {
      p = 16;
      etherType = frame.readUInt16BE(14);
    } else if (linkType === 276) {
      p = 20;
      etherType = frame.readUInt16BE(0);
    } else if (linkType === 101) {
      p = 0;
      etherType = frame[0]! >> 4 === 6 ? 0x86dd : 0x0800;
    } else throw new Error(`${path}: link type ${linkType} not supported`);
    let source: string;
    let destination: string;
    let udp: number;
    let udpEnd: number;
    if (etherType === 0x0800) {
      const ihl = (frame[p]! & 0x0f) * 4;
      if (frame[p + 9] !== 17) continue;
      if ((frame.readUInt16BE(p + 6) & 0x3fff) !== 0) throw new Error(`${path}: fragmented IPv4 datagram`);
      source = [...frame.subarray(p + 12, p + 16)].join('.');
      destination = [...frame.subarray(p + 16, p + 20)].join('.');
      udp = p + ihl;
      udpEnd = p + frame.readUInt16BE(p + 2);
    } else if (etherType === 0x86dd) {
      if (frame[p + 6] !== 17) continue;
      source = ipv6Text(frame, p + 8);
      destination = ipv6Text(frame, p + 24);
      udp = p + 40;
      udpEnd = udp + frame.readUInt16BE(p + 4);
    } else continue;
    const udpLen = frame.readUInt16BE(udp + 4);
    out.push({
      timeUnixNano: BigInt(sec) * 1_000_000_000n + BigInt(frac) * (nano ? 1n : 1000n),
      source,
      sourcePort: frame.readUInt16BE(udp),
      destination,
      destinationPort: frame.readUInt16BE(udp + 2),
      payload: Buffer.from(frame.subarray(udp + 8, Math.min(udp + udpLen, udpEnd))),
    });
  }
  return out;
}
