/**
 * A minimal IPFIX (RFC 7011) exporter encoding for the demo: one template (IPv4 quartet,
 * counters, millisecond flow times, interfaces, next hop, TCP flags) and data sets of it, as a
 * router's flow export would send them over UDP. The template goes with every message, as
 * exporters on UDP resend it periodically.
 */

export interface DemoFlow {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
  protocol: number;
  bytes: number;
  packets: number;
  startMs: number;
  endMs: number;
  inputInterface: number;
  outputInterface: number;
  nextHop: string;
  tcpFlags: number;
}

export const TEMPLATE_ID = 256;

/** [IANA element id, length]. */
const FIELDS: [number, number][] = [
  [8, 4], // sourceIPv4Address
  [12, 4], // destinationIPv4Address
  [7, 2], // sourceTransportPort
  [11, 2], // destinationTransportPort
  [4, 1], // protocolIdentifier
  [6, 2], // tcpControlBits
  [1, 8], // octetDeltaCount
  [2, 8], // packetDeltaCount
  [152, 8], // flowStartMilliseconds
  [153, 8], // flowEndMilliseconds
  [10, 4], // ingressInterface
  [14, 4], // egressInterface
  [15, 4], // ipNextHopIPv4Address
];
const RECORD_LENGTH = FIELDS.reduce((n, [, len]) => n + len, 0);

function ipv4(text: string, view: DataView, at: number): void {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`not an IPv4 address: ${text}`);
  for (let i = 0; i < 4; i++) view.setUint8(at + i, parts[i]!);
}

/** One IPFIX message: template set + data set with `flows` (at most ~20 per message keeps it under 1500 bytes). */
export function ipfixMessage(flows: readonly DemoFlow[], sequence: number, domain: number, exportTimeMs: number): Uint8Array {
  const templateSet = 4 + 4 + FIELDS.length * 4;
  const dataSet = 4 + flows.length * RECORD_LENGTH;
  const total = 16 + templateSet + (flows.length > 0 ? dataSet : 0);
  const buf = new Uint8Array(total);
  const v = new DataView(buf.buffer);
  v.setUint16(0, 10);
  v.setUint16(2, total);
  v.setUint32(4, Math.floor(exportTimeMs / 1000));
  v.setUint32(8, sequence >>> 0);
  v.setUint32(12, domain);
  let o = 16;
  v.setUint16(o, 2);
  v.setUint16(o + 2, templateSet);
  v.setUint16(o + 4, TEMPLATE_ID);
  v.setUint16(o + 6, FIELDS.length);
  o += 8;
  for (const [id, len] of FIELDS) {
    v.setUint16(o, id);
    v.setUint16(o + 2, len);
    o += 4;
  }
  if (flows.length === 0) return buf;
  v.setUint16(o, TEMPLATE_ID);
  v.setUint16(o + 2, dataSet);
  o += 4;
  for (const f of flows) {
    ipv4(f.sourceAddress, v, o);
    ipv4(f.destinationAddress, v, o + 4);
    v.setUint16(o + 8, f.sourcePort);
    v.setUint16(o + 10, f.destinationPort);
    v.setUint8(o + 12, f.protocol);
    v.setUint16(o + 13, f.tcpFlags);
    v.setBigUint64(o + 15, BigInt(f.bytes));
    v.setBigUint64(o + 23, BigInt(f.packets));
    v.setBigUint64(o + 31, BigInt(Math.floor(f.startMs)));
    v.setBigUint64(o + 39, BigInt(Math.floor(f.endMs)));
    v.setUint32(o + 47, f.inputInterface);
    v.setUint32(o + 51, f.outputInterface);
    ipv4(f.nextHop, v, o + 55);
    o += RECORD_LENGTH;
  }
  return buf;
}
