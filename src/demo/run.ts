/**
 * `netspan demo`: the collector in this process (OTLP/HTTP receiver and NetFlow/IPFIX receiver on
 * loopback, groupbytrace, correlate, the `ui` exporter) fed with the built-in scenario
 * (scenario.ts) the way real sources feed it: IPFIX over UDP from one socket per router, agent
 * observations as OTLP logs over HTTP, traces as OTLP/HTTP protobuf. Device readings (SNMP-like
 * interface counters) and IOAM queue depth points go into the evidence hub directly, as the snmp
 * receiver would put them. Needs no root and no other service.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { create, toBinary } from '@bufbuild/protobuf';
import { FACTORIES } from '../components.js';
import { Collector } from '../core/collector.js';
import { validateServiceConfig } from '../core/config/service.js';
import { parseHostPort } from '../core/config/types.js';
import { createLogger } from '../core/telemetry/logger.js';
import type { LogLevel } from '../core/telemetry/logger.js';
import { renderTraceTree } from '../exporters/debug/render.js';
import { observationsToLogs } from '../model/observation-logs.js';
import { hexId, type Traces } from '../model/otlp.js';
import { ExportLogsServiceRequestSchema } from '../wire/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { ExportTraceServiceRequestSchema } from '../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import type { UiExporter } from '../ui/exporter.js';
import type { OtlpReceiver } from '../receivers/otlp/receiver.js';
import type { NetflowReceiver } from '../receivers/netflow/receiver.js';
import { DEFAULT_UI_ENDPOINT } from '../ui/config.js';
import { ipfixMessage } from './ipfix.js';
import { BACKEND_IOAM_NODE, DeviceCounters, demoRequest, HOSTS, ROUTERS, type DemoRequest } from './scenario.js';

export interface DemoOptions {
  /** Where the UI listens (default 127.0.0.1:8686; port 0 picks one). */
  uiEndpoint?: string;
  /** Requests replayed at start, over the last minute. */
  requests?: number;
  /** After the start-up requests, one new request every this many ms (0: none). */
  intervalMs?: number;
  logLevel?: LogLevel;
  output?: Writable;
}

export interface Demo {
  collector: Collector;
  ui: UiExporter<'traces'>;
  url: string;
  requests: DemoRequest[];
  /** The first slow request's trace (porthos congested), the one printed. */
  slowTraceId: string;
  /** The slow trace as the debug exporter prints it (a tree, normal verbosity). */
  printTree(): string;
  stop(): Promise<void>;
}

export const DEFAULT_DEMO_REQUESTS = 24;

export function demoConfig(uiEndpoint: string, logLevel: LogLevel): unknown {
  const { porthos, dartagnan } = ROUTERS;
  return {
    receivers: {
      otlp: { protocols: { http: { endpoint: '127.0.0.1:0' } } },
      netflow: { scheme: 'netflow', endpoints: ['127.0.0.1:0'], tcp_endpoint: '', workers: 1 },
    },
    processors: {
      groupbytrace: { wait_duration: '300ms' },
      correlate: {
        window: '2s',
        reparent: true,
        devices: {
          [porthos.exporter]: {
            name: porthos.name,
            interfaces: porthos.interfaces,
            addresses: porthos.addresses,
            ioam_node_ids: [porthos.ioamNodeId],
            observers: ['porthos'],
          },
          [dartagnan.exporter]: {
            name: dartagnan.name,
            interfaces: dartagnan.interfaces,
            addresses: dartagnan.addresses,
            ioam_node_ids: [dartagnan.ioamNodeId],
          },
          [HOSTS.backend]: { name: 'backend', ioam_node_ids: [BACKEND_IOAM_NODE], observers: ['backend'] },
        },
      },
    },
    exporters: { ui: { endpoint: uiEndpoint } },
    evidence: {
      devices: {
        inventory: {
          [porthos.name]: {
            snmp_addresses: [porthos.exporter],
            flow_exporters: [porthos.exporter],
            ioam_node_ids: [porthos.ioamNodeId],
            interfaces: porthos.interfaces,
          },
          [dartagnan.name]: {
            snmp_addresses: [dartagnan.exporter],
            flow_exporters: [dartagnan.exporter],
            ioam_node_ids: [dartagnan.ioamNodeId],
            interfaces: dartagnan.interfaces,
          },
          // The backend host is an IOAM node too (the last one): its queue depth is device state as well.
          backend: { ioam_node_ids: [BACKEND_IOAM_NODE] },
        },
      },
    },
    service: {
      pipelines: { traces: { receivers: ['otlp', 'netflow'], processors: ['groupbytrace', 'correlate'], exporters: ['ui'] } },
      telemetry: { logs: { level: logLevel }, metrics: { address: '' } },
    },
  };
}

/** A UDP socket sending from `address` (the router's exporter address), or from 127.0.0.1 where the system has no such loopback address. */
async function exporterSocket(address: string): Promise<Socket> {
  const bind = (a: string) =>
    new Promise<Socket>((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(0, a, () => {
        s.off('error', reject);
        resolve(s);
      });
    });
  try {
    return await bind(address);
  } catch {
    return await bind('127.0.0.1');
  }
}

async function post(url: string, body: Uint8Array): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The spans of one trace out of some batches. */
export function traceOf(batches: readonly Traces[], traceId: string): Traces {
  const out = create(ExportTraceServiceRequestSchema);
  for (const b of batches)
    for (const rs of b.resourceSpans) {
      const scopeSpans = rs.scopeSpans
        .map((ss) => ({ ...ss, spans: ss.spans.filter((s) => hexId(s.traceId) === traceId) }))
        .filter((ss) => ss.spans.length > 0);
      if (scopeSpans.length > 0) out.resourceSpans.push({ ...rs, scopeSpans });
    }
  return out;
}

export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const logLevel = options.logLevel ?? 'warn';
  const config = validateServiceConfig(demoConfig(options.uiEndpoint ?? DEFAULT_UI_ENDPOINT, logLevel), FACTORIES, '(demo)');
  const collector = new Collector({ config, unsetVariables: [], source: '(demo)' }, createLogger(logLevel));
  try {
    await collector.start();
    return await feed(collector, options);
  } catch (err) {
    await collector.shutdown();
    throw err;
  }
}

async function feed(collector: Collector, options: DemoOptions): Promise<Demo> {
  const ui = collector.service.component<UiExporter<'traces'>>('exporter/ui#traces')!;
  const otlp = collector.service.component<OtlpReceiver>('receiver/otlp')!;
  const netflow = collector.service.component<NetflowReceiver>('receiver/netflow')!;
  const otlpBase = `http://${otlp.addresses.http}`;
  const flowTarget = parseHostPort(netflow.addresses.udp[0]!)!;
  const sockets = new Map<string, Socket>();
  for (const r of Object.values(ROUTERS)) sockets.set(r.exporter, await exporterSocket(r.exporter));
  const captured: Traces[] = [];
  ui.taps.add((t) => captured.push(t));

  const startMs = Date.now();
  const counters = new DeviceCounters(startMs - 3_600_000);
  const congestedFrom = startMs - 4 * 60_000;
  const congested = (ms: number) => ms >= congestedFrom;
  let sequence = 0;

  /** Sends a batch of requests' evidence (flows over UDP, observations over OTLP logs), waits for it to be stored, then their traces. */
  const send = async (batch: DemoRequest[]): Promise<void> => {
    const before = (await collector.evidence.flows.stats()).inserted;
    let expected = 0;
    for (const [exporter, socket] of sockets) {
      const flows = batch.flatMap((r) => r.flows.get(exporter) ?? []);
      for (let i = 0; i < flows.length; i += 20) {
        const msg = ipfixMessage(flows.slice(i, i + 20), sequence, 1, Date.now());
        sequence += Math.min(20, flows.length - i);
        await new Promise<void>((resolve, reject) =>
          socket.send(msg, flowTarget.port, flowTarget.host, (err) => (err ? reject(err) : resolve())),
        );
        expected += Math.min(20, flows.length - i);
      }
    }
    await until('the flows to be stored', async () => (await collector.evidence.flows.stats()).inserted >= before + expected);
    const observations = batch.flatMap((r) => [...r.ioam, ...r.http]);
    const now = BigInt(Date.now()) * 1_000_000n;
    await post(
      `${otlpBase}/v1/logs`,
      toBinary(
        ExportLogsServiceRequestSchema,
        observationsToLogs(observations, { 'service.name': 'netspan-agent', 'host.name': 'demo' }, 'netspan/demo', now),
      ),
    );
    for (const r of batch) for (const s of r.ioamStates) collector.evidence.devices.addIoamNodeState(s.device, s.timeUnixNano, s.state);
    const traces = create(ExportTraceServiceRequestSchema, { resourceSpans: batch.flatMap((r) => r.traces.resourceSpans) });
    await post(`${otlpBase}/v1/traces`, toBinary(ExportTraceServiceRequestSchema, traces));
  };

  // Start-up: device readings over the last 15 minutes, then the requests of the last minute.
  collector.evidence.addDeviceReadings(counters.readings(startMs - 15 * 60_000, startMs, 10_000, congested));
  let lastReadingMs = startMs;
  const n = options.requests ?? DEFAULT_DEMO_REQUESTS;
  const requests = Array.from({ length: n }, (_, i) => demoRequest(i, startMs - 62_000 + i * (60_000 / Math.max(1, n))));
  await send(requests);
  const ids = new Set(requests.map((r) => r.traceId));
  await until(
    'the enriched traces to reach the UI',
    () => ui.store.summaries().filter((s) => ids.has(s.traceId) && s.connections > 0).length >= n,
  );

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let next = n;
  if ((options.intervalMs ?? 0) > 0) {
    let busy = false;
    timer = setInterval(() => {
      if (busy || stopped) return;
      busy = true;
      const now = Date.now();
      if (now - lastReadingMs >= 10_000) {
        collector.evidence.addDeviceReadings(counters.readings(lastReadingMs + 10_000, now, 10_000, congested));
        lastReadingMs += 10_000 * Math.floor((now - lastReadingMs) / 10_000);
      }
      const r = demoRequest(next++, now - 1_000);
      requests.push(r);
      send([r])
        .catch((err: unknown) => collector.logger.warn({ err: String(err) }, 'demo request failed'))
        .finally(() => (busy = false));
    }, options.intervalMs);
  }

  const slow = requests.find((r) => r.slow) ?? requests[0]!;
  return {
    collector,
    ui,
    url: ui.url!,
    requests,
    slowTraceId: slow.traceId,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      for (const s of sockets.values()) s.close();
      await collector.shutdown();
    },
    printTree: () => renderTraceTree(traceOf(captured, slow.traceId), 'normal'),
  };
}

/** What `netspan demo` prints: the UI's address, what was fed, and one enriched trace as a tree. */
export function demoReport(demo: Demo): string {
  const summaries = demo.ui.store.summaries();
  const withVerdict = summaries.filter((s) => s.verdict).length;
  const slow = demo.ui.store.detail(demo.slowTraceId);
  const hop = slow?.connections.find((c) => c.slowestHop)?.slowestHop;
  const lines = [
    `netspan demo: the web UI is at ${demo.url}`,
    '',
    `Scenario: frontend ${HOSTS.frontend} → backend ${HOSTS.backend}:8080 → database ${HOSTS.database}:5432 through routers porthos and dartagnan;`,
    `porthos is congested on por1 (deep IOAM queue, +100 ms) on about one request in four.`,
    `Fed: ${demo.requests.length} traces over OTLP/HTTP, their IPFIX flows over UDP, IOAM traces and HTTP sightings as OTLP logs, device counters.`,
    `${summaries.length} enriched traces held; ${withVerdict} with a verdict${withVerdict === 0 ? ' (the correlation writes none yet: see the slowest hop)' : ''}.`,
    '',
    `A slow trace (${demo.slowTraceId}), duration ${slow?.summary.durationMs.toFixed(1)} ms, network ${slow?.summary.networkShareMs?.toFixed(1) ?? '-'} ms:`,
    ...(slow?.summary.verdict ? [`  verdict: ${slow.summary.verdict.text}`] : []),
    ...(hop ? [`  slowest hop: ${hop.device} (${hop.name}) ${hop.transitMs.toFixed(1)} ms`] : []),
    '',
  ];
  return lines.join('\n') + demo.printTree();
}
