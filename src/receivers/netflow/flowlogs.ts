/**
 * Flow records as attributes (the OpenTelemetry contrib netflowreceiver names) and as OTLP log
 * records, for logs pipelines and for `netspan decode`.
 */
import { create } from '@bufbuild/protobuf';
import { FLOW_ATTRIBUTE, transportName, type FieldValue, type FlowRecord } from '../../model/flow.js';
import { emptyLogs, type Logs } from '../../model/otlp.js';
import { LogRecordSchema, ResourceLogsSchema, type LogRecord } from '../../wire/otlp/gen/opentelemetry/proto/logs/v1/logs_pb.js';
import { KeyValueSchema, type AnyValue, type KeyValue } from '../../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';

export type AttributeValue = string | number | boolean;

/** A field value as a JSON-friendly attribute: bigint as a decimal string, bytes as hex. */
export function fieldAttribute(v: FieldValue): AttributeValue {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  return v;
}

/**
 * The standard attributes of a flow. Times are Unix nanoseconds as decimal strings (they do not
 * fit a double); counters are numbers. `includeFields` adds every decoded element as flow.fields.<name>.
 */
export function flowAttributes(r: FlowRecord, includeFields = false): Record<string, AttributeValue> {
  const a: Record<string, AttributeValue> = {
    [FLOW_ATTRIBUTE.sourceAddress]: r.sourceAddress,
    [FLOW_ATTRIBUTE.sourcePort]: r.sourcePort,
    [FLOW_ATTRIBUTE.destinationAddress]: r.destinationAddress,
    [FLOW_ATTRIBUTE.destinationPort]: r.destinationPort,
    [FLOW_ATTRIBUTE.protocol]: transportName(r.protocol),
    [FLOW_ATTRIBUTE.ipVersion]: r.ipVersion === 6 ? 'ipv6' : r.ipVersion === 4 ? 'ipv4' : '',
    [FLOW_ATTRIBUTE.bytes]: r.bytes,
    [FLOW_ATTRIBUTE.packets]: r.packets,
    [FLOW_ATTRIBUTE.startUnixNano]: r.startUnixNano.toString(),
    [FLOW_ATTRIBUTE.endUnixNano]: r.endUnixNano.toString(),
    [FLOW_ATTRIBUTE.type]: r.type,
    [FLOW_ATTRIBUTE.samplerAddress]: r.samplerAddress,
    [FLOW_ATTRIBUTE.sequenceNumber]: r.sequenceNumber,
    [FLOW_ATTRIBUTE.observationDomainId]: r.observationDomainId,
    [FLOW_ATTRIBUTE.inputInterface]: r.inputInterface,
    [FLOW_ATTRIBUTE.outputInterface]: r.outputInterface,
    [FLOW_ATTRIBUTE.nextHop]: r.nextHop,
    [FLOW_ATTRIBUTE.samplingRate]: r.samplingRate,
    [FLOW_ATTRIBUTE.tcpFlags]: r.tcpFlags,
    [FLOW_ATTRIBUTE.timeResolutionNano]: r.timeResolutionNano,
  };
  if (r.flowDirection !== undefined) a['flow.direction'] = r.flowDirection === 1 ? 'egress' : 'ingress';
  if (r.biflowDirection) a['flow.biflow_direction'] = r.biflowDirection;
  if (includeFields && r.fields) for (const [k, v] of Object.entries(r.fields)) a[`flow.fields.${k}`] = fieldAttribute(v);
  return a;
}

function anyValue(v: AttributeValue): AnyValue {
  const value: AnyValue['value'] =
    typeof v === 'string'
      ? { case: 'stringValue', value: v }
      : typeof v === 'boolean'
        ? { case: 'boolValue', value: v }
        : Number.isInteger(v)
          ? { case: 'intValue', value: BigInt(v) }
          : { case: 'doubleValue', value: v };
  return { $typeName: 'opentelemetry.proto.common.v1.AnyValue', value };
}

function keyValues(attributes: Record<string, AttributeValue>): KeyValue[] {
  return Object.entries(attributes).map(([key, v]) => create(KeyValueSchema, { key, value: anyValue(v) }));
}

/** One OTLP log record per flow (time = flow start), under one resource and the receiver's scope. */
export function flowsToLogs(records: readonly FlowRecord[], receiverId: string, includeFields: boolean, nowUnixNano: bigint): Logs {
  const logs = emptyLogs();
  const logRecords: LogRecord[] = records.map((r) =>
    create(LogRecordSchema, {
      timeUnixNano: r.startUnixNano,
      observedTimeUnixNano: nowUnixNano,
      eventName: 'flow',
      attributes: keyValues(flowAttributes(r, includeFields)),
    }),
  );
  logs.resourceLogs.push(
    create(ResourceLogsSchema, {
      resource: { attributes: keyValues({ 'service.name': 'netspan' }) },
      scopeLogs: [{ scope: { name: `netspan/${receiverId}` }, logRecords }],
    }),
  );
  return logs;
}
