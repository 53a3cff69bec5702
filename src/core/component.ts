/**
 * The component model: receivers, processors and exporters behind factories, like the
 * OpenTelemetry Collector. Data moves between them through Consumers.
 */
import type { ZodType, ZodTypeDef } from 'zod';
import type { Signal, SignalData } from '../model/otlp.js';
import type { FlowRecord, InterfaceCounters } from '../model/flow.js';
import type { Observation } from '../model/observation.js';
import type { NetworkMetrics } from '../evidence/network-metrics.js';
import type { FlowStore } from '../evidence/store.js';
import type { MemoryObservationStore } from '../evidence/observations/store.js';
import type { PackedFlows } from '../evidence/memory/rows.js';
import type { DeviceReading } from '../devices/model.js';
import type { DeviceStateStore } from '../devices/store.js';
import type { Logger } from './telemetry/logger.js';
import type { SelfMetrics } from './telemetry/metrics.js';

export type ComponentKind = 'receiver' | 'processor' | 'exporter';

/** Every component has the same lifecycle: start once, shutdown any number of times, even unstarted. */
export interface Component {
  start(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The receiving side of a pipeline step. `consume` resolves once the data is accepted (queued
 * or passed on) and rejects with a CapacityError when it cannot take it now; `canAccept` lets a
 * fan-out check every branch first, so that a refusal never leaves a batch half delivered.
 */
export interface Consumer<S extends Signal> {
  consume(data: SignalData[S]): Promise<void>;
  canAccept(): boolean;
}

export type Consumers = { [S in Signal]?: Consumer<S> };

/**
 * Where receivers put network evidence. The collector backs it with the evidence store that the
 * correlation reads; tests record into arrays.
 */
export interface EvidenceSink {
  addFlows(records: readonly FlowRecord[]): void;
  /**
   * Flows packed as evidence store rows (packFlows, e.g. in a decoding worker): the same as
   * addFlows of the records they were packed from. Optional; a receiver that finds it sends
   * packed batches, else FlowRecords. The sink must not keep the batch's buffers after the call
   * returns (it copies the rows): the receiver reuses them.
   */
  addPackedFlows?(batch: PackedFlows): void;
  addInterfaceCounters(samples: readonly InterfaceCounters[]): void;
  /** Packet observations (IOAM traces, HTTP observations) from agents, the kernel or ioam-api reporters. */
  addObservations(observations: readonly Observation[]): void;
  /** Device readings (SNMP polls) for the device state store. Optional: a sink without it keeps no device state. */
  addDeviceReadings?(readings: readonly DeviceReading[]): void;
}

/**
 * The read side of the evidence, for processors (the correlation): the stores the collector's
 * evidence hub keeps. Absent where no store runs (tests, embedding without a hub).
 */
export interface EvidenceStores {
  readonly flows?: FlowStore;
  readonly observations?: MemoryObservationStore;
  /** Device state (interface counters, CPU, memory, IOAM queue depth) from SNMP and sFlow counter samples. */
  readonly devices?: DeviceStateStore;
  /** Per-device hop durations and verdicts the correlation records, for the network_metrics receiver. */
  readonly networkMetrics?: NetworkMetrics;
}

/** What a factory gets besides the config: its id ("type" or "type/name"), a logger, metrics, the evidence sink and stores. */
export interface CreateSettings {
  id: string;
  logger: Logger;
  metrics: SelfMetrics;
  evidence: EvidenceSink;
  evidenceStores?: EvidenceStores;
}

export type ConfigSchema<C> = ZodType<C, ZodTypeDef, unknown>;

interface FactoryBase<C> {
  /** The type part of a component id, as written in config (`otlp`, `groupbytrace`, ...). */
  readonly type: string;
  /** One line for `netspan --help` and the README. */
  readonly description: string;
  readonly signals: readonly Signal[];
  /** Validates a raw config block and fills in the defaults. */
  readonly configSchema: ConfigSchema<C>;
}

export interface ReceiverFactory<C = unknown> extends FactoryBase<C> {
  readonly kind: 'receiver';
  /** One receiver per id, feeding every pipeline that lists it through `next`. */
  create(settings: CreateSettings, config: C, next: Consumers): Component;
}

export interface ProcessorFactory<C = unknown> extends FactoryBase<C> {
  readonly kind: 'processor';
  /** One processor per (pipeline, id). */
  create<S extends Signal>(settings: CreateSettings, config: C, signal: S, next: Consumer<S>): Component & Consumer<S>;
}

export interface ExporterFactory<C = unknown> extends FactoryBase<C> {
  readonly kind: 'exporter';
  /** One exporter per (id, signal), shared by the pipelines of that signal that list it. */
  create<S extends Signal>(settings: CreateSettings, config: C, signal: S): Component & Consumer<S>;
}

export type Factory = ReceiverFactory<any> | ProcessorFactory<any> | ExporterFactory<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Splits `type/name` into its type. */
export function componentType(id: string): string {
  const slash = id.indexOf('/');
  return slash < 0 ? id : id.slice(0, slash);
}
