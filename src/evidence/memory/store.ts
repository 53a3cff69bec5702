/**
 * MemoryFlowStore: flow evidence in typed arrays, for one collector.
 *
 * Layout. Rows live in a ring of chunks; a chunk is one ArrayBuffer of `chunkRows` fixed-size
 * rows of 120 bytes (ROW_BYTES), read through typed-array views with a row stride. Rows rather
 * than columns because every read is a point lookup: what the chain walk checks (addresses,
 * ports, link, times) fills the first 64 bytes and a hit reads one more cache line, where
 * columns would cost a cache miss per field. Addresses are four uint32 words each (IPv4 as
 * ::ffff:a.b.c.d, a family bit keeps the text form); times are float64 microseconds
 * since the epoch, exact below 2^53; the exporter address and the next hop, which take few
 * values, are ids into dictionaries of the chunk, so they go with it. No JS object is kept per
 * flow: only matches of a query are turned into FlowRecords. The row format is in rows.ts:
 * insert() validates and packs the records into rows there (packFlows) and insertPacked() copies
 * them in, so a decoding worker can pack them and hand the buffer over instead.
 *
 * Index. A hash of the unordered connection key (both ends, address and port, so both
 * directions land in one bucket) picks a bucket; `heads` holds the newest row of each bucket,
 * each row the next older row of its bucket (`next`, a row position slot × chunkRows + offset).
 * Each read checks the quartet and time, so collisions cost time, never correctness. There are
 * as many buckets as maxFlows (a power of two) up to 2^21 from the start; beyond that they double
 * (rebuilding the chains) while there are more flows than buckets: 4 to 8 bytes a flow.
 *
 * Eviction is whole chunks, the oldest first: by age when every flow of the oldest chunk has
 * ended before now − retention (a chunk holding one far-future flow stays until capacity takes
 * it; such flows are still never returned past retention, since reads check each flow's end),
 * and by capacity when maxFlows is reached. A chain link into an evicted chunk is recognised
 * because the row now at that position, if any, is not older than the row linking to it (slots
 * are only reused by newer chunks), so the walk stops there. Evicting a chunk also empties the
 * buckets whose newest row it held, so that no walk starts in a foreign chain.
 *
 * Each chunk also keeps every row's bucket hash (4 bytes a row), so that evicting a chunk or
 * rebuilding the index does not hash its rows again; and insertPacked copies the runs of rows
 * that fit the chunk in one go before linking them.
 *
 * At capacity about 130 bytes a flow (120 row, 4 hash, 4.2 index, 1.9 the unfilled part of the
 * newest chunk), see bytesPerFlow in stats() and memory.test.ts; the index is there whole from the
 * start (8 MB at the default 2 M flows), so a store filled to half has 8.4 bytes of it a flow.
 */
import { NetspanError } from '../../core/errors.js';
import type { SelfMetrics } from '../../core/telemetry/metrics.js';
import type { FlowRecord } from '../../model/flow.js';
import { parseAddress } from '../address.js';
import {
  DEFAULT_FLOW_RETENTION_MS,
  DEFAULT_MAX_FLOWS,
  EvidenceQueryError,
  nanoToMicros,
  resolutionMicros,
  validateFlowQuery,
  type ConnectionDirection,
  type FlowMatch,
  type FlowQuery,
  type FlowStore,
  type FlowStoreLimits,
  type FlowStoreStats,
} from '../store.js';
import { MAX_MAX_FLOWS } from './config.js';
import { FlowStoreMetrics, type EvictionReason } from './telemetry.js';
import {
  F64_END_US,
  F64_RESOLUTION_NS,
  F64_START_US,
  F64_STRIDE,
  I32_NEXT,
  isU16,
  packedNextHopId,
  packedSamplerId,
  packFlows,
  readRow,
  ROW_BYTES,
  U16_DESTINATION_PORT,
  U16_NEXT_HOP,
  U16_SAMPLER,
  U16_SOURCE_PORT,
  U16_STRIDE,
  U32_ADDR,
  U32_STRIDE,
  U8_PROTOCOL,
  type PackedFlows,
} from './rows.js';

export interface MemoryFlowStoreOptions {
  /** Default DEFAULT_FLOW_RETENTION_MS (15 minutes). */
  retentionMs?: number;
  /** Default DEFAULT_MAX_FLOWS (2,000,000). */
  maxFlows?: number;
  /** Clock, Unix milliseconds; tests inject one. */
  now?: () => number;
  metrics?: SelfMetrics;
  /** The `store` label of the metrics. */
  id?: string;
  /** Rows per chunk, a power of two in 16..32768; default about maxFlows / 64 (eviction granularity). */
  chunkRows?: number;
  /** A fixed bucket count (power of two) instead of growing with the flows; tests force collisions with it. */
  buckets?: number;
}

/** Bytes one row takes in a chunk; its hash and the index add ~8 more per flow (see the file comment). */
export { ROW_BYTES };

const MIN_CHUNK_ROWS = 16;
const MAX_CHUNK_ROWS = 32_768;
/**
 * Buckets from the start, up to this many (8 MB of heads): a store of the default size never
 * rebuilds its index, which at a million flows stalls the inserting thread for tens of ms while
 * flows arrive at millions a second. Larger stores still double from here.
 */
const MAX_INITIAL_BUCKETS = 1 << 21;
/** insert() keeps its packing buffer up to this size (about 35k records); larger batches get a fresh one. */
const MAX_SCRATCH_BYTES = 4 << 20;
/** Rough heap cost of a dictionary entry beyond its text (Map entry, array slot, string header). */
const DICTIONARY_ENTRY_OVERHEAD = 64;

/** Low-cardinality text of one chunk (exporter addresses, next hops), as uint16 ids. */
class Dictionary {
  private readonly ids = new Map<string, number>();
  readonly values: string[] = [];
  bytes = 0;
  private lastValue = '';
  private lastId = -1;

  id(value: string): number {
    if (value === this.lastValue && this.lastId >= 0) return this.lastId;
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.ids.set(value, id);
      this.bytes += DICTIONARY_ENTRY_OVERHEAD + 2 * value.length;
    }
    this.lastValue = value;
    this.lastId = id;
    return id;
  }
}

class Chunk {
  readonly buffer: ArrayBuffer;
  readonly f64: Float64Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly u16: Uint16Array;
  readonly u8: Uint8Array;
  /** Bucket hash of each row, kept so that eviction and index rebuilds need not hash the rows again. */
  readonly hashes: Uint32Array;
  readonly samplers = new Dictionary();
  readonly nextHops = new Dictionary();
  count = 0;
  minStartUs = Infinity;
  maxEndUs = -Infinity;

  constructor(
    readonly rows: number,
    /** Sequence number of row 0: rows are numbered in insertion order across chunks. */
    readonly firstSeq: number,
    /** The memory of an evicted chunk of the same size, reused (every row is written before it is read). */
    reuse?: Chunk,
  ) {
    this.buffer = reuse ? reuse.buffer : new ArrayBuffer(rows * ROW_BYTES);
    this.f64 = new Float64Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.u16 = new Uint16Array(this.buffer);
    this.u8 = new Uint8Array(this.buffer);
    this.hashes = reuse ? reuse.hashes : new Uint32Array(rows);
  }

  heapBytes(): number {
    return this.buffer.byteLength + this.hashes.byteLength + this.samplers.bytes + this.nextHops.bytes;
  }
}

function hashEnd(w0: number, w1: number, w2: number, w3: number, port: number): number {
  let h = Math.imul(port ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ w0 ^ (h >>> 15), 0xcc9e2d51);
  h = Math.imul(h ^ w1 ^ (h >>> 13), 0x1b873593);
  h = Math.imul(h ^ w2 ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ w3 ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Hash of the unordered connection key: the same for both directions. */
function hashConnection(a: Uint32Array, at: number, portA: number, b: Uint32Array, bt: number, portB: number): number {
  let h = (hashEnd(a[at]!, a[at + 1]!, a[at + 2]!, a[at + 3]!, portA) + hashEnd(b[bt]!, b[bt + 1]!, b[bt + 2]!, b[bt + 3]!, portB)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Links rows `from` to `to` of a chunk (at ring position `base`) into `heads`, each before the bucket's older rows. */
function linkRows(chunk: Chunk, from: number, to: number, base: number, heads: Int32Array): void {
  const { hashes, i32 } = chunk;
  const mask = heads.length - 1;
  for (let o = from; o < to; o++) {
    const bucket = hashes[o]! & mask;
    i32[o * U32_STRIDE + I32_NEXT] = heads[bucket]!;
    heads[bucket] = base | o;
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

const isU8 = (x: number) => (x & 0xff) === x;

interface Hit {
  chunk: Chunk;
  offset: number;
  seq: number;
  direction: ConnectionDirection;
}

export class MemoryFlowStore implements FlowStore {
  readonly limits: FlowStoreLimits;
  readonly chunkRows: number;
  private readonly chunkBits: number;
  private readonly now: () => number;
  private readonly metrics: FlowStoreMetrics | undefined;

  private readonly ring: (Chunk | undefined)[];
  private oldest = 0;
  private newest: number;
  private liveChunks = 0;
  private nextSeq = 0;
  private flows = 0;

  private heads: Int32Array;
  private readonly growBuckets: boolean;
  private readonly maxBuckets: number;

  private inserted = 0;
  private refused = 0;
  private readonly evicted = { age: 0, capacity: 0 };
  private closed = false;

  /** Where insert() packs records before copying them in (kept between calls up to MAX_SCRATCH_BYTES). */
  private scratch = new ArrayBuffer(0);

  /** The last chunk evicted, whose memory the next chunk takes over instead of allocating (fewer full GCs). */
  private spare: Chunk | undefined;

  /** Parsed addresses of the record or query at hand: source 0-3, destination 4-7. */
  private readonly words = new Uint32Array(8);

  constructor(options: MemoryFlowStoreOptions = {}) {
    const retentionMs = options.retentionMs ?? DEFAULT_FLOW_RETENTION_MS;
    const maxFlows = options.maxFlows ?? DEFAULT_MAX_FLOWS;
    if (!(retentionMs > 0)) throw new NetspanError('EVIDENCE_BAD_OPTION', `retentionMs must be more than 0, not ${retentionMs}`);
    if (!(Number.isInteger(maxFlows) && maxFlows > 0 && maxFlows <= MAX_MAX_FLOWS))
      throw new NetspanError('EVIDENCE_BAD_OPTION', `maxFlows must be an integer in 1..${MAX_MAX_FLOWS}, not ${maxFlows}`);
    this.limits = { retentionMs, maxFlows };

    const chunkRows = options.chunkRows ?? Math.min(MAX_CHUNK_ROWS, Math.max(MIN_CHUNK_ROWS, nextPowerOfTwo(Math.ceil(maxFlows / 64))));
    if (!(isPowerOfTwo(chunkRows) && chunkRows >= MIN_CHUNK_ROWS && chunkRows <= MAX_CHUNK_ROWS))
      throw new NetspanError('EVIDENCE_BAD_OPTION', `chunkRows must be a power of two in ${MIN_CHUNK_ROWS}..${MAX_CHUNK_ROWS}`);
    this.chunkRows = chunkRows;
    this.chunkBits = Math.log2(chunkRows);
    // Full chunks plus the one being filled never exceed ceil(maxFlows / chunkRows); one more for safety.
    this.ring = new Array<Chunk | undefined>(Math.ceil(maxFlows / chunkRows) + 1).fill(undefined);
    this.newest = this.ring.length - 1;

    if (options.buckets !== undefined && !isPowerOfTwo(options.buckets))
      throw new NetspanError('EVIDENCE_BAD_OPTION', `buckets must be a power of two, not ${options.buckets}`);
    this.maxBuckets = options.buckets ?? nextPowerOfTwo(maxFlows);
    this.growBuckets = options.buckets === undefined;
    this.heads = new Int32Array(options.buckets ?? Math.min(MAX_INITIAL_BUCKETS, this.maxBuckets)).fill(-1);

    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ? new FlowStoreMetrics(options.metrics, options.id ?? 'memory') : undefined;
    this.metrics?.occupancy(0, this.bytes());
  }

  insert(records: readonly FlowRecord[]): void {
    this.checkOpen();
    const need = records.length * ROW_BYTES;
    if (need > this.scratch.byteLength && need <= MAX_SCRATCH_BYTES) this.scratch = new ArrayBuffer(need);
    this.insertPacked(packFlows(records, this.scratch));
  }

  /**
   * Rows packed by packFlows (in a decoding worker, say): the same as insert() of the records
   * they were packed from, refusals included, without a FlowRecord object on this thread.
   */
  insertPacked(batch: PackedFlows): void {
    this.checkOpen();
    const cutoffUs = this.cutoffUs();
    this.expire(cutoffUs);
    const evictedBefore = this.evicted.age + this.evicted.capacity;
    let stored = 0;
    let tooOld = 0;
    const n = batch.rows;
    const strings = batch.strings;
    const src32 = new Uint32Array(batch.data, 0, n * U32_STRIDE);
    const src64 = new Float64Array(batch.data, 0, n * F64_STRIDE);
    const src16 = new Uint16Array(batch.data, 0, n * U16_STRIDE);
    // Batch string id → id in the dictionaries of `mapped`, the chunk being filled (-1: not yet).
    const samplerIds = new Int32Array(strings.length);
    const nextHopIds = new Int32Array(strings.length);
    let mapped: Chunk | undefined;
    const src8 = new Uint8Array(batch.data, 0, n * ROW_BYTES);
    const maxFlows = this.limits.maxFlows;
    let i = 0;
    while (i < n) {
      if (src64[i * F64_STRIDE + F64_END_US]! < cutoffUs) {
        tooOld++;
        i++;
        continue;
      }
      if (this.flows >= maxFlows) this.evictOldest('capacity');
      let chunk = this.liveChunks > 0 ? this.ring[this.newest]! : undefined;
      if (!chunk || chunk.count === chunk.rows) chunk = this.openChunk();
      if (chunk !== mapped) {
        mapped = chunk;
        samplerIds.fill(-1);
        nextHopIds.fill(-1);
      }
      // a run of rows to keep that fits the chunk (and the capacity): copied in one go, then linked one by one
      const room = Math.min(chunk.rows - chunk.count, maxFlows - this.flows);
      let j = i + 1;
      while (j < n && j - i < room && src64[j * F64_STRIDE + F64_END_US]! >= cutoffUs) j++;
      chunk.u8.set(src8.subarray(i * ROW_BYTES, j * ROW_BYTES), chunk.count * ROW_BYTES);
      // The run's rows get their ids and hashes first, then are linked in a loop of its own: short, so
      // that the processor keeps many of the index's cache misses in flight at once.
      const { u16, u32, f64, hashes } = chunk;
      const from = chunk.count;
      const to = from + (j - i);
      let minStartUs = chunk.minStartUs;
      let maxEndUs = chunk.maxEndUs;
      for (let o = from; i < j; i++, o++) {
        const samplerId = packedSamplerId(src32, i);
        let sampler = samplerIds[samplerId]!;
        if (sampler < 0) sampler = samplerIds[samplerId] = chunk.samplers.id(strings[samplerId]!);
        const hopId = packedNextHopId(src16, i);
        let hop = nextHopIds[hopId]!;
        if (hop < 0) hop = nextHopIds[hopId] = chunk.nextHops.id(strings[hopId]!);
        const h = o * U16_STRIDE;
        u16[h + U16_SAMPLER] = sampler;
        u16[h + U16_NEXT_HOP] = hop;
        const f = o * F64_STRIDE;
        const startUs = f64[f + F64_START_US]!;
        const endUs = f64[f + F64_END_US]!;
        if (startUs < minStartUs) minStartUs = startUs;
        if (endUs > maxEndUs) maxEndUs = endUs;
        const a = o * U32_STRIDE + U32_ADDR;
        hashes[o] = hashConnection(u32, a, u16[h + U16_SOURCE_PORT]!, u32, a + 4, u16[h + U16_DESTINATION_PORT]!);
      }
      chunk.minStartUs = minStartUs;
      chunk.maxEndUs = maxEndUs;
      stored += to - from;
      const position = this.newest << this.chunkBits;
      while (chunk.count < to) {
        // link up to the point where the index must grow (a rebuild reads the count of rows linked)
        const heads = this.heads;
        const growAt = this.growBuckets && heads.length < this.maxBuckets ? heads.length : Infinity;
        const stop = Math.min(to, chunk.count + Math.max(1, growAt + 1 - this.flows));
        linkRows(chunk, chunk.count, stop, position, heads);
        this.flows += stop - chunk.count;
        chunk.count = stop;
        if (this.flows > growAt) this.rebuildIndex(heads.length * 2);
      }
    }
    const badAddress = batch.refusedAddress;
    const badField = batch.refusedField;
    this.inserted += stored + tooOld;
    this.refused += badAddress + badField;
    this.evicted.age += tooOld;
    if (this.metrics) {
      this.metrics.insertedFlows(stored + tooOld);
      this.metrics.evicted('age', tooOld);
      this.metrics.refused('invalid_address', badAddress);
      this.metrics.refused('invalid_field', badField);
      if (stored > 0 || this.evicted.age + this.evicted.capacity !== evictedBefore) this.metrics.occupancy(this.flows, this.bytes());
    }
  }

  async query(query: FlowQuery): Promise<FlowMatch[]> {
    return this.querySync(query);
  }

  async queryMany(queries: readonly FlowQuery[]): Promise<FlowMatch[][]> {
    return this.queryManySync(queries);
  }

  async stats(): Promise<FlowStoreStats> {
    return this.statsSync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ring.fill(undefined);
    this.spare = undefined;
    this.liveChunks = 0;
    this.flows = 0;
    this.heads = new Int32Array(0);
    this.scratch = new ArrayBuffer(0);
    this.metrics?.occupancy(0, 0);
  }

  /** query() without the promise, for in-process callers. */
  querySync(query: FlowQuery): FlowMatch[] {
    this.checkOpen();
    const words = this.words;
    const valid =
      typeof query.sourceAddress === 'string' &&
      typeof query.destinationAddress === 'string' &&
      parseAddress(query.sourceAddress, words, 0) !== 0 &&
      parseAddress(query.destinationAddress, words, 4) !== 0 &&
      isU16(query.sourcePort) &&
      isU16(query.destinationPort) &&
      typeof query.fromUnixNano === 'bigint' &&
      typeof query.toUnixNano === 'bigint' &&
      query.fromUnixNano <= query.toUnixNano &&
      typeof query.bothDirections === 'boolean' &&
      (query.protocol === undefined || isU8(query.protocol)) &&
      (query.limit === undefined || (Number.isInteger(query.limit) && query.limit > 0));
    if (!valid) throw new EvidenceQueryError(validateFlowQuery(query));

    const cutoffUs = this.cutoffUs();
    this.expire(cutoffUs);
    const fromUs = nanoToMicros(query.fromUnixNano);
    const toUs = nanoToMicros(query.toUnixNano);
    const sport = query.sourcePort;
    const dport = query.destinationPort;
    const protocol = query.protocol ?? -1;
    const both = query.bothDirections;
    const s0 = words[0]!,
      s1 = words[1]!,
      s2 = words[2]!,
      s3 = words[3]!;
    const d0 = words[4]!,
      d1 = words[5]!,
      d2 = words[6]!,
      d3 = words[7]!;

    const hits: Hit[] = [];
    const mask = this.chunkRows - 1;
    let pos = this.heads[hashConnection(words, 0, sport, words, 4, dport) & (this.heads.length - 1)]!;
    let prevSeq = Infinity;
    while (pos >= 0) {
      const chunk = this.ring[pos >>> this.chunkBits];
      const o = pos & mask;
      if (!chunk || o >= chunk.count) break;
      const seq = chunk.firstSeq + o;
      if (seq >= prevSeq) break; // the slot was reused: the rest of the chain is evicted
      prevSeq = seq;
      const { u32, u16, f64 } = chunk;
      const a = o * U32_STRIDE;
      pos = chunk.i32[a + I32_NEXT]!;

      const rs = u16[o * U16_STRIDE + U16_SOURCE_PORT]!;
      const rd = u16[o * U16_STRIDE + U16_DESTINATION_PORT]!;
      let direction: ConnectionDirection;
      if (
        rs === sport &&
        rd === dport &&
        u32[a] === s0 &&
        u32[a + 1] === s1 &&
        u32[a + 2] === s2 &&
        u32[a + 3] === s3 &&
        u32[a + 4] === d0 &&
        u32[a + 5] === d1 &&
        u32[a + 6] === d2 &&
        u32[a + 7] === d3
      )
        direction = 'request';
      else if (
        both &&
        rs === dport &&
        rd === sport &&
        u32[a] === d0 &&
        u32[a + 1] === d1 &&
        u32[a + 2] === d2 &&
        u32[a + 3] === d3 &&
        u32[a + 4] === s0 &&
        u32[a + 5] === s1 &&
        u32[a + 6] === s2 &&
        u32[a + 7] === s3
      )
        direction = 'response';
      else continue;
      const f = o * F64_STRIDE;
      const endUs = f64[f + F64_END_US]!;
      if (endUs < cutoffUs) continue;
      const widen = resolutionMicros(f64[f + F64_RESOLUTION_NS]!);
      if (f64[f + F64_START_US]! - widen > toUs || endUs + widen < fromUs) continue;
      if (protocol >= 0 && chunk.u8[o * ROW_BYTES + U8_PROTOCOL] !== protocol) continue;
      hits.push({ chunk, offset: o, seq, direction });
    }

    hits.sort(
      (x, y) =>
        x.chunk.f64[x.offset * F64_STRIDE + F64_START_US]! - y.chunk.f64[y.offset * F64_STRIDE + F64_START_US]! ||
        x.chunk.f64[x.offset * F64_STRIDE + F64_END_US]! - y.chunk.f64[y.offset * F64_STRIDE + F64_END_US]! ||
        (x.direction === y.direction ? 0 : x.direction === 'request' ? -1 : 1) ||
        x.seq - y.seq,
    );
    const n = query.limit === undefined ? hits.length : Math.min(query.limit, hits.length);
    const matches: FlowMatch[] = new Array<FlowMatch>(n);
    for (let i = 0; i < n; i++) {
      const h = hits[i]!;
      matches[i] = { direction: h.direction, flow: materialize(h.chunk, h.offset) };
    }
    return matches;
  }

  /**
   * Read-only listing for a UI: flows within retention, newest inserted first, at most `limit`
   * (looking at no more than `maxScan` rows), optionally only those overlapping [from, to]
   * (Unix nanoseconds) and passing `keep`. Bounded by construction; no index is used.
   */
  listSync(options: {
    limit: number;
    maxScan?: number;
    fromUnixNano?: bigint;
    toUnixNano?: bigint;
    keep?: (flow: FlowRecord) => boolean;
  }): FlowRecord[] {
    this.checkOpen();
    const cutoffUs = this.cutoffUs();
    this.expire(cutoffUs);
    const fromUs = options.fromUnixNano === undefined ? -Infinity : nanoToMicros(options.fromUnixNano);
    const toUs = options.toUnixNano === undefined ? Infinity : nanoToMicros(options.toUnixNano);
    let budget = options.maxScan ?? Infinity;
    const out: FlowRecord[] = [];
    for (let i = this.liveChunks - 1; i >= 0 && out.length < options.limit && budget > 0; i--) {
      const chunk = this.ring[(this.oldest + i) % this.ring.length]!;
      for (let o = chunk.count - 1; o >= 0 && out.length < options.limit && budget-- > 0; o--) {
        const f = o * F64_STRIDE;
        const endUs = chunk.f64[f + F64_END_US]!;
        if (endUs < cutoffUs || endUs < fromUs || chunk.f64[f + F64_START_US]! > toUs) continue;
        const flow = materialize(chunk, o);
        if (!options.keep || options.keep(flow)) out.push(flow);
      }
    }
    return out;
  }

  /** queryMany() without the promise. A malformed query throws before any is answered. */
  queryManySync(queries: readonly FlowQuery[]): FlowMatch[][] {
    this.checkOpen();
    for (const q of queries) {
      const problems = validateFlowQuery(q);
      if (problems.length > 0) throw new EvidenceQueryError(problems);
    }
    return queries.map((q) => this.querySync(q));
  }

  statsSync(): FlowStoreStats {
    this.checkOpen();
    this.expire(this.cutoffUs());
    let oldestUs = Infinity;
    let newestUs = -Infinity;
    this.forEachChunk((c) => {
      if (c.minStartUs < oldestUs) oldestUs = c.minStartUs;
      if (c.maxEndUs > newestUs) newestUs = c.maxEndUs;
    });
    const bytes = this.bytes();
    const stats: FlowStoreStats = {
      flows: this.flows,
      bytes,
      bytesPerFlow: this.flows > 0 ? bytes / this.flows : ROW_BYTES,
      inserted: this.inserted,
      evicted: { ...this.evicted },
      refused: this.refused,
      limits: { ...this.limits },
    };
    if (this.flows > 0) {
      stats.oldestUnixNano = BigInt(oldestUs) * 1000n;
      stats.newestUnixNano = BigInt(newestUs) * 1000n;
    }
    return stats;
  }

  /** Typed arrays and dictionaries held: chunks (allocated whole) plus the bucket heads. */
  private bytes(): number {
    let total = this.heads.byteLength;
    this.forEachChunk((c) => (total += c.heapBytes()));
    if (this.spare) total += this.spare.buffer.byteLength + this.spare.hashes.byteLength;
    return total;
  }

  private forEachChunk(fn: (chunk: Chunk) => void): void {
    for (let i = 0, slot = this.oldest; i < this.liveChunks; i++, slot = (slot + 1) % this.ring.length) fn(this.ring[slot]!);
  }

  private cutoffUs(): number {
    return Math.floor((this.now() - this.limits.retentionMs) * 1000);
  }

  private checkOpen(): void {
    if (this.closed) throw new NetspanError('EVIDENCE_CLOSED', 'the flow store is closed');
  }

  private openChunk(): Chunk {
    const slot = (this.newest + 1) % this.ring.length;
    if (this.ring[slot]) this.evictOldest('capacity'); // cannot happen while flows ≤ maxFlows; kept as a guard
    const chunk = new Chunk(this.chunkRows, this.nextSeq, this.spare);
    this.spare = undefined;
    this.nextSeq += this.chunkRows;
    this.ring[slot] = chunk;
    if (this.liveChunks === 0) this.oldest = slot;
    this.newest = slot;
    this.liveChunks++;
    return chunk;
  }

  /** Evicts chunks, oldest first, while every flow in the oldest ended before the cutoff. */
  private expire(cutoffUs: number): void {
    let evicted = false;
    while (this.liveChunks > 0 && this.ring[this.oldest]!.maxEndUs < cutoffUs) {
      this.evictOldest('age');
      evicted = true;
    }
    if (evicted) this.metrics?.occupancy(this.flows, this.bytes());
  }

  private evictOldest(reason: EvictionReason): void {
    const slot = this.oldest;
    const chunk = this.ring[slot]!;
    const heads = this.heads;
    const bucketMask = heads.length - 1;
    const first = slot << this.chunkBits;
    const end = first + this.chunkRows;
    for (let o = 0; o < chunk.count; o++) {
      const bucket = chunk.hashes[o]! & bucketMask;
      const head = heads[bucket]!;
      if (head >= first && head < end) heads[bucket] = -1;
    }
    this.ring[slot] = undefined;
    this.spare = chunk;
    this.liveChunks--;
    this.oldest = (slot + 1) % this.ring.length;
    this.flows -= chunk.count;
    this.evicted[reason] += chunk.count;
    this.metrics?.evicted(reason, chunk.count);
  }

  /** Re-links every live row, oldest first, into `buckets` buckets. */
  private rebuildIndex(buckets: number): void {
    const heads = new Int32Array(buckets).fill(-1);
    for (let i = 0, slot = this.oldest; i < this.liveChunks; i++, slot = (slot + 1) % this.ring.length) {
      const chunk = this.ring[slot]!;
      const base = slot << this.chunkBits;
      linkRows(chunk, 0, chunk.count, base, heads);
    }
    this.heads = heads;
  }
}

function materialize(chunk: Chunk, o: number): FlowRecord {
  const h = o * U16_STRIDE;
  return readRow(chunk, o, chunk.samplers.values[chunk.u16[h + U16_SAMPLER]!]!, chunk.nextHops.values[chunk.u16[h + U16_NEXT_HOP]!]!);
}
