/**
 * bench/scenario: the Cross-Layer Telemetry paper's experiment, reproduced on the real Linux IPv6
 * IOAM data plane in network namespaces:
 *
 *   client ── router (porthos, IOAM node 1001) ── server (aramis, IOAM node 1002)
 *
 * - client: the real OpenTelemetry JS SDK app (test/e2e/lab/clt-app.ts) as an open-loop HTTP
 *   client at a fixed rate, one process per phase; each request records start, end, status and
 *   its trace id.
 * - server: the instrumented HTTP server, `netspan agent` (capture on the server's interface for
 *   the router's IOAM node, the kernel's IOAM events for the server's own) and `netspan run`
 *   (groupbytrace → correlate → file exporter), whose file the bench reads back.
 * - phases (each --phase-seconds): normal; congestion (a tbf bottleneck on the router's egress
 *   toward the server, filled by bulk TCP from client to server; CLT off, so the traces only show
 *   that requests are slow); evidence (the same congestion, CLT on: the request packets carry
 *   IOAM and the client span's ids, so netspan adds hop spans with the queue depth and a
 *   verdict); recovery (tbf and bulk removed). CLT is also on in normal and recovery (see
 *   --clt-in): there it shows what the evidence says when nothing is wrong.
 * - the router's egress queue, independently of netspan: `tc -s qdisc` backlog every 250 ms.
 *
 * Writes bench/scenario/results/latest.json, bench/scenario/REPORT.md and
 * bench/scenario/scenario.svg (report.ts), and prints the table.
 *
 *   npm run build && npm run bench:scenario [-- --phase-seconds 60 --rate 200 ...]
 */
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Lab } from '../../test/e2e/lab/netns.js';
import { ioamLab, ioamLabUnavailable, type IoamLab } from '../../test/e2e/lab/ioam.js';
import { CLT_APP_PATH, type ClientRecord } from '../../test/e2e/lab/clt-app.js';
import { startNetspanIn } from '../../test/e2e/lab/netspan.js';
import { startIoamAgent } from '../../test/e2e/lab/clt-stack.js';
import { parseTraceLine, type FileSpan } from '../../test/e2e/lab/otlp-file.js';
import { sleep, type LabProcess } from '../../test/e2e/lab/proc.js';
import type { NetspanProcess } from '../../test/e2e/netspan-process.js';
import { busyPercentOver, clockTicks, cpuTicks, systemTicks, warnIfBusy } from '../common/procstat.js';
import { machineBanner, machineInfo } from '../common/machine.js';
import { defaultResultsFile, num, parseOptions, repoRoot, requireBuild, runMain } from '../common/cli.js';
import { writeResults } from '../common/results.js';
import { quantile, round } from '../common/util.js';
import { BULK_PATH } from './bulk.js';
import {
  PHASES,
  sortedOf,
  summarize,
  writeReport,
  type PhaseName,
  type ServerSideProcess,
  type QueueSample,
  type RequestResult,
  type ScenarioResults,
} from './report.js';

const USAGE = `usage: node dist/bench/scenario/run.js [options]
  --phase-seconds N     length of each of the 4 phases, s (default 60; 10 to try it out)
  --warmup-seconds N    unreported load before phase 1 (CLT on, at --rate), s (default 10)
  --rate N              requests per second, open loop (default 200, the paper's rate)
  --bottleneck-mbit N   tbf rate on the router's egress toward the server in the congested phases (default 20)
  --tbf-latency-ms N    tbf queue limit, as the longest a byte may wait, ms (default 100)
  --bulk-streams N      bulk TCP connections client → server in the congested phases (default 4)
  --clt-in LIST         phases whose client runs with CLT on (default normal,evidence,recovery; congestion never)
  --out FILE            results JSON (default bench/scenario/results/latest.json)
  --report-dir DIR      where REPORT.md and scenario.svg go (default bench/scenario)`;

const NAMESPACE = 123;
/** Bits 0-3 (hop limit + node id, interface ids, timestamp seconds and subseconds) and 6 (queue depth). */
const TRACE_TYPE = 0xf20000;
const HTTP_PORT = 8080;
const OTLP_PORT = 4318;
const BULK_PORT = 5201;
const QUEUE_SAMPLE_MS = 250;

interface Options {
  phaseSeconds: number;
  warmupSeconds: number;
  rate: number;
  bottleneckMbit: number;
  tbfLatencyMs: number;
  bulkStreams: number;
  cltIn: PhaseName[];
  out: string;
  reportDir: string;
}

function options(): Options {
  const { values } = parseOptions(USAGE, {
    'phase-seconds': { type: 'string', default: '60' },
    'warmup-seconds': { type: 'string', default: '10' },
    rate: { type: 'string', default: '200' },
    'bottleneck-mbit': { type: 'string', default: '20' },
    'tbf-latency-ms': { type: 'string', default: '100' },
    'bulk-streams': { type: 'string', default: '4' },
    'clt-in': { type: 'string', default: 'normal,evidence,recovery' },
    out: { type: 'string', default: defaultResultsFile('scenario') },
    'report-dir': { type: 'string', default: join(repoRoot(), 'bench', 'scenario') },
  });
  const cltIn = values['clt-in']
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as PhaseName[];
  for (const p of cltIn)
    if (!PHASES.some((x) => x.name === p) || p === 'congestion')
      throw new Error(`--clt-in: ${p} is not one of normal, evidence, recovery (congestion is the phase without CLT)`);
  return {
    phaseSeconds: num('phase-seconds', values['phase-seconds'], 5, 600),
    warmupSeconds: num('warmup-seconds', values['warmup-seconds'], 1, 600),
    rate: num('rate', values.rate, 1, 2000),
    bottleneckMbit: num('bottleneck-mbit', values['bottleneck-mbit'], 1, 10_000),
    tbfLatencyMs: num('tbf-latency-ms', values['tbf-latency-ms'], 1, 5000),
    bulkStreams: num('bulk-streams', values['bulk-streams'], 1, 64),
    cltIn,
    out: values.out,
    reportDir: values['report-dir'],
  };
}

/** The lab with its long-running processes. */
interface Scenario {
  lab: Lab;
  L: IoamLab;
  collector: NetspanProcess;
  processes: LabProcess[];
  agent: LabProcess;
  server: LabProcess;
  dir: string;
}

function collectorConfig(L: IoamLab): string {
  return `
receivers:
  otlp: { protocols: { http: { endpoint: "[::]:${OTLP_PORT}" } } }
processors:
  groupbytrace: { wait_duration: 3s, num_traces: 200000 }
  correlate:
    devices:
      "${L.client.routerIpv6}": { name: porthos, ioam_node_ids: [${L.router.nodeId}] }
      "${L.server.ipv6}": { name: aramis, ioam_node_ids: [${L.serverNode.nodeId}] }
exporters:
  file: { path: $DIR/traces.jsonl }
evidence:
  devices:
    inventory:
      porthos:
        ioam_node_ids: [${L.router.nodeId}]
        interfaces: { '${L.router.ingressId}': ${L.router.ingress}, '${L.router.egressId}': ${L.router.egress} }
      aramis:
        ioam_node_ids: [${L.serverNode.nodeId}]
        interfaces: { '${L.serverNode.ingressId}': ${L.server.ifname} }
service:
  telemetry: { metrics: { address: "127.0.0.1:0" }, logs: { level: info } }
  pipelines:
    traces: { receivers: [otlp], processors: [groupbytrace, correlate], exporters: [file] }
`;
}

async function startScenario(): Promise<Scenario> {
  const dir = mkdtempSync(join(tmpdir(), 'netspan-scenario-'));
  const lab = Lab.create('scenario');
  const L = await ioamLab(lab, NAMESPACE);
  const collector = await startNetspanIn(L.server.ns, collectorConfig(L));
  const processes: LabProcess[] = [];
  const lifetime = { maxLifetimeMs: 3_600_000 };
  const server = lab.spawn(
    L.server.ns,
    [process.execPath, CLT_APP_PATH, 'server', '--port', String(HTTP_PORT), '--otlp', `http://[::1]:${OTLP_PORT}/v1/traces`],
    lifetime,
  );
  processes.push(server);
  await server.waitForLine(/"ready":true/, 20_000);
  const sink = lab.spawn(L.server.ns, [process.execPath, BULK_PATH, 'sink', '--port', String(BULK_PORT)], lifetime);
  processes.push(sink);
  await sink.waitForLine(/"ready":true/, 20_000);
  const agent = startIoamAgent(lab, {
    ns: L.server.ns,
    observer: 'aramis',
    interfaces: [L.server.ifname],
    output: join(dir, 'observations-aramis.jsonl'),
    ioamEvents: true,
    collectorUrl: `http://[${L.server.ipv6}]:${OTLP_PORT}`,
    otlpPort: OTLP_PORT,
    excludeTcpPorts: [BULK_PORT],
    dir,
    maxLifetimeMs: 3_600_000,
  });
  processes.push(agent);
  await agent.waitForLine(/netspan agent started/, 20_000);
  return { lab, L, collector, processes, agent, server, dir };
}

/** Samples the router's egress qdisc (toward the server) until stopped. */
function sampleQueue(s: Scenario, samples: QueueSample[]): { stop: () => Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = Date.now();
      const r = await s.lab.exec(s.L.router.ns, ['tc', '-s', '-j', 'qdisc', 'show', 'dev', s.L.router.egress!], {
        timeoutMs: 5_000,
        check: false,
      });
      try {
        const q = (JSON.parse(r.stdout) as { kind: string; root?: boolean; backlog?: number; qlen?: number; drops?: number }[]).find(
          (x) => x.root,
        );
        if (q) samples.push({ tMs: t, qdisc: q.kind, backlogBytes: q.backlog ?? 0, qlen: q.qlen ?? 0, drops: q.drops ?? 0 });
      } catch {
        // a sample lost to a busy machine; the next one comes
      }
      await sleep(Math.max(0, QUEUE_SAMPLE_MS - (Date.now() - t)));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function congest(s: Scenario, o: Options): Promise<LabProcess> {
  await s.lab.exec(s.L.router.ns, [
    'tc',
    'qdisc',
    'replace',
    'dev',
    s.L.router.egress!,
    'root',
    'tbf',
    'rate',
    `${o.bottleneckMbit}mbit`,
    'burst',
    '32kbit',
    'latency',
    `${o.tbfLatencyMs}ms`,
  ]);
  const bulk = s.lab.spawn(
    s.L.client.ns,
    [process.execPath, BULK_PATH, 'send', '--to', s.L.server.ipv6, '--port', String(BULK_PORT), '--streams', String(o.bulkStreams)],
    { maxLifetimeMs: 3_600_000 },
  );
  await bulk.waitForLine(/"ready":true/, 20_000);
  return bulk;
}

async function relieve(s: Scenario, bulk: LabProcess): Promise<void> {
  await bulk.stop('SIGTERM', 5_000);
  await s.lab.exec(s.L.router.ns, ['tc', 'qdisc', 'del', 'dev', s.L.router.egress!, 'root'], { check: false });
}

/** The median latency of each second of a load run (by schedule slot), ms. */
function perSecondP50(records: readonly ClientRecord[]): number[] {
  const t0 = Math.min(...records.map((r) => r.scheduledMs ?? r.startMs));
  const bins: number[][] = [];
  for (const r of records) (bins[Math.floor(((r.scheduledMs ?? r.startMs) - t0) / 1000)] ??= []).push(r.durationMs);
  return Array.from(bins, (b) => round(quantile(sortedOf(b ?? []), 0.5), 1));
}

/** CPU ticks of the long-lived server-side processes (the collector, the agent, the server app). */
function serverSideTicks(s: Scenario): Record<ServerSideProcess, number> {
  const of = (pid: number | undefined) => {
    try {
      return pid === undefined ? NaN : cpuTicks(pid);
    } catch {
      return NaN;
    }
  };
  return { collector: of(s.collector.child.pid), agent: of(s.agent.pid), server: of(s.server.pid) };
}

function cpuPercentSince(
  a: Record<ServerSideProcess, number>,
  b: Record<ServerSideProcess, number>,
  seconds: number,
  ticks: number,
): Record<ServerSideProcess, number> {
  const pct = (k: ServerSideProcess) => round(((b[k] - a[k]) / ticks / seconds) * 100, 1);
  return { collector: pct('collector'), agent: pct('agent'), server: pct('server') };
}

/** One phase's load: the SDK client, open loop; its per-request records. */
async function runLoad(s: Scenario, o: Options, clt: boolean): Promise<{ records: ClientRecord[]; warnings: string[] }> {
  const client = s.lab.spawn(
    s.L.client.ns,
    [
      process.execPath,
      CLT_APP_PATH,
      'client',
      '--url',
      `http://[${s.L.server.ipv6}]:${HTTP_PORT}/`,
      '--otlp',
      `http://[${s.L.server.ipv6}]:${OTLP_PORT}/v1/traces`,
      '--rate',
      String(o.rate),
      '--duration-s',
      String(o.phaseSeconds),
      ...(clt ? ['--clt', String(NAMESPACE), '--trace-type', String(TRACE_TYPE), '--nodes', '3'] : []),
    ],
    { maxLifetimeMs: (o.phaseSeconds + 120) * 1000 },
  );
  const exit = await client.waitForExit((o.phaseSeconds + 100) * 1000);
  const records: ClientRecord[] = [];
  let done: { warnings: string[] } | undefined;
  for (const line of client.lines) {
    if (!line.startsWith('{')) continue;
    const v = JSON.parse(line) as ClientRecord & { done?: boolean; warnings?: string[] };
    if (v.done) done = { warnings: v.warnings ?? [] };
    else if (v.seq !== undefined) records.push(v);
  }
  if (!done || exit.code !== 0) throw new Error(`client failed (exit ${exit.code ?? exit.signal}):\n${client.output.slice(-3000)}`);
  return { records, warnings: done.warnings };
}

/** The spans of the collector's file that the report needs: network summaries of the client spans and their router hops. */
async function readEnriched(path: string, clientSpanIds: Set<string>, routerNodeId: number) {
  const summaries = new Map<string, FileSpan>();
  const routerHops = new Map<string, FileSpan>();
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines)
    for (const span of parseTraceLine(text, n++)) {
      if (span.scope !== 'netspan') continue;
      if (span.name.startsWith('network ') && clientSpanIds.has(span.parentSpanId)) summaries.set(span.parentSpanId, span);
      else if (span.attributes['ioam.node_id'] === routerNodeId && span.attributes['netspan.direction'] === 'request')
        routerHops.set(span.parentSpanId, span);
    }
  return { summaries, routerHops };
}

function joinRequest(
  r: ClientRecord,
  phase: PhaseName,
  summaries: Map<string, FileSpan>,
  routerHops: Map<string, FileSpan>,
): RequestResult {
  const out: RequestResult = {
    phase,
    tMs: r.scheduledMs ?? r.startMs,
    latencyMs: r.durationMs,
    status: r.status,
    enriched: false,
  };
  const summary = summaries.get(r.clientSpanId);
  if (!summary) return out;
  out.enriched = true;
  const hop = routerHops.get(summary.spanId);
  if (hop) {
    const depth = hop.attributes['netspan.ioam.queue_depth_max'] ?? hop.attributes['ioam.queue_depth'];
    if (typeof depth === 'number') out.ioamQueueBytes = depth;
    const transit = hop.attributes['netspan.hop.transit_ms'];
    if (typeof transit === 'number') out.routerTransitMs = transit;
  }
  const a = summary.attributes;
  if (typeof a['netspan.verdict'] === 'string')
    out.verdict = {
      text: a['netspan.verdict'],
      rule: String(a['netspan.verdict.rule']),
      cause: String(a['netspan.verdict.cause']),
      device: String(a['netspan.verdict.device']),
      ...(typeof a['netspan.verdict.interface'] === 'string' ? { interface: a['netspan.verdict.interface'] } : {}),
    };
  return out;
}

async function main(): Promise<void> {
  const o = options();
  const root = repoRoot();
  requireBuild(root);
  const why = await ioamLabUnavailable(['ip', 'tc', 'tcpdump']);
  if (why) throw new Error(`bench/scenario cannot run here: ${why} (it needs root, network namespaces, tc, tcpdump and the native addon)`);
  const machine = machineInfo();
  console.error(machineBanner('bench/scenario', machine));
  const ticks = clockTicks();
  const busyBefore = await busyPercentOver(2000, ticks);
  warnIfBusy(busyBefore);

  const s = await startScenario();
  const queue: QueueSample[] = [];
  const phases: ScenarioResults['phases'] = [];
  const requests: RequestResult[] = [];
  const records: { phase: PhaseName; records: ClientRecord[] }[] = [];
  const cltWarnings: string[] = [];
  try {
    // Warm-up: neighbour discovery, cold SDKs, agent and collector (not reported).
    console.error(`warm-up: ${o.rate} req/s for ${o.warmupSeconds} s, CLT on`);
    const warmup = await runLoad(s, { ...o, phaseSeconds: o.warmupSeconds }, true);
    const warmupP50 = perSecondP50(warmup.records);
    console.error(`warm-up latency p50 per second, ms: ${warmupP50.join(' ')}`);
    const sampler = sampleQueue(s, queue);
    const sys0 = systemTicks();
    const t0 = Date.now();
    let bulk: LabProcess | undefined;
    for (const phase of PHASES) {
      if (phase.congested && !bulk) bulk = await congest(s, o);
      if (!phase.congested && bulk) {
        await relieve(s, bulk);
        bulk = undefined;
      }
      const clt = o.cltIn.includes(phase.name);
      const startMs = Date.now();
      const cpu0 = serverSideTicks(s);
      console.error(`phase ${phase.name}: ${o.rate} req/s for ${o.phaseSeconds} s, CLT ${clt ? 'on' : 'off'}`);
      const run = await runLoad(s, o, clt);
      cltWarnings.push(...run.warnings);
      const endMs = Date.now();
      const cpu = cpuPercentSince(cpu0, serverSideTicks(s), (endMs - startMs) / 1000, ticks);
      phases.push({ name: phase.name, startMs, endMs, clt, congested: phase.congested, cpuPercent: cpu });
      records.push({ phase: phase.name, records: run.records });
    }
    if (bulk) await relieve(s, bulk);
    await sleep(1000);
    await sampler.stop();
    const wallS = (Date.now() - t0) / 1000;
    const machineBusyPercent = round(((systemTicks().busy - sys0.busy) / ticks / wallS) * 100, 1);

    // groupbytrace holds each trace 3 s; then the file has it. Wait until it stops growing.
    const wanted = new Set(records.flatMap((p) => p.records.map((r) => r.clientSpanId)).filter(Boolean));
    await sleep(8000);
    const collectorWarnings = s.collector.warnings().map((l) => l.msg);
    const exitCode = await s.collector.stop();
    const { summaries, routerHops } = await readEnriched(join(s.collector.dir, 'traces.jsonl'), wanted, s.L.router.nodeId);
    for (const p of records) for (const r of p.records) requests.push(joinRequest(r, p.phase, summaries, routerHops));

    const results: ScenarioResults = {
      benchmark: 'bench/scenario',
      date: new Date().toISOString(),
      machine: {
        ...machine,
        busyBeforeRunPercent: busyBefore,
        busyDuringRunPercent: machineBusyPercent,
        note: 'shared machine: other engineers’ builds, tests and benchmarks may have run at the same time',
      },
      settings: { ...o, out: undefined, reportDir: undefined, traceType: TRACE_TYPE, namespace: NAMESPACE },
      lab: {
        router: { name: 'porthos', nodeId: s.L.router.nodeId, egress: s.L.router.egress!, egressId: s.L.router.egressId! },
        server: { name: 'aramis', nodeId: s.L.serverNode.nodeId },
      },
      phases,
      warmupLatencyP50PerSecondMs: warmupP50,
      summary: summarize(phases, requests, queue),
      queue,
      requests,
      cltWarnings: [...new Set(cltWarnings)],
      collector: { exitCode, warnings: [...new Set(collectorWarnings)].slice(0, 20) },
    };
    // The raw samples and requests feed the report; the JSON keeps the per-phase and per-second figures.
    writeResults(o.out, { ...results, queue: undefined, requests: undefined });
    console.log(writeReport(results, o.reportDir));
  } finally {
    for (const p of s.processes) await p.stop('SIGTERM', 5_000);
    await s.collector.stop();
    await s.lab.destroy();
    for (const d of [s.dir, s.collector.dir]) rmSync(d, { recursive: true, force: true });
  }
}

runMain(main);
