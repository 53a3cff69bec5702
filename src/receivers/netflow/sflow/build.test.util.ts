/** An sFlow v5 datagram builder for tests (XDR, big-endian, opaque data padded to 4 bytes). */
import { ip6 } from '../../../capture/decode/build.test.util.js';
import { concat } from '../../../capture/testkit.test.util.js';

export const u32 = (v: number): Uint8Array => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
export const u64 = (v: bigint): Uint8Array => concat(u32(Number(v >> 32n)), u32(Number(v & 0xffffffffn)));

const pad = (b: Uint8Array) => concat(b, new Uint8Array(((b.length + 3) & ~3) - b.length));

export function opaque(b: Uint8Array): Uint8Array {
  return concat(u32(b.length), pad(b));
}

/** sFlow address: "" → type 0, dotted quad → IPv4, anything else → IPv6. */
export function address(text: string): Uint8Array {
  if (text === '') return u32(0);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) return concat(u32(1), Uint8Array.from(text.split('.').map(Number)));
  return concat(u32(2), ip6(text));
}

/** A sample_record / flow_record / counter_record: data_format then opaque data. */
export function tagged(enterprise: number, format: number, body: Uint8Array): Uint8Array {
  return concat(u32(((enterprise << 12) | format) >>> 0), opaque(body));
}

export function datagram(opts: {
  agent?: string;
  subAgentId?: number;
  sequence?: number;
  uptimeMs?: number;
  samples: Uint8Array[];
  declared?: number;
}): Uint8Array {
  return concat(
    u32(5),
    address(opts.agent ?? '192.0.2.10'),
    u32(opts.subAgentId ?? 0),
    u32(opts.sequence ?? 1),
    u32(opts.uptimeMs ?? 1000),
    u32(opts.declared ?? opts.samples.length),
    ...opts.samples,
  );
}

export interface FlowSampleSpec {
  expanded?: boolean;
  sequence?: number;
  sourceIdType?: number;
  sourceIdIndex?: number;
  samplingRate?: number;
  samplePool?: number;
  drops?: number;
  inputFormat?: number;
  input?: number;
  outputFormat?: number;
  output?: number;
  records: Uint8Array[];
}

export function flowSample(s: FlowSampleSpec): Uint8Array {
  const iface = (format: number, value: number) => (s.expanded ? concat(u32(format), u32(value)) : u32(((format << 30) | value) >>> 0));
  const body = concat(
    u32(s.sequence ?? 1),
    s.expanded
      ? concat(u32(s.sourceIdType ?? 0), u32(s.sourceIdIndex ?? 3))
      : u32((((s.sourceIdType ?? 0) << 24) | (s.sourceIdIndex ?? 3)) >>> 0),
    u32(s.samplingRate ?? 1000),
    u32(s.samplePool ?? 5000),
    u32(s.drops ?? 0),
    iface(s.inputFormat ?? 0, s.input ?? 3),
    iface(s.outputFormat ?? 0, s.output ?? 4),
    u32(s.records.length),
    ...s.records,
  );
  return tagged(0, s.expanded ? 3 : 1, body);
}

export function counterSample(s: { expanded?: boolean; sequence?: number; sourceIdIndex?: number; records: Uint8Array[] }): Uint8Array {
  const body = concat(
    u32(s.sequence ?? 1),
    s.expanded ? concat(u32(0), u32(s.sourceIdIndex ?? 3)) : u32(s.sourceIdIndex ?? 3),
    u32(s.records.length),
    ...s.records,
  );
  return tagged(0, s.expanded ? 4 : 2, body);
}

export const headerRecord = (protocol: number, frameLength: number, header: Uint8Array, stripped = 4) =>
  tagged(0, 1, concat(u32(protocol), u32(frameLength), u32(stripped), opaque(header)));

export const ipv4Record = (r: {
  length: number;
  protocol: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
  tos: number;
}) =>
  tagged(
    0,
    3,
    concat(
      u32(r.length),
      u32(r.protocol),
      address(r.src).subarray(4),
      address(r.dst).subarray(4),
      u32(r.sport),
      u32(r.dport),
      u32(r.flags),
      u32(r.tos),
    ),
  );

export const ipv6Record = (r: {
  length: number;
  protocol: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
  priority: number;
}) =>
  tagged(0, 4, concat(u32(r.length), u32(r.protocol), ip6(r.src), ip6(r.dst), u32(r.sport), u32(r.dport), u32(r.flags), u32(r.priority)));

export const switchRecord = (srcVlan: number, srcPri: number, dstVlan: number, dstPri: number) =>
  tagged(0, 1001, concat(u32(srcVlan), u32(srcPri), u32(dstVlan), u32(dstPri)));

export const routerRecord = (nextHop: string, srcMask: number, dstMask: number) =>
  tagged(0, 1002, concat(address(nextHop), u32(srcMask), u32(dstMask)));

export const gatewayRecord = (g: {
  nextHop: string;
  as: number;
  srcAs: number;
  srcPeerAs: number;
  path: [number, number[]][];
  communities: number[];
  localPref: number;
}) =>
  tagged(
    0,
    1003,
    concat(
      address(g.nextHop),
      u32(g.as),
      u32(g.srcAs),
      u32(g.srcPeerAs),
      u32(g.path.length),
      ...g.path.map(([type, asns]) => concat(u32(type), u32(asns.length), ...asns.map(u32))),
      u32(g.communities.length),
      ...g.communities.map(u32),
      u32(g.localPref),
    ),
  );

export interface GenericCounters {
  ifIndex: number;
  ifType: number;
  ifSpeed: bigint;
  ifDirection: number;
  ifStatus: number;
  inOctets: bigint;
  inUcast: number;
  inMcast: number;
  inBcast: number;
  inDiscards: number;
  inErrors: number;
  inUnknown: number;
  outOctets: bigint;
  outUcast: number;
  outMcast: number;
  outBcast: number;
  outDiscards: number;
  outErrors: number;
  promiscuous: number;
}

export const genericCountersRecord = (c: GenericCounters) =>
  tagged(
    0,
    1,
    concat(
      u32(c.ifIndex),
      u32(c.ifType),
      u64(c.ifSpeed),
      u32(c.ifDirection),
      u32(c.ifStatus),
      u64(c.inOctets),
      ...[c.inUcast, c.inMcast, c.inBcast, c.inDiscards, c.inErrors, c.inUnknown].map(u32),
      u64(c.outOctets),
      ...[c.outUcast, c.outMcast, c.outBcast, c.outDiscards, c.outErrors, c.promiscuous].map(u32),
    ),
  );
