/** Every component netspan ships, by kind: the config's `type` names resolve here. */
import type { Factory } from './core/component.js';
import { otlpReceiverFactory } from './receivers/otlp/factory.js';
import { netflowReceiverFactory } from './receivers/netflow/factory.js';
import { ioamApiReceiverFactory } from './receivers/ioamapi/factory.js';
import { snmpReceiverFactory } from './receivers/snmp/factory.js';
import { networkMetricsReceiverFactory } from './receivers/networkmetrics/factory.js';
import { groupByTraceFactory } from './processors/groupbytrace/factory.js';
import { correlateFactory, ipfixLookupFactory } from './processors/correlate/factory.js';
import { debugExporterFactory } from './exporters/debug/factory.js';
import { fileExporterFactory } from './exporters/file/factory.js';
import { otlpGrpcExporterFactory } from './exporters/otlpgrpc/factory.js';
import { otlpHttpExporterFactory } from './exporters/otlphttp/factory.js';
import { uiExporterFactory } from './ui/factory.js';

export const FACTORIES: readonly Factory[] = [
  otlpReceiverFactory,
  netflowReceiverFactory,
  ioamApiReceiverFactory,
  snmpReceiverFactory,
  networkMetricsReceiverFactory,
  groupByTraceFactory,
  correlateFactory,
  ipfixLookupFactory,
  debugExporterFactory,
  fileExporterFactory,
  otlpGrpcExporterFactory,
  otlpHttpExporterFactory,
  uiExporterFactory,
];
