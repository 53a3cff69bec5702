/**
 * Where an end-to-end record's time goes, stage by stage, in process: the steps a datagram's
 * records take in `netspan run` after the socket, timed one at a time on this thread with the
 * receiver's own code, as the receiver runs them for the evidence store (no logs pipeline):
 *
 *   main thread:   BatchBuilder (the receive loop packs the datagrams of a tick into one
 *                  transferable buffer, reused from batch to batch)
 *   worker thread: decodeBatch with a RowWriter (NetFlow/IPFIX decoded straight into evidence
 *                  store rows, one transferable buffer per batch)
 *   main thread:   MemoryFlowStore.insertPacked (netspan's default capacity, measured at capacity,
 *                  i.e. with eviction)
 *
 * For comparison, the path before the row writer: decodeBatch into FlowRecord objects, then
 * packFlows of them in the worker (still the path of sFlow).
 *
 * Batches are of 32 datagrams (about what one turn of the receive loop gathers), after a first
 * pass of the capture has taught the session its templates. postMessage (a transfer, no copy of
 * the rows) and the UDP receive loop itself ('message' event, one Buffer per datagram) are not in
 * these figures.
 */
import { BatchBuilder, decodeBatch, packDecoded, type DatagramBatch } from '../../src/receivers/netflow/batch.js';
import { createDecoderSession } from '../../src/receivers/netflow/session.js';
import { MemoryFlowStore } from '../../src/evidence/memory/store.js';
import { RowWriter, type PackedFlows } from '../../src/evidence/memory/rows.js';
import type { FlowCapture } from './captures.js';

export interface StageResult {
  format: string;
  recordsPerBatch: number;
  datagramsPerBatch: number;
  /** µs per record for each stage (CPU time of this process, process.cpuUsage). */
  batchBuildMicros: number;
  decodeRowsMicros: number;
  storeInsertMicros: number;
  /** The previous worker path, decode into objects + packFlows (sFlow's path). */
  decodeObjectsMicros: number;
  packMicros: number;
  /** Worker stages (decode into rows) and main-thread stages (batch + insert), µs per record. */
  workerMicros: number;
  mainMicros: number;
}

const BATCH_DATAGRAMS = 32;

/** Runs fn repeatedly for about `seconds` (after warming up for a third of it); returns CPU µs per call. */
function timeIt(fn: () => void, seconds: number): number {
  const warm = performance.now() + (seconds * 1000) / 3;
  while (performance.now() < warm) fn();
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    fn();
    n++;
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / n;
}

export function stageCosts(capture: FlowCapture, seconds: number): StageResult {
  const now = Date.now();
  const builder = new BatchBuilder();
  const makeBatch = (payloads: Uint8Array[]): DatagramBatch => {
    for (const p of payloads) builder.add('127.0.0.1', now, p);
    return builder.take();
  };
  const writer = new RowWriter();
  const session = createDecoderSession('netflow', false, writer);
  decodeBatch(makeBatch(capture.payloads), session, writer); // templates
  const batches: DatagramBatch[] = [];
  for (let i = 0; i < capture.payloads.length; i += BATCH_DATAGRAMS)
    batches.push(makeBatch(capture.payloads.slice(i, i + BATCH_DATAGRAMS)));
  const packed: PackedFlows[] = batches.map((b) => decodeBatch(b, session, writer).packed!);
  const records = packed.reduce((n, p) => n + p.rows, 0);
  if (records !== capture.records) throw new Error(`${capture.format}: the row path gave ${records} rows, expected ${capture.records}`);

  // receive side: the datagrams of each batch into a (recycled) transferable buffer
  const slices = batches.map((_, k) => capture.payloads.slice(k * BATCH_DATAGRAMS, (k + 1) * BATCH_DATAGRAMS));
  const batchUs = timeIt(() => {
    for (const s of slices) builder.recycle(makeBatch(s).data);
  }, seconds);
  // worker: decode into rows (the row buffers handed back, as the receiver does with the evidence hub)
  const decodeUs = timeIt(() => {
    for (const b of batches) writer.recycle(decodeBatch(b, session, writer).packed!.data);
  }, seconds);
  // the previous worker path, for comparison
  const objectSession = createDecoderSession('netflow', false);
  decodeBatch(makeBatch(capture.payloads), objectSession);
  const objectsUs = timeIt(() => {
    for (const b of batches) decodeBatch(b, objectSession);
  }, seconds);
  const decodedObjects = batches.map((b) => decodeBatch(b, objectSession));
  const packUs = timeIt(() => {
    for (const d of decodedObjects) packDecoded(d);
  }, seconds);
  // main: insert into the store as netspan runs it (default capacity, long retention: see netspanConfig), filled first
  const store = new MemoryFlowStore({ retentionMs: 87_600 * 3_600_000 });
  const fill = Math.ceil(store.limits.maxFlows / records) + 1;
  for (let i = 0; i < fill; i++) for (const p of packed) store.insertPacked(p);
  const insertUs = timeIt(() => {
    for (const p of packed) store.insertPacked(p);
  }, seconds);
  void store.close();
  const per = (us: number) => us / records;
  return {
    format: capture.format,
    recordsPerBatch: records / batches.length,
    datagramsPerBatch: capture.payloads.length / batches.length,
    batchBuildMicros: per(batchUs),
    decodeRowsMicros: per(decodeUs),
    storeInsertMicros: per(insertUs),
    decodeObjectsMicros: per(objectsUs),
    packMicros: per(packUs),
    workerMicros: per(decodeUs),
    mainMicros: per(batchUs + insertUs),
  };
}
