/**
 * Observations as OTLP log records, the agent → collector wire form: one log record per
 * observation, `event_name` = OBSERVATION_EVENT[kind], time = the capture time, attributes = the
 * flat form (observation.ts), trace_id/span_id = the ids the packet carried (IOAM CLT ids, or the
 * HTTP traceparent's). Arrays and maps travel as OTLP array and kvlist values.
 */
import { create } from '@bufbuild/protobuf';
import { emptyLogs, type Logs } from './otlp.js';
import {
  OBSERVATION_EVENT,
  ObservationFormatError,
  observationAttributes,
  observationFromAttributes,
  parseTraceparent,
  type FlatAttributes,
  type JsonValue,
  type Observation,
  type ObservationKind,
} from './observation.js';
import { LogRecordSchema, ResourceLogsSchema, type LogRecord } from '../wire/otlp/gen/opentelemetry/proto/logs/v1/logs_pb.js';
import type { AnyValue, KeyValue } from '../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';

const ANY = 'opentelemetry.proto.common.v1.AnyValue' as const;
const KV = 'opentelemetry.proto.common.v1.KeyValue' as const;

/** A JSON value as an OTLP AnyValue (integers as int, other numbers as double, null as an empty value). */
export function toAnyValue(v: JsonValue): AnyValue {
  let value: AnyValue['value'];
  if (v === null) value = { case: undefined };
  else if (typeof v === 'string') value = { case: 'stringValue', value: v };
  else if (typeof v === 'boolean') value = { case: 'boolValue', value: v };
  else if (typeof v === 'number') value = Number.isInteger(v) ? { case: 'intValue', value: BigInt(v) } : { case: 'doubleValue', value: v };
  else if (Array.isArray(v))
    value = { case: 'arrayValue', value: { $typeName: 'opentelemetry.proto.common.v1.ArrayValue', values: v.map(toAnyValue) } };
  else value = { case: 'kvlistValue', value: { $typeName: 'opentelemetry.proto.common.v1.KeyValueList', values: toKeyValues(v) } };
  return { $typeName: ANY, value };
}

export function toKeyValues(attributes: Record<string, JsonValue>): KeyValue[] {
  return Object.entries(attributes).map(([key, v]) => ({ $typeName: KV, key, keyStrindex: 0, value: toAnyValue(v) }));
}

/** The inverse of toAnyValue. Integers beyond ±2^53 become decimal strings; bytes become hex. */
export function fromAnyValue(v: AnyValue | undefined): JsonValue {
  const value = v?.value;
  switch (value?.case) {
    case 'stringValue':
    case 'boolValue':
    case 'doubleValue':
      return value.value;
    case 'intValue':
      return value.value >= BigInt(Number.MIN_SAFE_INTEGER) && value.value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value.value)
        : value.value.toString();
    case 'bytesValue':
      return Buffer.from(value.value).toString('hex');
    case 'arrayValue':
      return value.value.values.map(fromAnyValue);
    case 'kvlistValue':
      return fromKeyValues(value.value.values);
    default:
      return null;
  }
}

export function fromKeyValues(values: readonly KeyValue[]): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const kv of values) out[kv.key] = fromAnyValue(kv.value);
  return out;
}

const hexBytes = (hex: string | undefined): Uint8Array => (hex ? new Uint8Array(Buffer.from(hex, 'hex')) : new Uint8Array(0));

/** The trace and span id a log record of this observation carries. */
function observationIds(o: Observation): { traceId?: string; spanId?: string } {
  if (o.kind === 'ioam' && o.traceId !== undefined && o.spanId !== undefined) return { traceId: o.traceId, spanId: o.spanId };
  const parsed = o.traceparent !== undefined ? parseTraceparent(o.traceparent) : undefined;
  return parsed ? { traceId: parsed.traceId, spanId: parsed.spanId } : {};
}

export function observationToLogRecord(o: Observation, observedTimeUnixNano: bigint): LogRecord {
  const ids = observationIds(o);
  return create(LogRecordSchema, {
    timeUnixNano: o.timeUnixNano,
    observedTimeUnixNano,
    eventName: OBSERVATION_EVENT[o.kind],
    traceId: hexBytes(ids.traceId),
    spanId: hexBytes(ids.spanId),
    attributes: toKeyValues(observationAttributes(o)),
  });
}

/** One ResourceLogs (resource attributes as given, e.g. service.name and host.name of the agent) with one record per observation. */
export function observationsToLogs(
  observations: readonly Observation[],
  resource: FlatAttributes,
  scopeName: string,
  nowUnixNano: bigint,
): Logs {
  const logs = emptyLogs();
  logs.resourceLogs.push(
    create(ResourceLogsSchema, {
      resource: { attributes: toKeyValues(resource) },
      scopeLogs: [{ scope: { name: scopeName }, logRecords: observations.map((o) => observationToLogRecord(o, nowUnixNano)) }],
    }),
  );
  return logs;
}

const KIND_BY_EVENT = new Map<string, ObservationKind>(Object.entries(OBSERVATION_EVENT).map(([k, e]) => [e, k as ObservationKind]));

/** The observation kind a log record announces by its event name, or undefined for any other record. */
export function observationKindOf(record: LogRecord): ObservationKind | undefined {
  return KIND_BY_EVENT.get(record.eventName);
}

/** Reads an observation log record; throws ObservationFormatError when it announces one but is malformed. */
export function observationFromLogRecord(record: LogRecord): Observation | undefined {
  const kind = observationKindOf(record);
  if (!kind) return undefined;
  return observationFromAttributes(kind, fromKeyValues(record.attributes));
}

export { ObservationFormatError };
