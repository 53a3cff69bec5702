/**
 * The `network_metrics` receiver: every collection interval, the network metrics the
 * correlation records (src/evidence/network-metrics.ts) and the device state's latest values go
 * down its metrics pipeline as one OTLP Metrics request, so any metrics backend gets per-device
 * hop durations, verdict counts and interface state. A full pipeline skips the collection
 * (counted and logged): the values are cumulative, the next one carries them.
 */
import type { Component, Consumer, Consumers, CreateSettings } from '../../core/component.js';
import { errorMessage } from '../../core/errors.js';
import { NetworkMetrics } from '../../evidence/network-metrics.js';
import type { NetworkMetricsReceiverConfig } from './config.js';

export class NetworkMetricsReceiver implements Component {
  private timer: NodeJS.Timeout | undefined;
  private readonly metrics: NetworkMetrics;
  private readonly skipped: ReturnType<CreateSettings['metrics']['counter']>;
  private collecting: Promise<void> | undefined;
  private readonly next: Consumer<'metrics'>;

  constructor(
    private readonly settings: CreateSettings,
    private readonly config: NetworkMetricsReceiverConfig,
    consumers: Consumers,
  ) {
    this.next = consumers.metrics!;
    // Without the collector's hub (a test, an embedding) there is nothing recorded: an empty aggregate.
    this.metrics = settings.evidenceStores?.networkMetrics ?? new NetworkMetrics();
    this.skipped = settings.metrics.counter(
      'netspan_network_metrics_collections_skipped_total',
      'Network metrics collections not sent: the metrics pipeline was full or failed.',
      ['receiver', 'reason'],
    );
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => {
      this.collecting ??= this.collect().finally(() => (this.collecting = undefined));
    }, this.config.collection_interval);
    this.timer.unref();
  }

  /** One collection into the pipeline (also used by tests). */
  async collect(): Promise<void> {
    if (!this.next.canAccept()) {
      this.skipped.inc({ receiver: this.settings.id, reason: 'full' });
      return;
    }
    try {
      await this.next.consume(this.metrics.collect(this.settings.evidenceStores?.devices, { 'service.name': 'netspan' }));
    } catch (err) {
      this.skipped.inc({ receiver: this.settings.id, reason: 'error' });
      this.settings.logger.warn({ err: errorMessage(err) }, 'network metrics collection failed');
    }
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.collecting;
  }
}
