/**
 * The replay generator, the same for netspan and nfcapd: sends a capture's datagrams, whole
 * passes of it in capture order, from one connected UDP socket on 127.0.0.1, paced against an
 * absolute schedule in records per second. Datagram k leaves once the records before it are due
 * (t0 + records_before_k / rate); a timer wakes when the next one is due (about 1 ms
 * granularity), and every datagram due by then goes in a burst, so the average rate is exact and
 * bursts are at most a few ms of traffic. It records how late it fell behind the schedule and its
 * own CPU time (process.cpuUsage), to show it was not the bottleneck.
 */
import { createSocket } from 'node:dgram';
import type { FlowCapture } from './captures.js';

export interface ReplayResult {
  targetRecordsPerSecond: number;
  passes: number;
  datagrams: number;
  records: number;
  bytes: number;
  /** From the first send to the last send's completion. */
  seconds: number;
  achievedRecordsPerSecond: number;
  datagramsPerSecond: number;
  /** (achieved − target) / target, %. */
  driftPercent: number;
  /** Largest delay of a datagram behind its due time, ms. */
  maxLagMs: number;
  /** Largest burst (datagrams sent in one timer tick). */
  maxBurst: number;
  /** The generator's CPU time (user + system) over the replay, s and % of one core. */
  cpuSeconds: number;
  cpuPercent: number;
  sendErrors: number;
}

/** Passes of the capture for about `seconds` at `rate` records/s (at least one). */
export function passesFor(capture: FlowCapture, rate: number, seconds: number): number {
  return Math.max(1, Math.round((rate * seconds) / capture.records));
}

export async function replay(capture: FlowCapture, host: string, port: number, rate: number, passes: number): Promise<ReplayResult> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => undefined); // e.g. ECONNREFUSED after an ICMP error: counted by the send callbacks
  const { payloads, recordsPerPayload } = capture;
  const perPass = payloads.length;
  const total = passes * perPass;
  let k = 0;
  let recordsBefore = 0; // records of datagrams 0..k-1
  let pending = 0;
  let sendErrors = 0;
  let bytes = 0;
  let maxLagMs = 0;
  let maxBurst = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now() + 5;
  const msPerRecord = 1000 / rate;

  await new Promise<void>((resolve) => {
    let sendingDone = false;
    const onSent = (err: Error | null): void => {
      if (err) sendErrors++;
      if (--pending === 0 && sendingDone) resolve();
    };
    const tick = (): void => {
      const now = performance.now();
      let burst = 0;
      while (k < total) {
        const due = t0 + recordsBefore * msPerRecord;
        if (due > now) break;
        if (now - due > maxLagMs) maxLagMs = now - due;
        const i = k % perPass;
        const p = payloads[i]!;
        pending++;
        socket.send(p, onSent);
        bytes += p.length;
        recordsBefore += recordsPerPayload[i]!;
        k++;
        burst++;
      }
      if (burst > maxBurst) maxBurst = burst;
      if (k < total) setTimeout(tick, Math.max(0, t0 + recordsBefore * msPerRecord - performance.now()));
      else {
        sendingDone = true;
        if (pending === 0) resolve();
      }
    };
    setTimeout(tick, 5);
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  socket.close();
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const achieved = recordsBefore / seconds;
  return {
    targetRecordsPerSecond: rate,
    passes,
    datagrams: total,
    records: recordsBefore,
    bytes,
    seconds,
    achievedRecordsPerSecond: achieved,
    datagramsPerSecond: total / seconds,
    driftPercent: ((achieved - rate) / rate) * 100,
    maxLagMs,
    maxBurst,
    cpuSeconds,
    cpuPercent: (cpuSeconds / seconds) * 100,
    sendErrors,
  };
}
