import type { Component, Consumer, CreateSettings, ProcessorFactory } from '../../core/component.js';
import { NetspanError } from '../../core/errors.js';
import type { Signal } from '../../model/otlp.js';
import { correlateConfigSchema, type CorrelateConfig } from './config.js';
import { ipfixLookupConfigSchema } from './thesis-config.js';
import { CorrelateProcessor } from './processor.js';
import { sourceFromStores, type FlowEvidenceSource } from './source.js';
import { ElasticsearchFlowSource } from '../../evidence/elasticsearch/source.js';

/**
 * The flow evidence a processor reads: an Elasticsearch / OpenSearch index when the config has
 * an `elasticsearch` block (the processor owns it and closes it at shutdown), else the
 * collector's flow store.
 */
export function flowEvidenceSource(settings: CreateSettings, config: CorrelateConfig): FlowEvidenceSource | undefined {
  if (config.elasticsearch)
    return new ElasticsearchFlowSource(config.elasticsearch, {
      extraFields: config.span_attribute_fields,
      logger: settings.logger,
      metrics: settings.metrics,
      id: settings.id,
    });
  return sourceFromStores(settings.evidenceStores);
}

function create(type: string) {
  return <S extends Signal>(settings: CreateSettings, config: CorrelateConfig, signal: S, next: Consumer<S>) => {
    if (signal !== 'traces') throw new NetspanError('SIGNAL_UNSUPPORTED', `${settings.id}: ${type} handles traces only, not ${signal}`);
    const processor = new CorrelateProcessor(settings, config, next as Consumer<'traces'>, {
      source: flowEvidenceSource(settings, config) ?? null,
    });
    return processor as unknown as Component & Consumer<S>;
  };
}

export const correlateFactory: ProcessorFactory<CorrelateConfig> = {
  kind: 'processor',
  type: 'correlate',
  description:
    'Finds each connection of a trace (quartet from span attributes), attaches its flow evidence per device and direction as network spans, and puts them between client and server.',
  signals: ['traces'],
  configSchema: correlateConfigSchema,
  create: create('correlate'),
};

/**
 * The thesis's processor ("Network insights in OpenTelemetry", OST 2024) by its own name and
 * keys: the correlate processor reading an Elasticsearch flow index, with the thesis's span
 * names (thesis-config.ts maps the keys).
 */
export const ipfixLookupFactory: ProcessorFactory<CorrelateConfig> = {
  kind: 'processor',
  type: 'ipfix_lookup',
  description:
    "The thesis's ipfix_lookup processor config (elastic_search, timing, query_parameters, span_fields) run by correlate: flows from an Elasticsearch index as Request/Response spans per device.",
  signals: ['traces'],
  configSchema: ipfixLookupConfigSchema,
  create: create('ipfix_lookup'),
};
