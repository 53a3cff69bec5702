/**
 * The collector's evidence hub: receivers add flows and device counters through the
 * EvidenceSink interface; processors (the correlation) query the stores behind it.
 */
import { z } from 'zod';
import type { EvidenceSink } from './component.js';
import type { FlowRecord, InterfaceCounters } from '../model/flow.js';
import type { IoamObservation, Observation } from '../model/observation.js';
import { IoamStateSampler } from '../devices/ioam.js';
import type { SelfMetrics } from './telemetry/metrics.js';
import type { Logger } from './telemetry/logger.js';
import type { FlowStore } from '../evidence/store.js';
import { MemoryFlowStore } from '../evidence/memory/store.js';
import { memoryFlowStoreConfigSchema } from '../evidence/memory/config.js';
import { errorMessage } from './errors.js';
import { MemoryObservationStore, observationStoreConfigSchema } from '../evidence/observations/store.js';
import { unpackFlows, type PackedFlows } from '../evidence/memory/rows.js';
import { devicesConfigSchema } from '../devices/config.js';
import { DeviceStateStore, deviceStoreOptions } from '../devices/store.js';
import { Inventory } from '../devices/inventory.js';
import { readingsFromCounterSamples } from '../devices/sflow.js';
import { NetworkMetrics } from '../evidence/network-metrics.js';
import type { DeviceReading } from '../devices/model.js';

/** The `evidence:` section of the config: where network evidence is kept for the correlation. */
export const evidenceConfigSchema = z
  .object({
    /** Flow records from the flow receivers, kept in memory (typed arrays) for the correlation window. */
    flows: memoryFlowStoreConfigSchema.default({}),
    /** Packet observations (IOAM traces, HTTP observations) from agents and ioam-api reporters, kept in memory. */
    observations: observationStoreConfigSchema.default({}),
    /** Device state (SNMP polls, sFlow counter samples, IOAM queue depth) and the device inventory, kept in memory. */
    devices: devicesConfigSchema.default({}),
  })
  .strict()
  .default({});

export type EvidenceConfig = z.infer<typeof evidenceConfigSchema>;

export class EvidenceHub implements EvidenceSink {
  readonly flows: FlowStore;
  readonly observations: MemoryObservationStore;
  readonly devices: DeviceStateStore;
  readonly networkMetrics = new NetworkMetrics();
  /** IOAM queue depth and buffer occupancy into the device state, one point per device and second. */
  private readonly ioamSampler: IoamStateSampler;

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
    this.devices = new DeviceStateStore(deviceStoreOptions(config.devices), metrics, new Inventory(config.devices.inventory));
    this.ioamSampler = new IoamStateSampler(this.devices);
  }

  addFlows(records: readonly FlowRecord[]): void {
    this.noteExporters(records);
    const done = this.flows.insert(records);
    if (done instanceof Promise)
      done.catch((err: unknown) => {
        this.metrics.counter('netspan_evidence_insert_failed_total', 'Flow records a store failed to insert.', []).inc(records.length);
        this.logger.error({ err: errorMessage(err), records: records.length }, 'flow store insert failed');
      });
  }

  addPackedFlows(batch: PackedFlows): void {
    this.notePackedExporters(batch);
    // The memory store copies the rows as they are; another store gets the records.
    if (this.flows instanceof MemoryFlowStore) this.flows.insertPacked(batch);
    else this.addFlows(unpackFlows(batch));
  }

  addInterfaceCounters(samples: readonly InterfaceCounters[]): void {
    this.metrics
      .counter(
        'netspan_evidence_interface_counters_received_total',
        'Interface counter samples received (stored in the device state store).',
        [],
      )
      .inc(samples.length);
    this.devices.addReadings(readingsFromCounterSamples(samples));
  }

  addDeviceReadings(readings: readonly DeviceReading[]): void {
    this.devices.addReadings(readings);
  }

  /** Exporter addresses for the SNMP receiver's poll_flow_exporters (one note per address and batch). */
  private noteExporters(records: readonly FlowRecord[]): void {
    let last = '';
    for (const r of records)
      if (r.samplerAddress !== last) {
        last = r.samplerAddress;
        this.devices.noteFlowExporter(last);
      }
  }

  private notePackedExporters(batch: PackedFlows): void {
    for (const id of batch.samplerIds) {
      const address = batch.strings[id];
      if (address !== undefined) this.devices.noteFlowExporter(address);
    }
  }

  addObservations(observations: readonly Observation[]): void {
    this.observations.insert(observations);
    this.ioamSampler.add(observations.filter((o): o is IoamObservation => o.kind === 'ioam'));
  }

  async close(): Promise<void> {
    this.ioamSampler.flushAll();
    await this.flows.close();
  }
}
