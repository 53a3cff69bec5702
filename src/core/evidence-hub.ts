/**
 * The collector's evidence hub: receivers add flows and device counters through the
 * EvidenceSink interface; processors (the correlation) query the stores behind it.
 */
import type { EvidenceSink } from './component.js';
import type { FlowRecord, InterfaceCounters } from '../model/flow.js';
import type { SelfMetrics } from './telemetry/metrics.js';

export class EvidenceHub implements EvidenceSink {
  constructor(private readonly metrics: SelfMetrics) {}

  addFlows(records: readonly FlowRecord[]): void {
    this.metrics.counter('netspan_evidence_flows_received_total', 'Flow records handed to the evidence hub.', []).inc(records.length);
  }

  addInterfaceCounters(samples: readonly InterfaceCounters[]): void {
    this.metrics
      .counter('netspan_evidence_interface_counters_received_total', 'Interface counter samples handed to the evidence hub.', [])
      .inc(samples.length);
  }
}
