/**
 * The UI's trace store: recent enriched traces in memory, bounded by trace count and span count
 * (whole traces are evicted, the least recently received first, and counted), with the
 * derivations the API serves: a summary per trace (root, duration, network share, verdict) and,
 * per trace, its connections (network summary spans with their device spans) and devices.
 * Spans are kept in a plain JSON form (attributes as plain values) made once on arrival.
 */
import { fromAnyValue, fromKeyValues } from '../model/observation-logs.js';
import type { JsonValue } from '../model/observation.js';
import type { SelfMetrics } from '../core/telemetry/metrics.js';
import { hexId, type Traces } from '../model/otlp.js';
import type { AnyValue, KeyValue } from '../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { Span_SpanKind, Status_StatusCode, type Span } from '../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';

/** An attribute value as plain JSON: 64-bit integers beyond 2^53 as decimal strings, bytes as hex. */
export type PlainValue = JsonValue;
export type PlainAttributes = Record<string, PlainValue>;

/** What a span is to the UI: an application span, or one of the spans netspan adds. */
export type SpanRole = 'app' | 'network_summary' | 'flow_device' | 'ioam_hop' | 'observation_point';

export interface UiSpan {
  traceId: string;
  spanId: string;
  /** '' for a root. */
  parentSpanId: string;
  name: string;
  kind: 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  service: string;
  scope: string;
  role: SpanRole;
  /** Unix nanoseconds, decimal. */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** Unix milliseconds (fractional), for display and sorting. */
  startMs: number;
  durationMs: number;
  attributes: PlainAttributes;
  events: { name: string; timeUnixNano: string; attributes: PlainAttributes }[];
  status: { code: 'unset' | 'ok' | 'error'; message: string };
}

/** The verdict attributes of a network summary span (written by the correlation's verdict rules). */
export const VERDICT_ATTRIBUTES = {
  text: 'netspan.verdict',
  rule: 'netspan.verdict.rule',
  device: 'netspan.verdict.device',
  interface: 'netspan.verdict.interface',
  cause: 'netspan.verdict.cause',
  addedMs: 'netspan.verdict.added_ms',
} as const;

export interface Verdict {
  text: string;
  rule?: string;
  device?: string;
  interface?: string;
  cause?: string;
  addedMs?: number;
  /** The summary span that carries it. */
  spanId: string;
}

export interface TraceSummary {
  traceId: string;
  rootName: string;
  rootService: string;
  /** Unix ms of the earliest span. */
  startMs: number;
  startTimeUnixNano: string;
  durationMs: number;
  spanCount: number;
  services: string[];
  /** Sum of `netspan.network.share_ms` over the trace's network summary spans; null when none has it. */
  networkShareMs: number | null;
  /** networkShareMs / durationMs (0..1), null without a share. */
  networkShareRatio: number | null;
  connections: number;
  /** The first verdict of the trace (the one that adds the most time), null when none. */
  verdict: Verdict | null;
  hasError: boolean;
}

export interface Connection {
  summary: UiSpan;
  source: string;
  destination: string;
  shareMs: number | null;
  evidence: string[];
  timingAccuracy: string | null;
  verdict: Verdict | null;
  /** Device spans (flow, IOAM hop, observation point) under the summary, request path first, each in path order. */
  hops: UiSpan[];
  /** The hop span with the largest `netspan.hop.transit_ms`, when any hop has it: a fact, not a verdict. */
  slowestHop: { spanId: string; name: string; device: string; transitMs: number } | null;
}

export interface DeviceSeen {
  name: string;
  address: string | null;
  spans: number;
  roles: SpanRole[];
}

export interface TraceDetail {
  summary: TraceSummary;
  spans: UiSpan[];
  connections: Connection[];
  devices: DeviceSeen[];
}

interface StoredTrace {
  traceId: string;
  spans: Map<string, UiSpan>;
  summary: TraceSummary | undefined;
}

const KINDS: Record<number, UiSpan['kind']> = {
  [Span_SpanKind.UNSPECIFIED]: 'unspecified',
  [Span_SpanKind.INTERNAL]: 'internal',
  [Span_SpanKind.SERVER]: 'server',
  [Span_SpanKind.CLIENT]: 'client',
  [Span_SpanKind.PRODUCER]: 'producer',
  [Span_SpanKind.CONSUMER]: 'consumer',
};

/** An OTLP value as plain JSON (the same conversion the observation intake uses). */
export const plainValue: (v: AnyValue | undefined) => PlainValue = fromAnyValue;
export const plainAttributes: (kvs: readonly KeyValue[]) => PlainAttributes = fromKeyValues;

const isZero = (b: Uint8Array) => b.every((x) => x === 0);

/** The role of a span: netspan's spans are in scope `netspan`; summaries have no direction, device spans do. */
export function spanRole(scope: string, name: string, a: PlainAttributes): SpanRole {
  if (scope !== 'netspan' && !scope.startsWith('netspan@')) return 'app';
  if (a['netspan.observer.name'] !== undefined || name.endsWith(' observed')) return 'observation_point';
  if (a['ioam.namespace_id'] !== undefined || name.endsWith('(IOAM)')) return 'ioam_hop';
  if (a['netspan.direction'] !== undefined || a['netspan.device.address'] !== undefined) return 'flow_device';
  return 'network_summary';
}

export function toUiSpan(span: Span, service: string, scope: string): UiSpan {
  const attributes = plainAttributes(span.attributes);
  const start = span.startTimeUnixNano;
  const end = span.endTimeUnixNano;
  return {
    traceId: hexId(span.traceId),
    spanId: hexId(span.spanId),
    parentSpanId: isZero(span.parentSpanId) ? '' : hexId(span.parentSpanId),
    name: span.name,
    kind: KINDS[span.kind] ?? 'unspecified',
    service,
    scope,
    role: spanRole(scope, span.name, attributes),
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: end.toString(),
    startMs: Number(start / 1000n) / 1000,
    durationMs: Number(end - start) / 1e6,
    attributes,
    events: span.events.map((e) => ({ name: e.name, timeUnixNano: e.timeUnixNano.toString(), attributes: plainAttributes(e.attributes) })),
    status: {
      code: span.status?.code === Status_StatusCode.ERROR ? 'error' : span.status?.code === Status_StatusCode.OK ? 'ok' : 'unset',
      message: span.status?.message ?? '',
    },
  };
}

function serviceOf(kvs: readonly KeyValue[] | undefined): string {
  const kv = kvs?.find((k) => k.key === 'service.name');
  const v = plainValue(kv?.value);
  return typeof v === 'string' ? v : 'unknown_service';
}

const num = (v: PlainValue | undefined): number | undefined => (typeof v === 'number' ? v : undefined);
const str = (v: PlainValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

export function verdictOf(s: UiSpan): Verdict | null {
  const a = s.attributes;
  const text = str(a[VERDICT_ATTRIBUTES.text]);
  if (text === undefined) return null;
  const v: Verdict = { text, spanId: s.spanId };
  const rule = str(a[VERDICT_ATTRIBUTES.rule]);
  const device = str(a[VERDICT_ATTRIBUTES.device]);
  const iface = str(a[VERDICT_ATTRIBUTES.interface]);
  const cause = str(a[VERDICT_ATTRIBUTES.cause]);
  const added = num(a[VERDICT_ATTRIBUTES.addedMs]);
  if (rule !== undefined) v.rule = rule;
  if (device !== undefined) v.device = device;
  if (iface !== undefined) v.interface = iface;
  if (cause !== undefined) v.cause = cause;
  if (added !== undefined) v.addedMs = added;
  return v;
}

const endpointText = (address: PlainValue | undefined, port: PlainValue | undefined) => {
  const a = str(address) ?? '?';
  return `${a.includes(':') ? `[${a}]` : a}:${num(port) ?? '?'}`;
};

export function summarize(traceId: string, spans: readonly UiSpan[]): TraceSummary {
  const ids = new Set(spans.map((s) => s.spanId));
  let root: UiSpan | undefined;
  let start = Infinity;
  let end = -Infinity;
  let startNano = '';
  let share: number | null = null;
  let connections = 0;
  let verdict: Verdict | null = null;
  let hasError = false;
  const services = new Set<string>();
  for (const s of spans) {
    services.add(s.service);
    if (s.startMs < start) {
      start = s.startMs;
      startNano = s.startTimeUnixNano;
    }
    end = Math.max(end, s.startMs + s.durationMs);
    if (s.status.code === 'error') hasError = true;
    const isRoot = s.parentSpanId === '' || !ids.has(s.parentSpanId);
    if (isRoot && (!root || s.startMs < root.startMs || (root.role !== 'app' && s.role === 'app'))) root = s;
    if (s.role === 'network_summary') {
      connections++;
      const m = num(s.attributes['netspan.network.share_ms']);
      if (m !== undefined) share = (share ?? 0) + m;
      const v = verdictOf(s);
      if (v && (!verdict || (v.addedMs ?? 0) > (verdict.addedMs ?? 0))) verdict = v;
    }
  }
  const durationMs = spans.length === 0 ? 0 : Math.round((end - start) * 1000) / 1000;
  return {
    traceId,
    rootName: root?.name ?? '',
    rootService: root?.service ?? '',
    startMs: spans.length === 0 ? 0 : start,
    startTimeUnixNano: startNano,
    durationMs,
    spanCount: spans.length,
    services: [...services].sort(),
    networkShareMs: share === null ? null : Math.round(share * 1000) / 1000,
    networkShareRatio: share === null || durationMs <= 0 ? null : Math.round((share / durationMs) * 1000) / 1000,
    connections,
    verdict,
    hasError,
  };
}

const DIRECTION_ORDER: Record<string, number> = { request: 0, response: 1 };

export function connectionsOf(spans: readonly UiSpan[]): Connection[] {
  const children = new Map<string, UiSpan[]>();
  for (const s of spans) {
    const list = children.get(s.parentSpanId);
    if (list) list.push(s);
    else children.set(s.parentSpanId, [s]);
  }
  return spans
    .filter((s) => s.role === 'network_summary')
    .sort((a, b) => a.startMs - b.startMs)
    .map((summary) => {
      const a = summary.attributes;
      const hops = (children.get(summary.spanId) ?? [])
        .filter((s) => s.role !== 'app' && s.role !== 'network_summary')
        .sort(
          (x, y) =>
            (DIRECTION_ORDER[str(x.attributes['netspan.direction']) ?? ''] ?? 2) -
              (DIRECTION_ORDER[str(y.attributes['netspan.direction']) ?? ''] ?? 2) ||
            x.role.localeCompare(y.role) ||
            (num(x.attributes['netspan.path.index']) ?? 0) - (num(y.attributes['netspan.path.index']) ?? 0) ||
            x.startMs - y.startMs,
        );
      let slowest: Connection['slowestHop'] = null;
      for (const h of hops) {
        const t = num(h.attributes['netspan.hop.transit_ms']);
        if (t !== undefined && (!slowest || t > slowest.transitMs))
          slowest = { spanId: h.spanId, name: h.name, device: deviceName(h), transitMs: t };
      }
      const evidence = a['netspan.evidence'];
      return {
        summary,
        source: endpointText(a['source.address'], a['source.port']),
        destination: endpointText(a['destination.address'], a['destination.port']),
        shareMs: num(a['netspan.network.share_ms']) ?? null,
        evidence: Array.isArray(evidence) ? evidence.filter((e): e is string => typeof e === 'string') : [],
        timingAccuracy: str(a['netspan.timing.accuracy']) ?? null,
        verdict: verdictOf(summary),
        hops,
        slowestHop: slowest,
      };
    });
}

/** The device a network span is about: its inventory name, else its address, observer or node id. */
export function deviceName(s: UiSpan): string {
  const a = s.attributes;
  return (
    str(a['netspan.device.name']) ??
    str(a['netspan.device.address']) ??
    str(a['netspan.observer.name']) ??
    (a['ioam.node_id'] !== undefined
      ? `ioam node ${String(a['ioam.node_id'])}`
      : s.name.replace(/ (request|response)( \(IOAM\))?$| observed$/, ''))
  );
}

export function devicesOf(spans: readonly UiSpan[]): DeviceSeen[] {
  const byName = new Map<string, DeviceSeen>();
  for (const s of spans) {
    if (s.role === 'app' || s.role === 'network_summary') continue;
    const name = deviceName(s);
    let d = byName.get(name);
    if (!d) byName.set(name, (d = { name, address: str(s.attributes['netspan.device.address']) ?? null, spans: 0, roles: [] }));
    d.spans++;
    if (!d.roles.includes(s.role)) d.roles.push(s.role);
    d.address ??= str(s.attributes['netspan.device.address']) ?? null;
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export interface TraceStoreOptions {
  maxTraces: number;
  maxSpans: number;
}

export class TraceStore {
  /** In eviction order: the least recently received trace first. */
  private readonly traces = new Map<string, StoredTrace>();
  private spanTotal = 0;
  private readonly m: { evicted: (reason: 'max_traces' | 'max_spans', n: number) => void; stored: () => void };

  constructor(
    private readonly options: TraceStoreOptions,
    metrics: SelfMetrics,
    id = 'ui',
  ) {
    const evicted = metrics.counter(
      'netspan_ui_traces_evicted_total',
      'Traces dropped from the UI store to make room: over max_traces or max_spans.',
      ['exporter', 'reason'],
    );
    const traces = metrics.gauge('netspan_ui_traces_stored', 'Traces held by the UI store.', ['exporter']);
    const spans = metrics.gauge('netspan_ui_spans_stored', 'Spans held by the UI store.', ['exporter']);
    this.m = {
      evicted: (reason, n) => evicted.inc({ exporter: id, reason }, n),
      stored: () => {
        traces.set({ exporter: id }, this.traces.size);
        spans.set({ exporter: id }, this.spanTotal);
      },
    };
  }

  get traceCount(): number {
    return this.traces.size;
  }

  get spanCount(): number {
    return this.spanTotal;
  }

  add(data: Traces): void {
    for (const rs of data.resourceSpans) {
      const service = serviceOf(rs.resource?.attributes);
      for (const ss of rs.scopeSpans) {
        const scope = ss.scope?.name ?? '';
        for (const span of ss.spans) {
          const ui = toUiSpan(span, service, scope);
          let t = this.traces.get(ui.traceId);
          if (t) this.traces.delete(ui.traceId);
          else t = { traceId: ui.traceId, spans: new Map(), summary: undefined };
          this.traces.set(ui.traceId, t); // now the most recently received
          if (!t.spans.has(ui.spanId)) this.spanTotal++;
          t.spans.set(ui.spanId, ui);
          t.summary = undefined;
        }
      }
    }
    while (this.traces.size > this.options.maxTraces) this.evictOldest('max_traces');
    while (this.spanTotal > this.options.maxSpans && this.traces.size > 1) this.evictOldest('max_spans');
    this.m.stored();
  }

  private evictOldest(reason: 'max_traces' | 'max_spans'): void {
    const oldest = this.traces.values().next().value;
    if (!oldest) return;
    this.traces.delete(oldest.traceId);
    this.spanTotal -= oldest.spans.size;
    this.m.evicted(reason, 1);
  }

  /** Summaries of every trace held, most recently received first. */
  summaries(): TraceSummary[] {
    const out: TraceSummary[] = [];
    for (const t of this.traces.values()) out.push((t.summary ??= summarize(t.traceId, [...t.spans.values()])));
    return out.reverse();
  }

  spansOf(traceId: string): UiSpan[] | undefined {
    const t = this.traces.get(traceId);
    return t ? [...t.spans.values()].sort((a, b) => a.startMs - b.startMs) : undefined;
  }

  detail(traceId: string): TraceDetail | undefined {
    const t = this.traces.get(traceId);
    if (!t) return undefined;
    const spans = [...t.spans.values()].sort((a, b) => a.startMs - b.startMs);
    return {
      summary: (t.summary ??= summarize(t.traceId, spans)),
      spans,
      connections: connectionsOf(spans),
      devices: devicesOf(spans),
    };
  }
}
