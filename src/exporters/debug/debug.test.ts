import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { PassThrough, Writable } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import { CapacityError } from '../../core/errors.js';
import { repoPath, testSettings } from '../../testutil/index.js';
import { ExportLogsServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { ExportMetricsServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import { ExportTraceServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import {
  AnyValueSchema,
  ArrayValueSchema,
  KeyValueListSchema,
  KeyValueSchema,
  type AnyValue,
  type KeyValue,
} from '../../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { SeverityNumber } from '../../wire/otlp/gen/opentelemetry/proto/logs/v1/logs_pb.js';
import { AggregationTemporality } from '../../wire/otlp/gen/opentelemetry/proto/metrics/v1/metrics_pb.js';
import { Span_SpanKind, Status_StatusCode } from '../../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { debugExporterConfigSchema, VERBOSITIES, type Verbosity } from './config.js';
import { DebugExporter } from './exporter.js';
import { debugExporterFactory } from './factory.js';
import { formatMs, renderLogs, renderMetrics, renderTraceTree } from './render.js';

// ---- fixtures ----

type Scalar = string | number | bigint | boolean | Uint8Array | Scalar[];

function anyValue(v: Scalar): AnyValue {
  const value = (init: AnyValue['value']) => create(AnyValueSchema, { value: init });
  if (typeof v === 'string') return value({ case: 'stringValue', value: v });
  if (typeof v === 'bigint') return value({ case: 'intValue', value: v });
  if (typeof v === 'number') return value({ case: 'doubleValue', value: v });
  if (typeof v === 'boolean') return value({ case: 'boolValue', value: v });
  if (v instanceof Uint8Array) return value({ case: 'bytesValue', value: v });
  return value({ case: 'arrayValue', value: create(ArrayValueSchema, { values: v.map(anyValue) }) });
}

function attrs(values: Record<string, Scalar>): KeyValue[] {
  return Object.entries(values).map(([key, v]) => create(KeyValueSchema, { key, value: anyValue(v) }));
}

const hex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));
const TRACE = hex('0af7651916cd43dd8448eb211c80319c');
const OTHER_TRACE = hex('4bf92f3577b34da6a3ce929d0e0e4736');
const T0 = 1_700_000_000_000_000_000n;
const ms = (n: number) => T0 + BigInt(Math.round(n * 1e6));

const fixtureTraces = () =>
  create(ExportTraceServiceRequestSchema, {
    resourceSpans: [
      {
        resource: { attributes: attrs({ 'service.name': 'frontend', 'host.name': 'web-1' }) },
        scopeSpans: [
          {
            scope: { name: 'shop', version: '1.2.0' },
            spans: [
              {
                traceId: TRACE,
                spanId: hex('1111111111111111'),
                name: 'GET /checkout',
                kind: Span_SpanKind.SERVER,
                startTimeUnixNano: ms(0),
                endTimeUnixNano: ms(120.5),
                attributes: attrs({ 'http.method': 'GET', 'http.status_code': 200n }),
                events: [{ name: 'cache miss', timeUnixNano: ms(1.25), attributes: attrs({ key: 'cart:42' }) }],
              },
              {
                traceId: TRACE,
                spanId: hex('2222222222222222'),
                parentSpanId: hex('1111111111111111'),
                name: 'SELECT orders',
                kind: Span_SpanKind.CLIENT,
                startTimeUnixNano: ms(10),
                endTimeUnixNano: ms(30),
                status: { code: Status_StatusCode.ERROR, message: 'deadline exceeded' },
              },
              {
                traceId: TRACE,
                spanId: hex('3333333333333333'),
                parentSpanId: hex('1111111111111111'),
                name: 'render',
                kind: Span_SpanKind.INTERNAL,
                startTimeUnixNano: ms(5),
                endTimeUnixNano: ms(8.0005),
              },
            ],
          },
        ],
      },
      {
        resource: { attributes: attrs({ 'service.name': 'cart' }) },
        scopeSpans: [
          {
            spans: [
              {
                traceId: TRACE,
                spanId: hex('5555555555555555'),
                parentSpanId: hex('4444444444444444'),
                name: 'redis GET',
                kind: Span_SpanKind.CLIENT,
                startTimeUnixNano: ms(41),
                endTimeUnixNano: ms(42.125),
                attributes: attrs({
                  'db.system': 'redis',
                  retry: true,
                  ratio: 0.5,
                  tags: ['a', 'b'],
                  raw: hex('beef'),
                }),
              },
              {
                traceId: OTHER_TRACE,
                spanId: hex('aaaaaaaaaaaaaaaa'),
                name: 'cron tick',
                startTimeUnixNano: ms(0),
                endTimeUnixNano: ms(1.0004),
              },
              {
                traceId: TRACE,
                spanId: hex('4444444444444444'),
                parentSpanId: hex('1111111111111111'),
                name: 'GetCart',
                kind: Span_SpanKind.SERVER,
                startTimeUnixNano: ms(40),
                endTimeUnixNano: ms(85.25),
                status: { code: Status_StatusCode.OK },
                links: [{ traceId: OTHER_TRACE, spanId: hex('aaaaaaaaaaaaaaaa'), attributes: attrs({ reason: 'batch' }) }],
              },
            ],
          },
        ],
      },
      {
        resource: { attributes: attrs({ 'service.name': 'worker' }) },
        scopeSpans: [
          {
            spans: [
              {
                traceId: TRACE,
                spanId: hex('6666666666666666'),
                parentSpanId: hex('9999999999999999'),
                name: 'process order',
                kind: Span_SpanKind.CONSUMER,
                startTimeUnixNano: ms(200),
                endTimeUnixNano: ms(203),
              },
            ],
          },
        ],
      },
    ],
  });

const fixtureLogs = () =>
  create(ExportLogsServiceRequestSchema, {
    resourceLogs: [
      {
        resource: { attributes: attrs({ 'service.name': 'api' }) },
        scopeLogs: [
          {
            logRecords: [
              {
                timeUnixNano: ms(0),
                severityText: 'INFO',
                severityNumber: SeverityNumber.INFO,
                body: anyValue('order placed'),
                traceId: TRACE,
                spanId: hex('1111111111111111'),
                attributes: attrs({ 'order.id': 42n }),
              },
              {
                observedTimeUnixNano: ms(2),
                severityNumber: SeverityNumber.ERROR,
                body: create(AnyValueSchema, {
                  value: {
                    case: 'kvlistValue',
                    value: create(KeyValueListSchema, { values: attrs({ error: 'timeout', attempt: 3n }) }),
                  },
                }),
              },
              { body: anyValue('no time, no severity') },
            ],
          },
        ],
      },
    ],
  });

const fixtureMetrics = () =>
  create(ExportMetricsServiceRequestSchema, {
    resourceMetrics: [
      {
        resource: { attributes: attrs({ 'service.name': 'api' }) },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'cpu.utilization',
                unit: '1',
                data: {
                  case: 'gauge',
                  value: { dataPoints: [{ attributes: attrs({ cpu: 0n }), value: { case: 'asDouble', value: 0.25 } }] },
                },
              },
              {
                name: 'http.requests',
                data: {
                  case: 'sum',
                  value: {
                    isMonotonic: true,
                    aggregationTemporality: AggregationTemporality.CUMULATIVE,
                    dataPoints: [
                      { attributes: attrs({ method: 'GET' }), value: { case: 'asInt', value: 10n } },
                      { attributes: attrs({ method: 'POST' }), value: { case: 'asInt', value: 3n } },
                    ],
                  },
                },
              },
              {
                name: 'http.duration',
                unit: 'ms',
                data: {
                  case: 'histogram',
                  value: {
                    aggregationTemporality: AggregationTemporality.DELTA,
                    dataPoints: [{ count: 6n, sum: 61.5, min: 1, max: 40, explicitBounds: [5, 20], bucketCounts: [3n, 2n, 1n] }],
                  },
                },
              },
              {
                name: 'queue.latency',
                data: {
                  case: 'exponentialHistogram',
                  value: { dataPoints: [{ count: 4n, sum: 10, scale: 2, zeroCount: 1n }] },
                },
              },
              {
                name: 'gc.pause',
                data: {
                  case: 'summary',
                  value: {
                    dataPoints: [
                      {
                        count: 5n,
                        sum: 12.5,
                        quantileValues: [
                          { quantile: 0.5, value: 2 },
                          { quantile: 0.99, value: 7.5 },
                        ],
                      },
                    ],
                  },
                },
              },
            ],
          },
        ],
      },
    ],
  });

// ---- golden files ----

/** Compares with testdata/<name>; UPDATE_GOLDEN=1 rewrites the file instead. */
async function assertGolden(name: string, actual: string): Promise<void> {
  const path = repoPath('src', 'exporters', 'debug', 'testdata', name);
  if (process.env.UPDATE_GOLDEN === '1') {
    await writeFile(path, actual);
    return;
  }
  assert.equal(actual, await readFile(path, 'utf8'), `${name} differs (UPDATE_GOLDEN=1 rewrites it after a deliberate change)`);
}

/** Every verbosity of one batch, under headers, in one golden file. */
function allVerbosities(renderer: (v: Verbosity) => string): string {
  return VERBOSITIES.map((v) => `=== ${v} ===\n${renderer(v)}`).join('\n');
}

test('traces render as a tree per trace (golden)', async () => {
  await assertGolden(
    'traces.txt',
    allVerbosities((v) => renderTraceTree(fixtureTraces(), v)),
  );
});

test('logs render one line per record (golden)', async () => {
  await assertGolden(
    'logs.txt',
    allVerbosities((v) => renderLogs(fixtureLogs(), v)),
  );
});

test('metrics render one line per metric (golden)', async () => {
  await assertGolden(
    'metrics.txt',
    allVerbosities((v) => renderMetrics(fixtureMetrics(), v)),
  );
});

test('the tree puts children under their parent by start time, and orphans last', () => {
  const lines = renderTraceTree(fixtureTraces(), 'normal').split('\n');
  const names = lines
    .filter((l) => l.startsWith('  '))
    .map((l) => /^( *)\[[^\]]+\] (.*) [A-Z]+ -?\d+\.\d{3}ms/.exec(l)!.slice(1, 3).join(''));
  assert.deepEqual(names, [
    '  GET /checkout',
    '    render',
    '    SELECT orders',
    '    GetCart',
    '      redis GET',
    '  process order',
    '  cron tick',
  ]);
  assert.match(
    lines.find((l) => l.includes('process order'))!,
    /\(parent not in batch\)$/,
  );
});

test('a span that is its own parent is shown once, without looping', () => {
  const traces = create(ExportTraceServiceRequestSchema, {
    resourceSpans: [
      {
        scopeSpans: [
          {
            spans: [{ traceId: TRACE, spanId: hex('1111111111111111'), parentSpanId: hex('1111111111111111'), name: 'loop' }],
          },
        ],
      },
    ],
  });
  assert.equal(
    renderTraceTree(traces, 'normal'),
    `Traces: 1 resource spans, 1 span\nTrace ${Buffer.from(TRACE).toString('hex')} (1 span)\n  [unknown_service] loop UNSPECIFIED 0.000ms (in a parent cycle)\n`,
  );
});

test('durations are exact milliseconds with 3 decimals', () => {
  assert.equal(formatMs(0n), '0.000ms');
  assert.equal(formatMs(1_000_499n), '1.000ms');
  assert.equal(formatMs(1_000_500n), '1.001ms');
  assert.equal(formatMs(123_456_789_012_345_678n), '123456789012.346ms');
  assert.equal(formatMs(-2_500_000n), '-2.500ms');
});

test('config: verbosity defaults to normal and must be known', () => {
  assert.deepEqual(debugExporterConfigSchema.parse({}), { verbosity: 'normal' });
  assert.equal(debugExporterConfigSchema.safeParse({ verbosity: 'loud' }).success, false);
  assert.equal(debugExporterConfigSchema.safeParse({ sampling: 1 }).success, false);
});

test('factory: type, kind and signals', () => {
  assert.equal(debugExporterFactory.type, 'debug');
  assert.equal(debugExporterFactory.kind, 'exporter');
  assert.deepEqual(debugExporterFactory.signals, ['traces', 'logs', 'metrics']);
});

test('the exporter writes the rendering to its stream and counts what it sent', async () => {
  const settings = testSettings('debug');
  const output = new PassThrough();
  const chunks: string[] = [];
  output.on('data', (c: Buffer) => chunks.push(c.toString()));
  const exporter = new DebugExporter(settings, debugExporterConfigSchema.parse({ verbosity: 'basic' }), 'traces', {
    output,
  });
  await exporter.start();
  await exporter.consume(fixtureTraces());
  await exporter.shutdown();
  await exporter.shutdown();
  assert.equal(chunks.join(''), 'Traces: 3 resource spans, 7 spans\n');
  assert.equal(await settings.metrics.value('netspan_exporter_sent_spans_total', { exporter: 'debug' }), 7);
});

test('a stream that does not drain makes the exporter refuse', async () => {
  const settings = testSettings('debug');
  // Never completes a write, like a terminal nobody reads.
  const stuck = new Writable({ write: () => undefined });
  const exporter = new DebugExporter(settings, debugExporterConfigSchema.parse({}), 'logs', {
    output: stuck,
    maxBufferedBytes: 10,
  });
  assert.equal(exporter.canAccept(), true);
  await exporter.consume(fixtureLogs());
  assert.equal(exporter.canAccept(), false);
  await assert.rejects(exporter.consume(fixtureLogs()), CapacityError);
  assert.equal(await settings.metrics.value('netspan_exporter_enqueue_failed_log_records_total'), 3);
});
