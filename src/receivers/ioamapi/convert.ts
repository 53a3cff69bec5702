/**
 * IOAM API messages → IoamObservation: the trace type from BitField, each IOAMNode as the RFC
 * 9197 fields of the packet decoder (src/capture/ioam/decode.ts), with the same rule that an
 * all-ones value means "unavailable" (null).
 *
 * BitField. The agents put the 24-bit trace type (bit 0 the most significant) into the 32-bit
 * BitField in two ways:
 *  - `low_24_bits`: BitField = trace type, bit 0 = 1 << 23. The Python agent (ioam-agent-python,
 *    netlink version) takes IOAM6_EVENT_ATTR_TRACE_TYPE (the header's 32-bit type word) >> 8.
 *  - `high_24_bits`: BitField = trace type << 8, bit 0 = 1 << 31, the low 8 bits (the header's
 *    reserved octet) zero: the trace header's 32-bit word as it is on the wire. The Go agent
 *    (ioam-agent, `BitField: traceType << 8`) sends this, and the reference collector
 *    (ioam-collector-go-jaeger, MASK_BIT0 = 1 << 31) reads it.
 *  - `auto` (the default): a BitField above 0xffffff can only be `high_24_bits`; anything else is
 *    read as `low_24_bits`. The one case auto gets wrong is a Go agent's trace whose type has
 *    none of bits 0-7 (only wide fields or the snapshot); pin `high_24_bits` for such agents.
 */
import type { IoamNode } from '../../capture/ioam/decode.js';
import { DecodeError } from '../../core/errors.js';
import { NO_PACKET, ioamNodeTime, type IoamObservation } from '../../model/observation.js';
import type { IoamApiNode, IoamApiTrace } from './codec.js';

export type BitFieldLayout = 'auto' | 'low_24_bits' | 'high_24_bits';

/** The 24-bit trace type (bit 0 the most significant) a BitField carries. */
export function traceTypeFromBitField(bitField: number, layout: BitFieldLayout): number {
  const high = layout === 'high_24_bits' || (layout === 'auto' && bitField > 0xffffff);
  return high ? bitField >>> 8 : bitField & 0xffffff;
}

/** Bit n (0 = most significant) of a 24-bit trace type. */
const has = (type: number, bit: number): boolean => (type & (1 << (23 - bit))) !== 0;
const ONES56 = (1n << 56n) - 1n;
const ONES64 = (1n << 64n) - 1n;
/** Largest Opaque State Snapshot: its length is 8 bits in 4-octet units. */
const MAX_OSS_BYTES = 255 * 4;

/** A node field that does not fit the width RFC 9197 gives it: the trace is malformed. */
function tooWide(i: number, field: string, value: number | bigint, bits: number): DecodeError {
  return new DecodeError('IOAM_API_FIELD_RANGE', `Nodes[${i}].${field} = ${value} does not fit in ${bits} bits`, { node: i, field });
}

function checked(i: number, n: IoamApiNode, field: keyof IoamApiNode, bits: number): number | null {
  const v = n[field] as number;
  const ones = bits === 32 ? 0xffffffff : 2 ** bits - 1;
  if (v > ones) throw tooWide(i, field, v, bits);
  return v === ones ? null : v;
}

function fixedBytes(i: number, n: IoamApiNode, field: 'NamespaceData' | 'NamespaceDataWide', size: number): Uint8Array {
  const b = n[field];
  if (b.length !== size)
    throw new DecodeError('IOAM_API_FIELD_LENGTH', `Nodes[${i}].${field} has ${b.length} bytes, want ${size}`, { node: i, field });
  return b;
}

/** One IOAMNode as the fields its trace type announces; throws DecodeError when a value does not fit. */
export function nodeFromApi(n: IoamApiNode, traceType: number, i: number): IoamNode {
  const node: IoamNode = {};
  if (has(traceType, 0)) {
    node.hop_limit = checked(i, n, 'HopLimit', 8);
    node.node_id = checked(i, n, 'Id', 24);
  }
  if (has(traceType, 1)) {
    node.ingress_if_id = checked(i, n, 'IngressId', 16);
    node.egress_if_id = checked(i, n, 'EgressId', 16);
  }
  if (has(traceType, 2)) node.timestamp_seconds = checked(i, n, 'TimestampSecs', 32);
  if (has(traceType, 3)) node.timestamp_subseconds = checked(i, n, 'TimestampFrac', 32);
  if (has(traceType, 4)) node.transit_delay = checked(i, n, 'TransitDelay', 32);
  if (has(traceType, 5)) {
    const v = Buffer.from(fixedBytes(i, n, 'NamespaceData', 4)).readUInt32BE(0);
    node.namespace_data = v === 0xffffffff ? null : v;
  }
  if (has(traceType, 6)) node.queue_depth = checked(i, n, 'QueueDepth', 32);
  if (has(traceType, 7)) node.checksum_complement = checked(i, n, 'CsumComp', 32);
  if (has(traceType, 8)) {
    // As in the packet decoder: with bits 0 and 8 both set, hop_limit comes from bit 0 (the same value).
    if (node.hop_limit === undefined) node.hop_limit = checked(i, n, 'HopLimit', 8);
    if (n.IdWide > ONES56) throw tooWide(i, 'IdWide', n.IdWide, 56);
    node.node_id_wide = n.IdWide === ONES56 ? null : n.IdWide;
  }
  if (has(traceType, 9)) {
    node.ingress_if_id_wide = checked(i, n, 'IngressIdWide', 32);
    node.egress_if_id_wide = checked(i, n, 'EgressIdWide', 32);
  }
  if (has(traceType, 10)) {
    const v = Buffer.from(fixedBytes(i, n, 'NamespaceDataWide', 8)).readBigUInt64BE(0);
    node.namespace_data_wide = v === ONES64 ? null : v;
  }
  if (has(traceType, 11)) node.buffer_occupancy = checked(i, n, 'BufferOccupancy', 32);
  // Bits 12-21 (undefined) have no field in the API: nothing to report for them.
  if (has(traceType, 22)) {
    const oss = n.OSS ?? { SchemaId: 0xffffff, Data: new Uint8Array(0) };
    if (oss.SchemaId > 0xffffff) throw tooWide(i, 'OSS.SchemaId', oss.SchemaId, 24);
    if (oss.Data.length > MAX_OSS_BYTES)
      throw new DecodeError('IOAM_API_FIELD_LENGTH', `Nodes[${i}].OSS.Data has ${oss.Data.length} bytes, at most ${MAX_OSS_BYTES}`, {
        node: i,
        field: 'OSS.Data',
      });
    node.opaque_state_snapshot = {
      length: Math.ceil(oss.Data.length / 4),
      schema_id: oss.SchemaId === 0xffffff ? null : oss.SchemaId,
      data: oss.Data,
    };
  }
  return node;
}

const hex = (v: bigint, digits: number): string => v.toString(16).padStart(digits, '0');

/**
 * The capture time a trace's first node (the first hop) wrote: seconds and subseconds in the
 * POSIX format the Linux kernel uses (microseconds); undefined when it has no (usable) seconds.
 */
export function firstNodeTime(nodes: readonly IoamNode[]): bigint | undefined {
  const first = nodes[0];
  // Zero seconds: the agent had no timestamp to report.
  if (!first || !first.timestamp_seconds) return undefined;
  return ioamNodeTime(first) ?? BigInt(first.timestamp_seconds) * 1_000_000_000n;
}

export interface ConvertContext {
  bitField: BitFieldLayout;
  /** The reporting agent's address ("ip:port"), kept as the observer. */
  peer: string;
  receivedUnixNano: bigint;
}

/** An IOAMTrace as an IoamObservation; throws DecodeError when a node's values do not fit RFC 9197. */
export function observationFromTrace(trace: IoamApiTrace, ctx: ConvertContext): IoamObservation {
  if (trace.NamespaceId > 0xffff)
    throw new DecodeError('IOAM_API_FIELD_RANGE', `NamespaceId = ${trace.NamespaceId} does not fit in 16 bits`, { field: 'NamespaceId' });
  const traceType = traceTypeFromBitField(trace.BitField, ctx.bitField);
  const nodes = trace.Nodes.map((n, i) => nodeFromApi(n, traceType, i));
  const observation: IoamObservation = {
    kind: 'ioam',
    source: 'ioam_api',
    timeUnixNano: firstNodeTime(nodes) ?? ctx.receivedUnixNano,
    observer: ctx.peer,
    ...NO_PACKET,
    // The API carries pre-allocated traces only and has no flags: no overflow to report.
    optionType: 0,
    namespaceId: trace.NamespaceId,
    traceType,
    overflow: false,
    nodes,
  };
  if (trace.TraceId_High !== 0n || trace.TraceId_Low !== 0n) observation.traceId = hex(trace.TraceId_High, 16) + hex(trace.TraceId_Low, 16);
  if (trace.SpanId !== 0n) observation.spanId = hex(trace.SpanId, 16);
  return observation;
}
