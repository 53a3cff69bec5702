import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, equals, type DescMessage } from '@bufbuild/protobuf';
import { CapacityError, NetspanError } from '../../core/errors.js';
import type { Signal, SignalData } from '../../model/otlp.js';
import { testSettings } from '../../testutil/index.js';
import { decodeJson, REQUEST_SCHEMA } from '../../wire/otlp/codec.js';
import { ExportLogsServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { ExportMetricsServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import { ExportTraceServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { fileExporterConfigSchema } from './config.js';
import { FileExporter, type FileExporterOptions } from './exporter.js';
import { fileExporterFactory } from './factory.js';

const tempDir = () => mkdtemp(join(tmpdir(), 'netspan-file-'));

function traces(name: string) {
  return create(ExportTraceServiceRequestSchema, {
    resourceSpans: [
      {
        resource: {
          attributes: [{ key: 'service.name', value: { value: { case: 'stringValue', value: 'checkout' } } }],
        },
        scopeSpans: [
          {
            scope: { name: 'netspan-test' },
            spans: [
              {
                traceId: Uint8Array.from({ length: 16 }, (_, i) => i + 1),
                spanId: Uint8Array.from({ length: 8 }, (_, i) => 0xa0 + i),
                name,
                kind: 2,
                startTimeUnixNano: 1_700_000_000_123_456_789n,
                endTimeUnixNano: 1_700_000_000_223_456_789n,
                attributes: [{ key: 'http.status_code', value: { value: { case: 'intValue', value: 200n } } }],
              },
            ],
          },
        ],
      },
    ],
  });
}

const logs = () =>
  create(ExportLogsServiceRequestSchema, {
    resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: 1n, body: { value: { case: 'stringValue', value: 'hello' } } }] }] }],
  });

const metrics = () =>
  create(ExportMetricsServiceRequestSchema, {
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'requests',
                data: {
                  case: 'sum',
                  value: { dataPoints: [{ timeUnixNano: 5n, value: { case: 'asInt', value: 42n } }] },
                },
              },
            ],
          },
        ],
      },
    ],
  });

function exporter<S extends Signal>(signal: S, config: Record<string, unknown>, options: FileExporterOptions = {}) {
  const settings = testSettings('file');
  return { exporter: new FileExporter(settings, fileExporterConfigSchema.parse(config), signal, options), settings };
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');
}

function assertSame<S extends Signal>(signal: S, line: string, expected: SignalData[S]): void {
  const schema = REQUEST_SCHEMA[signal] as DescMessage;
  assert.ok(equals(schema, decodeJson(signal, line) as never, expected as never), `line differs: ${line}`);
}

test('config: path is required, only json is accepted, flush_interval defaults to 1s', () => {
  assert.deepEqual(fileExporterConfigSchema.parse({ path: 'out.jsonl' }), {
    path: 'out.jsonl',
    format: 'json',
    flush_interval: 1000,
  });
  const missing = fileExporterConfigSchema.safeParse({});
  assert.match(JSON.stringify(missing.error?.issues), /path is required/);
  const proto = fileExporterConfigSchema.safeParse({ path: 'x', format: 'proto' });
  assert.match(JSON.stringify(proto.error?.issues), /only \\"json\\" is supported/);
  assert.equal(fileExporterConfigSchema.safeParse({ path: 'x', rotation: {} }).success, false);
});

test('factory: type, kind and signals', () => {
  assert.equal(fileExporterFactory.type, 'file');
  assert.equal(fileExporterFactory.kind, 'exporter');
  assert.deepEqual(fileExporterFactory.signals, ['traces', 'logs', 'metrics']);
});

test('traces are written as one OTLP/JSON request per line and read back equal', async () => {
  const path = join(await tempDir(), 'nested', 'dir', 'traces.jsonl');
  const { exporter: file, settings } = exporter('traces', { path });
  await file.start();
  const batches = [traces('GET /cart'), traces('POST /pay')];
  for (const b of batches) await file.consume(b);
  await file.shutdown();

  const written = await lines(path);
  assert.equal(written.length, 2);
  written.forEach((line, i) => assertSame('traces', line, batches[i]!));
  // The OTLP/JSON mapping, not proto3 JSON: hex ids, int64 as strings, enums as integers.
  assert.match(written[0]!, /"traceId":"0102030405060708090a0b0c0d0e0f10"/);
  assert.match(written[0]!, /"startTimeUnixNano":"1700000000123456789"/);
  assert.match(written[0]!, /"kind":2/);
  assert.equal(await settings.metrics.value('netspan_exporter_sent_spans_total', { exporter: 'file' }), 2);
});

test('appends to an existing file', async () => {
  const path = join(await tempDir(), 'out.jsonl');
  await writeFile(path, '{"resourceSpans":[]}\n');
  const { exporter: file } = exporter('traces', { path });
  await file.start();
  await file.consume(traces('one'));
  await file.shutdown();
  const written = await lines(path);
  assert.equal(written.length, 2);
  assertSame('traces', written[1]!, traces('one'));
});

test('the three signals share one file without mixing lines', async () => {
  const path = join(await tempDir(), 'all.jsonl');
  const forTraces = exporter('traces', { path, flush_interval: 0 }).exporter;
  const forLogs = exporter('logs', { path, flush_interval: 0 }).exporter;
  const forMetrics = exporter('metrics', { path, flush_interval: 0 }).exporter;
  await Promise.all([forTraces.start(), forLogs.start(), forMetrics.start()]);
  for (let i = 0; i < 20; i++) {
    await forTraces.consume(traces(`span ${i}`));
    await forLogs.consume(logs());
    await forMetrics.consume(metrics());
  }
  await forLogs.shutdown();
  await forTraces.consume(traces('after logs stopped'));
  await Promise.all([forTraces.shutdown(), forMetrics.shutdown()]);

  const written = await lines(path);
  const bySignal = { traces: 0, logs: 0, metrics: 0 };
  for (const line of written) {
    if (line.startsWith('{"resourceSpans"')) {
      decodeJson('traces', line);
      bySignal.traces++;
    } else if (line.startsWith('{"resourceLogs"')) {
      assertSame('logs', line, logs());
      bySignal.logs++;
    } else {
      assertSame('metrics', line, metrics());
      bySignal.metrics++;
    }
  }
  assert.deepEqual(bySignal, { traces: 21, logs: 20, metrics: 20 });
  assertSame('traces', written[60]!, traces('after logs stopped'));
});

test('lines reach the file every flush_interval, before shutdown', async () => {
  const path = join(await tempDir(), 'flushed.jsonl');
  const { exporter: file } = exporter('traces', { path, flush_interval: '10ms' });
  await file.start();
  await file.consume(traces('early'));
  const deadline = Date.now() + 10_000;
  while ((await lines(path)).length === 0) {
    assert.ok(Date.now() < deadline, 'the line was never flushed');
    await new Promise((r) => setTimeout(r, 5));
  }
  await file.shutdown();
});

test('too many bytes waiting: canAccept is false and consume refuses with CapacityError', async () => {
  const path = join(await tempDir(), 'slow.jsonl');
  const { exporter: file, settings } = exporter('traces', { path, flush_interval: '1h' }, { maxBufferedBytes: 100 });
  await file.start();
  await file.consume(traces('fits'));
  assert.equal(file.canAccept(), false);
  await assert.rejects(file.consume(traces('refused')), CapacityError);
  assert.equal(await settings.metrics.value('netspan_exporter_enqueue_failed_spans_total'), 1);

  await file.shutdown();
  const written = await lines(path);
  assert.equal(written.length, 1);
  assertSame('traces', written[0]!, traces('fits'));
});

test('a path that cannot be opened fails start with the path in the message', async () => {
  const blocker = join(await tempDir(), 'a-file');
  await writeFile(blocker, '');
  const { exporter: file } = exporter('traces', { path: join(blocker, 'child.jsonl') });
  await assert.rejects(
    file.start(),
    (err: unknown) => err instanceof NetspanError && err.code === 'FILE_OPEN_FAILED' && err.message.includes(blocker),
  );
  await file.shutdown();
});

test('write errors are counted, and later batches are refused with the cause', { skip: !existsSync('/dev/full') }, async () => {
  const { exporter: file, settings } = exporter('traces', { path: '/dev/full', flush_interval: 0 });
  await file.start();
  await file.consume(traces('lost'));
  const failed = () => settings.metrics.value('netspan_exporter_send_failed_spans_total');
  const deadline = Date.now() + 10_000;
  while ((await failed()) === 0) {
    assert.ok(Date.now() < deadline, 'the failed write was never reported');
    await new Promise((r) => setTimeout(r, 5));
  }
  await assert.rejects(file.consume(traces('refused')), (err: unknown) => err instanceof NetspanError && err.code === 'FILE_WRITE_FAILED');
  await file.shutdown();
  assert.equal(await failed(), 2);
  assert.equal(await settings.metrics.value('netspan_exporter_sent_spans_total'), 0);
});

test('shutdown without start, twice, and consume after shutdown', async () => {
  const path = join(await tempDir(), 'x.jsonl');
  const { exporter: unstarted } = exporter('traces', { path });
  await unstarted.shutdown();
  await unstarted.shutdown();
  const { exporter: file } = exporter('traces', { path });
  await file.start();
  await file.shutdown();
  await file.shutdown();
  assert.equal(file.canAccept(), false);
  await assert.rejects(file.consume(traces('late')), CapacityError);
});
