/**
 * bench/correlate: what the correlation costs, in process, with 1 M flows in the in-memory
 * evidence store (workload.ts describes the flows and traces).
 *
 * 1. Insert: the 1 M flows into a MemoryFlowStore (flows/s, bytes per flow).
 * 2. Enrich: Correlator.enrich (the correlate processor's work: quartets from span attributes,
 *    pairing, ONE lookup per batch, session matching, span synthesis) over batches of whole
 *    traces as groupbytrace releases them (2,048 spans), on one thread: spans/s per core
 *    (CPU time of the enrich calls), connections/s, and how much of it is the lookup. Every
 *    attachment is checked against the connection it belongs to (wrong attachments must be 0).
 * 3. Lookup latency per connection: the batched lookup's time divided by its connections, and
 *    one connection per lookup (p50/p90/p99).
 * 4. Elasticsearch source, client side only: building the _msearch body and mapping a response
 *    of 4 documents per connection (no network, no server): CPU µs per connection.
 *
 * Beside them, the thesis's design cost: two Elasticsearch queries per connection (one per
 * direction), at an ASSUMED per-query round trip (--assumed-es-ms, default 3 ms: a typical
 * search round trip on a LAN). That figure is an assumption, not a measurement: no
 * Elasticsearch server can run here.
 *
 *   npm run build && node dist/bench/correlate/run.js [--flows 1000000 --seconds 10 ...]
 *
 * Prints a markdown table and writes bench/correlate/results/latest.json.
 */
import { relative } from 'node:path';
import { clone } from '@bufbuild/protobuf';
import { MemoryFlowStore } from '../../src/evidence/memory/store.js';
import type { FlowMatch, FlowQuery } from '../../src/evidence/store.js';
import { mapMsearchResponses, newMappingStats } from '../../src/evidence/elasticsearch/mapping.js';
import { msearchSearches, type QuerySettings } from '../../src/evidence/elasticsearch/query.js';
import type { FlowRecord } from '../../src/model/flow.js';
import { hexId, type Traces } from '../../src/model/otlp.js';
import { correlateConfigSchema } from '../../src/processors/correlate/config.js';
import { Correlator } from '../../src/processors/correlate/processor.js';
import type { FlowEvidenceSource } from '../../src/processors/correlate/source.js';
import { ExportTraceServiceRequestSchema } from '../../src/wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { busyPercentOver, clockTicks, systemTicks, warnIfBusy } from '../common/procstat.js';
import { machineBanner, machineInfo } from '../common/machine.js';
import { defaultResultsFile, num, parseOptions, repoRoot, runMain } from '../common/cli.js';
import { markdownTable, writeResults } from '../common/results.js';
import { round } from '../common/util.js';
import { mulberry32 as prng } from '../../src/testutil/prng.js';
import { connectionFlows, DARTAGNAN, makeConnections, makeTraces, PORTHOS, SPREAD_MS, type Connection } from './workload.js';

const USAGE = `usage: node dist/bench/correlate/run.js [options]
  --flows N            flows in the store (default 1000000; 4 per connection)
  --seconds N          measured enrich time, s (default 10)
  --warmup N           enrich warm-up, s (default 2)
  --batch-spans N      spans per batch, as groupbytrace releases them (default 2048)
  --traces N           distinct traces enriched (default 20000), copied afresh for every pass
  --single N           connections timed one lookup each (default 20000)
  --assumed-es-ms N    ASSUMED Elasticsearch search round trip for the thesis-design figure (default 3)
  --quiet-wait N       wait up to N s for the machine to be quiet (other processes < 25 % of a core for 3 s) before measuring (default 0)
  --out FILE           results JSON (default bench/correlate/results/latest.json)`;

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

interface Options {
  flows: number;
  seconds: number;
  warmup: number;
  batchSpans: number;
  traces: number;
  single: number;
  assumedEsMs: number;
  quietWait: number;
  out: string;
}

function options(): Options {
  const { values } = parseOptions(USAGE, {
    flows: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    'batch-spans': { type: 'string', default: '2048' },
    traces: { type: 'string', default: '20000' },
    single: { type: 'string', default: '20000' },
    'assumed-es-ms': { type: 'string', default: '3' },
    'quiet-wait': { type: 'string', default: '0' },
    out: { type: 'string', default: defaultResultsFile('correlate') },
  });
  return {
    flows: num('flows', values.flows, 1000, 50_000_000),
    seconds: num('seconds', values.seconds, 0.5, 600),
    warmup: num('warmup', values.warmup, 0, 60),
    batchSpans: num('batch-spans', values['batch-spans'], 10, 100_000),
    traces: num('traces', values.traces, 10, 1_000_000),
    single: num('single', values.single, 100, 1_000_000),
    assumedEsMs: num('assumed-es-ms', values['assumed-es-ms'], 0.01, 10_000),
    quietWait: num('quiet-wait', values['quiet-wait'], 0, 3600),
    out: values.out,
  };
}

/** A source that times the lookups it passes on. */
class TimedSource implements FlowEvidenceSource {
  readonly kind = 'memory';
  lookups = 0;
  queries = 0;
  ms = 0;
  constructor(private readonly store: MemoryFlowStore) {}
  get retentionMs(): number {
    return this.store.limits.retentionMs;
  }
  async lookup(queries: readonly FlowQuery[]): Promise<FlowMatch[][]> {
    const t0 = performance.now();
    const out = this.store.queryManySync(queries);
    this.ms += performance.now() - t0;
    this.lookups++;
    this.queries += queries.length;
    return out;
  }
}

interface Check {
  connections: number;
  /** Connections by device spans attached: 4 (both routers, both ways), 2 (one router left out as ambiguous), 0. */
  byDeviceSpans: Record<string, number>;
  withFlows: number;
  deviceSpans: number;
  wrong: number;
  unstoredWithFlows: number;
}

/** Every device span's flows must be its own connection's (the byte marker). */
function check(t: Traces, expected: Map<string, number>, into: Check): void {
  const spans = t.resourceSpans.flatMap((rs) => rs.scopeSpans.filter((ss) => ss.scope?.name === 'netspan').flatMap((ss) => ss.spans));
  const summaries = new Map<string, number>();
  for (const s of spans) {
    if (!s.name.startsWith('network ')) continue;
    const marker = expected.get(`${hexId(s.traceId)}/${hexId(s.parentSpanId)}`);
    if (marker === undefined) continue;
    summaries.set(hexId(s.spanId), marker);
    into.connections++;
  }
  const perSummary = new Map<string, number>();
  for (const s of spans) {
    const marker = summaries.get(hexId(s.parentSpanId));
    if (marker === undefined) continue;
    into.deviceSpans++;
    perSummary.set(hexId(s.parentSpanId), (perSummary.get(hexId(s.parentSpanId)) ?? 0) + 1);
    const bytes = s.attributes.find((a) => a.key === 'flow.io.bytes')?.value?.value;
    const got = bytes?.case === 'intValue' ? Number(bytes.value) : NaN;
    if (marker < 0) into.unstoredWithFlows++;
    else if (got !== marker) into.wrong++;
  }
  into.withFlows += perSummary.size;
  for (const id of summaries.keys()) {
    const k = String(perSummary.get(id) ?? 0);
    into.byDeviceSpans[k] = (into.byDeviceSpans[k] ?? 0) + 1;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The lookup of one connection's flows (both directions), `windowNs` either side of it. */
function connectionQuery(c: Connection, windowNs: bigint, sourceAddress = c.client): FlowQuery {
  return {
    sourceAddress,
    sourcePort: c.clientPort,
    destinationAddress: c.server,
    destinationPort: c.serverPort,
    protocol: 6,
    fromUnixNano: BigInt(c.startMs) * 1_000_000n - windowNs,
    toUnixNano: BigInt(c.endMs) * 1_000_000n + windowNs,
    bothDirections: true,
    limit: 1000,
  };
}

/** A flow as Elastic Agent's NetFlow integration indexes it (the fields netspan reads). */
function ecsDocument(f: FlowRecord): unknown {
  const iso = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();
  return {
    _index: '.ds-logs-netflow.log-default-2024.05.14-000001',
    _id: 'x',
    _score: null,
    _source: {
      '@timestamp': iso(f.exportTimeUnixNano),
      netflow: {
        exporter: {
          address: `${f.samplerAddress}:4739`,
          source_id: f.observationDomainId,
          timestamp: iso(f.exportTimeUnixNano),
          version: 10,
        },
        flow_start_milliseconds: iso(f.startUnixNano),
        flow_end_milliseconds: iso(f.endUnixNano),
        protocol_identifier: 6,
        tcp_control_bits: f.tcpFlags,
        ingress_interface: f.inputInterface,
        egress_interface: f.outputInterface,
        ip_next_hop_ipv4_address: f.nextHop,
      },
      network: { bytes: f.bytes, packets: f.packets, iana_number: '6', transport: 'tcp' },
      observer: { ip: [f.samplerAddress] },
      source: { ip: f.sourceAddress, port: f.sourcePort, bytes: f.bytes, packets: f.packets },
      destination: { ip: f.destinationAddress, port: f.destinationPort },
    },
  };
}

async function main(): Promise<void> {
  const opts = options();
  const machine = machineInfo();
  const ticksPerSecond = clockTicks();
  // How busy the machine is before we start (other processes): the figures are only as quiet as it.
  const busyOver = (ms: number) => busyPercentOver(ms, ticksPerSecond);
  let busyBeforeRunPercent = await busyOver(1000);
  const waitUntil = Date.now() + opts.quietWait * 1000;
  while (busyBeforeRunPercent > 25 && Date.now() < waitUntil) busyBeforeRunPercent = await busyOver(3000);
  warnIfBusy(busyBeforeRunPercent);
  const baseMs = Date.UTC(2024, 4, 14, 9, 0, 0);
  const nowMs = baseMs + SPREAD_MS + 10_000;
  console.error(machineBanner('bench/correlate', machine));

  // 1. Flows into the store.
  const connections = makeConnections(opts.flows, baseMs);
  const store = new MemoryFlowStore({
    now: () => nowMs,
    retentionMs: 15 * 60_000,
    maxFlows: Math.max(2_000_000, Math.ceil(opts.flows * 1.1)),
  });
  let inserted = 0;
  const tInsert = performance.now();
  for (let i = 0; i < connections.length; i += 2_500) {
    const chunk: FlowRecord[] = [];
    for (const c of connections.slice(i, i + 2_500)) for (const f of connectionFlows(c)) chunk.push(f);
    store.insert(chunk);
    inserted += chunk.length;
  }
  const insertMs = performance.now() - tInsert;
  const stats = await store.stats();
  console.error(
    `▶ insert: ${fmt(inserted)} flows in ${round(insertMs / 1000, 2)} s (${fmt(inserted / (insertMs / 1000))} flows/s), ${round(stats.bytesPerFlow)} bytes/flow`,
  );

  // 2. Enrich.
  const config = correlateConfigSchema.parse({
    devices: {
      [PORTHOS]: { name: 'porthos', addresses: ['10.0.12.1'] },
      [DARTAGNAN]: { name: 'dartagnan', addresses: ['10.0.12.2'] },
    },
  });
  const source = new TimedSource(store);
  const correlator = new Correlator(config, source, () => nowMs);
  const work = makeTraces(connections, opts.traces, opts.batchSpans, 7);
  console.error(
    `▶ enrich: ${fmt(work.traces)} traces, ${fmt(work.spans)} spans, ${fmt(work.connections)} connections (${fmt(work.storedConnections)} with stored flows) in ${work.batches.length} batches of ≤ ${opts.batchSpans} spans`,
  );
  const verdict: Check = { connections: 0, byDeviceSpans: {}, withFlows: 0, deviceSpans: 0, wrong: 0, unstoredWithFlows: 0 };
  let checked = false;
  const pass = async (limitMs: number, measure: boolean) => {
    let wallMs = 0;
    let cpuUs = 0;
    let spans = 0;
    let conns = 0;
    let synthesized = 0;
    let ambiguousStreams = 0;
    const lookupMs0 = source.ms;
    const queries0 = source.queries;
    let i = 0;
    while (wallMs < limitMs) {
      const batch = work.batches[i % work.batches.length]!;
      const copy = clone(ExportTraceServiceRequestSchema, batch);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const report = await correlator.enrich(copy);
      wallMs += performance.now() - t0;
      const c = process.cpuUsage(c0);
      cpuUs += c.user + c.system;
      spans += copy.resourceSpans.slice(0, -1).reduce((n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + ss.spans.length, 0), 0);
      conns += report.queries;
      synthesized += report.spansSynthesized;
      ambiguousStreams += report.ambiguousStreams;
      if (measure && !checked) check(copy, work.expected, verdict);
      i++;
      if (measure && !checked && i >= work.batches.length) checked = true;
    }
    if (measure && !checked) {
      // Measured less than one pass over the batches: check the rest now (untimed).
      for (let k = i; k < work.batches.length; k++) {
        const copy = clone(ExportTraceServiceRequestSchema, work.batches[k]!);
        await correlator.enrich(copy);
        check(copy, work.expected, verdict);
      }
      checked = true;
    }
    return {
      wallMs,
      cpuUs,
      spans,
      conns,
      synthesized,
      ambiguousStreams,
      batches: i,
      lookupMs: source.ms - lookupMs0,
      lookupQueries: source.queries - queries0,
    };
  };
  if (opts.warmup > 0) await pass(opts.warmup * 1000, false);
  const sys0 = systemTicks();
  const own0 = process.cpuUsage();
  const w0 = performance.now();
  const m = await pass(opts.seconds * 1000, true);
  const ownCpu = process.cpuUsage(own0);
  const windowS = (performance.now() - w0) / 1000;
  const otherCpuPercent = round(
    Math.max(0, (((systemTicks().busy - sys0.busy) / ticksPerSecond - (ownCpu.user + ownCpu.system) / 1e6) / windowS) * 100),
    1,
  );
  const enrich = {
    batches: m.batches,
    measuredSeconds: round(m.wallMs / 1000, 3),
    cpuSeconds: round(m.cpuUs / 1e6, 3),
    spansPerSecond: round(m.spans / (m.wallMs / 1000)),
    spansPerCpuSecond: round(m.spans / (m.cpuUs / 1e6)),
    connectionsPerSecond: round(m.conns / (m.wallMs / 1000)),
    synthesizedSpansPerSecond: round(m.synthesized / (m.wallMs / 1000)),
    lookupSharePercent: round((m.lookupMs / m.wallMs) * 100, 1),
    batchedLookupMicrosPerConnection: round((m.lookupMs * 1000) / m.lookupQueries, 2),
    microsPerConnectionAllIn: round((m.wallMs * 1000) / m.conns, 2),
    ambiguousStreamsPerThousandConnections: round((m.ambiguousStreams / m.conns) * 1000, 2),
    /** CPU other processes used while enrich was measured (this process's own untimed work, cloning the batches, excluded), % of one core. */
    otherCpuPercent,
    check: verdict,
  };
  console.error(
    `  ${fmt(enrich.spansPerSecond)} spans/s (${fmt(enrich.spansPerCpuSecond)} per CPU-second), ${fmt(enrich.connectionsPerSecond)} connections/s; lookup ${enrich.lookupSharePercent} % of the time, ${enrich.batchedLookupMicrosPerConnection} µs per connection batched`,
  );
  console.error(
    `  check: ${verdict.connections} connections (by device spans attached: ${JSON.stringify(verdict.byDeviceSpans)}), ${verdict.deviceSpans} device spans, wrong attachments ${verdict.wrong}, unstored with flows ${verdict.unstoredWithFlows}`,
  );

  // 3. One connection per lookup.
  const rnd = prng(11);
  const singles: number[] = [];
  let found = 0;
  const windowNs = 2_000_000_000n;
  for (let i = 0; i < opts.single; i++) {
    const c: Connection = connections[Math.floor(rnd() * connections.length)]!;
    const miss = rnd() < 0.1;
    const q = connectionQuery(c, windowNs, miss ? '10.9.0.1' : c.client);
    const t0 = performance.now();
    const r = store.queryManySync([q]);
    singles.push((performance.now() - t0) * 1000);
    if (r[0]!.length > 0) found++;
  }
  singles.sort((a, b) => a - b);
  const single = {
    connections: opts.single,
    found,
    meanMicros: round(singles.reduce((a, b) => a + b, 0) / singles.length, 2),
    p50Micros: round(percentile(singles, 50), 2),
    p90Micros: round(percentile(singles, 90), 2),
    p99Micros: round(percentile(singles, 99), 2),
    maxMicros: round(singles.at(-1)!, 1),
  };
  console.error(`▶ single lookups: p50 ${single.p50Micros} µs, p99 ${single.p99Micros} µs (${found}/${opts.single} found flows)`);

  // 4. The Elasticsearch source's client-side CPU per connection (no network, no server).
  const esSettings: QuerySettings = {
    deviceIdentifier: 'observer.ip',
    fields: { source_ip: 'source.ip', source_port: 'source.port', destination_ip: 'destination.ip', destination_port: 'destination.port' },
    protocolField: 'network.iana_number',
    baseQuery: undefined,
    extraFields: [],
    defaultLimit: 1000,
  };
  const esQueries: FlowQuery[] = [];
  const esResponses: unknown[] = [];
  for (let i = 0; i < 400; i++) {
    const c = connections[Math.floor(rnd() * connections.length)]!;
    esQueries.push(connectionQuery(c, windowNs));
    esResponses.push({ status: 200, hits: { hits: connectionFlows(c).map(ecsDocument) } });
  }
  const responseText = JSON.stringify({ took: 3, responses: esResponses });
  let esOps = 0;
  const esStart = performance.now();
  const esCpu0 = process.cpuUsage();
  while (performance.now() - esStart < Math.min(3000, opts.seconds * 1000)) {
    const body = msearchSearches(esQueries, esSettings)
      .map((x) => JSON.stringify(x))
      .join('\n');
    if (body.length === 0) throw new Error('unreachable');
    const parsed = JSON.parse(responseText) as { responses: never[] };
    const out = mapMsearchResponses(esQueries, parsed.responses, { ...esSettings }, newMappingStats());
    if (out[0]!.length === 0) throw new Error('the synthetic response did not map');
    esOps++;
  }
  const esCpu = process.cpuUsage(esCpu0);
  const es = {
    connectionsPerRequest: esQueries.length,
    documentsPerConnection: 4,
    responseBytesPerConnection: round(responseText.length / esQueries.length),
    cpuMicrosPerConnection: round((esCpu.user + esCpu.system) / (esOps * esQueries.length), 2),
  };
  console.error(
    `▶ elasticsearch source, client side: ${es.cpuMicrosPerConnection} µs CPU per connection (query + ndjson + parse + mapping of ${es.responseBytesPerConnection} response bytes)`,
  );

  // The thesis's design, from the assumed round trip.
  const connectionsPerTrace = work.connections / work.traces;
  const thesisMsPerConnection = 2 * opts.assumedEsMs;
  const thesis = {
    assumption: `${opts.assumedEsMs} ms per Elasticsearch search round trip on a LAN (ASSUMED, not measured); two searches per connection (request and response direction), one after the other`,
    assumedSearchMs: opts.assumedEsMs,
    searchesPerConnection: 2,
    msPerConnection: thesisMsPerConnection,
    connectionsPerTrace: round(connectionsPerTrace, 2),
    msPerTrace: round(thesisMsPerConnection * connectionsPerTrace, 2),
    spansPerSecondPerSequentialWorker: round(10 / ((thesisMsPerConnection * connectionsPerTrace) / 1000)),
    netspanMemoryLookupVsThesis: round((thesisMsPerConnection * 1000) / enrich.batchedLookupMicrosPerConnection),
  };

  const rows = [
    ['flows in the store', `${fmt(inserted)} (${fmt(connections.length)} connections × 2 routers × 2 directions)`],
    ['insert', `${fmt(inserted / (insertMs / 1000))} flows/s; ${round(stats.bytesPerFlow)} bytes/flow`],
    [
      'enrich, one core',
      `**${fmt(enrich.spansPerCpuSecond)} spans/s per core** (${fmt(enrich.spansPerSecond)} spans/s wall; ${fmt(enrich.connectionsPerSecond)} connections/s)`,
    ],
    ['share of enrich spent in the lookup', `${enrich.lookupSharePercent} %`],
    ['lookup per connection, batched (one lookup per batch)', `**${enrich.batchedLookupMicrosPerConnection} µs**`],
    ['lookup per connection, alone', `p50 ${single.p50Micros} µs, p90 ${single.p90Micros} µs, p99 ${single.p99Micros} µs`],
    ['all of enrich per connection', `${enrich.microsPerConnectionAllIn} µs`],
    ['wrong attachments', `**${verdict.wrong}** of ${fmt(verdict.deviceSpans)} device spans`],
    [
      'connections by device spans attached',
      Object.entries(verdict.byDeviceSpans)
        .sort(([a], [b]) => Number(b) - Number(a))
        .map(([k, v]) => `${k}: ${fmt(v)}`)
        .join(', ') +
        ` (${fmt(verdict.connections - work.storedConnections)} have no stored flows by design; fewer than 4: a router whose sessions could not be told apart)`,
    ],
    ['Elasticsearch source, client CPU per connection (no network)', `${es.cpuMicrosPerConnection} µs`],
    [
      `thesis design: 2 searches × ${opts.assumedEsMs} ms (assumed)`,
      `${thesis.msPerConnection} ms per connection; ${thesis.msPerTrace} ms per trace; ${fmt(thesis.spansPerSecondPerSequentialWorker)} spans/s per sequential worker`,
    ],
  ];
  const table = markdownTable(['measure', 'value'], rows);
  console.log(`\n${table}\n`);
  const results = {
    benchmark: 'bench/correlate',
    date: new Date().toISOString(),
    machine: {
      ...machine,
      busyBeforeRunPercent,
      rssMiB: round(process.memoryUsage().rss / 2 ** 20),
      heapUsedMiB: round(process.memoryUsage().heapUsed / 2 ** 20),
    },
    settings: { ...opts, out: relative(repoRoot(), opts.out), window: '2s', clock_skew: '50ms' },
    workload: {
      flows: inserted,
      connections: connections.length,
      traces: work.traces,
      spans: work.spans,
      traceConnections: work.connections,
      traceConnectionsWithStoredFlows: work.storedConnections,
      batches: work.batches.length,
    },
    insert: {
      seconds: round(insertMs / 1000, 3),
      flowsPerSecond: round(inserted / (insertMs / 1000)),
      bytesPerFlow: round(stats.bytesPerFlow, 1),
      storeMiB: round(stats.bytes / 2 ** 20, 1),
    },
    enrich,
    singleLookup: single,
    elasticsearchClientSide: es,
    thesisDesign: thesis,
  };
  writeResults(opts.out, results);
  if (verdict.wrong > 0 || verdict.unstoredWithFlows > 0) {
    console.error(`✗ ${verdict.wrong} wrong attachments, ${verdict.unstoredWithFlows} device spans for connections without stored flows`);
    process.exitCode = 1;
  }
}

runMain(main);
