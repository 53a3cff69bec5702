/**
 * The standard self-metrics of receivers, processors and exporters, named after the
 * collector's own (otelcol_receiver_accepted_spans → netspan_receiver_accepted_spans_total),
 * so dashboards built for one read the other.
 */
import { ITEM_UNIT, type Signal } from '../model/otlp.js';
import type { SelfMetrics } from './telemetry/metrics.js';

export class ReceiverReport {
  constructor(
    private readonly metrics: SelfMetrics,
    private readonly id: string,
  ) {}

  accepted(signal: Signal, transport: string, n: number): void {
    if (n > 0)
      this.metrics
        .counter(`netspan_receiver_accepted_${ITEM_UNIT[signal]}_total`, `Items the receiver accepted into the pipeline.`, [
          'receiver',
          'transport',
        ])
        .inc({ receiver: this.id, transport }, n);
  }

  /** Items not accepted: `reason` is malformed, rejected (partial success), capacity, unauthorized, too_large... */
  refused(signal: Signal, transport: string, reason: string, n: number): void {
    if (n > 0)
      this.metrics
        .counter(`netspan_receiver_refused_${ITEM_UNIT[signal]}_total`, `Items the receiver refused, by reason.`, [
          'receiver',
          'transport',
          'reason',
        ])
        .inc({ receiver: this.id, transport, reason }, n);
  }

  /** Requests by outcome, including the ones that never got as far as items (bad path, bad body). */
  request(transport: string, outcome: string): void {
    this.metrics
      .counter('netspan_receiver_requests_total', 'Requests received, by transport and outcome.', ['receiver', 'transport', 'outcome'])
      .inc({ receiver: this.id, transport, outcome });
  }
}

export class ExporterReport {
  constructor(
    private readonly metrics: SelfMetrics,
    private readonly id: string,
    private readonly signal: Signal,
  ) {}

  private count(what: string, help: string, n: number): void {
    if (n > 0)
      this.metrics.counter(`netspan_exporter_${what}_${ITEM_UNIT[this.signal]}_total`, help, ['exporter']).inc({ exporter: this.id }, n);
  }

  sent(n: number): void {
    this.count('sent', 'Items the backend accepted.', n);
  }
  /** Dropped after the retries ran out or on a permanent error: logged with the reason as well. */
  sendFailed(n: number): void {
    this.count('send_failed', 'Items given up on (permanent error or retries exhausted).', n);
  }
  /** Refused on arrival because the sending queue was full: the refusal went upstream. */
  enqueueFailed(n: number): void {
    this.count('enqueue_failed', 'Items refused because the sending queue was full.', n);
  }
  retried(n: number): void {
    this.count('retried', 'Items sent again after a retryable failure.', n);
  }
  /** Items the backend reported as rejected in a partial success. */
  rejectedByBackend(n: number): void {
    this.count('rejected_by_backend', 'Items the backend rejected (partial success).', n);
  }

  queue(size: number, capacity: number): void {
    this.metrics
      .gauge('netspan_exporter_queue_size', 'Batches waiting in the sending queue.', ['exporter'])
      .set({ exporter: this.id }, size);
    this.metrics
      .gauge('netspan_exporter_queue_capacity', 'Capacity of the sending queue, in batches.', ['exporter'])
      .set({ exporter: this.id }, capacity);
  }
}
