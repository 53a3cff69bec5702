/**
 * Where an end-to-end record's time goes, stage by stage, in process: the steps a datagram's
 * records take in `netspan run` after the socket, timed one at a time on this thread with the
 * receiver's own code.
 *
 *   worker thread: decodeBatch (the worker's decode loop over a batch of datagrams)
 *                  → serialize the DecodedBatch for postMessage (V8 ValueSerializer, v8.serialize)
 *   main thread:   deserialize it (v8.deserialize) → evidence store insert (MemoryFlowStore, netspan's
 *                  default capacity, measured at capacity, i.e. with eviction)
 *
 * One batch is one pass of the capture (145–172 datagrams, 3.9–5k records; the receiver sends up
 * to 512 datagrams per batch). v8.serialize / deserialize use the serializer that postMessage
 * uses; postMessage's own message-port overhead is not in them. Not measured here: the UDP
 * receive loop on the main thread (one 'message' event, one Buffer per datagram).
 */
import { deserialize, serialize } from 'node:v8';
import { BatchBuilder, decodeBatch, type DecodedBatch } from '../../src/receivers/netflow/batch.js';
import { createDecoderSession } from '../../src/receivers/netflow/session.js';
import { MemoryFlowStore } from '../../src/evidence/memory/store.js';
import type { FlowCapture } from './captures.js';

export interface StageResult {
  format: string;
  recordsPerBatch: number;
  datagramsPerBatch: number;
  /** µs per record for each stage. */
  decodeBatchMicros: number;
  serializeMicros: number;
  deserializeMicros: number;
  /** Bytes of the serialized DecodedBatch per record. */
  serializedBytesPerRecord: number;
  storeInsertMicros: number;
  /** Worker stages (decode + serialize) and main-thread stages (deserialize + insert), µs per record. */
  workerMicros: number;
  mainMicros: number;
}

/** Runs fn repeatedly for about `seconds` (after warming up for a third of it); returns ms per call. */
function timeIt(fn: () => void, seconds: number): number {
  const warm = performance.now() + (seconds * 1000) / 3;
  while (performance.now() < warm) fn();
  let n = 0;
  const t0 = performance.now();
  let t1 = t0;
  while (t1 - t0 < seconds * 1000) {
    fn();
    n++;
    t1 = performance.now();
  }
  return (t1 - t0) / n;
}

export function stageCosts(capture: FlowCapture, seconds: number): StageResult {
  const makeBatch = () => {
    const b = new BatchBuilder();
    const now = Date.now();
    for (const p of capture.payloads) b.add('127.0.0.1', now, p);
    return b.take();
  };
  const batch = makeBatch();
  let decoded: DecodedBatch = decodeBatch(batch, createDecoderSession('netflow', false));
  const records = decoded.records.length;
  if (records !== capture.records) throw new Error(`${capture.format}: decodeBatch gave ${records} records, expected ${capture.records}`);
  // a fresh session each time: the batch holds the templates first, as the capture does
  const decodeMs = timeIt(() => {
    decoded = decodeBatch(batch, createDecoderSession('netflow', false));
  }, seconds);
  let bytes = serialize(decoded);
  const serializeMs = timeIt(() => {
    bytes = serialize(decoded);
  }, seconds);
  let copy = deserialize(bytes) as DecodedBatch;
  const deserializeMs = timeIt(() => {
    copy = deserialize(bytes) as DecodedBatch;
  }, seconds);
  // the store as netspan runs it (default capacity, long retention: see netspanConfig), filled to
  // capacity first so that inserts pay for eviction as in a long run
  const store = new MemoryFlowStore({ retentionMs: 87_600 * 3_600_000 });
  const fill = Math.ceil(store.limits.maxFlows / records) + 1;
  for (let i = 0; i < fill; i++) store.insert(copy.records);
  const insertMs = timeIt(() => store.insert(copy.records), seconds);
  void store.close();
  const per = (ms: number) => (ms * 1000) / records;
  return {
    format: capture.format,
    recordsPerBatch: records,
    datagramsPerBatch: capture.payloads.length,
    decodeBatchMicros: per(decodeMs),
    serializeMicros: per(serializeMs),
    deserializeMicros: per(deserializeMs),
    serializedBytesPerRecord: bytes.length / records,
    storeInsertMicros: per(insertMs),
    workerMicros: per(decodeMs + serializeMs),
    mainMicros: per(deserializeMs + insertMs),
  };
}
