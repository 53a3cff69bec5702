/**
 * OTLP encodings of the three signals: protobuf (binary) and the OTLP/JSON mapping, which is
 * proto3 JSON except that trace and span ids are hex rather than base64 and enums are
 * integers. Unknown JSON fields are ignored, as the OTLP spec requires of receivers.
 */
import { fromBinary, fromJson, toBinary, toJson, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { DecodeError, errorMessage } from '../../core/errors.js';
import type { Signal, SignalData } from '../../model/otlp.js';
import {
  ExportTraceServiceRequestSchema,
  ExportTraceServiceResponseSchema,
} from './gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
} from './gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import {
  ExportMetricsServiceRequestSchema,
  ExportMetricsServiceResponseSchema,
} from './gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import { decodeLogsRequest, decodeTraceRequest, encodeLogsRequest, encodeTraceRequest } from './fast/index.js';

export const REQUEST_SCHEMA = {
  traces: ExportTraceServiceRequestSchema,
  logs: ExportLogsServiceRequestSchema,
  metrics: ExportMetricsServiceRequestSchema,
} as const;

export const RESPONSE_SCHEMA = {
  traces: ExportTraceServiceResponseSchema,
  logs: ExportLogsServiceResponseSchema,
  metrics: ExportMetricsServiceResponseSchema,
} as const;

/** JSON keys holding trace/span ids: the only bytes fields OTLP/JSON writes as hex. */
const ID_KEYS: Record<string, number> = { traceId: 16, spanId: 8, parentSpanId: 8 };

/** Rewrites hex ids to base64 (for the proto3 JSON reader) or back, in place. */
function rewriteIds(node: unknown, toBase64: boolean, path: string): void {
  if (Array.isArray(node)) {
    node.forEach((child, i) => rewriteIds(child, toBase64, `${path}[${i}]`));
    return;
  }
  if (!node || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (key in ID_KEYS && typeof value === 'string') {
      if (toBase64) {
        if (!/^(?:[0-9a-fA-F]{2})*$/.test(value))
          throw new DecodeError('OTLP_JSON_BAD_ID', `${path}.${key}: "${value}" is not hex`, { path: `${path}.${key}` });
        obj[key] = Buffer.from(value, 'hex').toString('base64');
      } else {
        obj[key] = Buffer.from(value, 'base64').toString('hex');
      }
    } else if (value && typeof value === 'object') {
      rewriteIds(value, toBase64, path ? `${path}.${key}` : key);
    }
  }
}

/**
 * Traces and logs use the hand-written codec in fast/ (same message objects, several times
 * faster); metrics use protobuf-es.
 */
export function decodeProtobuf<S extends Signal>(signal: S, bytes: Uint8Array): SignalData[S] {
  try {
    if (signal === 'traces') return decodeTraceRequest(bytes) as SignalData[S];
    if (signal === 'logs') return decodeLogsRequest(bytes) as SignalData[S];
    return fromBinary(REQUEST_SCHEMA[signal] as DescMessage, bytes) as unknown as SignalData[S];
  } catch (err) {
    if (err instanceof DecodeError) throw new DecodeError(err.code, err.message, { signal, ...err.context });
    throw new DecodeError('OTLP_PROTOBUF_INVALID', `cannot decode protobuf: ${errorMessage(err)}`, { signal }, err);
  }
}

export function encodeProtobuf<S extends Signal>(signal: S, data: SignalData[S]): Uint8Array {
  if (signal === 'traces') return encodeTraceRequest(data as SignalData['traces']);
  if (signal === 'logs') return encodeLogsRequest(data as SignalData['logs']);
  return toBinary(REQUEST_SCHEMA[signal] as DescMessage, data as never);
}

/** Parses OTLP/JSON text of an Export*ServiceRequest. */
export function decodeJson<S extends Signal>(signal: S, text: string): SignalData[S] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new DecodeError('OTLP_JSON_SYNTAX', `invalid JSON: ${errorMessage(err)}`, { signal }, err);
  }
  return decodeJsonValue(signal, parsed);
}

export function decodeJsonValue<S extends Signal>(signal: S, value: unknown): SignalData[S] {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new DecodeError('OTLP_JSON_SHAPE', 'the JSON body must be an object', { signal });
  rewriteIds(value, true, '');
  try {
    return fromJson(REQUEST_SCHEMA[signal] as DescMessage, value as JsonValue, {
      ignoreUnknownFields: true,
    }) as unknown as SignalData[S];
  } catch (err) {
    throw new DecodeError('OTLP_JSON_INVALID', `invalid OTLP/JSON: ${errorMessage(err)}`, { signal }, err);
  }
}

/** The OTLP/JSON form of a request, as a plain object (hex ids, integer enums, int64 as strings). */
export function toOtlpJson<S extends Signal>(signal: S, data: SignalData[S]): JsonValue {
  const json = toJson(REQUEST_SCHEMA[signal] as DescMessage, data as never, { enumAsInteger: true });
  rewriteIds(json, false, '');
  return json;
}

export function encodeJson<S extends Signal>(signal: S, data: SignalData[S]): string {
  return JSON.stringify(toOtlpJson(signal, data));
}

/** The gRPC method of each signal's collector service. */
export const GRPC_EXPORT_PATH: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
};

const passBytes = (b: Buffer) => b;

/**
 * A grpc-js service definition of a signal's Export method that passes raw bytes: decoding
 * happens in the handler, so a malformed message gets a precise INVALID_ARGUMENT.
 */
export function rawExportServiceDefinition(signal: Signal): ServiceDefinition {
  return {
    Export: {
      path: GRPC_EXPORT_PATH[signal],
      requestStream: false,
      responseStream: false,
      requestSerialize: passBytes,
      requestDeserialize: passBytes,
      responseSerialize: passBytes,
      responseDeserialize: passBytes,
    },
  } as ServiceDefinition;
}
