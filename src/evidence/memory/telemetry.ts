/** What a memory flow store reports about itself. */
import type { Counter, Gauge } from 'prom-client';
import type { SelfMetrics } from '../../core/telemetry/metrics.js';

const PREFIX = 'netspan_evidence';

export type EvictionReason = 'age' | 'capacity';
export type RefusalReason = 'invalid_address' | 'invalid_field';

/**
 * The store's metrics, with children resolved once since they move per insert batch. Gauges
 * move by differences, so two stores with one id add up instead of overwriting each other.
 */
export class FlowStoreMetrics {
  private readonly inserted: ReturnType<Counter<'store'>['labels']>;
  private readonly evictedAge: ReturnType<Counter<'store' | 'reason'>['labels']>;
  private readonly evictedCapacity: ReturnType<Counter<'store' | 'reason'>['labels']>;
  private readonly refusedFamily: Counter<'store' | 'reason'>;
  private readonly storedGauge: ReturnType<Gauge<'store'>['labels']>;
  private readonly bytesGauge: ReturnType<Gauge<'store'>['labels']>;
  private readonly published = { flows: 0, bytes: 0 };

  constructor(
    metrics: SelfMetrics,
    private readonly id: string,
  ) {
    const labels = { store: id };
    this.inserted = metrics.counter(`${PREFIX}_flows_inserted_total`, 'Flow records stored as evidence.', ['store']).labels(labels);
    const evicted = metrics.counter(
      `${PREFIX}_flows_evicted_total`,
      'Flow records dropped from the evidence store: past retention (age, including ones too old on arrival) or over max_flows (capacity).',
      ['store', 'reason'],
    );
    this.evictedAge = evicted.labels({ store: id, reason: 'age' });
    this.evictedCapacity = evicted.labels({ store: id, reason: 'capacity' });
    this.refusedFamily = metrics.counter(
      `${PREFIX}_flows_refused_total`,
      'Flow records the evidence store refused: no usable IP quartet, or a field out of range.',
      ['store', 'reason'],
    );
    this.storedGauge = metrics.gauge(`${PREFIX}_flows_stored`, 'Flow records held in the evidence store.', ['store']).labels(labels);
    this.bytesGauge = metrics
      .gauge(`${PREFIX}_bytes`, 'Memory the evidence store holds for flows and their index.', ['store'])
      .labels(labels);
  }

  insertedFlows(n: number): void {
    if (n > 0) this.inserted.inc(n);
  }
  evicted(reason: EvictionReason, n: number): void {
    if (n > 0) (reason === 'age' ? this.evictedAge : this.evictedCapacity).inc(n);
  }
  refused(reason: RefusalReason, n: number): void {
    if (n > 0) this.refusedFamily.inc({ store: this.id, reason }, n);
  }
  occupancy(flows: number, bytes: number): void {
    if (flows !== this.published.flows) this.storedGauge.inc(flows - this.published.flows);
    if (bytes !== this.published.bytes) this.bytesGauge.inc(bytes - this.published.bytes);
    this.published.flows = flows;
    this.published.bytes = bytes;
  }
}
