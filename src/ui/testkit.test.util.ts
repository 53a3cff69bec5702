/** Builders for the UI tests: the demo's application spans enriched as the correlation would (summary, device and hop spans, optionally a verdict). */
import { create } from '@bufbuild/protobuf';
import type { Traces } from '../model/otlp.js';
import { ExportTraceServiceRequestSchema } from '../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { KeyValueSchema, type KeyValue } from '../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { SpanSchema, Span_SpanKind } from '../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { demoRequest, HOSTS, BACKEND_PORT } from '../demo/scenario.js';

export const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

export function kv(values: Record<string, string | number | string[]>): KeyValue[] {
  return Object.entries(values).map(([key, v]) =>
    create(KeyValueSchema, {
      key,
      value: {
        value: Array.isArray(v)
          ? { case: 'arrayValue', value: { values: v.map((s) => ({ value: { case: 'stringValue' as const, value: s } })) } }
          : typeof v === 'string'
            ? { case: 'stringValue', value: v }
            : Number.isInteger(v)
              ? { case: 'intValue', value: BigInt(v) }
              : { case: 'doubleValue', value: v },
      },
    }),
  );
}

export const hexBytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
export const ns = (ms: number) => BigInt(Math.round(ms * 1000)) * 1000n;

/** The demo's application spans of request i plus a network summary (with a verdict when asked) and two device spans. */
export function enriched(i: number, options: { verdict?: boolean; t0?: number } = {}): { traces: Traces; traceId: string; slow: boolean } {
  const r = demoRequest(i, (options.t0 ?? T0) + i * 1000);
  const client = r.traces.resourceSpans[0]!.scopeSpans[0]!.spans[1]!;
  const start = Number(client.startTimeUnixNano / 1000n) / 1000;
  const end = Number(client.endTimeUnixNano / 1000n) / 1000;
  const summaryId = `5${i.toString(16).padStart(15, '0')}`;
  const s = (id: string, parent: string, name: string, attributes: KeyValue[], from = start, to = end) =>
    create(SpanSchema, {
      traceId: client.traceId,
      spanId: hexBytes(id),
      parentSpanId: hexBytes(parent),
      name,
      kind: Span_SpanKind.INTERNAL,
      startTimeUnixNano: ns(from),
      endTimeUnixNano: ns(to),
      attributes,
    });
  const summaryAttributes: Record<string, string | number | string[]> = {
    'source.address': HOSTS.frontend,
    'source.port': 41000 + i,
    'destination.address': HOSTS.backend,
    'destination.port': BACKEND_PORT,
    'netspan.network.share_ms': r.slow ? 104.5 : 3.25,
    'netspan.evidence': ['client_server_pair', 'ipfix', 'ioam'],
    'netspan.timing.accuracy': 'exact',
  };
  if (options.verdict)
    Object.assign(summaryAttributes, {
      'netspan.verdict': 'porthos por1: queue 52 kB, +100 ms',
      'netspan.verdict.rule': 'ioam_queue',
      'netspan.verdict.device': 'porthos',
      'netspan.verdict.interface': 'por1',
      'netspan.verdict.cause': 'congestion',
      'netspan.verdict.added_ms': 100.5,
    });
  const network = [
    s(
      summaryId,
      Buffer.from(client.spanId).toString('hex'),
      `network ${HOSTS.frontend}:${41000 + i} → ${HOSTS.backend}:8080`,
      kv(summaryAttributes),
    ),
    s(
      `6${i.toString(16).padStart(15, '0')}`,
      summaryId,
      'porthos response',
      kv({
        'netspan.device.address': '127.0.0.2',
        'netspan.device.name': 'porthos',
        'netspan.direction': 'response',
        'netspan.path.index': 1,
      }),
    ),
    s(
      `7${i.toString(16).padStart(15, '0')}`,
      summaryId,
      'porthos request (IOAM)',
      kv({
        'netspan.device.name': 'porthos',
        'netspan.direction': 'request',
        'netspan.path.index': 0,
        'ioam.namespace_id': 123,
        'ioam.node_id': 2,
        'netspan.hop.transit_ms': r.slow ? 101.2 : 0.1,
      }),
    ),
  ];
  const traces = create(ExportTraceServiceRequestSchema, {
    resourceSpans: [
      ...r.traces.resourceSpans,
      { resource: { attributes: kv({ 'service.name': 'network' }) }, scopeSpans: [{ scope: { name: 'netspan' }, spans: network }] },
    ],
  });
  return { traces, traceId: r.traceId, slow: r.slow };
}
