/**
 * gRPC status → ExportResult, per the OTLP spec's list of retryable codes. RESOURCE_EXHAUSTED is
 * retried only when the server says when (google.rpc.RetryInfo in grpc-status-details-bin):
 * without it the exhaustion is not expected to pass, e.g. a message over the size limit.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { status as GrpcStatus, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { NetspanError } from '../../core/errors.js';
import { StatusSchema } from '../../wire/otlp/gen/google/rpc/status_pb.js';
import { RetryInfoSchema } from '../../wire/otlp/gen/google/rpc/error_details_pb.js';
import { permanentFailure, retryableFailure, type ExportResult } from '../exporterhelper/index.js';

export const RETRYABLE_GRPC_CODES: ReadonlySet<GrpcStatus> = new Set([
  GrpcStatus.CANCELLED,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.ABORTED,
  GrpcStatus.OUT_OF_RANGE,
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DATA_LOSS,
]);

const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** The RetryInfo delay in milliseconds carried by a call's trailers, if any. */
export function retryDelayMs(trailers: Metadata | undefined): number | undefined {
  for (const value of trailers?.get(STATUS_DETAILS_KEY) ?? []) {
    if (typeof value === 'string') continue;
    let status;
    try {
      status = fromBinary(StatusSchema, value);
    } catch {
      continue; // a malformed detail is no reason to fail the export differently
    }
    for (const detail of status.details) {
      const info = anyUnpack(detail, RetryInfoSchema);
      if (info?.retryDelay) return Math.max(0, Number(info.retryDelay.seconds) * 1000 + Math.round(info.retryDelay.nanos / 1e6));
    }
  }
  return undefined;
}

export function resultFromGrpcError(err: ServiceError): ExportResult {
  const delay = retryDelayMs(err.metadata);
  const error = new NetspanError('OTLP_GRPC_STATUS', `gRPC ${GrpcStatus[err.code] ?? err.code}: ${err.details}`, {
    cause: err,
    context: { code: err.code },
  });
  if (RETRYABLE_GRPC_CODES.has(err.code) || (err.code === GrpcStatus.RESOURCE_EXHAUSTED && delay !== undefined))
    return retryableFailure(error, delay);
  return permanentFailure(error);
}
