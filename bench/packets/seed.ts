/**
 * The seed capture (made by make-seed.ts) and what it holds: packets by kind, as netspan's
 * PacketObserver sees them.
 */
import { IPPROTO, decodePacket, readPcap } from '../../src/capture/index.js';
import { PacketObserver } from '../../src/capture/observe/index.js';

/** The seed, relative to bench/packets. */
export const SEED_FILE = 'seed/ioam-http.pcap';

/** The traffic make-seed.ts captures; recorded in the results with the seed's mix. */
export const SEED_TRAFFIC = {
  namespaceId: 123,
  namespaceData: { data: 0x12345678, wideHex: '0123456789abcdef' },
  /** Trace-type bits 0-10: every field the kernel fills (0-3, 5, 6, 8-10) or marks unavailable (4, 7). */
  traceType: 0xffe000,
  port: 8080,
  workloads: [
    { name: 'GET, 64-byte responses', path: '/api/items?resp=64', requests: 1000, concurrency: 8, body: 0 },
    { name: 'GET, 1,200-byte responses', path: '/api/report?resp=1200', requests: 150, concurrency: 4, body: 0 },
    { name: 'POST of 1,000 bytes', path: '/api/upload', requests: 100, concurrency: 4, body: 1000 },
  ],
} as const;

export interface CaptureMix {
  packets: number;
  /** Bytes of the file. */
  fileBytes: number;
  /** Captured packet bytes (without the pcap headers). */
  packetBytes: number;
  linkType: number;
  /** IPv6 packets carrying an IOAM trace option. */
  ioamPackets: number;
  /** TCP packets completing an HTTP request or response head. */
  httpHeadPackets: number;
  /** Other TCP packets: handshakes, ACKs, bodies. */
  otherTcpPackets: number;
  /** Everything else (neighbour discovery, ...). */
  otherPackets: number;
  ioamObservations: number;
  httpRequests: number;
  httpResponses: number;
  /** HTTP observations that name a traceparent. */
  httpWithTraceparent: number;
  /** IOAM observations that carry the traceparent of the request in flight. */
  ioamWithTraceparent: number;
}

/** The mix of a pcap file, by netspan's own decoder (a packet with both IOAM and a head counts in both). */
export function describeCapture(bytes: Uint8Array): CaptureMix {
  const { packets } = readPcap(bytes);
  const observer = new PacketObserver();
  const mix: CaptureMix = {
    packets: packets.length,
    fileBytes: bytes.length,
    packetBytes: 0,
    linkType: packets[0]?.linkType ?? -1,
    ioamPackets: 0,
    httpHeadPackets: 0,
    otherTcpPackets: 0,
    otherPackets: 0,
    ioamObservations: 0,
    httpRequests: 0,
    httpResponses: 0,
    httpWithTraceparent: 0,
    ioamWithTraceparent: 0,
  };
  for (const p of packets) {
    mix.packetBytes += p.capturedLength;
    const decoded = decodePacket(p.data, p.linkType);
    const observations = observer.observe(p.data, p.linkType, p.timestampUnixNano, '');
    let ioam = false;
    let head = false;
    for (const o of observations) {
      if (o.kind === 'ioam') {
        ioam = true;
        mix.ioamObservations++;
        if (o.traceparent !== undefined) mix.ioamWithTraceparent++;
      } else {
        head = true;
        if (o.message === 'request') mix.httpRequests++;
        else mix.httpResponses++;
        if (o.traceparent !== undefined) mix.httpWithTraceparent++;
      }
    }
    if (ioam) mix.ioamPackets++;
    if (head) mix.httpHeadPackets++;
    if (!ioam && !head) {
      if (decoded.protocol === IPPROTO.TCP) mix.otherTcpPackets++;
      else mix.otherPackets++;
    }
  }
  return mix;
}
