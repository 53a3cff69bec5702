import type { Component, Consumer, CreateSettings, ProcessorFactory } from '../../core/component.js';
import { NetspanError } from '../../core/errors.js';
import type { Signal } from '../../model/otlp.js';
import { groupByTraceConfigSchema, type GroupByTraceConfig } from './config.js';
import { GroupByTraceProcessor } from './processor.js';

export const groupByTraceFactory: ProcessorFactory<GroupByTraceConfig> = {
  kind: 'processor',
  type: 'groupbytrace',
  description: 'Holds spans until their trace is complete (wait_duration), then sends each trace downstream as one batch.',
  signals: ['traces'],
  configSchema: groupByTraceConfigSchema,
  create<S extends Signal>(settings: CreateSettings, config: GroupByTraceConfig, signal: S, next: Consumer<S>) {
    // Config validation already keeps groupbytrace out of other pipelines; this guards direct use.
    if (signal !== 'traces')
      throw new NetspanError('SIGNAL_UNSUPPORTED', `${settings.id}: groupbytrace handles traces only, not ${signal}`);
    const processor = new GroupByTraceProcessor(settings, config, next as Consumer<'traces'>);
    return processor as unknown as Component & Consumer<S>;
  },
};
