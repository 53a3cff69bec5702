import type { ExporterFactory } from '../../core/component.js';
import { fileExporterConfigSchema, type FileExporterConfig } from './config.js';
import { FileExporter } from './exporter.js';

export const fileExporterFactory: ExporterFactory<FileExporterConfig> = {
  kind: 'exporter',
  type: 'file',
  description: 'Appends every batch to a file as one line of OTLP/JSON.',
  signals: ['traces', 'logs', 'metrics'],
  configSchema: fileExporterConfigSchema,
  create: (settings, config, signal) => new FileExporter(settings, config, signal),
};
