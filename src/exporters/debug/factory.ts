import type { ExporterFactory } from '../../core/component.js';
import { debugExporterConfigSchema, type DebugExporterConfig } from './config.js';
import { DebugExporter } from './exporter.js';

export const debugExporterFactory: ExporterFactory<DebugExporterConfig> = {
  kind: 'exporter',
  type: 'debug',
  description: 'Prints what the pipeline carries to stdout: a summary, a span tree per trace, or every detail.',
  signals: ['traces', 'logs', 'metrics'],
  configSchema: debugExporterConfigSchema,
  create: (settings, config, signal) => new DebugExporter(settings, config, signal, { output: process.stdout }),
};
