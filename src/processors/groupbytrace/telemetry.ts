/** What the groupbytrace processor reports about itself: its metrics, and its drops in the log. */
import type { Counter, Gauge } from 'prom-client';
import type { Logger } from '../../core/telemetry/logger.js';
import type { SelfMetrics } from '../../core/telemetry/metrics.js';

const PREFIX = 'netspan_processor_groupbytrace';

/**
 * The processor's metrics, resolved once since they move on every release. Gauges move by
 * differences, so that two instances with one id (the same processor in two pipelines) add
 * up instead of overwriting each other.
 */
export class GroupByTraceMetrics {
  private readonly labels: { processor: string };
  private readonly published = { traces: 0, spans: 0, pending: 0 };
  private readonly tracesReleased: Counter<'processor'>;
  private readonly spansReleased: Counter<'processor'>;
  private readonly tracesEvicted: Counter<'processor'>;
  private readonly spansDropped: Counter<'processor'>;
  private readonly tracesInMemory: Gauge<'processor'>;
  private readonly spansInMemory: Gauge<'processor'>;
  private readonly tracesPending: Gauge<'processor'>;

  constructor(metrics: SelfMetrics, id: string) {
    this.labels = { processor: id };
    const counter = (name: string, help: string) => metrics.counter(`${PREFIX}_${name}`, help, ['processor']);
    const gauge = (name: string, help: string) => metrics.gauge(`${PREFIX}_${name}`, help, ['processor']);
    this.tracesReleased = counter('traces_released_total', 'Traces released downstream.');
    this.spansReleased = counter('spans_released_total', 'Spans released downstream.');
    this.tracesEvicted = counter('traces_evicted_total', 'Traces released early because num_traces was reached.');
    this.spansDropped = counter(
      'dropped_spans_total',
      'Spans dropped (permanent downstream error, pending list overflow, shutdown timeout).',
    );
    this.tracesInMemory = gauge('traces_in_memory', 'Traces held, waiting for wait_duration.');
    this.spansInMemory = gauge('spans_in_memory', 'Spans of the traces held.');
    this.tracesPending = gauge(
      'traces_pending',
      'Released traces (in whole release requests) the next consumer refused, waiting for a retry.',
    );
  }

  /** One release request delivered downstream, holding `traces` whole traces of `spans` spans in all. */
  released(traces: number, spans: number): void {
    this.tracesReleased.inc(this.labels, traces);
    this.spansReleased.inc(this.labels, spans);
  }
  evicted(traces: number): void {
    if (traces > 0) this.tracesEvicted.inc(this.labels, traces);
  }
  dropped(spans: number): void {
    if (spans > 0) this.spansDropped.inc(this.labels, spans);
  }

  occupancy(traces: number, spans: number, pending: number): void {
    this.move(this.tracesInMemory, traces - this.published.traces);
    this.move(this.spansInMemory, spans - this.published.spans);
    this.move(this.tracesPending, pending - this.published.pending);
    this.published.traces = traces;
    this.published.spans = spans;
    this.published.pending = pending;
  }

  private move(gauge: Gauge<'processor'>, delta: number): void {
    if (delta !== 0) gauge.inc(this.labels, delta);
  }
}

/** Drops of one kind are logged at once, then summed for this long, so a failing consumer cannot flood the log. */
export const DROP_LOG_INTERVAL_MS = 5_000;

/** Logs every drop with its count: the first of a window at once, the rest as one summary per reason. */
export class DropLog {
  private readonly summed = new Map<string, { traces: number; spans: number }>();
  private window: NodeJS.Timeout | undefined;

  constructor(private readonly logger: Logger) {}

  record(reason: string, traces: number, spans: number): void {
    if (this.window === undefined) {
      this.logger.error({ traces, spans, reason }, 'groupbytrace dropped traces');
      this.window = setTimeout(() => this.flush(), DROP_LOG_INTERVAL_MS).unref();
      return;
    }
    const sum = this.summed.get(reason) ?? { traces: 0, spans: 0 };
    sum.traces += traces;
    sum.spans += spans;
    this.summed.set(reason, sum);
  }

  /** Logs what was summed and opens a new window; shutdown calls it so nothing stays unlogged. */
  flush(): void {
    clearTimeout(this.window);
    this.window = undefined;
    for (const [reason, { traces, spans }] of this.summed)
      this.logger.error({ traces, spans, reason, within_ms: DROP_LOG_INTERVAL_MS }, 'groupbytrace dropped traces');
    this.summed.clear();
  }
}
