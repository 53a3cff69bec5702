/** google.rpc.Status bodies and RetryInfo details, as OTLP/HTTP and gRPC carry them. */
import { create, toBinary, toJson } from '@bufbuild/protobuf';
import { anyPack, DurationSchema } from '@bufbuild/protobuf/wkt';
import { StatusSchema } from '../../wire/otlp/gen/google/rpc/status_pb.js';
import { RetryInfoSchema } from '../../wire/otlp/gen/google/rpc/error_details_pb.js';

export function statusMessage(code: number, message: string, retryAfterSeconds?: number) {
  const details =
    retryAfterSeconds === undefined
      ? []
      : [anyPack(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: create(DurationSchema, { seconds: BigInt(retryAfterSeconds) }) }))];
  return create(StatusSchema, { code, message, details });
}

export function statusBinary(code: number, message: string, retryAfterSeconds?: number): Uint8Array {
  return toBinary(StatusSchema, statusMessage(code, message, retryAfterSeconds));
}

export function statusJson(code: number, message: string): string {
  return JSON.stringify(toJson(StatusSchema, statusMessage(code, message)));
}
