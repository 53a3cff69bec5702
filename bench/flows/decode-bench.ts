/**
 * In-process decode throughput on one core: the capture's datagrams decoded over and over with
 * netspan's decoder session (the function a decoding worker runs), no socket, no worker thread.
 * Each pass starts a fresh session (empty template state), so the template datagrams at the head
 * of the capture are learned again before the data that needs them, as a collector that just
 * started would; every pass must give the capture's full record count and no issue.
 */
import { createDecoderSession } from '../../src/receivers/netflow/session.js';
import { RowWriter } from '../../src/evidence/memory/rows.js';
import { clockTicks, systemTicks } from '../common/procstat.js';
import type { FlowCapture } from './captures.js';

/**
 * `objects`: FlowRecords (keepAllFields off: the evidence path before the row writer; on: every
 * element kept, as for OTLP logs). `rows`: straight into evidence store rows (RowWriter), what a
 * decoding worker of `netspan run` does for the evidence store; the rows of a pass are taken as
 * one batch.
 */
export type DecodeMode = 'objects' | 'rows';

export interface DecodeResult {
  format: string;
  keepAllFields: boolean;
  mode: DecodeMode;
  passes: number;
  records: number;
  datagrams: number;
  wallSeconds: number;
  /** process.cpuUsage over the window (this thread plus V8's GC helper threads). */
  cpuSeconds: number;
  recordsPerSecond: number;
  microsPerRecord: number;
  /** Datagram (UDP payload) bytes per second, 10⁶. */
  mbPerSecond: number;
  datagramsPerSecond: number;
  /** Records per CPU-second (cpuSeconds instead of wall time). */
  recordsPerCpuSecond: number;
  /** CPU used by the rest of the machine meanwhile (machine busy time minus this process), % of one core. */
  otherCpuPercent: number;
}

const TICKS = clockTicks();

export function decodeThroughput(
  capture: FlowCapture,
  keepAllFields: boolean,
  seconds: number,
  warmupSeconds: number,
  mode: DecodeMode = 'objects',
): DecodeResult {
  const { payloads } = capture;
  const exporter = '127.0.0.1';
  const receivedAtMs = Date.now();
  const writer = mode === 'rows' ? new RowWriter() : undefined;
  const pass = (): number => {
    const session = createDecoderSession('netflow', keepAllFields, writer);
    let n = 0;
    let issues = 0;
    for (let i = 0; i < payloads.length; i++) {
      const out = session(exporter, receivedAtMs, payloads[i]!);
      n += out.records.length;
      issues += out.issues.length;
    }
    if (writer) {
      const taken = writer.take();
      n += taken.packed.rows;
      writer.recycle(taken.packed.data);
    }
    if (n !== capture.records || issues !== 0)
      throw new Error(`${capture.format}: a pass decoded ${n} records with ${issues} issues, expected ${capture.records} and 0`);
    return n;
  };
  const warmEnd = performance.now() + warmupSeconds * 1000;
  while (performance.now() < warmEnd) pass();

  let passes = 0;
  let records = 0;
  const cpu0 = process.cpuUsage();
  const sys0 = systemTicks().busy;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let t1 = t0;
  while (t1 < end) {
    records += pass();
    passes++;
    t1 = performance.now();
  }
  const cpu = process.cpuUsage(cpu0);
  const sysSeconds = (systemTicks().busy - sys0) / TICKS;
  const wallSeconds = (t1 - t0) / 1000;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const datagrams = passes * payloads.length;
  return {
    format: capture.format,
    keepAllFields,
    mode,
    passes,
    records,
    datagrams,
    wallSeconds,
    cpuSeconds,
    recordsPerSecond: records / wallSeconds,
    microsPerRecord: (wallSeconds * 1e6) / records,
    mbPerSecond: (passes * capture.payloadBytes) / wallSeconds / 1e6,
    datagramsPerSecond: datagrams / wallSeconds,
    recordsPerCpuSecond: records / cpuSeconds,
    otherCpuPercent: Math.max(0, ((sysSeconds - cpuSeconds) / wallSeconds) * 100),
  };
}
