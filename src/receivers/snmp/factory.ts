import type { ReceiverFactory } from '../../core/component.js';
import { snmpReceiverConfigSchema, type SnmpReceiverConfig } from './config.js';
import { SnmpReceiver } from './receiver.js';

export const snmpReceiverFactory: ReceiverFactory<SnmpReceiverConfig> = {
  kind: 'receiver',
  type: 'snmp',
  description:
    'Polls SNMP agents (v1/v2c/v3): IF-MIB interface counters and status, CPU and RAM (HOST-RESOURCES-MIB) into the device state store.',
  // It adds device state only (no spans or logs of its own); it sits in a traces pipeline like the flow receiver.
  signals: ['traces'],
  configSchema: snmpReceiverConfigSchema,
  create: (settings, config, next) => new SnmpReceiver(settings, config, next),
};
