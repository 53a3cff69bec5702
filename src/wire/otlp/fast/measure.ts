/**
 * In-process throughput of the fast codec against protobuf-es (and protobufjs decode, for
 * scale, when the dev dependency is there) on a realistic OTLP request: 100 spans as 10
 * traces of an HTTP service, 10 attributes per span, events on some, a 19-attribute resource.
 * Not a test: run `node dist/src/wire/otlp/fast/measure.js [--seconds N] [--spans N]`.
 * MB are 10^6 bytes of protobuf.
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { AnyValueSchema, KeyValueSchema, type AnyValue, type KeyValue } from '../gen/opentelemetry/proto/common/v1/common_pb.js';
import { ResourceSchema } from '../gen/opentelemetry/proto/resource/v1/resource_pb.js';
import { SpanSchema, Span_EventSchema, StatusSchema, type Span } from '../gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { LogRecordSchema, type LogRecord } from '../gen/opentelemetry/proto/logs/v1/logs_pb.js';
import {
  ExportTraceServiceRequestSchema,
  type ExportTraceServiceRequest,
} from '../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import {
  ExportLogsServiceRequestSchema,
  type ExportLogsServiceRequest,
} from '../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { decodeLogsRequest, decodeTraceRequest, encodeLogsRequest, encodeTraceRequest } from './index.js';

function value(v: string | number | boolean): AnyValue {
  if (typeof v === 'string') return create(AnyValueSchema, { value: { case: 'stringValue', value: v } });
  if (typeof v === 'boolean') return create(AnyValueSchema, { value: { case: 'boolValue', value: v } });
  if (Number.isInteger(v)) return create(AnyValueSchema, { value: { case: 'intValue', value: BigInt(v) } });
  return create(AnyValueSchema, { value: { case: 'doubleValue', value: v } });
}

function attrs(record: Record<string, string | number | boolean>): KeyValue[] {
  return Object.entries(record).map(([key, v]) => create(KeyValueSchema, { key, value: value(v) }));
}

/** Deterministic pseudo-random bytes for ids. */
function idBytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x ^ (x >>> 13), 1597334677) + i) >>> 0;
    b[i] = x & 0xff;
  }
  return b;
}

const RESOURCE = {
  'service.name': 'checkout',
  'service.version': '2.14.3',
  'service.namespace': 'shop',
  'service.instance.id': '627cc493-f310-47de-96bd-71410b7dec09',
  'deployment.environment.name': 'production',
  'telemetry.sdk.name': 'opentelemetry',
  'telemetry.sdk.language': 'nodejs',
  'telemetry.sdk.version': '2.0.1',
  'host.name': 'ip-10-1-12-34.eu-west-1.compute.internal',
  'host.arch': 'amd64',
  'os.type': 'linux',
  'process.pid': 4711,
  'process.runtime.name': 'nodejs',
  'process.runtime.version': '20.19.4',
  'k8s.namespace.name': 'shop-prod',
  'k8s.pod.name': 'checkout-7d9f8b6c5-x2x4q',
  'k8s.deployment.name': 'checkout',
  'cloud.provider': 'aws',
  'cloud.region': 'eu-west-1',
};

const PATHS = ['/api/v1/orders', '/api/v1/orders/8812/items', '/api/v1/cart', '/api/v1/payments/authorize', '/healthz'];

function span(trace: number, index: number, baseNanos: bigint): Span {
  const path = PATHS[(trace + index) % PATHS.length]!;
  const server = index === 0;
  const start = baseNanos + BigInt(index * 1_250_000);
  const s = create(SpanSchema, {
    traceId: idBytes(16, trace + 1),
    spanId: idBytes(8, trace * 100 + index + 1),
    parentSpanId: server ? new Uint8Array(0) : idBytes(8, trace * 100 + 1),
    name: server ? `GET ${path}` : index % 3 === 1 ? 'SELECT shop.orders' : `HTTP GET inventory`,
    kind: server ? 2 : 3,
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(800_000 + index * 37_000),
    flags: 0x301,
    attributes: attrs({
      'http.request.method': 'GET',
      'url.full': `https://shop.example.com${path}?session=${trace}${index}&lang=en-GB`,
      'url.scheme': 'https',
      'http.route': path,
      'http.response.status_code': index === 3 && trace % 5 === 0 ? 500 : 200,
      'server.address': server ? 'shop.example.com' : 'inventory.shop-prod.svc.cluster.local',
      'server.port': server ? 443 : 8080,
      'network.peer.address': `10.1.${trace}.${index + 10}`,
      'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      'app.cart.items': index + 1,
    }),
  });
  if (index % 4 === 0) {
    s.events.push(
      create(Span_EventSchema, { timeUnixNano: start + 10_000n, name: 'request.received', attributes: attrs({ 'message.size': 1432 }) }),
      create(Span_EventSchema, { timeUnixNano: start + 700_000n, name: 'response.sent', attributes: attrs({ 'message.size': 5120 }) }),
    );
  }
  s.status = create(StatusSchema, index === 3 && trace % 5 === 0 ? { code: 2, message: 'upstream returned 500' } : { code: 1 });
  return s;
}

/** A traces request of `spans` spans, in traces of 10, from one service. */
export function realisticTraces(spans = 100): ExportTraceServiceRequest {
  const base = 1_700_000_000_000_000_000n;
  const list: Span[] = [];
  for (let i = 0; i < spans; i++) list.push(span(Math.floor(i / 10), i % 10, base + BigInt(Math.floor(i / 10)) * 1_000_000_000n));
  return create(ExportTraceServiceRequestSchema, {
    resourceSpans: [
      {
        resource: create(ResourceSchema, { attributes: attrs(RESOURCE) }),
        scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.52.1' }, spans: list }],
        schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      },
    ],
  });
}

/** A logs request of `records` records from one service, about the same size per item as the spans. */
export function realisticLogs(records = 100): ExportLogsServiceRequest {
  const list: LogRecord[] = [];
  for (let i = 0; i < records; i++) {
    const time = 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n;
    list.push(
      create(LogRecordSchema, {
        timeUnixNano: time,
        observedTimeUnixNano: time + 50_000n,
        severityNumber: i % 7 === 0 ? 17 : 9,
        severityText: i % 7 === 0 ? 'ERROR' : 'INFO',
        body: value(`order ${8800 + i} checked out: ${i % 4} items, total ${(i * 13.37).toFixed(2)} EUR, payment authorized`),
        attributes: attrs({
          'http.request.method': 'POST',
          'url.path': '/api/v1/orders',
          'code.function': 'CheckoutService.placeOrder',
          'code.lineno': 212 + i,
          'thread.name': 'main',
          'user.id': `u-${1000 + i}`,
          'order.total': i * 13.37 + 0.5,
          'feature.flag.express': i % 2 === 0,
        }),
        traceId: idBytes(16, i + 1),
        spanId: idBytes(8, i + 7),
        flags: 1,
      }),
    );
  }
  return create(ExportLogsServiceRequestSchema, {
    resourceLogs: [
      {
        resource: create(ResourceSchema, { attributes: attrs(RESOURCE) }),
        scopeLogs: [{ scope: { name: 'checkout.logger' }, logRecords: list }],
      },
    ],
  });
}

/** Runs `fn` in batches until `seconds` have passed; returns operations per second. */
function rate(fn: () => unknown, seconds: number): number {
  let ops = 0;
  let sink: unknown;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 20; i++) sink = fn();
    ops += 20;
    now = performance.now();
  }
  if (sink === undefined) throw new Error('unreachable');
  return ops / ((now - start) / 1000);
}

interface Row {
  name: string;
  mbPerSecond: number;
  itemsPerSecond: number;
  microsPerOp: number;
}

function measure(name: string, bytes: number, items: number, fn: () => unknown, seconds: number): Row {
  rate(fn, Math.min(1, seconds / 2)); // warm-up: let the JIT settle
  const ops = rate(fn, seconds);
  return { name, mbPerSecond: (ops * bytes) / 1e6, itemsPerSecond: ops * items, microsPerOp: 1e6 / ops };
}

async function protobufjsDecoder(type: string): Promise<((bytes: Uint8Array) => unknown) | undefined> {
  try {
    const { default: protobuf } = await import('protobufjs');
    const protoRoot = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', '..', '..', 'proto');
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(protoRoot, target);
    await root.load(
      type.includes('trace')
        ? 'opentelemetry/proto/collector/trace/v1/trace_service.proto'
        : 'opentelemetry/proto/collector/logs/v1/logs_service.proto',
    );
    const t = root.lookupType(type);
    return (bytes) => t.decode(bytes);
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string, fallback: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const seconds = arg('--seconds', 2);
  const items = arg('--spans', 100);

  const traces = realisticTraces(items);
  const logs = realisticLogs(items);
  const traceBytes = toBinary(ExportTraceServiceRequestSchema, traces);
  const logBytes = toBinary(ExportLogsServiceRequestSchema, logs);
  if (Buffer.compare(encodeTraceRequest(traces), traceBytes) !== 0 || Buffer.compare(encodeLogsRequest(logs), logBytes) !== 0)
    throw new Error('the fast encoder does not reproduce toBinary on the measured payload');

  const rows: Row[] = [];
  const pbjsTraces = await protobufjsDecoder('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  const pbjsLogs = await protobufjsDecoder('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
  const t = traceBytes.length;
  const l = logBytes.length;
  rows.push(
    measure('traces decode  fast', t, items, () => decodeTraceRequest(traceBytes), seconds),
    measure('traces decode  protobuf-es', t, items, () => fromBinary(ExportTraceServiceRequestSchema, traceBytes), seconds),
  );
  if (pbjsTraces) rows.push(measure('traces decode  protobufjs', t, items, () => pbjsTraces(traceBytes), seconds));
  rows.push(
    measure('traces encode  fast', t, items, () => encodeTraceRequest(traces), seconds),
    measure('traces encode  protobuf-es', t, items, () => toBinary(ExportTraceServiceRequestSchema, traces), seconds),
    measure('logs   decode  fast', l, items, () => decodeLogsRequest(logBytes), seconds),
    measure('logs   decode  protobuf-es', l, items, () => fromBinary(ExportLogsServiceRequestSchema, logBytes), seconds),
  );
  if (pbjsLogs) rows.push(measure('logs   decode  protobufjs', l, items, () => pbjsLogs(logBytes), seconds));
  rows.push(
    measure('logs   encode  fast', l, items, () => encodeLogsRequest(logs), seconds),
    measure('logs   encode  protobuf-es', l, items, () => toBinary(ExportLogsServiceRequestSchema, logs), seconds),
  );

  console.log(`payload: traces ${items} spans, ${t} bytes; logs ${items} records, ${l} bytes; node ${process.version}; ${seconds} s each`);
  console.log('| codec | MB/s | items/s | µs/request |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const r of rows)
    console.log(
      `| ${r.name} | ${r.mbPerSecond.toFixed(1)} | ${Math.round(r.itemsPerSecond).toLocaleString('en-US')} | ${r.microsPerOp.toFixed(1)} |`,
    );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
