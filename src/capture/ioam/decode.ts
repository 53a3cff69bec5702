/**
 * Pure decoder for IPv6 IOAM trace options (RFC 9197 data fields, RFC 9486 IPv6 encapsulation)
 * carried in the Hop-by-Hop options header. Input: the option bytes after the 2-byte Hop-by-Hop
 * header (`DecodedPacket.hopByHopOptions`). Decoding never throws: what can be read safely is
 * returned, and every problem is reported as an issue with a code and an offset into the input
 * (add `DecodedPacket.hopByHopOffset` for an offset into the packet).
 *
 * Value conventions:
 * - Fields of up to 32 bits are numbers; 64-bit and 56-bit fields (node_id_wide, namespace_data_wide)
 *   are bigints.
 * - A field whose bits are all ones is "unavailable" (RFC 9197 section 4.4.2) and decodes to null.
 *   This is applied per (sub)field: hop_limit 0xff, node_id 0xffffff, ingress_if_id 0xffff, ... and
 *   the snapshot's schema id 0xffffff. The undefined bits 12-21 are kept raw (no null mapping).
 * - Nodes are returned in path order (first hop first), i.e. the reverse of packet order.
 * - When both bit 0 and bit 8 are set, `hop_limit` comes from bit 0 (the kernel writes the same value).
 */

/** IPv6 option type of IOAM (RFC 9486): act 00, chg 1, type 0x11. */
export const IPV6_OPTION_IOAM = 0x31;
/** IOAM option-types (RFC 9197 / IANA). */
export const IOAM_OPTION_TYPE = { PREALLOCATED_TRACE: 0, INCREMENTAL_TRACE: 1, POT: 2, E2E: 3, DEX: 4 } as const;

export type IoamIssueCode =
  /** The input ends inside an option (type, length or the data its length announces). */
  | 'TRUNCATED_OPTION'
  /** The IOAM option's data length is too short for the IOAM header / trace header. */
  | 'BAD_OPTION_LENGTH'
  /** An IOAM option-type other than pre-allocated (0) or incremental (1) trace: skipped. */
  | 'UNSUPPORTED_IOAM_TYPE'
  /** The CLT trace id / span id (24 bytes) do not fit in the option. */
  | 'CLT_TRUNCATED'
  /** Pre-allocated trace: the remaining-length space reaches past the option's data. */
  | 'REMAINING_LENGTH_OVERFLOW'
  /** A node (or its opaque state snapshot) reaches past the option's data: decoding stopped there. */
  | 'NODE_OVERRUN'
  /** The header's node length disagrees with the one the trace type implies. */
  | 'NODE_LENGTH_MISMATCH'
  /** Bytes after the header that no node can use (node length 0 and no snapshot). */
  | 'TRAILING_DATA'
  /** Trace type bits 12-21 (undefined, 4 bytes each; kept raw). */
  | 'UNDEFINED_TRACE_BIT'
  /** Trace type bit 23 (reserved, must be zero; ignored). */
  | 'RESERVED_TRACE_BIT'
  /** The Overflow flag is set: some node had no room, the trace is incomplete. */
  | 'OVERFLOW';

export interface IoamIssue {
  code: IoamIssueCode;
  /** Offset in the Hop-by-Hop option bytes given to the decoder. */
  offset: number;
  message: string;
}

/** Opaque State Snapshot (trace type bit 22). */
export interface IoamOpaqueStateSnapshot {
  /** Length of `data` in 4-octet units. */
  length: number;
  /** Schema id (24 bits), null when 0xffffff (no schema). */
  schema_id: number | null;
  data: Uint8Array;
}

/** One node's data. A field is present when its trace type bit is set (and it fit in the node). */
export interface IoamNode {
  hop_limit?: number | null;
  node_id?: number | null;
  ingress_if_id?: number | null;
  egress_if_id?: number | null;
  timestamp_seconds?: number | null;
  timestamp_subseconds?: number | null;
  transit_delay?: number | null;
  namespace_data?: number | null;
  queue_depth?: number | null;
  checksum_complement?: number | null;
  node_id_wide?: bigint | null;
  ingress_if_id_wide?: number | null;
  egress_if_id_wide?: number | null;
  namespace_data_wide?: bigint | null;
  buffer_occupancy?: number | null;
  /** Trace type bits 12-21: raw 32-bit values, in bit order. */
  undefined_fields?: { bit: number; value: number }[];
  opaque_state_snapshot?: IoamOpaqueStateSnapshot;
}

export interface IoamTrace {
  /** Offset of the option's type byte (0x31) in the input. */
  offset: number;
  /** IOAM option-type: 0 pre-allocated, 1 incremental. */
  ioamOptionType: 0 | 1;
  namespaceId: number;
  /** Node length (fixed part of a node) in 4-octet units. */
  nodeLength: number;
  /** The 4 flag bits (Overflow is the most significant). */
  flags: number;
  overflow: boolean;
  /** Remaining length in 4-octet units. */
  remainingLength: number;
  /** Trace type, 24 bits, bit 0 = most significant. */
  traceType: number;
  /** CLT (with `cltIds`): 128-bit trace id and 64-bit span id, lowercase hex. */
  traceId?: string;
  spanId?: string;
  /** Nodes in path order: first hop first. */
  nodes: IoamNode[];
}

export interface IoamDecodeResult {
  traces: IoamTrace[];
  issues: IoamIssue[];
}

export interface IoamDecodeOptions {
  /** Cross-Layer Telemetry layout: a 16-byte trace id and 8-byte span id follow the trace header. */
  cltIds?: boolean;
}

const TRACE_HEADER = 8;
const CLT_IDS = 24;
const BIT22 = 1 << (23 - 22);
const BIT23 = 1;
const UNDEFINED_BITS_MASK = 0x000ffc; // bits 12..21

/** Bit n (0 = most significant) of a 24-bit trace type. */
const has = (type: number, bit: number): boolean => (type & (1 << (23 - bit))) !== 0;

/** Node length (4-octet units) the trace type implies: bits 0-7, 11-21 one unit, bits 8-10 two; bit 22 is variable. */
export function traceTypeNodeLength(traceType: number): number {
  let n = 0;
  for (let bit = 0; bit <= 21; bit++) if (has(traceType, bit)) n += bit >= 8 && bit <= 10 ? 2 : 1;
  return n;
}

const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const u24 = (b: Uint8Array, o: number): number => (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u56 = (b: Uint8Array, o: number): bigint => (BigInt(u24(b, o)) << 32n) | BigInt(u32(b, o + 3));
const u64 = (b: Uint8Array, o: number): bigint => (BigInt(u32(b, o)) << 32n) | BigInt(u32(b, o + 4));
const avail = (v: number, ones: number): number | null => (v === ones ? null : v);
const availBig = (v: bigint, ones: bigint): bigint | null => (v === ones ? null : v);
const ONES56 = (1n << 56n) - 1n;
const ONES64 = (1n << 64n) - 1n;

function toHex(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Decodes the fixed fields of one node from b[p, p + size); fields that do not fit are left out. */
function decodeFixed(b: Uint8Array, p: number, size: number, traceType: number): IoamNode {
  const node: IoamNode = {};
  const end = p + size;
  let o = p;
  for (let bit = 0; bit <= 21; bit++) {
    if (!has(traceType, bit)) continue;
    const width = bit >= 8 && bit <= 10 ? 8 : 4;
    if (o + width > end) break;
    switch (bit) {
      case 0:
        node.hop_limit = avail(b[o]!, 0xff);
        node.node_id = avail(u24(b, o + 1), 0xffffff);
        break;
      case 1:
        node.ingress_if_id = avail(u16(b, o), 0xffff);
        node.egress_if_id = avail(u16(b, o + 2), 0xffff);
        break;
      case 2:
        node.timestamp_seconds = avail(u32(b, o), 0xffffffff);
        break;
      case 3:
        node.timestamp_subseconds = avail(u32(b, o), 0xffffffff);
        break;
      case 4:
        node.transit_delay = avail(u32(b, o), 0xffffffff);
        break;
      case 5:
        node.namespace_data = avail(u32(b, o), 0xffffffff);
        break;
      case 6:
        node.queue_depth = avail(u32(b, o), 0xffffffff);
        break;
      case 7:
        node.checksum_complement = avail(u32(b, o), 0xffffffff);
        break;
      case 8:
        if (node.hop_limit === undefined) node.hop_limit = avail(b[o]!, 0xff);
        node.node_id_wide = availBig(u56(b, o + 1), ONES56);
        break;
      case 9:
        node.ingress_if_id_wide = avail(u32(b, o), 0xffffffff);
        node.egress_if_id_wide = avail(u32(b, o + 4), 0xffffffff);
        break;
      case 10:
        node.namespace_data_wide = availBig(u64(b, o), ONES64);
        break;
      case 11:
        node.buffer_occupancy = avail(u32(b, o), 0xffffffff);
        break;
      default:
        (node.undefined_fields ??= []).push({ bit, value: u32(b, o) });
    }
    o += width;
  }
  return node;
}

/**
 * Walks Hop-by-Hop TLV options (Pad1, PadN, IOAM 0x31; others skipped by their length) and decodes
 * every IOAM pre-allocated or incremental trace option. Never throws.
 */
export function decodeIoamOptions(hopByHopOptions: Uint8Array, options: IoamDecodeOptions = {}): IoamDecodeResult {
  const b = hopByHopOptions;
  const n = b.length;
  const traces: IoamTrace[] = [];
  const issues: IoamIssue[] = [];
  let i = 0;
  while (i < n) {
    const type = b[i]!;
    if (type === 0) {
      i++;
      continue;
    }
    if (i + 1 >= n) {
      issues.push({ code: 'TRUNCATED_OPTION', offset: i, message: `option 0x${type.toString(16)} has no length byte` });
      break;
    }
    const len = b[i + 1]!;
    const dataEnd = i + 2 + len;
    const cut = dataEnd > n;
    if (cut) {
      issues.push({
        code: 'TRUNCATED_OPTION',
        offset: i,
        message: `option 0x${type.toString(16)} announces ${len} data bytes, ${n - i - 2} present`,
      });
    }
    if (type === IPV6_OPTION_IOAM) decodeIoamOption(b, i, Math.min(dataEnd, n), cut, options, traces, issues);
    if (cut) break;
    i = dataEnd;
  }
  return { traces, issues };
}

function decodeIoamOption(
  b: Uint8Array,
  start: number,
  end: number,
  cut: boolean,
  options: IoamDecodeOptions,
  traces: IoamTrace[],
  issues: IoamIssue[],
): void {
  const s = start + 2;
  const short = (what: string, at: number): void => {
    issues.push({ code: cut ? 'TRUNCATED_OPTION' : 'BAD_OPTION_LENGTH', offset: at, message: `IOAM option too short for ${what}` });
  };
  if (s + 2 > end) return short('its reserved and option-type bytes', start);
  const ioamType = b[s + 1]!;
  if (ioamType !== IOAM_OPTION_TYPE.PREALLOCATED_TRACE && ioamType !== IOAM_OPTION_TYPE.INCREMENTAL_TRACE) {
    issues.push({ code: 'UNSUPPORTED_IOAM_TYPE', offset: s + 1, message: `IOAM option-type ${ioamType} is not a trace option` });
    return;
  }
  const h = s + 2;
  if (h + TRACE_HEADER > end) return short('the 8-byte trace header', h);
  const flagsByte = b[h + 2]!;
  const remByte = b[h + 3]!;
  const flags = ((flagsByte & 7) << 1) | (remByte >> 7);
  const trace: IoamTrace = {
    offset: start,
    ioamOptionType: ioamType as 0 | 1,
    namespaceId: u16(b, h),
    nodeLength: flagsByte >> 3,
    flags,
    overflow: (flags & 8) !== 0,
    remainingLength: remByte & 0x7f,
    traceType: u24(b, h + 4),
    nodes: [],
  };
  traces.push(trace);
  const tt = trace.traceType;
  if (trace.overflow) issues.push({ code: 'OVERFLOW', offset: h + 2, message: 'Overflow flag set: the trace is incomplete' });
  if (tt & BIT23) issues.push({ code: 'RESERVED_TRACE_BIT', offset: h + 6, message: 'trace type bit 23 (reserved) is set' });
  if (tt & UNDEFINED_BITS_MASK) {
    issues.push({
      code: 'UNDEFINED_TRACE_BIT',
      offset: h + 4,
      message: `trace type 0x${tt.toString(16).padStart(6, '0')} sets undefined bits 12-21 (kept raw)`,
    });
  }
  const implied = traceTypeNodeLength(tt);
  if (implied !== trace.nodeLength) {
    issues.push({
      code: 'NODE_LENGTH_MISMATCH',
      offset: h + 2,
      message: `node length ${trace.nodeLength} but trace type 0x${tt.toString(16).padStart(6, '0')} implies ${implied}`,
    });
  }
  let d = h + TRACE_HEADER;
  if (options.cltIds) {
    if (d + CLT_IDS > end) {
      issues.push({ code: 'CLT_TRUNCATED', offset: d, message: `CLT ids need ${CLT_IDS} bytes, ${end - d} present` });
      return;
    }
    trace.traceId = toHex(b, d, d + 16);
    trace.spanId = toHex(b, d + 16, d + 24);
    d += CLT_IDS;
  }
  let p = d;
  if (ioamType === IOAM_OPTION_TYPE.PREALLOCATED_TRACE) {
    p = d + trace.remainingLength * 4;
    if (p > end) {
      issues.push({
        code: 'REMAINING_LENGTH_OVERFLOW',
        offset: h + 3,
        message: `remaining length ${trace.remainingLength} (${trace.remainingLength * 4} bytes) exceeds the ${end - d} data bytes`,
      });
      return;
    }
  }
  const oss = (tt & BIT22) !== 0;
  const fixed = trace.nodeLength * 4;
  const packetOrder: IoamNode[] = [];
  while (p < end) {
    if (fixed === 0 && !oss) {
      issues.push({ code: 'TRAILING_DATA', offset: p, message: `${end - p} bytes of node data but node length 0 and no snapshot` });
      break;
    }
    if (p + fixed + (oss ? 4 : 0) > end) {
      issues.push({ code: 'NODE_OVERRUN', offset: p, message: `node at ${p} needs ${fixed + (oss ? 4 : 0)} bytes, ${end - p} left` });
      break;
    }
    const node = decodeFixed(b, p, fixed, tt);
    let next = p + fixed;
    if (oss) {
      const q = next;
      const ossLen = b[q]!;
      const dataEnd = q + 4 + ossLen * 4;
      if (dataEnd > end) {
        issues.push({ code: 'NODE_OVERRUN', offset: q, message: `opaque state snapshot of ${ossLen * 4} bytes overruns the option` });
        break;
      }
      node.opaque_state_snapshot = { length: ossLen, schema_id: avail(u24(b, q + 1), 0xffffff), data: b.slice(q + 4, dataEnd) };
      next = dataEnd;
    }
    packetOrder.push(node);
    p = next;
  }
  trace.nodes = packetOrder.reverse();
}

/**
 * One node's data without its trace option around it, as the kernel's IOAM6_EVENT_TRACE event
 * gives it (the event's data starts with the reporting node): the fixed fields from the first
 * `nodeLength` 4-octet words of `data`, then the opaque state snapshot when trace type bit 22 is
 * set. `traceType` is the 24-bit trace type. Never throws: fields that do not fit are left out.
 */
export function decodeIoamNodeData(data: Uint8Array, traceType: number, nodeLength: number): IoamNode {
  const fixed = nodeLength * 4;
  const node = decodeFixed(data, 0, Math.min(fixed, data.length), traceType);
  if ((traceType & BIT22) !== 0 && fixed + 4 <= data.length) {
    const length = data[fixed]!;
    const end = fixed + 4 + length * 4;
    if (end <= data.length)
      node.opaque_state_snapshot = { length, schema_id: avail(u24(data, fixed + 1), 0xffffff), data: data.slice(fixed + 4, end) };
  }
  return node;
}
