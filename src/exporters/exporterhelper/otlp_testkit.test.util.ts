/**
 * Test support shared by the OTLP exporter tests (not a test file itself; the `.test.` in the
 * name keeps it out of the published package). The batches below are built with protobuf-es,
 * the code under test; what a server received is decoded with protobufjs from the official
 * .proto files and compared with expectations written out by hand, so an encoding mistake
 * cannot cancel itself out.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import protobuf from 'protobufjs';
import type { Component, Consumer, CreateSettings } from '../../core/component.js';
import type { SleepFn } from './queued_retry.js';
import { REPO_ROOT } from '../../testutil/index.js';
export { recordingSettings, type LogLine } from '../../testutil/index.js';
import { ITEM_UNIT, type Logs, type Metrics, type Signal, type Traces } from '../../model/otlp.js';
import { ExportTraceServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { ExportLogsServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { ExportMetricsServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';

export const PROTO_DIR = join(REPO_ROOT, 'proto');

// ---------------------------------------------------------------------------------------------
// The independent decoder

export interface OtlpProtos {
  request: Record<Signal, protobuf.Type>;
  response: Record<Signal, protobuf.Type>;
  status: protobuf.Type;
  retryInfo: protobuf.Type;
}

let protos: OtlpProtos | undefined;

/** protobufjs types from the .proto files in the repository (loaded once). */
export function otlpProtos(): OtlpProtos {
  if (protos) return protos;
  const root = new protobuf.Root();
  // Imports are relative to the proto root; google/protobuf/* come bundled with protobufjs.
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(PROTO_DIR, target));
  root.loadSync(
    [
      'opentelemetry/proto/collector/trace/v1/trace_service.proto',
      'opentelemetry/proto/collector/logs/v1/logs_service.proto',
      'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
      'google/rpc/status.proto',
      'google/rpc/error_details.proto',
    ],
    { keepCase: false },
  );
  const type = (name: string) => root.lookupType(name);
  protos = {
    request: {
      traces: type('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
      logs: type('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'),
      metrics: type('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
    },
    response: {
      traces: type('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
      logs: type('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse'),
      metrics: type('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse'),
    },
    status: type('google.rpc.Status'),
    retryInfo: type('google.rpc.RetryInfo'),
  };
  return protos;
}

/** Bytes as hex, recursively, so decoded messages compare with plain literals. */
function bytesToHex(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(bytesToHex);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, bytesToHex(v)]));
  return value;
}

/**
 * A message as a plain object holding exactly the fields that were on the wire: 64-bit integers
 * as decimal strings, enums as numbers, bytes as hex.
 */
export function plain(type: protobuf.Type, message: protobuf.Message): unknown {
  return bytesToHex(type.toObject(message, { longs: String, enums: Number, defaults: false }));
}

/** Decodes protobuf bytes of an Export*ServiceRequest with protobufjs. */
export function decodeRequest(signal: Signal, bytes: Uint8Array): unknown {
  const type = otlpProtos().request[signal];
  return plain(type, type.decode(bytes));
}

const ID_KEYS = new Set(['traceId', 'spanId', 'parentSpanId']);

/**
 * Reads OTLP/JSON with protobufjs: the spec's hex ids become the base64 proto3 JSON expects
 * (checking they were hex), the rest is proto3 JSON as is.
 */
export function decodeJsonRequest(signal: Signal, json: unknown): unknown {
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node as Record<string, unknown>).map(([k, v]) => {
        if (ID_KEYS.has(k)) {
          assert.match(String(v), /^(?:[0-9a-f]{2})*$/, `${k} must be lower-case hex in OTLP/JSON`);
          return [k, Buffer.from(String(v), 'hex').toString('base64')];
        }
        return [k, rewrite(v)];
      }),
    );
  };
  const type = otlpProtos().request[signal];
  return plain(type, type.fromObject(rewrite(json) as Record<string, unknown>));
}

/** An Export*ServiceResponse with a partial success, encoded by protobufjs. */
export function encodePartialSuccess(signal: Signal, rejected: number, errorMessage: string): Uint8Array {
  const field = { traces: 'rejectedSpans', logs: 'rejectedLogRecords', metrics: 'rejectedDataPoints' }[signal];
  const type = otlpProtos().response[signal];
  return type.encode(type.fromObject({ partialSuccess: { [field]: rejected, errorMessage } })).finish();
}

/** A google.rpc.Status, optionally with a RetryInfo detail, encoded by protobufjs. */
export function encodeRpcStatus(code: number, message: string, retryDelayMs?: number): Uint8Array {
  const { status, retryInfo } = otlpProtos();
  const details =
    retryDelayMs === undefined
      ? []
      : [
          {
            // protobufjs bundles google.protobuf.Any with its proto field names.
            type_url: 'type.googleapis.com/google.rpc.RetryInfo',
            value: retryInfo
              .encode(
                retryInfo.fromObject({ retryDelay: { seconds: Math.floor(retryDelayMs / 1000), nanos: (retryDelayMs % 1000) * 1e6 } }),
              )
              .finish(),
          },
        ];
  return status.encode(status.fromObject({ code, message, details })).finish();
}

// ---------------------------------------------------------------------------------------------
// Batches and what they must look like on the wire

const range = (first: number, n: number) => Uint8Array.from({ length: n }, (_, i) => first + i);
const hexRange = (first: number, n: number) => Buffer.from(range(first, n)).toString('hex');

const T0 = 1_700_000_000_123_456_789n;

/** Three spans under two resources, using every AnyValue type, events, links and statuses. */
export function sampleTraces(): Traces {
  return create(ExportTraceServiceRequestSchema, {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { value: { case: 'stringValue', value: 'checkout' } } },
            { key: 'host.cores', value: { value: { case: 'intValue', value: 8n } } },
          ],
          droppedAttributesCount: 1,
        },
        schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
        scopeSpans: [
          {
            scope: {
              name: 'netspan.test',
              version: '1.2.3',
              attributes: [{ key: 'scope.flag', value: { value: { case: 'boolValue', value: true } } }],
              droppedAttributesCount: 2,
            },
            schemaUrl: 'https://example.com/scope-schema',
            spans: [
              {
                traceId: range(0x01, 16),
                spanId: range(0xa1, 8),
                parentSpanId: range(0xb1, 8),
                traceState: 'vendor=opaque',
                flags: 0x101,
                name: 'GET /cart',
                kind: 2, // SERVER
                startTimeUnixNano: T0,
                endTimeUnixNano: T0 + 5_000_000n,
                attributes: [
                  { key: 'str', value: { value: { case: 'stringValue', value: 'text ✓' } } },
                  { key: 'bool.false', value: { value: { case: 'boolValue', value: false } } },
                  { key: 'int.negative', value: { value: { case: 'intValue', value: -42n } } },
                  { key: 'int.big', value: { value: { case: 'intValue', value: 9_007_199_254_740_993n } } },
                  { key: 'double', value: { value: { case: 'doubleValue', value: 3.25 } } },
                  { key: 'bytes', value: { value: { case: 'bytesValue', value: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) } } },
                  {
                    key: 'array',
                    value: {
                      value: {
                        case: 'arrayValue',
                        value: {
                          values: [
                            { value: { case: 'stringValue', value: 'a' } },
                            { value: { case: 'intValue', value: 1n } },
                            { value: { case: 'doubleValue', value: 1.5 } },
                            { value: { case: 'boolValue', value: true } },
                          ],
                        },
                      },
                    },
                  },
                  {
                    key: 'kvlist',
                    value: {
                      value: {
                        case: 'kvlistValue',
                        value: {
                          values: [
                            { key: 'nested', value: { value: { case: 'stringValue', value: 'v' } } },
                            {
                              key: 'inner',
                              value: {
                                value: {
                                  case: 'kvlistValue',
                                  value: { values: [{ key: 'deep', value: { value: { case: 'intValue', value: 7n } } }] },
                                },
                              },
                            },
                          ],
                        },
                      },
                    },
                  },
                  { key: 'empty', value: {} },
                ],
                droppedAttributesCount: 3,
                events: [
                  {
                    timeUnixNano: T0 + 1_000_000n,
                    name: 'retransmit',
                    attributes: [{ key: 'tcp.seq', value: { value: { case: 'intValue', value: 4_294_967_296n } } }],
                    droppedAttributesCount: 1,
                  },
                  { timeUnixNano: T0 + 2_000_000n, name: 'exception' },
                ],
                droppedEventsCount: 4,
                links: [
                  {
                    traceId: range(0xf0, 16),
                    spanId: range(0xc1, 8),
                    traceState: 'x=y',
                    attributes: [{ key: 'link.kind', value: { value: { case: 'stringValue', value: 'follows' } } }],
                    droppedAttributesCount: 5,
                    flags: 0x100,
                  },
                ],
                droppedLinksCount: 6,
                status: { code: 2, message: 'upstream reset' }, // ERROR
              },
              {
                traceId: range(0x01, 16),
                spanId: range(0xd1, 8),
                parentSpanId: range(0xa1, 8),
                name: 'SELECT cart',
                kind: 3, // CLIENT
                startTimeUnixNano: T0 + 1n,
                endTimeUnixNano: T0 + 2n,
                status: { code: 1 }, // OK
              },
            ],
          },
        ],
      },
      {
        resource: { attributes: [{ key: 'service.name', value: { value: { case: 'stringValue', value: 'db' } } }] },
        scopeSpans: [
          {
            scope: { name: 'db.scope' },
            spans: [
              { traceId: range(0x21, 16), spanId: range(0xe1, 8), name: 'query', kind: 1, startTimeUnixNano: 1n, endTimeUnixNano: 2n },
            ],
          },
        ],
      },
    ],
  });
}

export const SAMPLE_TRACES_SPANS = 3;

/** sampleTraces() as protobufjs decodes it: every field on the wire, nothing else. */
export const SAMPLE_TRACES_ON_WIRE = {
  resourceSpans: [
    {
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: 'checkout' } },
          { key: 'host.cores', value: { intValue: '8' } },
        ],
        droppedAttributesCount: 1,
      },
      schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      scopeSpans: [
        {
          scope: {
            name: 'netspan.test',
            version: '1.2.3',
            attributes: [{ key: 'scope.flag', value: { boolValue: true } }],
            droppedAttributesCount: 2,
          },
          schemaUrl: 'https://example.com/scope-schema',
          spans: [
            {
              traceId: hexRange(0x01, 16),
              spanId: hexRange(0xa1, 8),
              parentSpanId: hexRange(0xb1, 8),
              traceState: 'vendor=opaque',
              flags: 0x101,
              name: 'GET /cart',
              kind: 2,
              startTimeUnixNano: '1700000000123456789',
              endTimeUnixNano: '1700000000128456789',
              attributes: [
                { key: 'str', value: { stringValue: 'text ✓' } },
                { key: 'bool.false', value: { boolValue: false } },
                { key: 'int.negative', value: { intValue: '-42' } },
                { key: 'int.big', value: { intValue: '9007199254740993' } },
                { key: 'double', value: { doubleValue: 3.25 } },
                { key: 'bytes', value: { bytesValue: 'deadbeef' } },
                {
                  key: 'array',
                  value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }, { doubleValue: 1.5 }, { boolValue: true }] } },
                },
                {
                  key: 'kvlist',
                  value: {
                    kvlistValue: {
                      values: [
                        { key: 'nested', value: { stringValue: 'v' } },
                        { key: 'inner', value: { kvlistValue: { values: [{ key: 'deep', value: { intValue: '7' } }] } } },
                      ],
                    },
                  },
                },
                { key: 'empty', value: {} },
              ],
              droppedAttributesCount: 3,
              events: [
                {
                  timeUnixNano: '1700000000124456789',
                  name: 'retransmit',
                  attributes: [{ key: 'tcp.seq', value: { intValue: '4294967296' } }],
                  droppedAttributesCount: 1,
                },
                { timeUnixNano: '1700000000125456789', name: 'exception' },
              ],
              droppedEventsCount: 4,
              links: [
                {
                  traceId: hexRange(0xf0, 16),
                  spanId: hexRange(0xc1, 8),
                  traceState: 'x=y',
                  attributes: [{ key: 'link.kind', value: { stringValue: 'follows' } }],
                  droppedAttributesCount: 5,
                  flags: 0x100,
                },
              ],
              droppedLinksCount: 6,
              status: { code: 2, message: 'upstream reset' },
            },
            {
              traceId: hexRange(0x01, 16),
              spanId: hexRange(0xd1, 8),
              parentSpanId: hexRange(0xa1, 8),
              name: 'SELECT cart',
              kind: 3,
              startTimeUnixNano: '1700000000123456790',
              endTimeUnixNano: '1700000000123456791',
              status: { code: 1 },
            },
          ],
        },
      ],
    },
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'db' } }] },
      scopeSpans: [
        {
          scope: { name: 'db.scope' },
          spans: [
            {
              traceId: hexRange(0x21, 16),
              spanId: hexRange(0xe1, 8),
              name: 'query',
              kind: 1,
              startTimeUnixNano: '1',
              endTimeUnixNano: '2',
            },
          ],
        },
      ],
    },
  ],
};

/** Two log records: a string body with trace context, and a structured body. */
export function sampleLogs(): Logs {
  return create(ExportLogsServiceRequestSchema, {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { value: { case: 'stringValue', value: 'checkout' } } }] },
        scopeLogs: [
          {
            scope: { name: 'netspan.logs', version: '0.1' },
            logRecords: [
              {
                timeUnixNano: T0,
                observedTimeUnixNano: T0 + 10n,
                severityNumber: 9, // INFO
                severityText: 'INFO',
                body: { value: { case: 'stringValue', value: 'cart loaded' } },
                attributes: [{ key: 'items', value: { value: { case: 'intValue', value: 3n } } }],
                droppedAttributesCount: 1,
                flags: 1,
                traceId: range(0x01, 16),
                spanId: range(0xa1, 8),
                eventName: 'cart.loaded',
              },
              {
                severityNumber: 17, // ERROR
                body: {
                  value: {
                    case: 'kvlistValue',
                    value: { values: [{ key: 'error', value: { value: { case: 'stringValue', value: 'timeout' } } }] },
                  },
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

export const SAMPLE_LOGS_RECORDS = 2;

export const SAMPLE_LOGS_ON_WIRE = {
  resourceLogs: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
      scopeLogs: [
        {
          scope: { name: 'netspan.logs', version: '0.1' },
          logRecords: [
            {
              timeUnixNano: '1700000000123456789',
              observedTimeUnixNano: '1700000000123456799',
              severityNumber: 9,
              severityText: 'INFO',
              body: { stringValue: 'cart loaded' },
              attributes: [{ key: 'items', value: { intValue: '3' } }],
              droppedAttributesCount: 1,
              flags: 1,
              traceId: hexRange(0x01, 16),
              spanId: hexRange(0xa1, 8),
              eventName: 'cart.loaded',
            },
            { severityNumber: 17, body: { kvlistValue: { values: [{ key: 'error', value: { stringValue: 'timeout' } }] } } },
          ],
        },
      ],
    },
  ],
};

/** A monotonic sum, a two-point gauge and a histogram: four data points. */
export function sampleMetrics(): Metrics {
  return create(ExportMetricsServiceRequestSchema, {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { value: { case: 'stringValue', value: 'checkout' } } }] },
        scopeMetrics: [
          {
            scope: { name: 'netspan.metrics' },
            metrics: [
              {
                name: 'requests',
                description: 'Requests served',
                unit: '{request}',
                data: {
                  case: 'sum',
                  value: {
                    dataPoints: [
                      {
                        startTimeUnixNano: T0,
                        timeUnixNano: T0 + 1_000n,
                        value: { case: 'asInt', value: -5n },
                        attributes: [{ key: 'route', value: { value: { case: 'stringValue', value: '/cart' } } }],
                      },
                    ],
                    aggregationTemporality: 2, // CUMULATIVE
                    isMonotonic: true,
                  },
                },
              },
              {
                name: 'temperature',
                unit: 'Cel',
                data: {
                  case: 'gauge',
                  value: {
                    dataPoints: [
                      { timeUnixNano: T0, value: { case: 'asDouble', value: 21.5 } },
                      { timeUnixNano: T0 + 1n, value: { case: 'asDouble', value: 0 }, flags: 1 },
                    ],
                  },
                },
              },
              {
                name: 'latency',
                unit: 'ms',
                data: {
                  case: 'histogram',
                  value: {
                    dataPoints: [
                      {
                        startTimeUnixNano: T0,
                        timeUnixNano: T0 + 2n,
                        count: 6n,
                        sum: 42.5,
                        bucketCounts: [1n, 2n, 3n],
                        explicitBounds: [10, 100],
                        min: 0.5,
                        max: 250,
                      },
                    ],
                    aggregationTemporality: 1, // DELTA
                  },
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

export const SAMPLE_METRICS_POINTS = 4;

export const SAMPLE_METRICS_ON_WIRE = {
  resourceMetrics: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
      scopeMetrics: [
        {
          scope: { name: 'netspan.metrics' },
          metrics: [
            {
              name: 'requests',
              description: 'Requests served',
              unit: '{request}',
              sum: {
                dataPoints: [
                  {
                    startTimeUnixNano: '1700000000123456789',
                    timeUnixNano: '1700000000123457789',
                    asInt: '-5',
                    attributes: [{ key: 'route', value: { stringValue: '/cart' } }],
                  },
                ],
                aggregationTemporality: 2,
                isMonotonic: true,
              },
            },
            {
              name: 'temperature',
              unit: 'Cel',
              gauge: {
                dataPoints: [
                  { timeUnixNano: '1700000000123456789', asDouble: 21.5 },
                  { timeUnixNano: '1700000000123456790', asDouble: 0, flags: 1 },
                ],
              },
            },
            {
              name: 'latency',
              unit: 'ms',
              histogram: {
                dataPoints: [
                  {
                    startTimeUnixNano: '1700000000123456789',
                    timeUnixNano: '1700000000123456791',
                    count: '6',
                    sum: 42.5,
                    bucketCounts: ['1', '2', '3'],
                    explicitBounds: [10, 100],
                    min: 0.5,
                    max: 250,
                  },
                ],
                aggregationTemporality: 1,
              },
            },
          ],
        },
      ],
    },
  ],
};

export const SAMPLES = {
  traces: { make: sampleTraces, items: SAMPLE_TRACES_SPANS, onWire: SAMPLE_TRACES_ON_WIRE },
  logs: { make: sampleLogs, items: SAMPLE_LOGS_RECORDS, onWire: SAMPLE_LOGS_ON_WIRE },
  metrics: { make: sampleMetrics, items: SAMPLE_METRICS_POINTS, onWire: SAMPLE_METRICS_ON_WIRE },
} as const;

// ---------------------------------------------------------------------------------------------
// Settings with visible logs and metrics

/** An exporter counter for one signal, e.g. counter(settings, 'traces', 'sent'). */
export function exporterCounter(settings: CreateSettings, signal: Signal, what: string): Promise<number> {
  return settings.metrics.value(`netspan_exporter_${what}_${ITEM_UNIT[signal]}_total`, { exporter: settings.id });
}

/**
 * Sends one sample batch of logs, then one of metrics, each through its own exporter made by
 * `make`, and checks that each exporter counted its items as sent.
 */
export async function exportLogsAndMetrics(
  settings: CreateSettings,
  make: (signal: 'logs' | 'metrics') => Component & Consumer<'logs' | 'metrics'>,
): Promise<void> {
  for (const signal of ['logs', 'metrics'] as const) {
    const exporter = make(signal);
    await exporter.start();
    await exporter.consume(SAMPLES[signal].make() as never);
    await exporter.shutdown();
    assert.equal(await exporterCounter(settings, signal, 'sent'), SAMPLES[signal].items);
  }
}

/** Polls until `check` holds (event-driven code under test, no fixed sleeps in assertions). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > giveUp) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A clock that only the exporter's backoff waits move, for QueuedRetryOptions: retries and
 * max_elapsed_time then depend on the settings alone, never on how fast the machine is.
 */
export function fakeClock(): { sleep: SleepFn; now: () => number; delays: number[] } {
  let clock = 0;
  const delays: number[] = [];
  return {
    delays,
    now: () => clock,
    sleep: async (ms) => {
      delays.push(ms);
      clock += ms;
    },
  };
}
