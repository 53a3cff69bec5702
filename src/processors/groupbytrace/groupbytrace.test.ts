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
import {
  groupByTraceConfigSchema,
  DEFAULT_MAX_RELEASE_BATCH_SPANS,
  DEFAULT_NUM_TRACES,
  DEFAULT_WAIT_DURATION_MS,
  RELEASE_SWEEP_INTERVAL_MS,
} from './config.js';
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
    max_release_batch_spans: DEFAULT_MAX_RELEASE_BATCH_SPANS,
  });
  assert.equal(DEFAULT_MAX_RELEASE_BATCH_SPANS, 2048);
  assert.ok(RELEASE_SWEEP_INTERVAL_MS >= 10 && RELEASE_SWEEP_INTERVAL_MS <= 20);
  assert.equal(groupByTraceConfigSchema.parse({ max_release_batch_spans: 1 }).max_release_batch_spans, 1);
  assert.equal(groupByTraceConfigSchema.safeParse({ max_release_batch_spans: 0 }).success, false);
  assert.equal(groupByTraceConfigSchema.safeParse({ max_release_batch_spans: 1.5 }).success, false);
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
  // A bound of 1 span releases each trace as a request of its own, as the collector does.
  const { processor, next } = setup({ wait_duration: '50ms', max_release_batch_spans: 1 });
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
  await next.waitFor(1);
  await waitUntil(() => processor.canAccept(), 'the pending list is empty');
  assert.equal(next.received.length, 1, 'the two traces released together are retried as one request');
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
  await next.waitFor(2);
  await processor.shutdown();
});

test('shutdown releases every held trace at once, and may be called twice', async () => {
  const { processor, next, metric } = setup({ wait_duration: '1h' });
  await processor.start();
  await processor.consume(request({ service: 'a', spans: [span(1, 1), span(2, 1), span(2, 2)] }));
  await processor.shutdown();
  assert.equal(next.received.length, 1, 'released together, in one request');
  assert.deepEqual(traceIdsOf(next.received[0]!), new Set([hexId(traceId(1)), hexId(traceId(2))]));
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

/** Span names per trace id in one request. */
function spansByTrace(traces: Traces): Map<string, string[]> {
  const byTrace = new Map<string, string[]>();
  for (const rs of traces.resourceSpans)
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans) {
        const key = hexId(s.traceId);
        byTrace.set(key, [...(byTrace.get(key) ?? []), s.name].sort());
      }
  return byTrace;
}

/** Asserts that every trace id is in exactly one of the requests, and returns each trace's span names. */
function wholeTraces(requests: Traces[]): Map<string, string[]> {
  const all = new Map<string, string[]>();
  for (const r of requests)
    for (const [id, names] of spansByTrace(r)) {
      assert.equal(all.has(id), false, `trace ${id} is split over requests`);
      all.set(id, names);
    }
  return all;
}

const names = (trace: number, count: number) => Array.from({ length: count }, (_, i) => `span-${trace}-${i + 1}`).sort();

test('traces due in the same sweep go downstream as one request of whole traces, resources merged', async () => {
  // A long sweep interval makes the batching deterministic: after a first release, the next
  // sweep is 300 ms later, so the traces of the two requests below fall due in the same sweep.
  const { processor, next, metric } = setup({ wait_duration: '10ms' }, { sweepIntervalMs: 300 });
  await processor.consume(request({ service: 'warmup', spans: [span(9, 1)] }));
  await next.waitFor(1);

  const consumedAt = performance.now();
  await processor.consume(
    request({ service: 'frontend', spans: [span(1, 1), span(2, 1), span(1, 2)] }, { service: 'cart', spans: [span(1, 3), span(3, 1)] }),
  );
  await processor.consume(
    request({ service: 'frontend', spans: [span(4, 1), span(4, 2)] }, { service: 'frontend', scope: 'db', spans: [span(2, 2)] }),
  );
  await next.waitFor(2);
  assert.ok(performance.now() - consumedAt >= 10, 'not released before wait_duration');
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(next.received.length, 2, 'the four traces came in one request');

  const batch = next.received[1]!;
  assert.deepEqual(
    wholeTraces([batch]),
    new Map([
      [hexId(traceId(1)), names(1, 3)],
      [hexId(traceId(2)), names(2, 2)],
      [hexId(traceId(3)), names(3, 1)],
      [hexId(traceId(4)), names(4, 2)],
    ]),
  );
  // Each resource once, its scopes once within it, even across requests and traces.
  assert.deepEqual(
    batch.resourceSpans.map((rs) => [rs.schemaUrl, rs.scopeSpans.map((ss) => `${ss.scope?.name}:${ss.spans.length}`)]),
    [
      ['https://schemas/frontend', ['lib:5', 'db:1']],
      ['https://schemas/cart', ['lib:2']],
    ],
  );
  assert.equal(await metric('traces_released_total'), 5);
  assert.equal(await metric('spans_released_total'), 9);
  assert.equal(await metric('traces_in_memory'), 0);
  assert.equal(await metric('spans_in_memory'), 0);
  await processor.shutdown();
});

test('released resources are copies: a later processor changing one does not change the held traces', async () => {
  const { processor, next } = setup({ wait_duration: '1h', max_release_batch_spans: 1 });
  const shared = request({ service: 'a', spans: [span(1, 1), span(2, 1)] });
  await processor.consume(shared);
  await processor.shutdown();
  assert.equal(next.received.length, 2);
  next.received[0]!.resourceSpans[0]!.resource!.attributes.length = 0;
  assert.equal(next.received[1]!.resourceSpans[0]!.resource!.attributes.length, 1);
  assert.equal(shared.resourceSpans[0]!.resource!.attributes.length, 1);
});

test('a batch stays within max_release_batch_spans; a larger trace goes alone, whole; shutdown flushes in batches', async () => {
  const { processor, next, metric } = setup({ wait_duration: '1h', max_release_batch_spans: 5 });
  const sizes = [3, 2, 4, 7, 1, 1];
  await processor.consume(
    request({ service: 'a', spans: sizes.flatMap((n, t) => Array.from({ length: n }, (_, i) => span(t + 1, i + 1))) }),
  );
  await processor.shutdown();

  // In arrival order: [3+2], [4] (4+7 is over), [7] alone, [1+1].
  assert.deepEqual(
    next.received.map((r) => [...spansByTrace(r).values()].map((s) => s.length)),
    [[3, 2], [4], [7], [1, 1]],
  );
  for (const r of next.received) assert.ok(spanCount(r) <= 5 || spansByTrace(r).size === 1, 'over the bound only as a single trace');
  const traces = wholeTraces(next.received);
  assert.equal(traces.size, sizes.length);
  sizes.forEach((n, t) => assert.deepEqual(traces.get(hexId(traceId(t + 1))), names(t + 1, n)));
  assert.equal(await metric('traces_released_total'), 6);
  assert.equal(await metric('spans_released_total'), 18);
  assert.equal(await metric('dropped_spans_total'), 0);
});

test('traces evicted by one request are released together, each whole, and counted', async () => {
  const { processor, next, metric } = setup({ wait_duration: '1h', num_traces: 2 });
  await processor.consume(request({ service: 'a', spans: [span(1, 1), span(2, 1), span(2, 2)] }));
  // Traces 3, 4 and 5 push out 1, 2 and 3; the later span of 3 starts a new group, pushing out 4.
  await processor.consume(request({ service: 'a', spans: [span(3, 1), span(4, 1), span(5, 1), span(3, 2)] }));
  await next.waitFor(1);
  assert.equal(next.received.length, 1, 'one request for the four evicted traces');
  assert.deepEqual(
    wholeTraces(next.received),
    new Map([
      [hexId(traceId(1)), ['span-1-1']],
      [hexId(traceId(2)), names(2, 2)],
      [hexId(traceId(3)), ['span-3-1']],
      [hexId(traceId(4)), ['span-4-1']],
    ]),
  );
  assert.equal(await metric('traces_evicted_total'), 4);
  assert.equal(await metric('traces_in_memory'), 2);
  assert.equal(await metric('spans_in_memory'), 2);
  await processor.shutdown();
  assert.deepEqual(
    next.received
      .map((t) => describe(t))
      .flat()
      .sort(),
    ['a/lib/span-1-1', 'a/lib/span-2-1', 'a/lib/span-2-2', 'a/lib/span-3-1', 'a/lib/span-3-2', 'a/lib/span-4-1', 'a/lib/span-5-1'],
  );
});

/** Accepts when asked, but refuses the first `refusals` requests it is given, like a queue that filled meanwhile. */
class RefusingFirst {
  readonly received: Traces[] = [];
  attempts = 0;
  constructor(private refusals: number) {}
  canAccept(): boolean {
    return true;
  }
  async consume(traces: Traces): Promise<void> {
    this.attempts++;
    if (this.refusals > 0) {
      this.refusals--;
      throw new CapacityError('next', 'full');
    }
    this.received.push(traces);
  }
}

test('a refused batch waits whole in the pending list, and its retry delivers it once', async () => {
  const settings = testSettings('groupbytrace');
  const next = new RefusingFirst(2);
  const processor = new GroupByTraceProcessor(settings, groupByTraceConfigSchema.parse({ wait_duration: '10ms' }), next, {
    retryIntervalMs: 30,
  });
  const metric = (name: string) => settings.metrics.value(`${METRIC}_${name}`, { processor: 'groupbytrace' });
  await processor.consume(request({ service: 'a', spans: [span(1, 1), span(2, 1), span(2, 2)] }, { service: 'b', spans: [span(3, 1)] }));

  await waitUntil(() => next.attempts >= 1, 'the batch was offered');
  assert.equal(processor.canAccept(), false);
  await assert.rejects(processor.consume(request({ service: 'a', spans: [span(4, 1)] })), (err: unknown) => {
    assert.ok(err instanceof CapacityError);
    assert.match(err.message, /3 released trace\(s\) in 1 request\(s\)/);
    return true;
  });
  assert.equal(await metric('traces_pending'), 3, 'the pending list counts traces');
  assert.equal(await metric('traces_released_total'), 0);

  await waitUntil(() => processor.canAccept(), 'the pending batch was delivered');
  assert.equal(next.attempts, 3, 'refused twice, delivered on the third attempt');
  assert.equal(next.received.length, 1);
  assert.deepEqual(
    wholeTraces(next.received),
    new Map([
      [hexId(traceId(1)), ['span-1-1']],
      [hexId(traceId(2)), names(2, 2)],
      [hexId(traceId(3)), ['span-3-1']],
    ]),
  );
  assert.equal(await metric('traces_pending'), 0);
  assert.equal(await metric('traces_released_total'), 3);
  assert.equal(await metric('spans_released_total'), 4);
  await processor.shutdown();
  assert.equal(next.received.length, 1, 'nothing delivered twice');
  assert.equal(await metric('dropped_spans_total'), 0);
});

test('shutdown drops a refused batch whole, with its trace and span counts', async () => {
  const logLines: { msg: string; traces: number; spans: number }[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(JSON.parse(chunk.toString()) as { msg: string; traces: number; spans: number });
      done();
    },
  });
  const settings = { ...testSettings('groupbytrace'), logger: createLogger('info', logStream) };
  const next = new RefusingFirst(Infinity);
  const processor = new GroupByTraceProcessor(settings, groupByTraceConfigSchema.parse({ wait_duration: '1h' }), next, {
    retryIntervalMs: 5,
    shutdownTimeoutMs: 40,
  });
  await processor.consume(request({ service: 'a', spans: [span(1, 1), span(2, 1), span(2, 2)] }));
  await processor.shutdown();
  assert.equal(await settings.metrics.value(`${METRIC}_dropped_spans_total`), 3);
  assert.equal(await settings.metrics.value(`${METRIC}_traces_pending`), 0);
  const drops = logLines.filter((l) => l.msg === 'groupbytrace dropped traces');
  assert.deepEqual([drops.reduce((n, d) => n + d.traces, 0), drops.reduce((n, d) => n + d.spans, 0)], [2, 3]);
});

test('a steady stream is released in fewer requests than traces, each trace whole and not before its wait_duration', async () => {
  const settings = testSettings('groupbytrace');
  const arrivals = new Map<string, number>();
  const releases: { at: number; traces: Traces }[] = [];
  const next = {
    canAccept: () => true,
    consume: async (traces: Traces) => void releases.push({ at: performance.now(), traces }),
  };
  const processor = new GroupByTraceProcessor(settings, groupByTraceConfigSchema.parse({ wait_duration: '30ms' }), next, {
    sweepIntervalMs: 20,
  });
  for (let i = 1; i <= 40; i++) {
    arrivals.set(hexId(traceId(i)), performance.now());
    await processor.consume(request({ service: 'a', spans: [span(i, 1), span(i, 2)] }));
    await new Promise((r) => setTimeout(r, 2));
  }
  await waitUntil(() => releases.reduce((n, r) => n + spanCount(r.traces), 0) === 80, 'every span arrived');
  assert.equal(wholeTraces(releases.map((r) => r.traces)).size, 40);
  for (const { at, traces } of releases)
    for (const id of traceIdsOf(traces)) assert.ok(at - arrivals.get(id)! >= 30 - 1, `trace ${id} released early`);
  assert.ok(releases.length < 40, `${releases.length} requests for 40 traces`);
  await processor.shutdown();
});
