import type { Component, Consumer, CreateSettings, ProcessorFactory } from '../../core/component.js';
import { NetspanError } from '../../core/errors.js';
import type { Signal } from '../../model/otlp.js';
import { correlateConfigSchema, type CorrelateConfig } from './config.js';
import { CorrelateProcessor } from './processor.js';
import { sourceFromStores, type FlowEvidenceSource } from './source.js';

/**
 * The flow evidence a processor reads. Today: the collector's flow store. An Elasticsearch /
 * OpenSearch source chooses itself here from its config block.
 */
export function flowEvidenceSource(settings: CreateSettings, _config: CorrelateConfig): FlowEvidenceSource | undefined {
  return sourceFromStores(settings.evidenceStores);
}

export const correlateFactory: ProcessorFactory<CorrelateConfig> = {
  kind: 'processor',
  type: 'correlate',
  description:
    'Finds each connection of a trace (quartet from span attributes), attaches its flow evidence per device and direction as network spans, and puts them between client and server.',
  signals: ['traces'],
  configSchema: correlateConfigSchema,
  create<S extends Signal>(settings: CreateSettings, config: CorrelateConfig, signal: S, next: Consumer<S>) {
    if (signal !== 'traces') throw new NetspanError('SIGNAL_UNSUPPORTED', `${settings.id}: correlate handles traces only, not ${signal}`);
    const processor = new CorrelateProcessor(settings, config, next as Consumer<'traces'>, {
      source: flowEvidenceSource(settings, config) ?? null,
    });
    return processor as unknown as Component & Consumer<S>;
  },
};
