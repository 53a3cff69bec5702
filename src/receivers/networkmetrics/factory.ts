import type { ReceiverFactory } from '../../core/component.js';
import { networkMetricsReceiverConfigSchema, type NetworkMetricsReceiverConfig } from './config.js';
import { NetworkMetricsReceiver } from './receiver.js';

export const networkMetricsReceiverFactory: ReceiverFactory<NetworkMetricsReceiverConfig> = {
  kind: 'receiver',
  type: 'network_metrics',
  description:
    "Per-device network metrics as OTLP metrics: hop durations and verdict counts the correlation records, and the device state's latest interface and CPU values.",
  signals: ['metrics'],
  configSchema: networkMetricsReceiverConfigSchema,
  create: (settings, config, next) => new NetworkMetricsReceiver(settings, config, next),
};
