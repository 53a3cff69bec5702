/**
 * The replay generator, the same for netspan and nfcapd: sends a capture's datagrams, whole
 * passes of it in capture order, from one connected UDP socket on 127.0.0.1, paced against an
 * absolute schedule in records per second. Datagram k leaves once the records before it are due
 * (t0 + records_before_k / rate); a timer wakes when the next one is due (about 1 ms
 * granularity), and every datagram due by then goes in a burst, so the average rate is exact and
 * bursts are at most a few ms of traffic. It records how late it fell behind the schedule and its
 * own CPU time (process.cpuUsage), to show it was not the bottleneck.
 *
 * The datagrams due in one tick leave with sendmmsg (the native addon's udpSendBatch, up to 64 per
 * system call) when the addon has it: node:dgram's one send per datagram, with its callback, caps
 * one core at about 3.2 M records/s of these captures. `sender: 'dgram'` is that path, and the
 * fallback without the addon.
 */
import { createSocket } from 'node:dgram';
import { loadNative, nativeAvailable } from '../../src/native/index.js';
import type { FlowCapture } from './captures.js';

export type ReplaySender = 'native' | 'dgram';

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
  /** How the datagrams were sent. */
  sender: ReplaySender;
}

/** Passes of the capture for about `seconds` at `rate` records/s (at least one). */
export function passesFor(capture: FlowCapture, rate: number, seconds: number): number {
  return Math.max(1, Math.round((rate * seconds) / capture.records));
}

/** The sender replay uses by default: sendmmsg through the addon when it is built with it. */
export function defaultSender(): ReplaySender {
  return nativeAvailable().ok && typeof loadNative().udpSendBatch === 'function' ? 'native' : 'dgram';
}

/** Sends datagrams [from, to) of the endless sequence of passes; returns how many went (the rest is due again). */
interface Transport {
  send(from: number, to: number): number;
  /** Resolves when every send has completed. */
  drained(): Promise<void>;
  close(): void;
  errors(): number;
}

async function dgramTransport(capture: FlowCapture, host: string, port: number): Promise<Transport> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => undefined); // e.g. ECONNREFUSED after an ICMP error: counted by the send callbacks
  const { payloads } = capture;
  let pending = 0;
  let errors = 0;
  let wake: (() => void) | undefined;
  const onSent = (err: Error | null): void => {
    if (err) errors++;
    if (--pending === 0) wake?.();
  };
  return {
    send(from, to) {
      for (let k = from; k < to; k++) {
        pending++;
        socket.send(payloads[k % payloads.length]!, onSent);
      }
      return to - from;
    },
    drained: () => (pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => (wake = resolve))),
    close: () => socket.close(),
    errors: () => errors,
  };
}

function nativeTransport(capture: FlowCapture, host: string, port: number): Transport {
  const binding = loadNative();
  const { payloads } = capture;
  const offsets = new Uint32Array(payloads.length + 1);
  for (let i = 0; i < payloads.length; i++) offsets[i + 1] = offsets[i]! + payloads[i]!.length;
  const data = new Uint8Array(offsets[payloads.length]!);
  payloads.forEach((p, i) => data.set(p, offsets[i]!));
  const { fd } = binding.udpOpen('0.0.0.0', 0, 0);
  binding.udpConnect(fd, host, port);
  let errors = 0;
  const perPass = payloads.length;
  return {
    send(from, to) {
      let k = from;
      while (k < to) {
        const i = k % perPass;
        const count = Math.min(to - k, perPass - i);
        let sent: number;
        try {
          sent = binding.udpSendBatch(fd, data, offsets, i, count);
        } catch {
          errors++; // as node:dgram counts a refused send: that datagram is given up
          sent = 1;
        }
        k += sent;
        if (sent < count) break;
      }
      return k - from;
    },
    drained: () => Promise.resolve(),
    close: () => binding.udpClose(fd),
    errors: () => errors,
  };
}

export async function replay(
  capture: FlowCapture,
  host: string,
  port: number,
  rate: number,
  passes: number,
  sender: ReplaySender = defaultSender(),
): Promise<ReplayResult> {
  const transport = sender === 'native' ? nativeTransport(capture, host, port) : await dgramTransport(capture, host, port);
  const { payloads, recordsPerPayload } = capture;
  const perPass = payloads.length;
  const total = passes * perPass;
  // records before datagram k: whole passes plus this pass's prefix
  const prefix = [0];
  for (const n of recordsPerPayload) prefix.push(prefix[prefix.length - 1]! + n);
  const recordsPerPass = prefix[perPass]!;
  const recordsBefore = (k: number): number => Math.floor(k / perPass) * recordsPerPass + prefix[k % perPass]!;
  let k = 0;
  let maxLagMs = 0;
  let maxBurst = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now() + 5;
  const msPerRecord = 1000 / rate;
  const dueAt = (k: number): number => t0 + recordsBefore(k) * msPerRecord;

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      let due = k;
      while (due < total && dueAt(due) <= now) due++;
      if (due > k) {
        maxLagMs = Math.max(maxLagMs, now - dueAt(k));
        maxBurst = Math.max(maxBurst, due - k);
        k += transport.send(k, due);
      }
      if (k < total) setTimeout(tick, Math.max(0, dueAt(k) - performance.now()));
      else resolve();
    };
    setTimeout(tick, 5);
  });
  await transport.drained();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  transport.close();
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const records = recordsBefore(total);
  const achieved = records / seconds;
  return {
    targetRecordsPerSecond: rate,
    passes,
    datagrams: total,
    records,
    bytes: passes * payloads.reduce((sum, p) => sum + p.length, 0),
    seconds,
    achievedRecordsPerSecond: achieved,
    datagramsPerSecond: total / seconds,
    driftPercent: ((achieved - rate) / rate) * 100,
    maxLagMs,
    maxBurst,
    cpuSeconds,
    cpuPercent: (cpuSeconds / seconds) * 100,
    sendErrors: transport.errors(),
    sender,
  };
}
