import type { ReceiverFactory } from '../../core/component.js';
import { otlpReceiverConfigSchema, type OtlpReceiverConfig } from './config.js';
import { OtlpReceiver } from './receiver.js';

export const otlpReceiverFactory: ReceiverFactory<OtlpReceiverConfig> = {
  kind: 'receiver',
  type: 'otlp',
  description: 'OTLP over gRPC (4317) and HTTP (4318): traces, logs and metrics from any OpenTelemetry SDK or collector.',
  signals: ['traces', 'logs', 'metrics'],
  configSchema: otlpReceiverConfigSchema,
  create: (settings, config, next) => new OtlpReceiver(settings, config, next),
};
