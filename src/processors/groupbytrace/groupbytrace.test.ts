import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import { CapacityError } from '../../core/errors.js';
import { createLogger } from '../../core/telemetry/logger.js';
import { hexId, spanCount, type Traces } from '../../model/otlp.js';
import { RecordingConsumer, testSettings } from '../../testutil/index.js';
import { ExportTraceServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { SpanSchema, type Span } from '../../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { groupByTraceConfigSchema, DEFAULT_NUM_TRACES, DEFAULT_WAIT_DURATION_MS } from './config.js';
import { groupByTraceFactory } from './factory.js';
import { GroupByTraceProcessor, type GroupByTraceOptions } from './processor.js';

const METRIC = 'netspan_processor_groupbytrace';

function traceId(n: number): Uint8Array {
  const id = new Uint8Array(16);
  id[15] = n;
  return id;
}

function span(trace: number, spanNo: number): Span {
  const spanId = new Uint8Array(8);
  spanId[7] = spanNo;
  return create(SpanSchema, { traceId: traceId(trace), spanId, name: `span-${trace}-${spanNo}` });
}

interface Batch {
  service: string;
  scope?: string;
  spans: Span[];
}

function request(...batches: Batch[]): Traces {
  return create(ExportTraceServiceRequestSchema, {
    resourceSpans: batches.map((b) => ({
      resource: {
        attributes: [{ key: 'service.name', value: { value: { case: 'stringValue' as const, value: b.service } } }],
      },
      schemaUrl: `https://schemas/${b.service}`,
      scopeSpans: [{ scope: { name: b.scope ?? 'lib' }, schemaUrl: 'https://schemas/scope', spans: b.spans }],
    })),
  });
}

/** One line per span: "service/scope/span name", for order-insensitive comparison. */
function describe(traces: Traces): string[] {
  const lines: string[] = [];
  for (const rs of traces.resourceSpans) {
    const attr = rs.resource?.attributes[0]?.value?.value;
    const service = attr?.case === 'stringValue' ? attr.value : '?';
    for (const ss of rs.scopeSpans) for (const s of ss.spans) lines.push(`${service}/${ss.scope?.name}/${s.name}`);
  }
  return lines.sort();
}

function traceIdsOf(traces: Traces): Set<string> {
  const ids = new Set<string>();
  for (const rs of traces.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) ids.add(hexId(s.traceId));
  return ids;
}

function setup(config: Record<string, unknown>, options: GroupByTraceOptions = {}) {
  const settings = testSettings('groupbytrace');
  const next = new RecordingConsumer<'traces'>();
  const processor = new GroupByTraceProcessor(settings, groupByTraceConfigSchema.parse(config), next, options);
  const metric = (name: string) => settings.metrics.value(`${METRIC}_${name}`, { processor: 'groupbytrace' });
  return { processor, next, metric, settings };
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('config: collector defaults, num_workers accepted, bad values refused', () => {
  assert.deepEqual(groupByTraceConfigSchema.parse({}), {
    wait_duration: DEFAULT_WAIT_DURATION_MS,
    num_traces: DEFAULT_NUM_TRACES,
    num_workers: 1,
  });
  assert.equal(groupByTraceConfigSchema.parse({ wait_duration: '2s', num_workers: 4 }).wait_duration, 2000);
  assert.equal(groupByTraceConfigSchema.safeParse({ wait_duration: '0s' }).success, false);
  assert.equal(groupByTraceConfigSchema.safeParse({ num_traces: 0 }).success, false);
  assert.equal(groupByTraceConfigSchema.safeParse({ unknown: 1 }).success, false);
});

test('factory: type, kind and signals', () => {
  assert.equal(groupByTraceFactory.type, 'groupbytrace');
  assert.equal(groupByTraceFactory.kind, 'processor');
  assert.deepEqual(groupByTraceFactory.signals, ['traces']);
  const processor = groupByTraceFactory.create(testSettings('g'), groupByTraceConfigSchema.parse({}), 'traces', new RecordingConsumer());
  assert.equal(processor.canAccept(), true);
});

test('spans of one trace from several requests and resources go out together, under their resources and scopes', async () => {
  const { processor, next } = setup({ wait_duration: '50ms' });
  await processor.start();
  await processor.consume(request({ service: 'frontend', spans: [span(1, 1), span(2, 1)] }, { service: 'cart', spans: [span(1, 2)] }));
  await processor.consume(request({ service: 'frontend', spans: [span(1, 3)] }, { service: 'frontend', scope: 'db', spans: [span(1, 4)] }));
  assert.equal(next.received.length, 0, 'nothing is released before wait_duration');

  await next.waitFor(2);
  const byTrace = new Map(next.received.map((t) => [[...traceIdsOf(t)].join(), t]));
  const trace1 = byTrace.get(hexId(traceId(1)))!;
  const trace2 = byTrace.get(hexId(traceId(2)))!;
  assert.deepEqual(describe(trace1), ['cart/lib/span-1-2', 'frontend/db/span-1-4', 'frontend/lib/span-1-1', 'frontend/lib/span-1-3']);
  assert.deepEqual(describe(trace2), ['frontend/lib/span-2-1']);

  // The same resource from two requests is one ResourceSpans, with its schema URLs kept.
  assert.equal(trace1.resourceSpans.length, 2);
  const frontend = trace1.resourceSpans.find((rs) => rs.schemaUrl === 'https://schemas/frontend')!;
  assert.deepEqual(
    frontend.scopeSpans.map((ss) => [ss.scope?.name, ss.schemaUrl, ss.spans.length]),
    [
      ['lib', 'https://schemas/scope', 2],
      ['db', 'https://schemas/scope', 1],
    ],
  );
  await processor.shutdown();
});

test('a trace is released after wait_duration; later spans of it start a new group', async () => {
  const { processor, next, metric } = setup({ wait_duration: '50ms' });
  await processor.consume(request({ service: 'a', spans: [span(1, 1), span(1, 2)] }));
  assert.equal(await metric('traces_in_memory'), 1);
  assert.equal(await metric('spans_in_memory'), 2);

  await next.waitFor(1);
  assert.deepEqual(describe(next.received[0]!), ['a/lib/span-1-1', 'a/lib/span-1-2']);
  assert.equal(await metric('traces_in_memory'), 0);
  assert.equal(await metric('spans_in_memory'), 0);

  await processor.consume(request({ service: 'a', spans: [span(1, 3)] }));
  await next.waitFor(2);
  assert.deepEqual(describe(next.received[1]!), ['a/lib/span-1-3']);
  assert.equal(await metric('traces_released_total'), 2);
  assert.equal(await metric('spans_released_total'), 3);
  await processor.shutdown();
});

test('beyond num_traces the oldest trace is released early, not lost', async () => {
  const { processor, next, metric } = setup({ wait_duration: '1h', num_traces: 2 });
  await processor.consume(request({ service: 'a', spans: [span(1, 1), span(2, 1)] }));
  await processor.consume(request({ service: 'a', spans: [span(1, 2), span(3, 1)] }));

  await next.waitFor(1);
  assert.deepEqual(describe(next.received[0]!), ['a/lib/span-1-1', 'a/lib/span-1-2']);
  assert.equal(await metric('traces_evicted_total'), 1);
  assert.equal(await metric('traces_in_memory'), 2);

  await processor.shutdown();
  assert.deepEqual(
    next.received
      .map((t) => describe(t))
      .flat()
      .sort(),
    ['a/lib/span-1-1', 'a/lib/span-1-2', 'a/lib/span-2-1', 'a/lib/span-3-1'],
  );
  assert.equal(await metric('dropped_spans_total'), 0);
});

test('a refusing next consumer makes the processor refuse upstream; recovery delivers everything', async () => {
  const { processor, next, metric } = setup({ wait_duration: '20ms' }, { retryIntervalMs: 10 });
  next.full = true;
  await processor.consume(request({ service: 'a', spans: [span(1, 1)] }, { service: 'b', spans: [span(2, 1)] }));

  await waitUntil(() => !processor.canAccept(), 'the released traces are pending');
  await assert.rejects(processor.consume(request({ service: 'a', spans: [span(3, 1)] })), CapacityError);
  assert.equal(await metric('traces_pending'), 2);

  next.full = false;
  await next.waitFor(2);
  await waitUntil(() => processor.canAccept(), 'the pending list is empty');
  assert.deepEqual(
    next.received
      .map((t) => describe(t))
      .flat()
      .sort(),
    ['a/lib/span-1-1', 'b/lib/span-2-1'],
  );
  assert.equal(await metric('traces_pending'), 0);
  assert.equal(await metric('dropped_spans_total'), 0);

  await processor.consume(request({ service: 'a', spans: [span(3, 1)] }));
  await next.waitFor(3);
  await processor.shutdown();
});

test('shutdown releases every held trace at once, and may be called twice', async () => {
  const { processor, next, metric } = setup({ wait_duration: '1h' });
  await processor.start();
  await processor.consume(request({ service: 'a', spans: [span(1, 1), span(2, 1), span(2, 2)] }));
  await processor.shutdown();
  assert.equal(next.received.length, 2);
  assert.equal(
    next.received.reduce((n, t) => n + spanCount(t), 0),
    3,
  );
  assert.equal(await metric('traces_in_memory'), 0);

  await processor.shutdown();
  assert.equal(processor.canAccept(), false);
  await assert.rejects(processor.consume(request({ service: 'a', spans: [span(3, 1)] })), CapacityError);
});

test('shutdown without start works', async () => {
  const { processor } = setup({});
  await processor.shutdown();
});

test('shutdown retries a refusing consumer for a bounded time, then drops with a count', async () => {
  const { processor, next, metric } = setup({ wait_duration: '1h' }, { retryIntervalMs: 5, shutdownTimeoutMs: 50 });
  await processor.consume(request({ service: 'a', spans: [span(1, 1), span(1, 2)] }));
  next.full = true;
  await processor.shutdown();
  assert.equal(next.received.length, 0);
  assert.equal(await metric('dropped_spans_total'), 2);
  assert.equal(await metric('traces_pending'), 0);
});

test('shutdown waits for a consumer that recovers in time', async () => {
  const { processor, next } = setup({ wait_duration: '1h' }, { retryIntervalMs: 5 });
  await processor.consume(request({ service: 'a', spans: [span(1, 1)] }));
  next.full = true;
  const stopping = processor.shutdown();
  setTimeout(() => (next.full = false), 20);
  await stopping;
  assert.equal(next.received.length, 1);
});

test('a permanent error downstream is counted as dropped and logged with the counts', async () => {
  const logLines: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  const settings = { ...testSettings('groupbytrace'), logger: createLogger('info', logStream) };
  const failing = {
    canAccept: () => true,
    consume: async () => {
      throw new Error('backend rejected the data');
    },
  };
  const processor = new GroupByTraceProcessor(settings, groupByTraceConfigSchema.parse({ wait_duration: '1h' }), failing);
  await processor.consume(request({ service: 'a', spans: [span(1, 1), span(1, 2), span(2, 1)] }));
  await processor.shutdown();
  assert.equal(await settings.metrics.value(`${METRIC}_dropped_spans_total`), 3);
  assert.equal(await settings.metrics.value(`${METRIC}_traces_released_total`), 0);

  const drops = logLines.map((l) => JSON.parse(l) as { msg: string; spans: number; reason: string });
  assert.ok(drops.every((d) => d.msg === 'groupbytrace dropped traces' && d.reason.includes('backend rejected the data')));
  assert.equal(
    drops.reduce((n, d) => n + d.spans, 0),
    3,
  );
});
