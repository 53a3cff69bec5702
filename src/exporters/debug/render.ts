/**
 * The debug exporter's text: pure functions from a batch to lines, so the output is tested
 * against golden files. Traces render as a tree per trace (children under their parent,
 * ordered by start time), which is what one wants to see when checking what a pipeline built.
 */
import type { Logs, Metrics, Signal, SignalData, Traces } from '../../model/otlp.js';
import { dataPointCount, hexId, logRecordCount, spanCount } from '../../model/otlp.js';
import type { AnyValue, KeyValue } from '../../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { SeverityNumber, type LogRecord } from '../../wire/otlp/gen/opentelemetry/proto/logs/v1/logs_pb.js';
import { AggregationTemporality, type Metric } from '../../wire/otlp/gen/opentelemetry/proto/metrics/v1/metrics_pb.js';
import type { Resource } from '../../wire/otlp/gen/opentelemetry/proto/resource/v1/resource_pb.js';
import { Span_SpanKind, Status_StatusCode, type Span } from '../../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import type { Verbosity } from './config.js';

const INDENT = '  ';
/** Marks the detail lines under a span, record or metric, apart from its children. */
const DETAIL = '| ';
const UNKNOWN_SERVICE = 'unknown_service';

export function render<S extends Signal>(signal: S, data: SignalData[S], verbosity: Verbosity): string {
  switch (signal) {
    case 'traces':
      return renderTraceTree(data as Traces, verbosity);
    case 'logs':
      return renderLogs(data as Logs, verbosity);
    default:
      return renderMetrics(data as Metrics, verbosity);
  }
}

// ---- values ----

/** An attribute value, unambiguous: strings quoted, bytes in hex, lists and maps spelled out. */
export function formatValue(value: AnyValue | undefined): string {
  const v = value?.value;
  switch (v?.case) {
    case 'stringValue':
      return JSON.stringify(v.value);
    case 'boolValue':
    case 'intValue':
    case 'doubleValue':
      return String(v.value);
    case 'bytesValue':
      return `0x${hexId(v.value)}`;
    case 'arrayValue':
      return `[${v.value.values.map(formatValue).join(', ')}]`;
    case 'kvlistValue':
      return `{${formatAttributes(v.value.values, ', ')}}`;
    case 'stringValueStrindex':
      return `strindex(${v.value})`;
    default:
      return 'null';
  }
}

function formatAttributes(attributes: readonly KeyValue[], separator = ' '): string {
  return attributes.map((kv) => `${kv.key}=${formatValue(kv.value)}`).join(separator);
}

function serviceName(resource: Resource | undefined): string {
  const attr = resource?.attributes.find((kv) => kv.key === 'service.name');
  if (!attr) return UNKNOWN_SERVICE;
  return attr.value?.value.case === 'stringValue' ? attr.value.value.value : formatValue(attr.value);
}

/** Nanoseconds as milliseconds with 3 decimals, exactly (no float rounding on large values). */
export function formatMs(nanos: bigint): string {
  const sign = nanos < 0n ? '-' : '';
  const micros = ((nanos < 0n ? -nanos : nanos) + 500n) / 1000n;
  return `${sign}${micros / 1000n}.${String(micros % 1000n).padStart(3, '0')}ms`;
}

function formatTime(nanos: bigint): string {
  return nanos === 0n ? '-' : new Date(Number(nanos / 1_000_000n)).toISOString();
}

/** An enum value by name, or its number when the sender used one this build does not know. */
function enumName(names: Record<number, string>, value: number): string {
  return names[value] ?? String(value);
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** A detail line under the item shown at `depth`. */
const detailLine = (depth: number, text: string) => `${INDENT.repeat(depth + 1)}${DETAIL}${text}`;

// ---- traces ----

interface SpanEntry {
  span: Span;
  service: string;
  scope: string;
  spanKey: string;
  parentKey: string;
}

const isZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);
const byStartTime = (a: SpanEntry, b: SpanEntry) =>
  a.span.startTimeUnixNano < b.span.startTimeUnixNano ? -1 : a.span.startTimeUnixNano > b.span.startTimeUnixNano ? 1 : 0;

/** The spans of a batch by trace id, in the order the traces first appear. */
function spansByTrace(traces: Traces): Map<string, SpanEntry[]> {
  const byTrace = new Map<string, SpanEntry[]>();
  for (const rs of traces.resourceSpans) {
    const service = serviceName(rs.resource);
    for (const ss of rs.scopeSpans) {
      const scope = ss.scope ? [ss.scope.name, ss.scope.version].filter(Boolean).join('@') : '';
      for (const span of ss.spans) {
        const traceKey = hexId(span.traceId);
        const parentKey = isZero(span.parentSpanId) ? '' : hexId(span.parentSpanId);
        const entry: SpanEntry = { span, service, scope, spanKey: hexId(span.spanId), parentKey };
        const list = byTrace.get(traceKey);
        if (list) list.push(entry);
        else byTrace.set(traceKey, [entry]);
      }
    }
  }
  return byTrace;
}

function spanLine(entry: SpanEntry, depth: number, note: string): string {
  const { span } = entry;
  const parts = [
    `${INDENT.repeat(depth)}[${entry.service}] ${span.name}`,
    enumName(Span_SpanKind, span.kind),
    formatMs(span.endTimeUnixNano - span.startTimeUnixNano),
  ];
  const status = span.status;
  if (status && status.code !== Status_StatusCode.UNSET)
    parts.push(`status=${enumName(Status_StatusCode, status.code)}${status.message ? ` ${JSON.stringify(status.message)}` : ''}`);
  if (note) parts.push(note);
  return parts.join(' ');
}

/** ` k=v k=v` after an event or link, or nothing. */
const trailingAttributes = (attributes: readonly KeyValue[]) => (attributes.length > 0 ? ` ${formatAttributes(attributes)}` : '');

function spanDetails(entry: SpanEntry, depth: number): string[] {
  const { span } = entry;
  const ids = [`span_id=${entry.spanKey}`];
  if (entry.parentKey) ids.push(`parent_span_id=${entry.parentKey}`);
  if (entry.scope) ids.push(`scope=${entry.scope}`);
  const details = [ids.join(' ')];
  for (const kv of span.attributes) details.push(`${kv.key}=${formatValue(kv.value)}`);
  for (const event of span.events) {
    const offset = formatMs(event.timeUnixNano - span.startTimeUnixNano);
    const signed = offset.startsWith('-') ? offset : `+${offset}`;
    details.push(`event ${signed} ${JSON.stringify(event.name)}${trailingAttributes(event.attributes)}`);
  }
  for (const link of span.links) details.push(`link ${hexId(link.traceId)}/${hexId(link.spanId)}${trailingAttributes(link.attributes)}`);
  return details.map((text) => detailLine(depth, text));
}

/** One trace: roots first, then spans whose parent is not in the batch, each with its subtree. */
function renderOneTrace(traceKey: string, entries: SpanEntry[], verbosity: Verbosity, out: string[]): void {
  out.push(`Trace ${traceKey} (${plural(entries.length, 'span')})`);
  const present = new Set(entries.map((e) => e.spanKey));
  const children = new Map<string, SpanEntry[]>();
  for (const e of entries) {
    if (!e.parentKey || !present.has(e.parentKey)) continue;
    const list = children.get(e.parentKey);
    if (list) list.push(e);
    else children.set(e.parentKey, [e]);
  }
  const roots = entries.filter((e) => !e.parentKey).sort(byStartTime);
  const orphans = entries.filter((e) => e.parentKey && !present.has(e.parentKey)).sort(byStartTime);

  // Malformed data (duplicate span ids, a span its own parent) can make cycles: each span is shown once.
  const shown = new Set<SpanEntry>();
  const visit = (entry: SpanEntry, depth: number, note: string): void => {
    if (shown.has(entry)) return;
    shown.add(entry);
    out.push(spanLine(entry, depth, note));
    if (verbosity === 'detailed') out.push(...spanDetails(entry, depth));
    for (const child of (children.get(entry.spanKey) ?? []).sort(byStartTime)) visit(child, depth + 1, '');
  };
  for (const root of roots) visit(root, 1, '');
  for (const orphan of orphans) visit(orphan, 1, '(parent not in batch)');
  // Spans only reachable through a parent cycle (malformed data) are still shown.
  for (const entry of entries) visit(entry, 1, '(in a parent cycle)');
}

/** The trace batch as text: a summary line, then (normal, detailed) a tree per trace. */
export function renderTraceTree(traces: Traces, verbosity: Verbosity): string {
  const out = [`Traces: ${traces.resourceSpans.length} resource spans, ${plural(spanCount(traces), 'span')}`];
  if (verbosity !== 'basic') for (const [traceKey, entries] of spansByTrace(traces)) renderOneTrace(traceKey, entries, verbosity, out);
  return `${out.join('\n')}\n`;
}

// ---- logs ----

/** The severity as sent (text, else the number's name); empty when the record has none. */
function severity(record: LogRecord): string {
  if (record.severityText) return record.severityText;
  return record.severityNumber === SeverityNumber.UNSPECIFIED ? '' : enumName(SeverityNumber, record.severityNumber);
}

function logLine(record: LogRecord, service: string): string {
  const parts = [`${INDENT}${formatTime(record.timeUnixNano || record.observedTimeUnixNano)}`];
  const level = severity(record);
  if (level) parts.push(level);
  parts.push(`[${service}]`);
  if (record.eventName) parts.push(`event=${record.eventName}`);
  parts.push(formatValue(record.body));
  if (!isZero(record.traceId)) parts.push(`trace_id=${hexId(record.traceId)}`);
  if (!isZero(record.spanId)) parts.push(`span_id=${hexId(record.spanId)}`);
  return parts.join(' ');
}

/** The log batch as text: a summary line, then (normal, detailed) one line per record. */
export function renderLogs(logs: Logs, verbosity: Verbosity): string {
  const out = [`Logs: ${logs.resourceLogs.length} resource logs, ${plural(logRecordCount(logs), 'log record')}`];
  if (verbosity !== 'basic')
    for (const rl of logs.resourceLogs) {
      const service = serviceName(rl.resource);
      for (const sl of rl.scopeLogs)
        for (const record of sl.logRecords) {
          out.push(logLine(record, service));
          if (verbosity === 'detailed') for (const kv of record.attributes) out.push(detailLine(1, `${kv.key}=${formatValue(kv.value)}`));
        }
    }
  return `${out.join('\n')}\n`;
}

// ---- metrics ----

function temporality(t: AggregationTemporality): string {
  return t === AggregationTemporality.UNSPECIFIED ? '' : enumName(AggregationTemporality, t).toLowerCase();
}

/** The metric's type, with what changes how its points read (monotonic, temporality). */
function metricType(metric: Metric): string {
  const d = metric.data;
  switch (d.case) {
    case 'gauge':
      return 'gauge';
    case 'sum':
      return ['sum', d.value.isMonotonic ? 'monotonic' : '', temporality(d.value.aggregationTemporality)].filter(Boolean).join(' ');
    case 'histogram':
    case 'exponentialHistogram':
      return [d.case, temporality(d.value.aggregationTemporality)].filter(Boolean).join(' ');
    case 'summary':
      return 'summary';
    default:
      return 'empty';
  }
}

const optional = (name: string, value: number | undefined) => (value === undefined ? [] : [`${name}=${value}`]);

/** One text per data point: its attributes, then its values. */
function dataPoints(metric: Metric): string[] {
  const withAttributes = (attributes: KeyValue[], values: string[]) => [formatAttributes(attributes), ...values].filter(Boolean).join(' ');
  const d = metric.data;
  switch (d.case) {
    case 'gauge':
    case 'sum':
      return d.value.dataPoints.map((p) => withAttributes(p.attributes, [`value=${p.value.value ?? 'null'}`]));
    case 'histogram':
      return d.value.dataPoints.map((p) =>
        withAttributes(p.attributes, [
          `count=${p.count}`,
          ...optional('sum', p.sum),
          ...optional('min', p.min),
          ...optional('max', p.max),
          `bounds=[${p.explicitBounds.join(', ')}]`,
          `counts=[${p.bucketCounts.join(', ')}]`,
        ]),
      );
    case 'exponentialHistogram':
      return d.value.dataPoints.map((p) =>
        withAttributes(p.attributes, [
          `count=${p.count}`,
          ...optional('sum', p.sum),
          ...optional('min', p.min),
          ...optional('max', p.max),
          `scale=${p.scale}`,
          `zero_count=${p.zeroCount}`,
        ]),
      );
    case 'summary':
      return d.value.dataPoints.map((p) =>
        withAttributes(p.attributes, [
          `count=${p.count}`,
          `sum=${p.sum}`,
          `quantiles=[${p.quantileValues.map((q) => `${q.quantile}:${q.value}`).join(', ')}]`,
        ]),
      );
    default:
      return [];
  }
}

function metricLine(metric: Metric, service: string): string {
  const parts = [`${INDENT}[${service}] ${metric.name}`, metricType(metric)];
  if (metric.unit) parts.push(`unit=${metric.unit}`);
  parts.push(`(${plural(metric.data.value?.dataPoints.length ?? 0, 'point')})`);
  return parts.join(' ');
}

/** The metric batch as text: a summary line, then (normal) one line per metric, (detailed) with its points. */
export function renderMetrics(metrics: Metrics, verbosity: Verbosity): string {
  let metricCount = 0;
  for (const rm of metrics.resourceMetrics) for (const sm of rm.scopeMetrics) metricCount += sm.metrics.length;
  const points = dataPointCount(metrics);
  const out = [
    `Metrics: ${metrics.resourceMetrics.length} resource metrics, ${plural(metricCount, 'metric')}, ${plural(points, 'data point')}`,
  ];
  if (verbosity !== 'basic')
    for (const rm of metrics.resourceMetrics) {
      const service = serviceName(rm.resource);
      for (const sm of rm.scopeMetrics)
        for (const metric of sm.metrics) {
          out.push(metricLine(metric, service));
          if (verbosity === 'detailed') for (const point of dataPoints(metric)) out.push(detailLine(1, point));
        }
    }
  return `${out.join('\n')}\n`;
}
