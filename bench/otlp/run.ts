/**
 * bench/otlp: netspan's cost at the OpenTelemetry Collector testbed's reference load.
 *
 * A load generator sends 10,000 spans/s (100 spans per request, 10 spans per trace, HTTP
 * server-style attributes) over OTLP/HTTP protobuf and over OTLP/gRPC into `netspan run`
 * (otlp receiver → groupbytrace → otlphttp / otlp exporter → a sink in this process). After a
 * warm-up it measures netspan's CPU (% of one core, from /proc/<pid>/stat) and RSS (peak =
 * VmHWM, mean of 1 s samples) over a steady window, then checks that every span accepted
 * reached the sink. It also measures the decode/encode throughput of the OTLP codec.
 *
 *   npm run build && npm run bench:otlp [-- --seconds 20 --protocols http,grpc ...]
 *
 * Prints a markdown table and writes bench/otlp/results/latest.json. Loopback only; every
 * phase is bounded in time.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { NetspanProcess } from '../../test/e2e/netspan-process.js';
import { attributesPerSpan, buildTemplates, checkRequest, materialize, nowNs, SPANS_PER_REQUEST, SPANS_PER_TRACE } from './payload.js';
import { SinkStats, startGrpcSink, startHttpSink, type Sink } from './sinks.js';
import { grpcSender, httpSender, LoadGenerator, type LoadStats } from './loadgen.js';
import { busyPercentOver, clockTicks, cpuTicks, memoryStatus, systemTicks, warnIfBusy } from '../common/procstat.js';
import { machineBanner, machineInfo } from '../common/machine.js';
import { defaultResultsFile, num, parseOptions, repoRoot, requireBuild, runMain } from '../common/cli.js';
import { markdownTable, writeResults } from '../common/results.js';
import { round, sleep } from '../common/util.js';
import { codecBenchmarks, type CodecResult } from './codec-bench.js';

/** The OpenTelemetry Collector's published testbed figures at 10k spans/s (OTLP in, OTLP out). */
export const COLLECTOR_REFERENCE = {
  source: 'OpenTelemetry Collector testbed, published performance figures (10,000 spans/s, 100 spans per request)',
  grpc: { cpuPercent: 6.2 },
  http: { cpuPercent: 5.4 },
  rssMiB: { min: 51, max: 55 },
} as const;

type Protocol = 'http' | 'grpc';
type Pipeline = 'groupbytrace' | 'none';

const USAGE = `usage: node dist/bench/otlp/run.js [options]
  --seconds N        measured window per scenario, s (default 20; at least 15 for a reportable figure)
  --warmup N         warm-up before the window, s (default 3)
  --rate N           spans per second (default 10000; 100 spans per request)
  --protocols LIST   http,grpc (default both)
  --pipeline P       groupbytrace (otlp → groupbytrace → exporter), none (otlp → exporter, the
                     collector testbed's pipeline) or both (default)
  --compression C    exporter compression toward the sink: gzip | none (default gzip, the collector's default)
  --consumers N      the exporter's sending_queue.num_consumers (default: the exporter's default, 10)
  --codec-seconds N  time per codec measurement, s (default 3; 0 skips it)
  --out FILE         results JSON (default bench/otlp/results/latest.json)`;

const mib = (kib: number) => kib / 1024;

interface Options {
  seconds: number;
  warmup: number;
  rate: number;
  protocols: Protocol[];
  pipelines: Pipeline[];
  compression: 'gzip' | 'none';
  codecSeconds: number;
  /** sending_queue.num_consumers; undefined keeps the exporter's default. */
  consumers: number | undefined;
  out: string;
}

function options(): Options {
  const { values } = parseOptions(USAGE, {
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    rate: { type: 'string', default: '10000' },
    protocols: { type: 'string', default: 'http,grpc' },
    pipeline: { type: 'string', default: 'both' },
    compression: { type: 'string', default: 'gzip' },
    'codec-seconds': { type: 'string', default: '3' },
    consumers: { type: 'string' },
    out: { type: 'string', default: defaultResultsFile('otlp') },
  });
  const protocols = values.protocols.split(',').map((p) => p.trim());
  for (const p of protocols) if (p !== 'http' && p !== 'grpc') throw new Error(`--protocols: unknown protocol "${p}"`);
  const pipeline = values.pipeline;
  if (!['groupbytrace', 'none', 'both'].includes(pipeline)) throw new Error('--pipeline must be groupbytrace, none or both');
  if (values.compression !== 'gzip' && values.compression !== 'none') throw new Error('--compression must be gzip or none');
  return {
    seconds: num('seconds', values.seconds, 1, 600),
    warmup: num('warmup', values.warmup, 0, 60),
    rate: num('rate', values.rate, 100, 1_000_000),
    protocols: protocols as Protocol[],
    pipelines: pipeline === 'both' ? ['groupbytrace', 'none'] : [pipeline as Pipeline],
    compression: values.compression,
    codecSeconds: num('codec-seconds', values['codec-seconds'], 0, 60),
    consumers: values.consumers === undefined ? undefined : num('consumers', values.consumers, 1, 1000),
    out: values.out,
  };
}

/** The `netspan run` config of one scenario: one receiver protocol, one exporter to the sink. */
function configYaml(protocol: Protocol, pipeline: Pipeline, sink: Sink, compression: string, consumers: number | undefined): string {
  const queue = consumers === undefined ? '' : `\n    sending_queue: { num_consumers: ${consumers} }`;
  const exporter =
    protocol === 'http'
      ? `  otlphttp:
    endpoint: http://${sink.address}
    encoding: proto
    compression: ${compression}${queue}`
      : `  otlp:
    endpoint: ${sink.address}
    tls: { insecure: true }
    compression: ${compression}${queue}`;
  return `receivers:
  otlp:
    protocols:
      ${protocol}: { endpoint: 127.0.0.1:0 }
processors:
  groupbytrace: { wait_duration: 1s, num_traces: 100000 }
exporters:
${exporter}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [${pipeline === 'groupbytrace' ? 'groupbytrace' : ''}]
      exporters: [${protocol === 'http' ? 'otlphttp' : 'otlp'}]
  telemetry:
    logs: { level: info }
    metrics: { address: 127.0.0.1:0 }
`;
}

interface ScenarioResult {
  protocol: Protocol;
  pipeline: Pipeline;
  measuredSeconds: number;
  /** Mean CPU of the netspan process over the window, % of one core. */
  cpuPercent: number;
  /** Highest and lowest 1 s sample. */
  cpuPercentMax1s: number;
  cpuPercentMin1s: number;
  peakRssMiB: number;
  meanRssMiB: number;
  /** RSS once started, before any load. */
  idleRssMiB: number;
  threads: number;
  /** CPU of the bench process itself (load generator + sinks) over the window. */
  benchProcessCpuPercent: number;
  /** CPU used by the rest of the machine (neither netspan nor the bench) in the window, % of one core. */
  otherCpuPercent: number;
  /** CPU time the hypervisor stole in the window, % of one core. */
  stealPercent: number;
  load: {
    targetSpansPerSecond: number;
    achievedSpansPerSecond: number;
    /** Spans per second netspan answered with success in the window (the rest it refused: back-pressure). */
    acceptedSpansPerSecond: number;
    /** (achieved − target) / target over the window, %. */
    driftPercent: number;
    maxLagMs: number;
    lateSends: number;
    skipped: number;
    maxInFlight: number;
  };
  spans: {
    sent: number;
    accepted: number;
    refused: number;
    received: number;
    lost: number;
    lossPercent: number;
    duplicates: number;
  };
  failures: Record<string, number>;
  sink: {
    requests: number;
    requestsPerSecond: number;
    wireBytes: number;
    bodyBytes: number;
    errors: number;
    traces: number;
    wholeTraces: number;
    splitTraces: number;
    incompleteTraces: number;
  };
  drainMs: number;
  netspanMetrics: Record<string, number>;
  exitCode: number | null;
}

/** Sums every sample of each netspan_* counter on /metrics (labels summed over). */
async function scrape(telemetry: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    const text = await (await fetch(`http://${telemetry}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    for (const line of text.split('\n')) {
      const m = /^(netspan_[a-z_]+_total)(?:\{.*\})? ([0-9.e+-]+)$/.exec(line);
      if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
    }
  } catch (err) {
    console.error(`  (could not scrape netspan's /metrics: ${(err as Error).message})`);
  }
  return out;
}

async function runScenario(
  protocol: Protocol,
  pipeline: Pipeline,
  sink: Sink,
  opts: Options,
  templates: ReturnType<typeof buildTemplates>,
  seq: number,
  ticksPerSecond: number,
): Promise<{ result: ScenarioResult; nextSeq: number }> {
  const label = `${protocol} / ${pipeline === 'groupbytrace' ? 'groupbytrace' : 'no processor'}`;
  console.error(`\n▶ ${label}: starting netspan run`);
  sink.stats = new SinkStats();
  const netspan = await NetspanProcess.start(configYaml(protocol, pipeline, sink, opts.compression, opts.consumers));
  const pid = netspan.child.pid!;
  const idleRssKiB = memoryStatus(pid).rssKiB;
  const endpoint = netspan.endpoint(protocol === 'http' ? 'OTLP/HTTP receiver listening' : 'OTLP/gRPC receiver listening');
  const sender = protocol === 'http' ? httpSender(endpoint) : grpcSender(endpoint);
  const requestsPerSecond = opts.rate / SPANS_PER_REQUEST;
  const load = new LoadGenerator(sender, templates, SPANS_PER_REQUEST, requestsPerSecond, seq);
  let stopped = false;
  try {
    load.start();
    console.error(`  warm-up ${opts.warmup} s at ${opts.rate} spans/s (${requestsPerSecond} requests/s) → ${endpoint}`);
    await sleep(opts.warmup * 1000);

    // The measured window.
    const before: LoadStats = { ...load.stats };
    load.windowOpen = true;
    const t0 = performance.now();
    const ticks0 = cpuTicks(pid);
    const benchCpu0 = process.cpuUsage();
    const system0 = systemTicks();
    const rss: number[] = [];
    const perSecond: number[] = [];
    let threads = 0;
    let lastTicks = ticks0;
    let lastT = t0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        const ticks = cpuTicks(pid);
        const mem = memoryStatus(pid);
        rss.push(mem.rssKiB);
        threads = Math.max(threads, mem.threads);
        perSecond.push((((ticks - lastTicks) / ticksPerSecond) * 100) / ((now - lastT) / 1000));
        lastTicks = ticks;
        lastT = now;
        if (now - t0 >= opts.seconds * 1000 - 5) {
          clearInterval(timer);
          resolve();
        }
      }, 1000);
    });
    load.windowOpen = false;
    const ticks1 = cpuTicks(pid);
    const system1 = systemTicks();
    const t1 = performance.now();
    const benchCpu = process.cpuUsage(benchCpu0);
    const hwm = memoryStatus(pid).hwmKiB;
    const after: LoadStats = { ...load.stats };
    const wall = (t1 - t0) / 1000;
    const cpuPercent = (((ticks1 - ticks0) / ticksPerSecond) * 100) / wall;
    const windowSpans = after.spansSent - before.spansSent;
    const achieved = windowSpans / wall;
    const benchCpuPercent = ((benchCpu.user + benchCpu.system) / 1e6 / wall) * 100;
    // What else ran on the machine meanwhile (other processes), % of one core.
    const otherCpuPercent = (((system1.busy - system0.busy - (ticks1 - ticks0)) / ticksPerSecond) * 100) / wall - benchCpuPercent;
    const stealPercent = (((system1.steal - system0.steal) / ticksPerSecond) * 100) / wall;
    console.error(
      `  measured ${round(wall, 2)} s: CPU ${round(cpuPercent, 2)} % of one core, peak RSS ${round(mib(hwm))} MiB ` +
        `(bench process ${round(benchCpuPercent, 1)} %, rest of the machine ${round(Math.max(0, otherCpuPercent), 1)} %, steal ${round(stealPercent, 1)} %)`,
    );

    // Drain: stop the load, let groupbytrace release and the exporter deliver.
    await load.stop();
    stopped = true;
    const drainStart = performance.now();
    const drainLimit = 1_000 + 15_000;
    let lastCount = -1;
    let stableSince = performance.now();
    while (performance.now() - drainStart < drainLimit) {
      const got = sink.stats.spans;
      if (got !== lastCount) {
        lastCount = got;
        stableSince = performance.now();
      }
      if (got >= load.stats.spansAccepted && performance.now() - stableSince >= 300) break;
      await sleep(100);
    }
    const drainMs = performance.now() - drainStart;
    const netspanMetrics = await scrape(netspan.telemetry);
    const exitCode = await netspan.stop();
    // Whatever netspan itself reported as a problem belongs next to the figures.
    for (const line of netspan.logs.filter((l) => l.level === 'error' || l.level === 'fatal' || l.level === 'warn').slice(0, 10))
      console.error(`  netspan ${line.level}: ${JSON.stringify(line)}`);

    const s = load.stats;
    const received = sink.stats.spans;
    const integrity = sink.stats.traceIntegrity(SPANS_PER_TRACE);
    const result: ScenarioResult = {
      protocol,
      pipeline,
      measuredSeconds: round(wall, 3),
      cpuPercent: round(cpuPercent, 2),
      cpuPercentMax1s: round(Math.max(...perSecond), 1),
      cpuPercentMin1s: round(Math.min(...perSecond), 1),
      peakRssMiB: round(mib(hwm)),
      meanRssMiB: round(mib(rss.reduce((a, b) => a + b, 0) / rss.length)),
      idleRssMiB: round(mib(idleRssKiB)),
      threads,
      benchProcessCpuPercent: round(benchCpuPercent, 1),
      otherCpuPercent: round(Math.max(0, otherCpuPercent), 1),
      stealPercent: round(stealPercent, 1),
      load: {
        targetSpansPerSecond: opts.rate,
        achievedSpansPerSecond: round(achieved),
        acceptedSpansPerSecond: round((achieved * s.windowSpansAccepted) / Math.max(1, s.windowSpansSent)),
        driftPercent: round(((achieved - opts.rate) / opts.rate) * 100, 2),
        maxLagMs: round(s.maxLagMs, 1),
        lateSends: s.lateSends,
        skipped: s.skipped,
        maxInFlight: s.maxInFlight,
      },
      spans: {
        sent: s.spansSent,
        accepted: s.spansAccepted,
        refused: s.spansFailed,
        received,
        lost: Math.max(0, s.spansAccepted - received),
        lossPercent: s.spansAccepted === 0 ? 0 : round((Math.max(0, s.spansAccepted - received) / s.spansAccepted) * 100, 3),
        duplicates: Math.max(0, received - s.spansAccepted),
      },
      failures: s.failures,
      sink: {
        requests: sink.stats.requests,
        requestsPerSecond: 0,
        wireBytes: sink.stats.wireBytes,
        bodyBytes: sink.stats.bodyBytes,
        errors: sink.stats.errors,
        traces: integrity.traces,
        wholeTraces: integrity.whole,
        splitTraces: integrity.split,
        incompleteTraces: integrity.incomplete,
      },
      drainMs: Math.round(drainMs),
      netspanMetrics,
      exitCode,
    };
    // Export requests per second of load (the whole run, not only the window).
    result.sink.requestsPerSecond = round(sink.stats.requests / (s.spansSent / opts.rate), 1);
    if (Math.abs(result.load.driftPercent) > 1)
      console.error(`  ⚠ the load generator drifted ${result.load.driftPercent} % from ${opts.rate} spans/s in the window`);
    console.error(
      `  spans sent ${s.spansSent}, accepted ${s.spansAccepted}, received by the sink ${received}, lost ${result.spans.lost}; netspan exited ${exitCode}`,
    );
    return { result, nextSeq: load.nextSeq };
  } finally {
    if (!stopped) await load.stop(2_000);
    sender.close();
    if (netspan.child.exitCode === null) await netspan.stop();
    rmSync(netspan.dir, { recursive: true, force: true });
  }
}

function ratio(ours: number, theirs: number): string {
  return `${round(ours / theirs, 1)}×`;
}

function markdown(scenarios: ScenarioResult[], codec: CodecResult[]): string {
  const ref = COLLECTOR_REFERENCE;
  const k = (n: number) => `${round(n / 1000, 1)}k`;
  const header = [
    'protocol',
    'pipeline',
    'spans/s offered → accepted',
    'CPU % of one core (mean; 1 s min–max)',
    'peak RSS MiB (mean)',
    'collector CPU %',
    'collector RSS MiB',
    'CPU ours/theirs',
    'RSS ours/theirs',
    'spans accepted → at sink (lost)',
  ];
  const rows = scenarios.map((r) => {
    const theirs = ref[r.protocol].cpuPercent;
    return [
      r.protocol === 'http' ? 'OTLP/HTTP protobuf' : 'OTLP/gRPC',
      r.pipeline === 'groupbytrace' ? 'otlp → groupbytrace → exporter' : 'otlp → exporter',
      `${k(r.load.achievedSpansPerSecond)} → ${k(r.load.acceptedSpansPerSecond)}`,
      `${r.cpuPercent} (${r.cpuPercentMin1s}–${r.cpuPercentMax1s})`,
      `${r.peakRssMiB} (${r.meanRssMiB})`,
      String(theirs),
      `${ref.rssMiB.min}–${ref.rssMiB.max}`,
      ratio(r.cpuPercent, theirs),
      `${round(r.peakRssMiB / ref.rssMiB.max, 1)}–${round(r.peakRssMiB / ref.rssMiB.min, 1)}×`,
      `${r.spans.accepted} → ${r.spans.received} (${r.spans.lost})`,
    ];
  });
  const tables = [markdownTable(header, rows)];
  if (codec.length > 0)
    tables.push(
      markdownTable(
        ['codec (one 100-span request)', 'bytes', 'MB/s', 'spans/s', 'µs/request'],
        codec.map((c) => [
          c.name,
          String(c.bytes),
          String(round(c.mbPerSecond)),
          Math.round(c.spansPerSecond).toLocaleString('en-US'),
          String(round(c.microsPerOp)),
        ]),
      ),
    );
  return tables.join('\n\n');
}

async function main(): Promise<void> {
  const opts = options();
  const root = repoRoot();
  requireBuild(root);
  if (opts.seconds < 15)
    console.error(`⚠ --seconds ${opts.seconds}: below the 15 s the figures are specified for (marked as not reportable)`);
  const machine = machineInfo();
  const ticksPerSecond = clockTicks();
  // How busy the machine is before we start (other processes): the figures are only as quiet as it.
  const idleBusyPercent = await busyPercentOver(1000, ticksPerSecond);
  warnIfBusy(idleBusyPercent);

  const templates = buildTemplates();
  const sample = materialize(templates[0]!, 1, nowNs());
  const sampleMessage = checkRequest(sample, 1);
  const payload = {
    spansPerRequest: SPANS_PER_REQUEST,
    spansPerTrace: SPANS_PER_TRACE,
    protobufBytes: sample.length,
    attributesPerSpan: round(attributesPerSpan(sampleMessage), 1),
    resourceAttributes: sampleMessage.resourceSpans[0]?.resource?.attributes.length ?? 0,
    templates: templates.length,
  };
  console.error(
    `${machineBanner('bench/otlp', machine)}; ` +
      `request: ${payload.protobufBytes} bytes, ${payload.spansPerRequest} spans, ${payload.attributesPerSpan} attributes per span`,
  );

  let codec: CodecResult[] = [];
  if (opts.codecSeconds > 0) {
    console.error(`\n▶ codec throughput (${opts.codecSeconds} s each after 1 s warm-up)`);
    codec = await codecBenchmarks(sample, join(root, 'proto'), opts.codecSeconds, 1);
    for (const c of codec) console.error(`  ${c.name}: ${round(c.mbPerSecond)} MB/s, ${Math.round(c.spansPerSecond)} spans/s`);
  }

  const sinks: Record<Protocol, Sink | undefined> = { http: undefined, grpc: undefined };
  const scenarios: ScenarioResult[] = [];
  let seq = 1_000;
  try {
    for (const protocol of opts.protocols) {
      const sink = (sinks[protocol] ??= protocol === 'http' ? await startHttpSink() : await startGrpcSink());
      for (const pipeline of opts.pipelines) {
        const { result, nextSeq } = await runScenario(protocol, pipeline, sink, opts, templates, seq, ticksPerSecond);
        scenarios.push(result);
        seq = nextSeq;
      }
    }
  } finally {
    await Promise.all(Object.values(sinks).map((s) => s?.close()));
  }

  const table = markdown(scenarios, codec);
  console.log(`\n${table}\n`);
  const results = {
    benchmark: 'bench/otlp',
    date: new Date().toISOString(),
    reportable: opts.seconds >= 15,
    machine: { ...machine, busyBeforeRunPercent: idleBusyPercent },
    settings: {
      spansPerSecond: opts.rate,
      requestsPerSecond: opts.rate / SPANS_PER_REQUEST,
      warmupSeconds: opts.warmup,
      measureSeconds: opts.seconds,
      exporterCompression: opts.compression,
      groupbytrace: { wait_duration: '1s', num_traces: 100000 },
      clockTicksPerSecond: ticksPerSecond,
      codecSeconds: opts.codecSeconds,
    },
    payload,
    scenarios,
    codec: codec.map((c) => ({
      ...c,
      opsPerSecond: round(c.opsPerSecond),
      mbPerSecond: round(c.mbPerSecond, 2),
      spansPerSecond: Math.round(c.spansPerSecond),
      microsPerOp: round(c.microsPerOp, 2),
    })),
    reference: COLLECTOR_REFERENCE,
  };
  writeResults(opts.out, results);
  // Refusals are a result (netspan's back-pressure when it cannot keep up), reported above;
  // spans accepted and never delivered, sink errors or an unclean exit fail the run.
  for (const r of scenarios)
    if (r.spans.refused > 0)
      console.error(
        `⚠ ${r.protocol} / ${r.pipeline}: netspan refused ${r.spans.refused} of ${r.spans.sent} spans (back-pressure: it did not keep up)`,
      );
  const broken = scenarios.filter((r) => r.spans.lost > 0 || r.sink.errors > 0 || r.exitCode !== 0);
  if (broken.length > 0) {
    console.error(`✗ ${broken.length} scenario(s) lost accepted spans, got sink errors, or netspan did not exit cleanly`);
    process.exitCode = 1;
  }
}

runMain(main);
