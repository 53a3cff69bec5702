/**
 * The two collectors under the same replay: `netspan run` (the netflow receiver in a traces
 * pipeline with the debug exporter: flows go to the evidence store only) and nfcapd (nfdump's
 * collector, C, writing nfcapd files). One ladder step = replay N whole passes of a capture at a
 * rate, wait for the collector to drain, count what it decoded / stored.
 *
 * - netspan runs for a whole ladder (its counters are read before and after each step); it gets a
 *   warm-up replay first (JIT) and is restarted after a lossy step.
 * - nfcapd is started fresh for every step (C: no warm-up) and stopped with SIGTERM after it, which
 *   closes its file; `nfdump -r <file> -I` then gives the flows it stored.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NetspanProcess } from '../../test/e2e/netspan-process.js';
import { cpuTicks, memoryStatus, systemTicks } from '../common/procstat.js';
import type { FlowCapture } from './captures.js';
import { passesFor, replay, type ReplayResult, type ReplaySender } from './replay.js';
import { udpReceiveBuffer, udpSocketStat } from './udpstat.js';
import { sleep } from '../common/util.js';

export type CollectorName = 'netspan' | 'nfcapd';

export interface StepResult {
  collector: CollectorName;
  format: string;
  targetRecordsPerSecond: number;
  replay: ReplayResult;
  /** Datagrams the collector accounted for as decoded (netspan) — nfcapd has no such counter. */
  datagramsDecoded?: number;
  /** Records the collector decoded (netspan: netspan_flow_records_total) or stored (nfcapd: nfdump -I Flows). */
  records: number;
  /** Records expected: what the replay sent, as this collector counts a pass (see calibration). */
  expectedRecords: number;
  /** Datagrams the kernel dropped at the collector's socket (receive buffer full), /proc/net/udp. */
  kernelDrops: number;
  /** netspan only: datagrams dropped because the worker queue was full (or lost in a worker). */
  queueDrops?: number;
  /** netspan only: decode issues counted (netspan_flow_decode_issues_total). */
  decodeIssues?: number;
  lostRecords: number;
  lossless: boolean;
  /** From the end of the replay until the collector had everything (or gave up). */
  drainMs: number;
  /** Collector CPU (all threads) during the replay, % of one core, and CPU-seconds from start of replay to drained. */
  cpuPercent: number;
  cpuSeconds: number;
  /** Records per CPU-second of the collector over the step (replay + drain). */
  recordsPerCpuSecond: number;
  /** Effective SO_RCVBUF (ss rb), bytes. */
  receiveBuffer?: number;
  peakRssMiB?: number;
  /** CPU used by everything else on the machine during the replay (not the collector, not the generator), % of one core. */
  otherCpuPercent: number;
  /** The generator fell behind: achieved rate below 97 % of the target. */
  generatorLimited: boolean;
  /** Attempt number of this step (1 = first; 2 = the retry after a lossy first attempt). */
  attempt: number;
  /** Machine busy before the step (% of one core, 1 s) after waiting up to --quiet-wait for it to calm down. */
  busyBeforePercent?: number;
  waitedForQuietSeconds?: number;
}

/** CPU of the rest of the machine over a replay: machine busy ticks minus the collector's and the generator's. */
function otherCpuPercent(busyTicks: number, collectorTicks: number, r: ReplayResult, ticksPerSecond: number): number {
  const other = busyTicks / ticksPerSecond - collectorTicks / ticksPerSecond - r.cpuSeconds;
  return Math.max(0, (other / r.seconds) * 100);
}

const generatorLimited = (r: ReplayResult) => r.achievedRecordsPerSecond < 0.97 * r.targetRecordsPerSecond;

export interface CollectorOptions {
  stepSeconds: number;
  socketBufferBytes: number;
  workers: number | undefined;
  /** netspan's UDP receive: in its workers through the native addon, or node:dgram on its main thread. */
  udpReceive: 'native' | 'dgram';
  /** How the replay generator sends. */
  sender: ReplaySender;
  warmupSeconds: number;
  warmupRate: number;
  ticksPerSecond: number;
  workDir: string;
  /** Node flags for netspan (e.g. --cpu-prof). */
  nodeArgs?: string[];
  log: (line: string) => void;
}

export interface Collector {
  readonly name: CollectorName;
  /** Records this collector finds in one pass of the capture (calibrated). */
  recordsPerPass: number;
  step(rate: number, attempt: number): Promise<StepResult>;
  close(): Promise<void>;
}

/** A free UDP port on 127.0.0.1 (bound and released; fine on a quiet loopback). */
async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Waits until the socket's receive queue stays empty for `quietMs`, or `limitMs`. */
async function drainSocket(port: number, quietMs: number, limitMs: number): Promise<number> {
  const start = performance.now();
  let emptySince = -1;
  while (performance.now() - start < limitMs) {
    const s = udpSocketStat(port);
    if (!s || s.rxQueueBytes === 0) {
      if (emptySince < 0) emptySince = performance.now();
      if (performance.now() - emptySince >= quietMs) break;
    } else emptySince = -1;
    await sleep(20);
  }
  return performance.now() - start;
}

// ---------------------------------------------------------------- netspan

/** Sums of the netspan series we need, from one /metrics scrape. */
interface NetspanCounters {
  decoded: number;
  queueDrops: number;
  records: number;
  issues: number;
}

async function scrapeNetspan(telemetry: string): Promise<NetspanCounters> {
  const text = await (await fetch(`http://${telemetry}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const c: NetspanCounters = { decoded: 0, queueDrops: 0, records: 0, issues: 0 };
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? ([0-9.e+-]+)$/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    if (m[1] === 'netspan_flow_datagrams_total') {
      const outcome = /outcome="([^"]*)"/.exec(m[2] ?? '')?.[1];
      if (outcome === 'decoded') c.decoded += v;
      else if (outcome === 'dropped_queue_full' || outcome === 'lost_in_worker') c.queueDrops += v;
    } else if (m[1] === 'netspan_flow_records_total') c.records += v;
    else if (m[1] === 'netspan_flow_decode_issues_total') c.issues += v;
  }
  return c;
}

export function netspanConfig(socketBufferBytes: number, workers: number | undefined, udpReceive: 'native' | 'dgram' = 'native'): string {
  return `# bench/flows: the netflow receiver in a traces pipeline that does little (evidence only)
receivers:
  netflow:
    endpoints: [127.0.0.1:0]
    tcp_endpoint: ""
    native_receive: ${udpReceive === 'native'}
    socket_buffer_size: ${socketBufferBytes}${workers === undefined ? '' : `\n    workers: ${workers}`}
exporters:
  debug: { verbosity: basic }
evidence:
  # the captures' flows are hours or days old: a long retention keeps them live evidence (stored,
  # indexed), as fresh flows would be, instead of being discarded as too old on insert
  flows: { retention: 87600h }
service:
  pipelines:
    traces:
      receivers: [netflow]
      exporters: [debug]
  telemetry:
    logs: { level: info }
    metrics: { address: 127.0.0.1:0 }
`;
}

export class NetspanCollector implements Collector {
  readonly name = 'netspan' as const;
  recordsPerPass: number;
  private proc: NetspanProcess | undefined;
  private port = 0;
  /** How netspan said it reads UDP (its log), e.g. "native (recvmmsg in the workers)". */
  udpReceivePath = '';
  /** Warnings netspan logged (e.g. a capped socket buffer), kept for the report. */
  readonly warnings: string[] = [];

  constructor(
    private readonly capture: FlowCapture,
    private readonly opts: CollectorOptions,
  ) {
    this.recordsPerPass = capture.records;
  }

  get pid(): number | undefined {
    return this.proc?.child.pid;
  }

  private async ensure(): Promise<NetspanProcess> {
    if (this.proc && this.proc.child.exitCode === null) return this.proc;
    const proc = await NetspanProcess.start(
      netspanConfig(this.opts.socketBufferBytes, this.opts.workers, this.opts.udpReceive),
      {},
      { nodeArgs: this.opts.nodeArgs },
    );
    const listening = await proc.waitForLog((l) => l.msg === 'flow receiver listening');
    this.udpReceivePath = String(listening.udpReceive);
    const udp = (listening.udp as string[])[0]!;
    this.port = Number(udp.slice(udp.lastIndexOf(':') + 1));
    this.proc = proc;
    if (this.opts.warmupSeconds > 0) {
      // JIT warm-up: a replay at a low rate, not counted
      const passes = passesFor(this.capture, this.opts.warmupRate, this.opts.warmupSeconds);
      const before = await scrapeNetspan(proc.telemetry);
      await replay(this.capture, '127.0.0.1', this.port, this.opts.warmupRate, passes, this.opts.sender);
      const want = before.decoded + passes * this.capture.payloads.length;
      const deadline = performance.now() + 20_000;
      while ((await scrapeNetspan(proc.telemetry)).decoded < want && performance.now() < deadline) await sleep(100);
    }
    return proc;
  }

  async step(rate: number, attempt: number): Promise<StepResult> {
    const proc = await this.ensure();
    const pid = proc.child.pid!;
    const passes = passesFor(this.capture, rate, this.opts.stepSeconds);
    const c0 = await scrapeNetspan(proc.telemetry);
    const k0 = udpSocketStat(this.port)?.drops ?? 0;
    const ticks0 = cpuTicks(pid);
    const sys0 = systemTicks().busy;
    const r = await replay(this.capture, '127.0.0.1', this.port, rate, passes, this.opts.sender);
    const ticksReplay = cpuTicks(pid);
    const sys1 = systemTicks().busy;
    const t = performance.now();
    // drain: until every datagram sent is accounted for (decoded or dropped), or no progress for 1 s
    const want = r.datagrams;
    let c = c0;
    let lastProgress = performance.now();
    let last = -1;
    for (;;) {
      c = await scrapeNetspan(proc.telemetry);
      const kernel = (udpSocketStat(this.port)?.drops ?? 0) - k0;
      const done = c.decoded - c0.decoded + (c.queueDrops - c0.queueDrops) + kernel;
      if (done >= want) break;
      if (done !== last) {
        last = done;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > 1_000 && (udpSocketStat(this.port)?.rxQueueBytes ?? 0) === 0) break;
      if (performance.now() - t > 30_000) break;
      await sleep(50);
    }
    const drainMs = performance.now() - t;
    const ticks1 = cpuTicks(pid);
    const kernelDrops = (udpSocketStat(this.port)?.drops ?? 0) - k0;
    const records = c.records - c0.records;
    const expectedRecords = passes * this.recordsPerPass;
    const datagramsDecoded = c.decoded - c0.decoded;
    const queueDrops = c.queueDrops - c0.queueDrops;
    const lossless = datagramsDecoded === r.datagrams && records === expectedRecords && kernelDrops === 0 && queueDrops === 0;
    const cpuSeconds = (ticks1 - ticks0) / this.opts.ticksPerSecond;
    const result: StepResult = {
      collector: 'netspan',
      format: this.capture.format,
      targetRecordsPerSecond: rate,
      replay: r,
      datagramsDecoded,
      records,
      expectedRecords,
      kernelDrops,
      queueDrops,
      decodeIssues: c.issues - c0.issues,
      lostRecords: expectedRecords - records,
      lossless,
      drainMs,
      cpuPercent: ((ticksReplay - ticks0) / this.opts.ticksPerSecond / r.seconds) * 100,
      cpuSeconds,
      recordsPerCpuSecond: cpuSeconds > 0 ? records / cpuSeconds : 0,
      receiveBuffer: udpReceiveBuffer(this.port),
      peakRssMiB: memoryStatus(pid).hwmKiB / 1024,
      otherCpuPercent: otherCpuPercent(sys1 - sys0, ticksReplay - ticks0, r, this.opts.ticksPerSecond),
      generatorLimited: generatorLimited(r),
      attempt,
    };
    if (!lossless) await this.close(); // a fresh, warmed-up process for the next step
    return result;
  }

  async close(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p) return;
    for (const w of p.warnings()) {
      const text = `${String(w.msg)} ${JSON.stringify({ ...w, level: undefined, time: undefined, msg: undefined, pid: undefined, hostname: undefined })}`;
      if (!this.warnings.includes(text)) this.warnings.push(text);
    }
    const code = await p.stop();
    rmSync(p.dir, { recursive: true, force: true });
    if (code !== 0) this.opts.log(`  ⚠ netspan exited with code ${code}`);
  }
}

// ---------------------------------------------------------------- nfcapd

/** `nfdump -r file -I`: the Flows line of the file's stat record. */
function nfdumpFlows(file: string): number {
  const out = execFileSync('nfdump', ['-r', file, '-I'], { encoding: 'utf8', timeout: 60_000 });
  const m = /^Flows:\s*(\d+)/m.exec(out);
  if (!m) throw new Error(`nfdump -I ${file}: no Flows line:\n${out}`);
  return Number(m[1]);
}

export function nfcapdVersion(): string {
  try {
    return execFileSync('nfcapd', ['-V'], { encoding: 'utf8', timeout: 5_000 }).trim();
  } catch (err) {
    throw new Error(`nfcapd is not installed (Debian package nfdump): ${(err as Error).message}`);
  }
}

export class NfcapdCollector implements Collector {
  readonly name = 'nfcapd' as const;
  recordsPerPass: number;
  private n = 0;
  private child: ChildProcess | undefined;

  constructor(
    private readonly capture: FlowCapture,
    private readonly opts: CollectorOptions,
  ) {
    this.recordsPerPass = capture.records;
  }

  /** One pass at a low rate: how many flows nfcapd stores from one pass of the capture. */
  async calibrate(): Promise<number> {
    const r = await this.run(Math.min(20_000, this.capture.records * 10), 1);
    this.recordsPerPass = r.stored;
    return r.stored;
  }

  private async run(rate: number, passes: number) {
    const port = await freePort();
    const dir = join(this.opts.workDir, `nfcapd-${this.capture.format}-${++this.n}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const child = spawn(
      'nfcapd',
      ['-w', dir, '-b', '127.0.0.1', '-p', String(port), '-B', String(this.opts.socketBufferBytes), '-t', '3600'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = performance.now() + 10_000;
      while (!udpSocketStat(port)) {
        if (child.exitCode !== null || performance.now() > deadline) throw new Error(`nfcapd did not bind 127.0.0.1:${port}:\n${output}`);
        await sleep(20);
      }
      const pid = child.pid!;
      const receiveBuffer = udpReceiveBuffer(port);
      const ticks0 = cpuTicks(pid);
      const sys0 = systemTicks().busy;
      const r = await replay(this.capture, '127.0.0.1', port, rate, passes, this.opts.sender);
      const ticksReplay = cpuTicks(pid);
      const sys1 = systemTicks().busy;
      const drainMs = await drainSocket(port, 300, 30_000);
      const ticks1 = cpuTicks(pid);
      const kernelDrops = udpSocketStat(port)?.drops ?? 0;
      const peakRssMiB = memoryStatus(pid).hwmKiB / 1024;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      if (code !== 0) this.opts.log(`  ⚠ nfcapd exited with code ${code}: ${output.slice(-500)}`);
      const files = readdirSync(dir).filter((f) => f.startsWith('nfcapd.') && !f.includes('current'));
      if (files.length === 0) throw new Error(`nfcapd left no file in ${dir}:\n${output}`);
      const stored = files.reduce((n, f) => n + nfdumpFlows(join(dir, f)), 0);
      return {
        r,
        stored,
        drainMs,
        kernelDrops,
        receiveBuffer,
        peakRssMiB,
        cpuReplay: ticksReplay - ticks0,
        cpuAll: ticks1 - ticks0,
        sysBusy: sys1 - sys0,
      };
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      this.child = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async step(rate: number, attempt: number): Promise<StepResult> {
    const passes = passesFor(this.capture, rate, this.opts.stepSeconds);
    const x = await this.run(rate, passes);
    const expectedRecords = passes * this.recordsPerPass;
    const cpuSeconds = x.cpuAll / this.opts.ticksPerSecond;
    return {
      collector: 'nfcapd',
      format: this.capture.format,
      targetRecordsPerSecond: rate,
      replay: x.r,
      records: x.stored,
      expectedRecords,
      kernelDrops: x.kernelDrops,
      lostRecords: expectedRecords - x.stored,
      lossless: x.stored === expectedRecords && x.kernelDrops === 0,
      drainMs: x.drainMs,
      cpuPercent: (x.cpuReplay / this.opts.ticksPerSecond / x.r.seconds) * 100,
      cpuSeconds,
      recordsPerCpuSecond: cpuSeconds > 0 ? x.stored / cpuSeconds : 0,
      receiveBuffer: x.receiveBuffer,
      peakRssMiB: x.peakRssMiB,
      otherCpuPercent: otherCpuPercent(x.sysBusy, x.cpuReplay, x.r, this.opts.ticksPerSecond),
      generatorLimited: generatorLimited(x.r),
      attempt,
    };
  }

  async close(): Promise<void> {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
