import type { ReceiverFactory } from '../../core/component.js';
import { netflowReceiverConfigSchema, type NetflowReceiverConfig } from './config.js';
import { NetflowReceiver } from './receiver.js';

export const netflowReceiverFactory: ReceiverFactory<NetflowReceiverConfig> = {
  kind: 'receiver',
  type: 'netflow',
  description:
    'NetFlow v5/v9, IPFIX (UDP, TCP) or sFlow v5 from routers and firewalls: flow evidence for the traces pipeline, and flow log records for a logs pipeline.',
  // In a traces pipeline it adds evidence only (no spans of its own); in a logs pipeline each flow is also a log record.
  signals: ['traces', 'logs'],
  configSchema: netflowReceiverConfigSchema,
  create: (settings, config, next) => new NetflowReceiver(settings, config, next),
};
