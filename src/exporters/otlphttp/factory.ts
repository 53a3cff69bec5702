/** The `otlphttp` exporter: OTLP over HTTP/1.1 to a collector or an OTLP/HTTP backend. */
import type { ExporterFactory } from '../../core/component.js';
import { ConfigError } from '../../core/errors.js';
import { SIGNALS } from '../../model/otlp.js';
import { QueuedRetryExporter } from '../exporterhelper/index.js';
import { otlpHttpConfigSchema, signalUrl, type OtlpHttpConfig } from './config.js';
import { OtlpHttpTransport } from './transport.js';

export const otlpHttpExporterFactory: ExporterFactory<OtlpHttpConfig> = {
  kind: 'exporter',
  type: 'otlphttp',
  description: 'Sends traces, logs and metrics with OTLP/HTTP (protobuf or JSON), queued and retried.',
  signals: SIGNALS,
  configSchema: otlpHttpConfigSchema,
  create(settings, config, signal) {
    const url = signalUrl(config, signal);
    if (!url)
      throw new ConfigError([
        { path: `exporters.${settings.id}.endpoint`, message: `no URL for ${signal}: set endpoint or ${signal}_endpoint` },
      ]);
    const transport = new OtlpHttpTransport(signal, {
      url,
      encoding: config.encoding,
      compression: config.compression,
      headers: config.headers,
      tls: config.tls,
    });
    return new QueuedRetryExporter(settings, signal, config, transport);
  },
};
