/**
 * Where the correlation reads flow evidence from. The processor asks one FlowEvidenceSource
 * for all connections of a batch at once (one `lookup` per batch, never one per span).
 *
 * StoreFlowEvidenceSource adapts any FlowStore (the collector's in-memory store, a ClickHouse
 * store). ElasticsearchFlowSource (src/evidence/elasticsearch) reads an existing Elasticsearch /
 * OpenSearch flow index, as the thesis did; flowEvidenceSource() of factory.ts picks it when the
 * config has an `elasticsearch` block.
 */
import type { EvidenceStores } from '../../core/component.js';
import type { FlowMatch, FlowQuery, FlowStore } from '../../evidence/store.js';

export interface FlowEvidenceSource {
  /** Short name for logs: "memory", "elasticsearch", ... */
  readonly kind: string;
  /**
   * How far back the source holds flows, in milliseconds before now; a connection whose whole
   * window is older gets `outside_retention` without a lookup. Undefined when unknown.
   */
  readonly retentionMs: number | undefined;
  /**
   * The matches of each query, in query order, with FlowStore.query semantics (store.ts). Every
   * query handed in is well formed (validateFlowQuery). Rejects when the backend fails; the
   * processor then passes the batch on without flow evidence. An entry may be undefined when
   * the backend failed that query alone (one search of an Elasticsearch _msearch): only that
   * connection goes without evidence.
   */
  lookup(queries: readonly FlowQuery[]): Promise<(FlowMatch[] | undefined)[]>;
  /** Releases connections of a source the processor made (called at shutdown, maybe twice). */
  close?(): Promise<void>;
}

/** A FlowStore as evidence source: one queryMany per batch. */
export class StoreFlowEvidenceSource implements FlowEvidenceSource {
  constructor(
    private readonly store: FlowStore,
    readonly kind = 'flow_store',
  ) {}

  get retentionMs(): number {
    return this.store.limits.retentionMs;
  }

  lookup(queries: readonly FlowQuery[]): Promise<FlowMatch[][]> {
    return this.store.queryMany(queries);
  }
}

/** The source the collector's evidence hub offers, if any. */
export function sourceFromStores(stores: EvidenceStores | undefined): FlowEvidenceSource | undefined {
  return stores?.flows ? new StoreFlowEvidenceSource(stores.flows) : undefined;
}
