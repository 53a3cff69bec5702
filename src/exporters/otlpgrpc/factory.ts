/** The `otlp` exporter (the collector's name for OTLP over gRPC). */
import type { ExporterFactory } from '../../core/component.js';
import { SIGNALS } from '../../model/otlp.js';
import { QueuedRetryExporter } from '../exporterhelper/index.js';
import { otlpGrpcConfigSchema, type OtlpGrpcConfig } from './config.js';
import { OtlpGrpcTransport } from './transport.js';

export const otlpGrpcExporterFactory: ExporterFactory<OtlpGrpcConfig> = {
  kind: 'exporter',
  type: 'otlp',
  description: 'Sends traces, logs and metrics with OTLP/gRPC, queued and retried.',
  signals: SIGNALS,
  configSchema: otlpGrpcConfigSchema,
  create(settings, config, signal) {
    const transport = new OtlpGrpcTransport(signal, {
      endpoint: config.endpoint,
      tls: config.tls,
      headers: config.headers,
      compression: config.compression,
    });
    return new QueuedRetryExporter(settings, signal, config, transport);
  },
};
