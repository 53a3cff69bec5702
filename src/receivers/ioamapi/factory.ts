import type { ReceiverFactory } from '../../core/component.js';
import { ioamApiReceiverConfigSchema, type IoamApiReceiverConfig } from './config.js';
import { IoamApiReceiver } from './receiver.js';

export const ioamApiReceiverFactory: ReceiverFactory<IoamApiReceiverConfig> = {
  kind: 'receiver',
  type: 'ioam_api',
  description:
    'IOAM traces from the Cross-Layer Telemetry IOAM agents (gRPC IOAMService.Report, port 7123): IOAM evidence for the traces pipeline, and IOAM log records for a logs pipeline.',
  // In a traces pipeline it adds evidence only (no spans of its own); in a logs pipeline each trace is also a log record.
  signals: ['traces', 'logs'],
  configSchema: ioamApiReceiverConfigSchema,
  create: (settings, config, next) => new IoamApiReceiver(settings, config, next),
};
