/**
 * The internal data model of the pipelines is OTLP itself, as the generated protobuf-es
 * messages: receivers decode into it, processors read and extend it, exporters encode it.
 * This is the collector's "pdata" idea without a second representation to convert into.
 */
import { create } from '@bufbuild/protobuf';
import {
  ExportTraceServiceRequestSchema,
  type ExportTraceServiceRequest,
} from '../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import {
  ExportLogsServiceRequestSchema,
  type ExportLogsServiceRequest,
} from '../wire/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import {
  ExportMetricsServiceRequestSchema,
  type ExportMetricsServiceRequest,
} from '../wire/otlp/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import type { Metric } from '../wire/otlp/gen/opentelemetry/proto/metrics/v1/metrics_pb.js';

export type Traces = ExportTraceServiceRequest;
export type Logs = ExportLogsServiceRequest;
export type Metrics = ExportMetricsServiceRequest;

export type Signal = 'traces' | 'logs' | 'metrics';
export const SIGNALS: readonly Signal[] = ['traces', 'logs', 'metrics'];

/** The data type each signal carries through a pipeline. */
export interface SignalData {
  traces: Traces;
  logs: Logs;
  metrics: Metrics;
}

export const emptyTraces = (): Traces => create(ExportTraceServiceRequestSchema);
export const emptyLogs = (): Logs => create(ExportLogsServiceRequestSchema);
export const emptyMetrics = (): Metrics => create(ExportMetricsServiceRequestSchema);

export function spanCount(traces: Traces): number {
  let n = 0;
  for (const rs of traces.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

export function logRecordCount(logs: Logs): number {
  let n = 0;
  for (const rl of logs.resourceLogs) for (const sl of rl.scopeLogs) n += sl.logRecords.length;
  return n;
}

function metricPointCount(metric: Metric): number {
  const d = metric.data;
  switch (d.case) {
    case 'gauge':
    case 'sum':
    case 'histogram':
    case 'exponentialHistogram':
    case 'summary':
      return d.value.dataPoints.length;
    default:
      return 0;
  }
}

/** Data points, the unit the collector counts metrics in. */
export function dataPointCount(metrics: Metrics): number {
  let n = 0;
  for (const rm of metrics.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += metricPointCount(m);
  return n;
}

/** Items in a batch, in the unit the collector counts for the signal (spans, log records, points). */
export function itemCount<S extends Signal>(signal: S, data: SignalData[S]): number {
  switch (signal) {
    case 'traces':
      return spanCount(data as Traces);
    case 'logs':
      return logRecordCount(data as Logs);
    default:
      return dataPointCount(data as Metrics);
  }
}

export const ITEM_UNIT: Record<Signal, string> = {
  traces: 'spans',
  logs: 'log_records',
  metrics: 'metric_points',
};

/** Lower-case hex of an id (trace or span id bytes). */
export function hexId(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
