/**
 * sFlow v5 datagram parsing into typed samples and records (sflow.org sFlow Version 5, the drops
 * extension; layouts in the XDR definitions vendored with the test data). This is the structural
 * layer: `decodeSflow` maps its output onto FlowRecord / InterfaceCounters.
 *
 * Every sample and every record is read in its own reader bounded by its length, and the next one
 * starts at its declared end, so an unknown or malformed record never misaligns what follows.
 * Samples and records of unknown types are kept as raw bytes (subarrays). Problems become
 * DecodeIssues with the datagram offset where parsing stopped:
 *  - a datagram header that does not fit or is not version 5: nothing is returned;
 *  - a sample whose length runs past the datagram: parsing stops there (samples before it stand);
 *  - a sample whose records do not fit in it: that sample is dropped, the next one is read;
 *  - a record whose content does not fit its length: that record is dropped, the sample stands.
 */
import { formatIPv4 as formatAddress4, formatIPv6 as formatAddress6 } from '../../../capture/decode/address.js';
import { decodePacket } from '../../../capture/decode/packet.js';
import type { DecodedPacket } from '../../../capture/decode/types.js';
import { LINKTYPE } from '../../../capture/pcap/types.js';
import type { DecodeIssue, DecodeIssueCode } from '../decode/types.js';
import type { InterfaceCounterValues } from '../../../model/flow.js';
import { XdrBad, XdrReader, XdrShort } from './xdr.js';

export const SFLOW_VERSION = 5;

/** Sample formats (enterprise 0). */
export const SAMPLE = { FLOW: 1, COUNTERS: 2, FLOW_EXPANDED: 3, COUNTERS_EXPANDED: 4, DROP: 5 } as const;
/** Flow record formats (enterprise 0). */
export const FLOW_RECORD = {
  HEADER: 1,
  ETHERNET: 2,
  IPV4: 3,
  IPV6: 4,
  SWITCH: 1001,
  ROUTER: 1002,
  GATEWAY: 1003,
  EGRESS_QUEUE: 1036,
  ACL: 1037,
  FUNCTION: 1038,
} as const;
/** Counter record formats (enterprise 0). */
export const COUNTER_RECORD = { GENERIC_INTERFACE: 1 } as const;
/** sampled_header header_protocol values the packet decoder handles. */
export const HEADER_PROTOCOL = { ETHERNET: 1, IPV4: 11, IPV6: 12 } as const;

export interface SflowDatagram {
  version: number;
  /** Agent address text ("" for address type 0, unknown). */
  agentAddress: string;
  subAgentId: number;
  sequenceNumber: number;
  /** Milliseconds since the agent booted. */
  uptimeMs: number;
  /** Samples the header announces (`samples.length` may be lower when some could not be read). */
  declaredSamples: number;
  samples: SflowSample[];
  /** Bytes after the last announced sample (ignored). */
  trailingBytes: number;
}

interface SampleBase {
  /** Datagram offset of the sample's data (after its type and length). */
  offset: number;
  enterprise: number;
  format: number;
  length: number;
}

export interface SflowFlowSample extends SampleBase {
  kind: 'flow';
  expanded: boolean;
  sequenceNumber: number;
  sourceIdType: number;
  sourceIdIndex: number;
  samplingRate: number;
  samplePool: number;
  drops: number;
  /** Interface format: 0 ifIndex, 1 discarded (value = reason), 2 multiple (value = count). */
  inputFormat: number;
  input: number;
  outputFormat: number;
  output: number;
  records: SflowFlowRecord[];
}

export interface SflowCounterSample extends SampleBase {
  kind: 'counters';
  expanded: boolean;
  sequenceNumber: number;
  sourceIdType: number;
  sourceIdIndex: number;
  records: SflowCounterRecord[];
}

/** Drops extension: a discarded packet notification (sample format 5). */
export interface SflowDropSample extends SampleBase {
  kind: 'drop';
  sequenceNumber: number;
  sourceIdType: number;
  sourceIdIndex: number;
  drops: number;
  inputIfIndex: number;
  outputIfIndex: number;
  reason: number;
  records: SflowFlowRecord[];
}

export interface SflowUnknownSample extends SampleBase {
  kind: 'unknown';
  data: Uint8Array;
}

export type SflowSample = SflowFlowSample | SflowCounterSample | SflowDropSample | SflowUnknownSample;

interface RecordBase {
  offset: number;
  enterprise: number;
  format: number;
}

export interface SflowHeaderRecord extends RecordBase {
  kind: 'header';
  headerProtocol: number;
  frameLength: number;
  stripped: number;
  /** The header bytes as sent (their declared length is `header.length`). */
  header: Uint8Array;
  /** The header decoded down to TCP/UDP, for header protocols 1 (Ethernet), 11 (IPv4), 12 (IPv6). */
  packet: DecodedPacket | undefined;
}
export interface SflowEthernetRecord extends RecordBase {
  kind: 'ethernet';
  length: number;
  sourceMac: Uint8Array;
  destinationMac: Uint8Array;
  etherType: number;
}
export interface SflowIpRecord extends RecordBase {
  kind: 'ipv4' | 'ipv6';
  length: number;
  protocol: number;
  sourceAddress: string;
  destinationAddress: string;
  sourcePort: number;
  destinationPort: number;
  tcpFlags: number;
  /** IPv4 TOS / IPv6 priority. */
  tos: number;
}
export interface SflowSwitchRecord extends RecordBase {
  kind: 'switch';
  srcVlan: number;
  srcPriority: number;
  dstVlan: number;
  dstPriority: number;
}
export interface SflowRouterRecord extends RecordBase {
  kind: 'router';
  nextHop: string;
  srcMaskLen: number;
  dstMaskLen: number;
}
export interface SflowGatewayRecord extends RecordBase {
  kind: 'gateway';
  nextHop: string;
  as: number;
  srcAs: number;
  srcPeerAs: number;
  /** AS path segments: type 1 AS_SET, 2 AS_SEQUENCE. */
  dstAsPath: { type: number; asns: number[] }[];
  communities: number[];
  localPref: number;
}
export interface SflowEgressQueueRecord extends RecordBase {
  kind: 'egress_queue';
  queue: number;
}
export interface SflowAclRecord extends RecordBase {
  kind: 'acl';
  number: number;
  name: string;
  /** 0 unknown, 1 ingress, 2 egress. */
  direction: number;
}
export interface SflowFunctionRecord extends RecordBase {
  kind: 'function';
  symbol: string;
}
export interface SflowUnknownRecord extends RecordBase {
  kind: 'unknown';
  data: Uint8Array;
}
export type SflowFlowRecord =
  | SflowHeaderRecord
  | SflowEthernetRecord
  | SflowIpRecord
  | SflowSwitchRecord
  | SflowRouterRecord
  | SflowGatewayRecord
  | SflowEgressQueueRecord
  | SflowAclRecord
  | SflowFunctionRecord
  | SflowUnknownRecord;

/** if_counters (counter record 1). */
export interface SflowGenericInterfaceCounters extends RecordBase, InterfaceCounterValues {
  kind: 'generic_interface';
}
export type SflowCounterRecord = SflowGenericInterfaceCounters | SflowUnknownRecord;

export interface SflowParseResult {
  /** Undefined when the datagram header could not be read or is not version 5. */
  datagram: SflowDatagram | undefined;
  issues: DecodeIssue[];
}

const SAMPLE_HEADER = 8;
const RECORD_HEADER = 8;

/** A sample or record that cannot be read as a whole; caught at the enclosing sample (not an Error: see xdr.ts). */
class FramingError {
  constructor(
    readonly code: DecodeIssueCode,
    readonly offset: number,
    readonly message: string,
  ) {}
}

function issue(
  issues: DecodeIssue[],
  code: DecodeIssueCode,
  offset: number,
  message: string,
  context?: Record<string, number | string>,
): void {
  issues.push(context === undefined ? { code, message, offset } : { code, message, offset, context });
}

/** XdrShort / XdrBad to an issue code and message. */
function describe(err: XdrShort | XdrBad, what: string): { code: DecodeIssueCode; offset: number; message: string } {
  if (err instanceof XdrShort) {
    return { code: 'TRUNCATED', offset: err.offset, message: `${what}: ${err.message}` };
  }
  return { code: 'MALFORMED', offset: err.offset, message: `${what}: ${err.message} at offset ${err.offset}` };
}

/** Parses one sFlow v5 datagram (a UDP payload). Never throws on malformed input. */
export function parseSflowDatagram(bytes: Uint8Array): SflowParseResult {
  const issues: DecodeIssue[] = [];
  const r = new XdrReader(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes, 0, bytes.length);
  let datagram: SflowDatagram;
  try {
    const version = r.u32();
    if (version !== SFLOW_VERSION) {
      issue(issues, 'BAD_VERSION', 0, `sFlow version ${version} (only 5 is decoded)`);
      return { datagram: undefined, issues };
    }
    const agentAddress = r.address();
    datagram = {
      version,
      agentAddress,
      subAgentId: r.u32(),
      sequenceNumber: r.u32(),
      uptimeMs: r.u32(),
      declaredSamples: r.u32(),
      samples: [],
      trailingBytes: 0,
    };
  } catch (err) {
    if (!(err instanceof XdrShort || err instanceof XdrBad)) throw err;
    const d = describe(err, 'sFlow datagram header');
    issue(issues, d.code, d.offset, d.message);
    return { datagram: undefined, issues };
  }

  const end = bytes.length;
  let stopped = false;
  for (let i = 0; i < datagram.declaredSamples; i++) {
    const at = r.pos;
    if (end - at < SAMPLE_HEADER) {
      issue(
        issues,
        'TRUNCATED',
        at,
        `datagram announces ${datagram.declaredSamples} samples but ends after ${i}` + (end > at ? ` (${end - at} stray bytes)` : ''),
        { sample: i },
      );
      stopped = true;
      break;
    }
    const type = r.u32();
    const length = r.u32();
    const enterprise = type >>> 12;
    const format = type & 0xfff;
    const start = r.pos;
    if (length > end - start) {
      issue(
        issues,
        'BAD_LENGTH',
        at + 4,
        `sample ${i} (${enterprise}:${format}) length ${length} runs past the datagram end (${end - start} bytes left)`,
        {
          sample: i,
          sampleType: `${enterprise}:${format}`,
        },
      );
      stopped = true;
      break;
    }
    const sr = r.sub(start, length);
    try {
      const sample = parseSample(sr, enterprise, format, issues, i);
      if (sample !== undefined) datagram.samples.push(sample);
    } catch (err) {
      if (err instanceof FramingError) {
        issue(issues, err.code, err.offset, `sample ${i} (${enterprise}:${format}) dropped: ${err.message}`, {
          sample: i,
          sampleType: `${enterprise}:${format}`,
        });
      } else if (err instanceof XdrShort || err instanceof XdrBad) {
        const d = describe(err, `sample ${i} (${enterprise}:${format}) dropped`);
        issue(issues, d.code, d.offset, d.message, { sample: i, sampleType: `${enterprise}:${format}` });
      } else {
        throw err;
      }
    }
    // XDR pads opaque data to 4 bytes; a hand-made datagram may omit the padding of its last sample.
    r.pos = Math.min(end, start + ((length + 3) & ~3));
  }
  // Bytes after the last announced sample are not an error (TShark and goflow2 ignore them too;
  // goflow2's own test vector carries 332): they are only counted.
  if (!stopped) datagram.trailingBytes = end - r.pos;
  return { datagram, issues };
}

function parseSample(r: XdrReader, enterprise: number, format: number, issues: DecodeIssue[], index: number): SflowSample | undefined {
  const offset = r.pos;
  const length = r.remaining;
  if (enterprise !== 0 || format < SAMPLE.FLOW || format > SAMPLE.DROP) {
    return { offset, enterprise, format, length, kind: 'unknown', data: r.bytes.subarray(r.pos, r.end) };
  }
  switch (format) {
    case SAMPLE.FLOW:
    case SAMPLE.FLOW_EXPANDED: {
      const expanded = format === SAMPLE.FLOW_EXPANDED;
      const sequenceNumber = r.u32();
      let sourceIdType: number;
      let sourceIdIndex: number;
      if (expanded) {
        sourceIdType = r.u32();
        sourceIdIndex = r.u32();
      } else {
        const s = r.u32();
        sourceIdType = s >>> 24;
        sourceIdIndex = s & 0xffffff;
      }
      const samplingRate = r.u32();
      const samplePool = r.u32();
      const drops = r.u32();
      let inputFormat: number, input: number, outputFormat: number, output: number;
      if (expanded) {
        inputFormat = r.u32();
        input = r.u32();
        outputFormat = r.u32();
        output = r.u32();
      } else {
        const i = r.u32();
        const o = r.u32();
        inputFormat = i >>> 30;
        input = i & 0x3fffffff;
        outputFormat = o >>> 30;
        output = o & 0x3fffffff;
      }
      return {
        offset,
        enterprise,
        format,
        length,
        kind: 'flow',
        expanded,
        sequenceNumber,
        sourceIdType,
        sourceIdIndex,
        samplingRate,
        samplePool,
        drops,
        inputFormat,
        input,
        outputFormat,
        output,
        records: parseRecords(r, issues, index, parseFlowRecord),
      };
    }
    case SAMPLE.COUNTERS:
    case SAMPLE.COUNTERS_EXPANDED: {
      const expanded = format === SAMPLE.COUNTERS_EXPANDED;
      const sequenceNumber = r.u32();
      let sourceIdType: number;
      let sourceIdIndex: number;
      if (expanded) {
        sourceIdType = r.u32();
        sourceIdIndex = r.u32();
      } else {
        const s = r.u32();
        sourceIdType = s >>> 24;
        sourceIdIndex = s & 0xffffff;
      }
      return {
        offset,
        enterprise,
        format,
        length,
        kind: 'counters',
        expanded,
        sequenceNumber,
        sourceIdType,
        sourceIdIndex,
        records: parseRecords(r, issues, index, parseCounterRecord),
      };
    }
    default: {
      // SAMPLE.DROP (sFlow drops extension): discarded_packet.
      return {
        offset,
        enterprise,
        format,
        length,
        kind: 'drop',
        sequenceNumber: r.u32(),
        sourceIdType: r.u32(),
        sourceIdIndex: r.u32(),
        drops: r.u32(),
        inputIfIndex: r.u32(),
        outputIfIndex: r.u32(),
        reason: r.u32(),
        records: parseRecords(r, issues, index, parseFlowRecord),
      };
    }
  }
}

/**
 * Reads `record<>`: each record in its own bounded reader. A record that does not fit in the
 * sample is a framing error (the sample is dropped); a record whose content does not fit its own
 * length is dropped with an issue.
 */
function parseRecords<R>(
  r: XdrReader,
  issues: DecodeIssue[],
  sampleIndex: number,
  parseOne: (rr: XdrReader, enterprise: number, format: number) => R,
): R[] {
  const countAt = r.pos;
  const n = r.u32();
  if (n * RECORD_HEADER > r.remaining) {
    throw new FramingError('BAD_LENGTH', countAt, `${n} records cannot fit in the ${r.remaining} bytes left`);
  }
  const out: R[] = [];
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    if (r.remaining < RECORD_HEADER) {
      throw new FramingError('TRUNCATED', at, `record ${i} of ${n}: header needs 8 bytes, ${r.remaining} left`);
    }
    const type = r.u32();
    const length = r.u32();
    const enterprise = type >>> 12;
    const format = type & 0xfff;
    const start = r.pos;
    if (length > r.end - start) {
      throw new FramingError(
        'BAD_LENGTH',
        at + 4,
        `record ${i} (${enterprise}:${format}) length ${length} runs past the sample end (${r.end - start} bytes left)`,
      );
    }
    try {
      out.push(parseOne(r.sub(start, length), enterprise, format));
    } catch (err) {
      if (!(err instanceof XdrShort || err instanceof XdrBad)) throw err;
      const d = describe(err, `record ${enterprise}:${format} dropped`);
      issue(issues, d.code, d.offset, d.message, { sample: sampleIndex, record: i, recordFormat: `${enterprise}:${format}` });
    }
    r.pos = Math.min(r.end, start + ((length + 3) & ~3));
  }
  return out;
}

function linkTypeOf(headerProtocol: number): number {
  switch (headerProtocol) {
    case HEADER_PROTOCOL.ETHERNET:
      return LINKTYPE.ETHERNET;
    case HEADER_PROTOCOL.IPV4:
      return LINKTYPE.IPV4;
    case HEADER_PROTOCOL.IPV6:
      return LINKTYPE.IPV6;
    default:
      return -1;
  }
}

function parseFlowRecord(r: XdrReader, enterprise: number, format: number): SflowFlowRecord {
  const offset = r.pos;
  if (enterprise === 0) {
    switch (format) {
      case FLOW_RECORD.HEADER: {
        const headerProtocol = r.u32();
        const frameLength = r.u32();
        const stripped = r.u32();
        const header = r.opaque();
        const lt = linkTypeOf(headerProtocol);
        return {
          offset,
          enterprise,
          format,
          kind: 'header',
          headerProtocol,
          frameLength,
          stripped,
          header,
          packet: lt < 0 ? undefined : decodePacket(header, lt),
        };
      }
      case FLOW_RECORD.ETHERNET:
        return {
          offset,
          enterprise,
          format,
          kind: 'ethernet',
          length: r.u32(),
          sourceMac: r.fixed(6),
          destinationMac: r.fixed(6),
          etherType: r.u32(),
        };
      case FLOW_RECORD.IPV4:
      case FLOW_RECORD.IPV6: {
        const length = r.u32();
        const protocol = r.u32();
        const alen = format === FLOW_RECORD.IPV4 ? 4 : 16;
        r.need(2 * alen + 16);
        const b = r.bytes;
        const text = alen === 4 ? formatAddress4 : formatAddress6;
        const sourceAddress = text(b, r.pos);
        const destinationAddress = text(b, r.pos + alen);
        r.pos += 2 * alen;
        return {
          offset,
          enterprise,
          format,
          kind: format === FLOW_RECORD.IPV4 ? 'ipv4' : 'ipv6',
          length,
          protocol,
          sourceAddress,
          destinationAddress,
          sourcePort: r.u32(),
          destinationPort: r.u32(),
          tcpFlags: r.u32(),
          tos: r.u32(),
        };
      }
      case FLOW_RECORD.SWITCH:
        return {
          offset,
          enterprise,
          format,
          kind: 'switch',
          srcVlan: r.u32(),
          srcPriority: r.u32(),
          dstVlan: r.u32(),
          dstPriority: r.u32(),
        };
      case FLOW_RECORD.ROUTER:
        return { offset, enterprise, format, kind: 'router', nextHop: r.address(), srcMaskLen: r.u32(), dstMaskLen: r.u32() };
      case FLOW_RECORD.GATEWAY: {
        const nextHop = r.address();
        const as = r.u32();
        const srcAs = r.u32();
        const srcPeerAs = r.u32();
        const segments = r.count(8);
        const dstAsPath: { type: number; asns: number[] }[] = [];
        for (let s = 0; s < segments; s++) {
          const type = r.u32();
          const n = r.count(4);
          const asns: number[] = [];
          for (let k = 0; k < n; k++) asns.push(r.u32());
          dstAsPath.push({ type, asns });
        }
        const nc = r.count(4);
        const communities: number[] = [];
        for (let k = 0; k < nc; k++) communities.push(r.u32());
        return { offset, enterprise, format, kind: 'gateway', nextHop, as, srcAs, srcPeerAs, dstAsPath, communities, localPref: r.u32() };
      }
      case FLOW_RECORD.EGRESS_QUEUE:
        return { offset, enterprise, format, kind: 'egress_queue', queue: r.u32() };
      case FLOW_RECORD.ACL:
        return { offset, enterprise, format, kind: 'acl', number: r.u32(), name: r.string(), direction: r.u32() };
      case FLOW_RECORD.FUNCTION:
        return { offset, enterprise, format, kind: 'function', symbol: r.string() };
      default:
        break;
    }
  }
  return { offset, enterprise, format, kind: 'unknown', data: r.bytes.subarray(r.pos, r.end) };
}

function parseCounterRecord(r: XdrReader, enterprise: number, format: number): SflowCounterRecord {
  const offset = r.pos;
  if (enterprise === 0 && format === COUNTER_RECORD.GENERIC_INTERFACE) {
    r.need(88);
    return {
      offset,
      enterprise,
      format,
      kind: 'generic_interface',
      ifIndex: r.u32(),
      ifType: r.u32(),
      ifSpeed: r.u64n(),
      ifDirection: r.u32(),
      ifStatus: r.u32(),
      inOctets: r.u64(),
      inUnicastPackets: r.u32(),
      inMulticastPackets: r.u32(),
      inBroadcastPackets: r.u32(),
      inDiscards: r.u32(),
      inErrors: r.u32(),
      inUnknownProtocols: r.u32(),
      outOctets: r.u64(),
      outUnicastPackets: r.u32(),
      outMulticastPackets: r.u32(),
      outBroadcastPackets: r.u32(),
      outDiscards: r.u32(),
      outErrors: r.u32(),
      promiscuousMode: r.u32(),
    };
  }
  return { offset, enterprise, format, kind: 'unknown', data: r.bytes.subarray(r.pos, r.end) };
}
