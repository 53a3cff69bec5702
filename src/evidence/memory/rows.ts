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
 * A decoder can also write rows without FlowRecords: RowWriter takes each flow's values in a
 * RowDraft (or written in place, as the NetFlow v5 decoder does) and gives the same rows packFlows
 * would give for the records (rows-path.test.ts in the netflow decoder checks it byte for byte).
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
/** 118-119 spare (zero; a writer that reuses buffers clears it). */
export const U16_SPARE = 118 / 2;
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
  /** The ids in `strings` of the sampler addresses (the exporters) of the rows, each once. */
  samplerIds: number[];
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
  const samplerIds: number[] = [];
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
        if (!samplerIds.includes(lastSamplerId)) samplerIds.push(lastSamplerId);
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
    samplerIds,
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

/**
 * One flow's row values, filled by a decoder that writes rows without a FlowRecord (see
 * RowWriter). Addresses are the store's words (IPv4 as ::ffff:a.b.c.d) with their family, 0 for
 * no address; times are whole microseconds as nanoToMicros gives them.
 */
export class RowDraft {
  /** Source words 0-3, destination 4-7. */
  readonly addr = new Uint32Array(8);
  srcFamily: 0 | 4 | 6 = 0;
  dstFamily: 0 | 4 | 6 = 0;
  typeCode = 0;
  ipVersion: 0 | 4 | 6 = 0;
  sourcePort = 0;
  destinationPort = 0;
  protocol = 0;
  tcpFlags = 0;
  inputInterface = 0;
  outputInterface = 0;
  samplingRate = 0;
  observationDomainId = 0;
  sequenceNumber = 0;
  /** -1: none. */
  flowDirection = -1;
  /** 0 none, 1 forward, 2 reverse. */
  biflow = 0;
  bytes = 0;
  packets = 0;
  startUs = 0;
  endUs = 0;
  exportUs = 0;
  timeResolutionNano = 0;
  samplerAddress = '';
  /** The next hop as an IPv4 value, or -1 when it is `nextHopText`. */
  nextHopV4 = -1;
  nextHopText = '';
}

/**
 * Writes rows the way packFlows writes those of the equivalent FlowRecords (same validation,
 * same string ids in the same order, byte for byte), straight from the decoder's values: no
 * FlowRecord object and no address text on the way. The rows of all the datagrams of a batch go
 * into one buffer that `take` hands over (transferable) before starting a fresh one.
 */
export class RowWriter {
  private data: ArrayBuffer;
  f64!: Float64Array;
  u32!: Uint32Array;
  u16!: Uint16Array;
  u8!: Uint8Array;
  /** Rows written (valid records). */
  rows = 0;
  refusedAddress = 0;
  refusedField = 0;
  /** Records given to the writer (valid or refused), by FLOW_TYPES index. */
  readonly byType = [0, 0, 0, 0];
  private strings: string[] = [];
  private samplerIds: number[] = [];
  private ids = new Map<string, number>();
  /** IPv4 next hop value → string id (this batch). */
  private v4Ids = new Map<number, number>();
  private lastSampler = '';
  private lastSamplerId = -1;
  /** The last IPv4 next hop and its id (-2: none yet; never matches a text next hop, which passes -1). */
  private lastHopV4 = -2;
  private lastHopId = -1;
  /** The last next hop given as text and its id (-1: none yet). */
  private lastHopText = '';
  private lastHopTextId = -1;
  private capacity: number;
  /** Row buffers handed back after the store copied them (recycle), written again instead of allocating. */
  private readonly pool: ArrayBuffer[] = [];

  constructor(private readonly initialRows = 1024) {
    this.capacity = initialRows;
    this.data = new ArrayBuffer(initialRows * ROW_BYTES);
    this.views();
  }

  private views(): void {
    this.f64 = new Float64Array(this.data);
    this.u32 = new Uint32Array(this.data);
    this.u16 = new Uint16Array(this.data);
    this.u8 = new Uint8Array(this.data);
  }

  /** Records given to the writer so far (all types). */
  get records(): number {
    return this.byType[0]! + this.byType[1]! + this.byType[2]! + this.byType[3]!;
  }

  /** Makes room for one more row; returns its index (the row is only kept by `commit`). */
  reserve(): number {
    if (this.rows === this.capacity) this.ensure(1);
    return this.rows;
  }

  /**
   * Makes room for `n` more rows, so that a writer can fill rows `rows`, `rows + 1`... through
   * the current views (each kept by its `commit`) without checking the capacity per row.
   */
  ensure(n: number): void {
    if (this.capacity - this.rows >= n) return;
    let capacity = this.capacity * 2;
    while (capacity - this.rows < n) capacity *= 2;
    const grown = new ArrayBuffer(capacity * ROW_BYTES);
    new Uint8Array(grown).set(this.u8);
    this.data = grown;
    this.capacity = capacity;
    this.views();
  }

  private stringId(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.ids.set(s, id);
    }
    return id;
  }

  /**
   * Keeps the reserved row: sets its sampler and next hop ids (sampler first, as packFlows does)
   * and counts it. `format` gives the text of an IPv4 next hop value, once per value and batch.
   */
  commit(samplerAddress: string, nextHopV4: number, nextHopText: string, format: (a: number) => string): void {
    if (samplerAddress !== this.lastSampler || this.lastSamplerId < 0) {
      this.lastSampler = samplerAddress;
      this.lastSamplerId = this.stringId(samplerAddress);
      if (!this.samplerIds.includes(this.lastSamplerId)) this.samplerIds.push(this.lastSamplerId);
    }
    let hop: number;
    if (nextHopV4 === this.lastHopV4) hop = this.lastHopId;
    else if (nextHopV4 >= 0) {
      const known = this.v4Ids.get(nextHopV4);
      if (known === undefined) this.v4Ids.set(nextHopV4, (hop = this.stringId(format(nextHopV4))));
      else hop = known;
      this.lastHopV4 = nextHopV4;
      this.lastHopId = hop;
    } else if (nextHopText === this.lastHopText && this.lastHopTextId >= 0) hop = this.lastHopTextId;
    else {
      hop = this.stringId(nextHopText);
      this.lastHopText = nextHopText;
      this.lastHopTextId = hop;
    }
    const o = this.rows;
    this.u32[o * U32_STRIDE + U32_PACKED_SAMPLER] = this.lastSamplerId;
    this.u16[o * U16_STRIDE + U16_PACKED_NEXT_HOP_HI] = hop >>> 16;
    this.u16[o * U16_STRIDE + U16_PACKED_NEXT_HOP_LO] = hop & 0xffff;
    this.rows = o + 1;
  }

  /** Validates a draft as packFlows validates a record and writes it as the next row, or counts the refusal. */
  put(d: RowDraft, format: (a: number) => string): void {
    this.byType[d.typeCode]!++;
    if (d.srcFamily === 0 || d.dstFamily === 0) {
      this.refusedAddress++;
      return;
    }
    const res = d.timeResolutionNano;
    if (
      !isU16(d.sourcePort) ||
      !isU16(d.destinationPort) ||
      !isU8(d.protocol) ||
      !isU16(d.tcpFlags) ||
      !isU32(d.inputInterface) ||
      !isU32(d.outputInterface) ||
      !isU32(d.samplingRate) ||
      !isU32(d.observationDomainId) ||
      !isU32(d.sequenceNumber) ||
      !(d.flowDirection === -1 || (isU8(d.flowDirection) && d.flowDirection !== NO_FLOW_DIRECTION)) ||
      !isCount(d.bytes) ||
      !isCount(d.packets) ||
      !(res >= 0 && res < Infinity)
    ) {
      this.refusedField++;
      return;
    }
    const o = this.reserve();
    const { f64, u32, u16, u8 } = this;
    const a = o * U32_STRIDE;
    const w = d.addr;
    for (let k = 0; k < 8; k++) u32[a + U32_ADDR + k] = w[k]!;
    u32[a + U32_INPUT_INTERFACE] = d.inputInterface;
    u32[a + U32_OUTPUT_INTERFACE] = d.outputInterface;
    u32[a + U32_SAMPLING_RATE] = d.samplingRate;
    u32[a + U32_OBSERVATION_DOMAIN] = d.observationDomainId;
    u32[a + U32_SEQUENCE_NUMBER] = d.sequenceNumber;
    const f = o * F64_STRIDE;
    f64[f + F64_START_US] = d.startUs;
    f64[f + F64_END_US] = d.endUs;
    f64[f + F64_RESOLUTION_NS] = res;
    f64[f + F64_EXPORT_US] = d.exportUs;
    f64[f + F64_BYTES] = d.bytes;
    f64[f + F64_PACKETS] = d.packets;
    const h = o * U16_STRIDE;
    u16[h + U16_SOURCE_PORT] = d.sourcePort;
    u16[h + U16_DESTINATION_PORT] = d.destinationPort;
    u16[h + U16_TCP_FLAGS] = d.tcpFlags;
    u16[h + U16_SPARE] = 0;
    u16[h + U16_META] =
      d.typeCode |
      ((d.ipVersion === 0 ? 0 : d.ipVersion === 4 ? 1 : 2) << META_IPVERSION_SHIFT) |
      (d.biflow << META_BIFLOW_SHIFT) |
      (d.srcFamily === 6 ? META_SRC_V6 : 0) |
      (d.dstFamily === 6 ? META_DST_V6 : 0);
    const b = o * ROW_BYTES;
    u8[b + U8_PROTOCOL] = d.protocol;
    u8[b + U8_FLOW_DIRECTION] = d.flowDirection === -1 ? NO_FLOW_DIRECTION : d.flowDirection;
    this.commit(d.samplerAddress, d.nextHopV4, d.nextHopText, format);
  }

  /** A buffer of an earlier `take` that is no longer read: reused for later rows (every byte of a row is rewritten). */
  recycle(buffer: ArrayBuffer): void {
    if (this.pool.length < 4 && buffer.byteLength >= this.initialRows * ROW_BYTES && buffer.byteLength % ROW_BYTES === 0)
      this.pool.push(buffer);
  }

  /** The rows so far as a packed batch (its buffer is handed over) and the records by type; the writer starts afresh. */
  take(): { packed: PackedFlows; recordsByType: Record<string, number> } {
    const recordsByType: Record<string, number> = {};
    for (let t = 0; t < FLOW_TYPES.length; t++) if (this.byType[t]! > 0) recordsByType[FLOW_TYPES[t]!] = this.byType[t]!;
    const packed: PackedFlows = {
      rows: this.rows,
      data: this.data,
      strings: this.strings,
      samplerIds: this.samplerIds,
      refusedAddress: this.refusedAddress,
      refusedField: this.refusedField,
    };
    const pooled = this.pool.pop();
    if (pooled) {
      this.data = pooled;
      this.capacity = pooled.byteLength / ROW_BYTES;
    } else {
      this.capacity = Math.max(this.initialRows, nextPow2(this.rows));
      this.data = new ArrayBuffer(this.capacity * ROW_BYTES);
    }
    this.views();
    this.rows = this.refusedAddress = this.refusedField = 0;
    this.byType.fill(0);
    this.strings = [];
    this.samplerIds = [];
    this.ids = new Map();
    this.v4Ids = new Map();
    this.lastSampler = '';
    this.lastSamplerId = -1;
    this.lastHopV4 = -2;
    this.lastHopTextId = -1;
    return { packed, recordsByType };
  }
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** nanoToMicros(ms × 10⁶ + subMsNanos) without BigInt for the usual integer inputs; `slow` (the BigInt path) otherwise. */
export function microsOf(ms: number, subMsNanos: number, slow: (ms: number, subMsNanos: number) => number): number {
  if (Number.isInteger(ms) && Number.isInteger(subMsNanos) && subMsNanos >= 0 && subMsNanos < 1e6 && Math.abs(ms) < 2 ** 42)
    return ms * 1000 + Math.floor(subMsNanos / 1000);
  return slow(ms, subMsNanos);
}
