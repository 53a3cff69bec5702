/**
 * What travels between the receive loop and the decoding workers. Datagrams are packed into one
 * transferable buffer per batch (one postMessage per batch, no copy). Decoded records come back
 * packed as evidence store rows in one transferable buffer (packFlows) when only the evidence
 * store takes them, or as FlowRecord objects by structured clone when a logs pipeline needs them.
 */
import type { FlowRecord, InterfaceCounters } from '../../model/flow.js';
import { packFlows, type PackedFlows, type RowWriter } from '../../evidence/memory/rows.js';
import type { DecodeIssue } from './decode/types.js';
import type { DecoderSession } from './session.js';

export interface DatagramBatch {
  /** Exporter address (text) of each datagram. */
  exporters: string[];
  /** Receive time of each datagram, Unix milliseconds. */
  receivedAtMs: Float64Array;
  /** Datagram i is data[offsets[i] .. offsets[i+1]). */
  offsets: Uint32Array;
  /** Holds the datagrams (and possibly unused room after them: a reused buffer). */
  data: ArrayBuffer;
  /** Row buffers of earlier replies that the evidence store has copied: the worker writes rows into them again. */
  spareRows?: ArrayBuffer[];
}

export interface WorkerSetup {
  scheme: 'netflow' | 'sflow';
  keepAllFields: boolean;
  /** Send the records packed (packDecoded) rather than as objects. */
  packed: boolean;
  /** The worker also reads UDP sockets itself (native receive); absent: only batches from the main thread. */
  udp?: WorkerUdpSetup;
}

/** The UDP sockets a worker reads itself (one per endpoint, its share of each SO_REUSEPORT group). */
export interface WorkerUdpSetup {
  fds: number[];
  /** Largest datagram; a larger one is truncated by the kernel, then dropped and counted. */
  slotSize: number;
  /** Datagrams read per system call at most. */
  slots: number;
  /** The receiver's allow-list (addresses or prefixes; empty allows all). */
  allowedExporters: string[];
  /** Int32: datagrams of this worker's replies the main thread has not taken yet (it subtracts them as it does). */
  pending: SharedArrayBuffer;
  /** Rounds are dropped (counted) while `pending` is at this: the receiver's queue_size. */
  queueSize: number;
}

/** The main thread asks a worker to stop reading its sockets; it answers `{ stopped: true }` after its last batch. */
export interface StopReceiving {
  stop: true;
}

/** Row buffers the evidence store has copied, back to the worker that reads its own sockets (no batch to ride with). */
export interface ReturnedRows {
  spareRows: ArrayBuffer[];
}

/** An issue with the exporter it came from, for logs and counters. */
export interface ExporterIssue extends DecodeIssue {
  exporter: string;
}

export interface DecodedBatch {
  /** The records as objects; empty when they travel `packed`. */
  records: FlowRecord[];
  /** The records as evidence store rows (valid ones only; the refused are counted in it). */
  packed?: PackedFlows;
  /** Records decoded by flow type, when `records` does not hold them all (packed). */
  recordsByType?: Record<string, number>;
  counters: InterfaceCounters[];
  /** Issues by code, all of them counted... */
  issueCounts: Record<string, number>;
  /** ...and the first few kept with their detail, for the log. */
  issueSamples: ExporterIssue[];
  datagrams: number;
  /** Read by the worker from its own sockets: these datagrams were never in flight from the main thread. */
  ownReceive?: boolean;
  /** Datagrams the worker read and dropped: sender not allowed / larger than the receive slot. */
  denied?: number;
  truncated?: number;
  droppedQueueFull?: number;
  /** The datagram batch's buffer, handed back for the receive loop to fill again. */
  spentData?: ArrayBuffer;
}

/** Issues kept in detail per batch; the rest are only counted. */
export const ISSUE_SAMPLES_PER_BATCH = 8;

/** Smallest datagram buffer allocated; batches are usually a few dozen datagrams. */
const MIN_BATCH_BUFFER = 64 << 10;
/** Buffers kept for reuse, per builder (one builder per worker). */
const MAX_POOLED = 4;

/**
 * Packs datagrams into one buffer that can be transferred to a worker. The worker hands the
 * buffer back with its reply (`recycle`), so that the receive loop does not allocate one per
 * batch (fewer allocations outside the JS heap, which drive full garbage collections).
 */
export class BatchBuilder {
  private exporters: string[] = [];
  private received: number[] = [];
  private chunks: Uint8Array[] = [];
  private bytes = 0;
  private readonly pool: ArrayBuffer[] = [];

  get size(): number {
    return this.exporters.length;
  }

  add(exporter: string, receivedAtMs: number, datagram: Uint8Array): void {
    this.exporters.push(exporter);
    this.received.push(receivedAtMs);
    this.chunks.push(datagram);
    this.bytes += datagram.length;
  }

  /** A buffer of an earlier batch, free again. */
  recycle(buffer: ArrayBuffer): void {
    if (this.pool.length < MAX_POOLED && buffer.byteLength >= MIN_BATCH_BUFFER) this.pool.push(buffer);
  }

  private buffer(bytes: number): ArrayBuffer {
    for (let i = this.pool.length - 1; i >= 0; i--) {
      const b = this.pool[i]!;
      if (b.byteLength >= bytes) {
        this.pool[i] = this.pool[this.pool.length - 1]!;
        this.pool.pop();
        return b;
      }
    }
    let size = MIN_BATCH_BUFFER;
    while (size < bytes) size *= 2;
    return new ArrayBuffer(size);
  }

  take(): DatagramBatch {
    const n = this.chunks.length;
    const buffer = this.buffer(this.bytes);
    const data = new Uint8Array(buffer);
    const offsets = new Uint32Array(n + 1);
    const receivedAtMs = new Float64Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const c = this.chunks[i]!;
      offsets[i] = at;
      data.set(c, at);
      at += c.length;
      receivedAtMs[i] = this.received[i]!;
    }
    offsets[n] = at;
    const batch: DatagramBatch = { exporters: this.exporters, receivedAtMs, offsets, data: buffer };
    this.exporters = [];
    this.received = [];
    this.chunks = [];
    this.bytes = 0;
    return batch;
  }
}

export function emptyDecoded(): DecodedBatch {
  return { records: [], counters: [], issueCounts: {}, issueSamples: [], datagrams: 0 };
}

/** Decodes one datagram into `out` (records, counters, issues; rows go to the session's RowWriter). */
export function decodeDatagram(out: DecodedBatch, decode: DecoderSession, exporter: string, receivedAtMs: number, bytes: Uint8Array): void {
  const result = decode(exporter, receivedAtMs, bytes);
  out.datagrams++;
  for (const r of result.records) out.records.push(r);
  for (const c of result.counters) out.counters.push(c);
  for (const issue of result.issues) {
    out.issueCounts[issue.code] = (out.issueCounts[issue.code] ?? 0) + 1;
    if (out.issueSamples.length < ISSUE_SAMPLES_PER_BATCH) out.issueSamples.push({ ...issue, exporter });
  }
}

/** Ends a batch: with a RowWriter, its rows of the batch become `packed`. */
export function finishDecoded(out: DecodedBatch, rows?: RowWriter): DecodedBatch {
  if (rows) {
    // a NetFlow/IPFIX session without keepAllFields returns no records: its flows are all in `rows`
    const taken = rows.take();
    out.packed = taken.packed;
    out.recordsByType = taken.recordsByType;
  }
  return out;
}

/**
 * Decodes every datagram of a batch with one decoder session (one worker's template state). When
 * the session writes its flows to `rows` (createDecoderSession's RowWriter), the batch comes back
 * packed from it, as packDecoded would pack the records.
 */
export function decodeBatch(batch: DatagramBatch, decode: DecoderSession, rows?: RowWriter): DecodedBatch {
  const out = emptyDecoded();
  const data = new Uint8Array(batch.data);
  for (let i = 0; i < batch.exporters.length; i++)
    decodeDatagram(out, decode, batch.exporters[i]!, batch.receivedAtMs[i]!, data.subarray(batch.offsets[i]!, batch.offsets[i + 1]!));
  return finishDecoded(out, rows);
}

/** The batch with its records packed into one transferable buffer (`packed.data`) instead of objects. */
export function packDecoded(decoded: DecodedBatch): DecodedBatch & { packed: PackedFlows } {
  const recordsByType: Record<string, number> = {};
  for (const r of decoded.records) recordsByType[r.type] = (recordsByType[r.type] ?? 0) + 1;
  return { ...decoded, records: [], packed: packFlows(decoded.records), recordsByType };
}
