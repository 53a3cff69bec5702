/**
 * The real OpenTelemetry JS SDK sends spans through `netspan run` with each of its three OTLP
 * trace exporters; the file exporter writes them back out and every field must match what
 * the SDK recorded. The expected OTLP/JSON is built here from the SDK's own span objects,
 * independently of netspan's codec.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { context, trace, SpanKind, SpanStatusCode, type Attributes, type AttributeValue, type HrTime } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as HttpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { NetspanProcess } from './netspan-process.js';

const CONFIG = `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:0 }
      http: { endpoint: 127.0.0.1:0 }
processors:
  groupbytrace: { wait_duration: 300ms, num_traces: 1000 }
exporters:
  file: { path: $DIR/traces.jsonl }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [groupbytrace], exporters: [file] }
  telemetry:
    logs: { level: info }
    metrics: { address: 127.0.0.1:0 }
`;

type Json = Record<string, unknown>;

const nanos = (t: HrTime) => (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();

/** The OTLP/JSON AnyValue for an SDK attribute value (integers → intValue as a string). */
function anyValue(v: AttributeValue | undefined | null): Json {
  if (Array.isArray(v)) return { arrayValue: { values: v.map((x) => anyValue(x as AttributeValue)) } };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return {};
}

const attributes = (a: Attributes) => Object.entries(a).map(([key, value]) => ({ key, value: anyValue(value) }));

/** What the OTLP/JSON of a span must be, from the SDK's ReadableSpan. */
function expectedSpan(s: ReadableSpan): Json {
  const ctx = s.spanContext();
  const out: Json = {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    name: s.name,
    kind: s.kind + 1,
    startTimeUnixNano: nanos(s.startTime),
    endTimeUnixNano: nanos(s.endTime),
  };
  if (s.parentSpanContext) out.parentSpanId = s.parentSpanContext.spanId;
  if (Object.keys(s.attributes).length) out.attributes = attributes(s.attributes);
  if (s.events.length)
    out.events = s.events.map((e) => ({
      timeUnixNano: nanos(e.time),
      name: e.name,
      ...(e.attributes && Object.keys(e.attributes).length ? { attributes: attributes(e.attributes) } : {}),
    }));
  if (s.links.length)
    out.links = s.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      ...(l.attributes && Object.keys(l.attributes).length ? { attributes: attributes(l.attributes) } : {}),
    }));
  // The SDK always sends a status; OTLP/JSON omits its zero-valued fields (UNSET, "").
  out.status = {
    ...(s.status.code !== SpanStatusCode.UNSET ? { code: s.status.code } : {}),
    ...(s.status.message ? { message: s.status.message } : {}),
  };
  return out;
}

/** Emits one trace with every kind, attribute type, events, links and an error status. */
function emitTrace(provider: NodeTracerProvider, label: string): string {
  const tracer = provider.getTracer('netspan-e2e', '1.2.3');
  const root = tracer.startSpan(`GET /checkout ${label}`, {
    kind: SpanKind.SERVER,
    attributes: {
      'http.request.method': 'GET',
      'server.port': 8080,
      'sampling.ratio': 0.25,
      'feature.enabled': true,
      tags: ['a', 'b'],
      ports: [80, 443],
      ratios: [0.5, 1.5],
      flags: [true, false],
    },
  });
  const rootCtx = trace.setSpan(context.active(), root);
  const client = tracer.startSpan(
    'SELECT orders',
    { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', 'network.peer.port': 5432 } },
    rootCtx,
  );
  client.addEvent('retry', { attempt: 2, reason: 'timeout' });
  client.addEvent('plain');
  client.addLink({ context: root.spanContext(), attributes: { 'link.kind': 'follows' } });
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'deadline exceeded' });
  client.end();
  for (const kind of [SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER]) tracer.startSpan(`kind ${kind}`, { kind }, rootCtx).end();
  root.setStatus({ code: SpanStatusCode.OK });
  root.end();
  return root.spanContext().traceId;
}

function readFileSpans(path: string): { resource: Json; scope: Json; span: Json }[] {
  if (!existsSync(path)) return [];
  const out: { resource: Json; scope: Json; span: Json }[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n').filter(Boolean)) {
    const req = JSON.parse(line) as { resourceSpans: { resource: Json; scopeSpans: { scope: Json; spans: Json[] }[] }[] };
    for (const rs of req.resourceSpans)
      for (const ss of rs.scopeSpans) for (const span of ss.spans) out.push({ resource: rs.resource, scope: ss.scope, span });
  }
  return out;
}

describe('the OpenTelemetry JS SDK through netspan run', () => {
  let netspan: NetspanProcess;
  before(async () => {
    netspan = await NetspanProcess.start(CONFIG);
  });
  after(async () => {
    assert.equal(await netspan.stop(), 0, 'netspan exits 0 after SIGTERM');
  });

  const exporters: [string, () => SpanExporter][] = [
    ['http/json', () => new HttpJsonExporter({ url: `http://${netspan.endpoint('OTLP/HTTP receiver listening')}/v1/traces` })],
    ['http/protobuf', () => new HttpProtoExporter({ url: `http://${netspan.endpoint('OTLP/HTTP receiver listening')}/v1/traces` })],
    ['grpc', () => new GrpcExporter({ url: `http://${netspan.endpoint('OTLP/gRPC receiver listening')}` })],
  ];

  for (const [name, makeExporter] of exporters) {
    test(`${name}: every span field comes back as the SDK sent it`, async () => {
      const memory = new InMemorySpanExporter();
      const provider = new NodeTracerProvider({
        resource: resourceFromAttributes({ 'service.name': `checkout-${name}`, 'service.version': '4.2', 'host.cores': 2 }),
        spanProcessors: [new SimpleSpanProcessor(memory), new BatchSpanProcessor(makeExporter())],
      });
      const traceId = emitTrace(provider, name);
      await provider.forceFlush();
      // Read before shutdown: shutting the in-memory exporter down empties it.
      const sent = [...memory.getFinishedSpans()];
      await provider.shutdown();
      assert.equal(sent.length, 5);

      const path = join(netspan.dir, 'traces.jsonl');
      let got: ReturnType<typeof readFileSpans> = [];
      for (let i = 0; i < 100 && got.length < sent.length; i++) {
        await new Promise((r) => setTimeout(r, 100));
        got = readFileSpans(path).filter((x) => x.span.traceId === traceId);
      }
      assert.equal(got.length, sent.length, `all ${sent.length} spans of trace ${traceId} written`);

      for (const s of sent) {
        const want = expectedSpan(s);
        const found = got.find((g) => g.span.spanId === want.spanId);
        assert.ok(found, `span ${s.name} present`);
        const { flags, ...rest } = found.span as Json & { flags?: number };
        // Links carry flags too (W3C trace flags in the low byte, is-remote bits above).
        const links = (rest.links as (Json & { flags?: number })[] | undefined)?.map(({ flags: linkFlags, ...link }, i) => {
          assert.equal((linkFlags ?? 0) & 0xff, s.links[i]!.context.traceFlags, 'link trace flags');
          return link;
        });
        if (links) rest.links = links;
        assert.deepEqual(rest, want, `span ${s.name}`);
        assert.equal((flags ?? 0) & 0xff, s.spanContext().traceFlags, 'W3C trace flags in the low byte of flags');
        assert.deepEqual(found.resource, { attributes: attributes(s.resource.attributes) });
        assert.deepEqual(found.scope, { name: 'netspan-e2e', version: '1.2.3' });
      }
    });
  }

  test('self-metrics count what was accepted per transport', async () => {
    assert.ok((await netspan.metric('netspan_receiver_accepted_spans_total', { transport: 'http' })) >= 10);
    assert.ok((await netspan.metric('netspan_receiver_accepted_spans_total', { transport: 'grpc' })) >= 5);
    const health = await fetch(`http://${netspan.telemetry}/health`);
    assert.equal(health.status, 200);
  });
});
