/**
 * The collector's evidence hub: receivers add flows and device counters through the
 * EvidenceSink interface; processors (the correlation) query the stores behind it.
 */
import { z } from 'zod';
import type { EvidenceSink } from './component.js';
import type { FlowRecord, InterfaceCounters } from '../model/flow.js';
import type { Observation } from '../model/observation.js';
import type { SelfMetrics } from './telemetry/metrics.js';
import type { Logger } from './telemetry/logger.js';
import type { FlowStore } from '../evidence/store.js';
import { MemoryFlowStore } from '../evidence/memory/store.js';
import { memoryFlowStoreConfigSchema } from '../evidence/memory/config.js';
import { errorMessage } from './errors.js';
import { MemoryObservationStore, observationStoreConfigSchema } from '../evidence/observations/store.js';
import { unpackFlows, type PackedFlows } from '../evidence/memory/rows.js';

/** The `evidence:` section of the config: where network evidence is kept for the correlation. */
export const evidenceConfigSchema = z
  .object({
    /** Flow records from the flow receivers, kept in memory (typed arrays) for the correlation window. */
    flows: memoryFlowStoreConfigSchema.default({}),
    /** Packet observations (IOAM traces, HTTP observations) from agents and ioam-api reporters, kept in memory. */
    observations: observationStoreConfigSchema.default({}),
  })
  .strict()
  .default({});

export type EvidenceConfig = z.infer<typeof evidenceConfigSchema>;

export class EvidenceHub implements EvidenceSink {
  readonly flows: FlowStore;
  readonly observations: MemoryObservationStore;

  constructor(
    config: EvidenceConfig,
    private readonly metrics: SelfMetrics,
    private readonly logger: Logger,
  ) {
    this.flows = new MemoryFlowStore({ retentionMs: config.flows.retention, maxFlows: config.flows.max_flows, metrics, id: 'flows' });
    this.observations = new MemoryObservationStore(
      { retentionMs: config.observations.retention, maxObservations: config.observations.max_observations },
      metrics,
    );
  }

  addFlows(records: readonly FlowRecord[]): void {
    const done = this.flows.insert(records);
    if (done instanceof Promise)
      done.catch((err: unknown) => {
        this.metrics.counter('netspan_evidence_insert_failed_total', 'Flow records a store failed to insert.', []).inc(records.length);
        this.logger.error({ err: errorMessage(err), records: records.length }, 'flow store insert failed');
      });
  }

  addPackedFlows(batch: PackedFlows): void {
    // The memory store copies the rows as they are; another store gets the records.
    if (this.flows instanceof MemoryFlowStore) this.flows.insertPacked(batch);
    else this.addFlows(unpackFlows(batch));
  }

  addInterfaceCounters(samples: readonly InterfaceCounters[]): void {
    // Device state arrives with a later stage; until then the samples are counted, not kept.
    this.metrics
      .counter('netspan_evidence_interface_counters_received_total', 'Interface counter samples received (not yet stored).', [])
      .inc(samples.length);
  }

  addObservations(observations: readonly Observation[]): void {
    this.observations.insert(observations);
  }

  async close(): Promise<void> {
    await this.flows.close();
  }
}
