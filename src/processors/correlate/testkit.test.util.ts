/** Builders for the correlate tests: spans with attributes, traces, flow records, a store. */
import { create } from '@bufbuild/protobuf';
import { MemoryFlowStore } from '../../evidence/memory/store.js';
import type { FlowMatch, FlowQuery } from '../../evidence/store.js';
import type { FlowRecord } from '../../model/flow.js';
import { hexId, type Traces } from '../../model/otlp.js';
import { ExportTraceServiceRequestSchema } from '../../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import type { AnyValue, KeyValue } from '../../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { KeyValueSchema } from '../../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { SpanSchema, Span_SpanKind, type Span } from '../../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { correlateConfigSchema, type CorrelateConfig } from './config.js';
import type { FlowEvidenceSource } from './source.js';
import { StoreFlowEvidenceSource } from './source.js';

export { Span_SpanKind };

/** 2023-11-14T22:13:20Z. */
export const T0_MS = 1_700_000_000_000;
export const MS = 1_000_000n;
export const T0 = BigInt(T0_MS) * MS;
/** Unix nanoseconds of T0 + ms. */
export const at = (ms: number): bigint => T0 + BigInt(Math.round(ms * 1000)) * 1000n;

export type AttrValue = string | number | bigint | boolean;

export function attrs(values: Record<string, AttrValue>): KeyValue[] {
  return Object.entries(values).map(([key, v]) => {
    let value: AnyValue['value'];
    if (typeof v === 'string') value = { case: 'stringValue', value: v };
    else if (typeof v === 'bigint') value = { case: 'intValue', value: v };
    else if (typeof v === 'boolean') value = { case: 'boolValue', value: v };
    else if (Number.isInteger(v)) value = { case: 'intValue', value: BigInt(v) };
    else value = { case: 'doubleValue', value: v };
    return create(KeyValueSchema, { key, value: { value } });
  });
}

export function traceId(n: number): Uint8Array {
  const id = new Uint8Array(16);
  id[0] = 0xab;
  id[15] = n;
  return id;
}

export function spanId(n: number): Uint8Array {
  const id = new Uint8Array(8);
  id[0] = 0xcd;
  id[7] = n;
  return id;
}

export interface SpanSpec {
  trace?: number;
  id: number;
  parent?: number;
  name?: string;
  kind: Span_SpanKind;
  startMs: number;
  endMs: number;
  attributes?: Record<string, AttrValue>;
}

export function span(s: SpanSpec): Span {
  return create(SpanSchema, {
    traceId: traceId(s.trace ?? 1),
    spanId: spanId(s.id),
    parentSpanId: s.parent === undefined ? new Uint8Array(0) : spanId(s.parent),
    name: s.name ?? `span-${s.id}`,
    kind: s.kind,
    startTimeUnixNano: at(s.startMs),
    endTimeUnixNano: at(s.endMs),
    attributes: attrs(s.attributes ?? {}),
    flags: 0x101,
  });
}

/** A request with one ResourceSpans per service. */
export function traces(byService: Record<string, Span[]>): Traces {
  return create(ExportTraceServiceRequestSchema, {
    resourceSpans: Object.entries(byService).map(([service, spans]) => ({
      resource: { attributes: attrs({ 'service.name': service }) },
      scopeSpans: [{ scope: { name: `${service}-lib` }, spans }],
    })),
  });
}

/** Every span of a request. */
export function allSpans(t: Traces): Span[] {
  return t.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
}

/** The spans the processor added (scope "netspan"). */
export function synthesized(t: Traces): Span[] {
  return t.resourceSpans.flatMap((rs) => rs.scopeSpans.filter((ss) => ss.scope?.name === 'netspan').flatMap((ss) => ss.spans));
}

export function attr(s: Span, key: string): unknown {
  const v = s.attributes.find((a) => a.key === key)?.value?.value;
  if (!v) return undefined;
  if (v.case === 'intValue') return Number(v.value);
  if (v.case === 'arrayValue') return v.value.values.map((x) => x.value.value);
  return v.value;
}

export function byName(t: Traces, name: string): Span {
  const s = allSpans(t).find((x) => x.name === name);
  if (!s)
    throw new Error(
      `no span named ${JSON.stringify(name)}; have ${allSpans(t)
        .map((x) => x.name)
        .join(', ')}`,
    );
  return s;
}

export const hex = hexId;

// The lab: athos (client) ── porthos ── dartagnan ── aramis (server).
export const ATHOS = '10.0.1.10';
export const ARAMIS = '10.0.2.20';
export const DB = '10.0.3.30';
export const PORTHOS = '192.0.2.1';
export const DARTAGNAN = '192.0.2.2';
export const PORTHOS_LINK = '10.0.12.1';
export const DARTAGNAN_LINK = '10.0.12.2';

export const DEVICES = {
  [PORTHOS]: { name: 'porthos', interfaces: { 1: 'por0', 2: 'por1' }, addresses: [PORTHOS_LINK, '10.0.1.1'] },
  [DARTAGNAN]: { name: 'dartagnan', interfaces: { 1: 'dar0', 2: 'dar1', 3: 'dar2' }, addresses: [DARTAGNAN_LINK, '10.0.2.1', '10.0.3.1'] },
};

export function config(overrides: Record<string, unknown> = {}): CorrelateConfig {
  return correlateConfigSchema.parse({ devices: DEVICES, ...overrides });
}

export interface FlowSpec {
  exporter: string;
  /** 'request': source → destination of the connection; 'response': the reverse. */
  direction: 'request' | 'response';
  startMs: number;
  endMs: number;
  bytes?: number;
  packets?: number;
  flags?: number;
  nextHop?: string;
  inIf?: number;
  outIf?: number;
  resolutionNs?: number;
  type?: FlowRecord['type'];
  samplingRate?: number;
  protocol?: number;
}

export interface Conn {
  src: string;
  sport: number;
  dst: string;
  dport: number;
}

export const MAIN: Conn = { src: ATHOS, sport: 40000, dst: ARAMIS, dport: 8080 };

export function flow(c: Conn, f: FlowSpec): FlowRecord {
  const req = f.direction === 'request';
  return {
    type: f.type ?? 'ipfix',
    samplerAddress: f.exporter,
    observationDomainId: 0,
    sequenceNumber: 1,
    exportTimeUnixNano: at(f.endMs + 1000),
    sourceAddress: req ? c.src : c.dst,
    sourcePort: req ? c.sport : c.dport,
    destinationAddress: req ? c.dst : c.src,
    destinationPort: req ? c.dport : c.sport,
    protocol: f.protocol ?? 6,
    ipVersion: c.src.includes(':') ? 6 : 4,
    bytes: f.bytes ?? 1000,
    packets: f.packets ?? 5,
    startUnixNano: at(f.startMs),
    endUnixNano: at(f.endMs),
    timeResolutionNano: f.resolutionNs ?? 1_000_000,
    inputInterface: f.inIf ?? 1,
    outputInterface: f.outIf ?? 2,
    nextHop: f.nextHop ?? '',
    samplingRate: f.samplingRate ?? 1,
    tcpFlags: f.flags ?? 0x1b,
  };
}

/**
 * The flows of one session of `c` over porthos then dartagnan, request and response, from
 * startMs to endMs; `bytes` marks the session (every flow of it carries that byte count).
 */
export function sessionFlows(c: Conn, startMs: number, endMs: number, bytes: number, flags = true): FlowRecord[] {
  const F = flags ? 0x1b : 0; // FIN SYN PSH ACK
  return [
    flow(c, { exporter: PORTHOS, direction: 'request', startMs, endMs, bytes, flags: F, nextHop: DARTAGNAN_LINK, inIf: 1, outIf: 2 }),
    flow(c, {
      exporter: DARTAGNAN,
      direction: 'request',
      startMs: startMs + 1,
      endMs: endMs + 1,
      bytes,
      flags: F,
      nextHop: c.dst,
      inIf: 1,
      outIf: 2,
    }),
    flow(c, {
      exporter: DARTAGNAN,
      direction: 'response',
      startMs: startMs + 2,
      endMs: endMs - 1,
      bytes,
      flags: F,
      nextHop: PORTHOS_LINK,
      inIf: 2,
      outIf: 1,
    }),
    flow(c, { exporter: PORTHOS, direction: 'response', startMs: startMs + 3, endMs, bytes, flags: F, nextHop: c.src, inIf: 2, outIf: 1 }),
  ];
}

/** A store with a clock at T0 + nowMs. */
export function store(records: FlowRecord[] = [], nowMs = 10_000, retentionMs = 15 * 60_000): MemoryFlowStore {
  const s = new MemoryFlowStore({ now: () => T0_MS + nowMs, retentionMs, maxFlows: 100_000 });
  s.insert(records);
  return s;
}

/** A source that records its lookups. */
export class CountingSource implements FlowEvidenceSource {
  readonly kind = 'counting';
  readonly calls: FlowQuery[][] = [];
  private readonly inner: StoreFlowEvidenceSource;
  fail: Error | undefined;

  constructor(storeOrRecords: MemoryFlowStore | FlowRecord[] = []) {
    this.inner = new StoreFlowEvidenceSource(Array.isArray(storeOrRecords) ? store(storeOrRecords) : storeOrRecords);
  }
  get retentionMs(): number {
    return this.inner.retentionMs;
  }
  async lookup(queries: readonly FlowQuery[]): Promise<FlowMatch[][]> {
    this.calls.push([...queries]);
    if (this.fail) throw this.fail;
    return this.inner.lookup(queries);
  }
}

/** A client span of `c` (current conventions) and the server span that served it, as children. */
export function clientServer(
  c: Conn,
  o: {
    trace?: number;
    client?: number;
    server?: number;
    parent?: number;
    startMs?: number;
    endMs?: number;
    serverStartMs?: number;
    serverEndMs?: number;
  } = {},
): { client: Span; server: Span } {
  const start = o.startMs ?? 0;
  const end = o.endMs ?? 100;
  const client = span({
    trace: o.trace,
    id: o.client ?? 2,
    parent: o.parent,
    name: 'GET /api/cart (client)',
    kind: Span_SpanKind.CLIENT,
    startMs: start,
    endMs: end,
    attributes: {
      'http.request.method': 'GET',
      'url.full': `http://aramis:${c.dport}/api/cart`,
      'server.address': 'aramis',
      'server.port': c.dport,
      'network.peer.address': c.dst,
      'network.peer.port': c.dport,
      'network.local.address': c.src,
      'network.local.port': c.sport,
    },
  });
  const server = span({
    trace: o.trace,
    id: o.server ?? 3,
    parent: o.client ?? 2,
    name: 'GET /api/cart (server)',
    kind: Span_SpanKind.SERVER,
    startMs: o.serverStartMs ?? start + 10,
    endMs: o.serverEndMs ?? end - 10,
    attributes: {
      'http.request.method': 'GET',
      'url.path': '/api/cart',
      'client.address': c.src,
      'network.peer.address': c.src,
      'network.peer.port': c.sport,
      'network.local.address': c.dst,
      'server.port': c.dport,
    },
  });
  return { client, server };
}
