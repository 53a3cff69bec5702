/**
 * The row format of MemoryFlowStore, and flow records packed into it for a cheap hand-off
 * between threads.
 *
 * A row is ROW_BYTES bytes read through typed-array views with a row stride (see store.ts for
 * why rows). `packFlows` validates records exactly as the store's insert does and writes the
 * valid ones as rows into one ArrayBuffer, which a decoding worker transfers (no copy, no
 * structured clone of objects) to the main thread; there `MemoryFlowStore.insertPacked` copies
 * the rows into its chunks. The low-cardinality text (exporter address, next hop) goes in a
 * string table of the batch; in a packed row the two ids are 32-bit (the sampler id in the
 * `next` slot, the next hop id in the sampler and next hop slots, high half first), since the
 * store rewrites those slots with its own links and per-chunk dictionary ids anyway.
 *
 * `unpackFlows` turns a packed batch back into FlowRecords: what the store would give back for
 * the same records (canonical address text, times in whole microseconds).
 *
 * Pure: no I/O, no clock, no state across calls.
 */
import type { FlowRecord, FlowType } from '../../model/flow.js';
import { formatAddress, parseAddress } from '../address.js';
import { nanoToMicros } from '../store.js';

/** Bytes one row takes. */
export const ROW_BYTES = 120;

// Row layout: the byte offset of each field, as an index into the view of its width.
// 0-31 addresses (source words 0-3, destination 4-7), 32 next, 36 ports, 40-63 start, end,
// resolution: the chain walk's first cache line. Then the rest, read for hits only.
export const U32_ADDR = 0;
export const I32_NEXT = 32 / 4;
export const U16_SOURCE_PORT = 36 / 2;
export const U16_DESTINATION_PORT = 38 / 2;
export const F64_START_US = 40 / 8;
export const F64_END_US = 48 / 8;
export const F64_RESOLUTION_NS = 56 / 8;
export const F64_EXPORT_US = 64 / 8;
export const F64_BYTES = 72 / 8;
export const F64_PACKETS = 80 / 8;
export const U32_INPUT_INTERFACE = 88 / 4;
export const U32_OUTPUT_INTERFACE = 92 / 4;
export const U32_SAMPLING_RATE = 96 / 4;
export const U32_OBSERVATION_DOMAIN = 100 / 4;
export const U32_SEQUENCE_NUMBER = 104 / 4;
export const U16_TCP_FLAGS = 108 / 2;
export const U16_SAMPLER = 110 / 2;
export const U16_NEXT_HOP = 112 / 2;
export const U16_META = 114 / 2;
export const U8_PROTOCOL = 116;
export const U8_FLOW_DIRECTION = 117;
// 118-119 spare.
export const F64_STRIDE = ROW_BYTES / 8;
export const U32_STRIDE = ROW_BYTES / 4;
export const U16_STRIDE = ROW_BYTES / 2;

/** Packed rows only: the sampler's string id (u32) in the `next` slot. */
export const U32_PACKED_SAMPLER = I32_NEXT;
/** Packed rows only: the next hop's string id, high half in the sampler slot, low half in the next hop slot. */
export const U16_PACKED_NEXT_HOP_HI = U16_SAMPLER;
export const U16_PACKED_NEXT_HOP_LO = U16_NEXT_HOP;

export const FLOW_TYPES: readonly FlowType[] = ['netflow_v5', 'netflow_v9', 'ipfix', 'sflow_5'];
const FLOW_TYPE_CODE = new Map<string, number>(FLOW_TYPES.map((t, i) => [t, i]));
export const IP_VERSIONS = [0, 4, 6] as const;
export const NO_FLOW_DIRECTION = 255;

// meta bits: flow type 0-2, ip version code 3-4, biflow direction 5-6, source is IPv6 7, destination is IPv6 8.
export const META_IPVERSION_SHIFT = 3;
export const META_BIFLOW_SHIFT = 5;
export const META_SRC_V6 = 1 << 7;
export const META_DST_V6 = 1 << 8;

const isU8 = (x: number) => (x & 0xff) === x;
export const isU16 = (x: number) => (x & 0xffff) === x;
const isU32 = (x: number) => x >>> 0 === x;
const isCount = (x: number) => typeof x === 'number' && x >= 0 && x <= Number.MAX_SAFE_INTEGER;

/** Typed-array views of one buffer of rows. */
export interface RowViews {
  f64: Float64Array;
  u32: Uint32Array;
  i32: Int32Array;
  u16: Uint16Array;
  u8: Uint8Array;
}

export function rowViews(buffer: ArrayBuffer): RowViews {
  return {
    f64: new Float64Array(buffer),
    u32: new Uint32Array(buffer),
    i32: new Int32Array(buffer),
    u16: new Uint16Array(buffer),
    u8: new Uint8Array(buffer),
  };
}

/** Flow records as rows, ready to be transferred and inserted (see the file comment). */
export interface PackedFlows {
  /** Valid records packed. */
  rows: number;
  /** The rows, in its first rows × ROW_BYTES bytes (transferable). */
  data: ArrayBuffer;
  /** Sampler addresses and next hops the rows refer to by id. */
  strings: string[];
  /** Records left out because an address is not an IP address, or another field is out of range: the store's refusals. */
  refusedAddress: number;
  refusedField: number;
}

/** A record's fields in the row at `o` (ids not set), or why it is refused: 1 address, 2 another field. */
function writeRow(r: FlowRecord, v: RowViews, o: number): 0 | 1 | 2 {
  const a = o * U32_STRIDE;
  const { u32 } = v;
  const srcFamily = typeof r.sourceAddress === 'string' ? parseAddress(r.sourceAddress, u32, a + U32_ADDR) : 0;
  const dstFamily = typeof r.destinationAddress === 'string' ? parseAddress(r.destinationAddress, u32, a + U32_ADDR + 4) : 0;
  if (srcFamily === 0 || dstFamily === 0) return 1;
  const typeCode = FLOW_TYPE_CODE.get(r.type);
  const ipVersionCode = IP_VERSIONS.indexOf(r.ipVersion);
  const biflowCode = r.biflowDirection === undefined ? 0 : r.biflowDirection === 'forward' ? 1 : r.biflowDirection === 'reverse' ? 2 : -1;
  if (
    typeCode === undefined ||
    ipVersionCode < 0 ||
    biflowCode < 0 ||
    !isU16(r.sourcePort) ||
    !isU16(r.destinationPort) ||
    !isU8(r.protocol) ||
    !isU16(r.tcpFlags) ||
    !isU32(r.inputInterface) ||
    !isU32(r.outputInterface) ||
    !isU32(r.samplingRate) ||
    !isU32(r.observationDomainId) ||
    !isU32(r.sequenceNumber) ||
    !(r.flowDirection === undefined || (isU8(r.flowDirection) && r.flowDirection !== NO_FLOW_DIRECTION)) ||
    !isCount(r.bytes) ||
    !isCount(r.packets) ||
    !(typeof r.timeResolutionNano === 'number' && r.timeResolutionNano >= 0 && r.timeResolutionNano < Infinity) ||
    typeof r.startUnixNano !== 'bigint' ||
    typeof r.endUnixNano !== 'bigint' ||
    typeof r.exportTimeUnixNano !== 'bigint' ||
    typeof r.samplerAddress !== 'string' ||
    typeof r.nextHop !== 'string'
  )
    return 2;
  const { f64, u16, u8 } = v;
  u32[a + U32_INPUT_INTERFACE] = r.inputInterface;
  u32[a + U32_OUTPUT_INTERFACE] = r.outputInterface;
  u32[a + U32_SAMPLING_RATE] = r.samplingRate;
  u32[a + U32_OBSERVATION_DOMAIN] = r.observationDomainId;
  u32[a + U32_SEQUENCE_NUMBER] = r.sequenceNumber;
  const f = o * F64_STRIDE;
  f64[f + F64_START_US] = nanoToMicros(r.startUnixNano);
  f64[f + F64_END_US] = nanoToMicros(r.endUnixNano);
  f64[f + F64_RESOLUTION_NS] = r.timeResolutionNano;
  f64[f + F64_EXPORT_US] = nanoToMicros(r.exportTimeUnixNano);
  f64[f + F64_BYTES] = r.bytes;
  f64[f + F64_PACKETS] = r.packets;
  const h = o * U16_STRIDE;
  u16[h + U16_SOURCE_PORT] = r.sourcePort;
  u16[h + U16_DESTINATION_PORT] = r.destinationPort;
  u16[h + U16_TCP_FLAGS] = r.tcpFlags;
  u16[h + U16_META] =
    typeCode |
    (ipVersionCode << META_IPVERSION_SHIFT) |
    (biflowCode << META_BIFLOW_SHIFT) |
    (srcFamily === 6 ? META_SRC_V6 : 0) |
    (dstFamily === 6 ? META_DST_V6 : 0);
  const b = o * ROW_BYTES;
  u8[b + U8_PROTOCOL] = r.protocol;
  u8[b + U8_FLOW_DIRECTION] = r.flowDirection ?? NO_FLOW_DIRECTION;
  return 0;
}

/**
 * Validates and packs records (see the file comment); refused ones are only counted. With
 * `scratch` (a buffer the caller reuses, not to be transferred) the rows go there when it is
 * large enough, and `data` is trimmed to the rows only when it is a fresh buffer.
 */
export function packFlows(records: readonly FlowRecord[], scratch?: ArrayBuffer): PackedFlows {
  const reuse = scratch !== undefined && scratch.byteLength >= records.length * ROW_BYTES;
  const data = reuse ? scratch : new ArrayBuffer(records.length * ROW_BYTES);
  const v = rowViews(data);
  const strings: string[] = [];
  const ids = new Map<string, number>();
  let lastSampler = '';
  let lastSamplerId = -1;
  const stringId = (s: string): number => {
    let id = ids.get(s);
    if (id === undefined) {
      id = strings.length;
      strings.push(s);
      ids.set(s, id);
    }
    return id;
  };
  let rows = 0;
  let refusedAddress = 0;
  let refusedField = 0;
  for (const r of records) {
    const outcome = writeRow(r, v, rows);
    if (outcome === 1) refusedAddress++;
    else if (outcome === 2) refusedField++;
    else {
      if (r.samplerAddress !== lastSampler || lastSamplerId < 0) {
        lastSampler = r.samplerAddress;
        lastSamplerId = stringId(lastSampler);
      }
      const hop = stringId(r.nextHop);
      v.u32[rows * U32_STRIDE + U32_PACKED_SAMPLER] = lastSamplerId;
      v.u16[rows * U16_STRIDE + U16_PACKED_NEXT_HOP_HI] = hop >>> 16;
      v.u16[rows * U16_STRIDE + U16_PACKED_NEXT_HOP_LO] = hop & 0xffff;
      rows++;
    }
  }
  // A refused record's partial row is beyond `rows`, or overwritten by the next valid one.
  return {
    rows,
    data: reuse || rows === records.length ? data : data.slice(0, rows * ROW_BYTES),
    strings,
    refusedAddress,
    refusedField,
  };
}

/** The sampler's string id of packed row `o`. */
export function packedSamplerId(u32: Uint32Array, o: number): number {
  return u32[o * U32_STRIDE + U32_PACKED_SAMPLER]!;
}

/** The next hop's string id of packed row `o`. */
export function packedNextHopId(u16: Uint16Array, o: number): number {
  const h = o * U16_STRIDE;
  return ((u16[h + U16_PACKED_NEXT_HOP_HI]! << 16) | u16[h + U16_PACKED_NEXT_HOP_LO]!) >>> 0;
}

/** The FlowRecord of row `o`, given its sampler and next hop text. */
export function readRow(v: RowViews, o: number, samplerAddress: string, nextHop: string): FlowRecord {
  const { f64, u32, u16, u8 } = v;
  const a = o * U32_STRIDE;
  const f = o * F64_STRIDE;
  const h = o * U16_STRIDE;
  const b = o * ROW_BYTES;
  const meta = u16[h + U16_META]!;
  const record: FlowRecord = {
    type: FLOW_TYPES[meta & 7]!,
    samplerAddress,
    observationDomainId: u32[a + U32_OBSERVATION_DOMAIN]!,
    sequenceNumber: u32[a + U32_SEQUENCE_NUMBER]!,
    exportTimeUnixNano: BigInt(f64[f + F64_EXPORT_US]!) * 1000n,
    sourceAddress: formatAddress(u32, a + U32_ADDR, meta & META_SRC_V6 ? 6 : 4),
    sourcePort: u16[h + U16_SOURCE_PORT]!,
    destinationAddress: formatAddress(u32, a + U32_ADDR + 4, meta & META_DST_V6 ? 6 : 4),
    destinationPort: u16[h + U16_DESTINATION_PORT]!,
    protocol: u8[b + U8_PROTOCOL]!,
    ipVersion: IP_VERSIONS[(meta >>> META_IPVERSION_SHIFT) & 3]!,
    bytes: f64[f + F64_BYTES]!,
    packets: f64[f + F64_PACKETS]!,
    startUnixNano: BigInt(f64[f + F64_START_US]!) * 1000n,
    endUnixNano: BigInt(f64[f + F64_END_US]!) * 1000n,
    timeResolutionNano: f64[f + F64_RESOLUTION_NS]!,
    inputInterface: u32[a + U32_INPUT_INTERFACE]!,
    outputInterface: u32[a + U32_OUTPUT_INTERFACE]!,
    nextHop,
    samplingRate: u32[a + U32_SAMPLING_RATE]!,
    tcpFlags: u16[h + U16_TCP_FLAGS]!,
  };
  const flowDirection = u8[b + U8_FLOW_DIRECTION]!;
  if (flowDirection !== NO_FLOW_DIRECTION) record.flowDirection = flowDirection;
  const biflow = (meta >>> META_BIFLOW_SHIFT) & 3;
  if (biflow !== 0) record.biflowDirection = biflow === 1 ? 'forward' : 'reverse';
  return record;
}

/** The records of a packed batch, as the store would give them back. */
export function unpackFlows(packed: PackedFlows): FlowRecord[] {
  const v = rowViews(packed.data);
  const out = new Array<FlowRecord>(packed.rows);
  for (let o = 0; o < packed.rows; o++)
    out[o] = readRow(v, o, packed.strings[packedSamplerId(v.u32, o)]!, packed.strings[packedNextHopId(v.u16, o)]!);
  return out;
}
