import type { ExporterFactory } from '../core/component.js';
import { uiExporterConfigSchema, type UiExporterConfig } from './config.js';
import { UiExporter } from './exporter.js';

export const uiExporterFactory: ExporterFactory<UiExporterConfig> = {
  kind: 'exporter',
  type: 'ui',
  description: 'Keeps recent enriched traces in memory and serves the web UI and the JSON query API (traces, evidence, devices).',
  signals: ['traces'],
  configSchema: uiExporterConfigSchema,
  create: (settings, config, signal) => new UiExporter(settings, config, signal),
};
