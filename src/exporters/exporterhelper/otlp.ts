/**
 * What the OTLP exporters (gRPC and HTTP) share beyond the queue: their common config keys and
 * the reading of an Export*ServiceResponse, whose partial_success says how much was rejected.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { clientTls, type ClientTlsConfig } from '../../core/config/types.js';
import { NetspanError } from '../../core/errors.js';
import type { Signal } from '../../model/otlp.js';
import type { ExportTraceServiceResponse } from '../../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import type { ExportLogsServiceResponse } from '../../wire/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import type { ExportMetricsServiceResponse } from '../../wire/otlp/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import { success, type ExportResult } from './result.js';

export interface SignalResponse {
  traces: ExportTraceServiceResponse;
  logs: ExportLogsServiceResponse;
  metrics: ExportMetricsServiceResponse;
}

/** The collector compresses OTLP exports with gzip unless told otherwise. */
export const DEFAULT_COMPRESSION = 'gzip';
export const compressionConfig = () => z.enum(['gzip', 'none']).default(DEFAULT_COMPRESSION);
export type Compression = z.infer<ReturnType<typeof compressionConfig>>;

/** Extra request headers (gRPC metadata), e.g. an API key from ${env:...}. */
export const headersConfig = () => z.record(z.string(), z.string()).default({});

/** Client TLS settings; a client certificate needs its key and the other way round. */
export const otlpClientTls = () =>
  clientTls()
    .default({})
    .refine((t) => (t.cert_file === undefined) === (t.key_file === undefined), {
      message: 'cert_file and key_file go together',
    });

export interface ClientTlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Verify the server's certificate (off only with insecure_skip_verify). */
  verify: boolean;
}

/** Reads the PEM files named in the TLS settings (at start, as the collector does). */
export async function loadClientTls(tls: ClientTlsConfig): Promise<ClientTlsMaterial> {
  const read = async (what: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return await readFile(file);
    } catch (err) {
      throw new NetspanError('TLS_FILES', `cannot read tls.${what} "${file}": ${(err as Error).message}`, { cause: err });
    }
  };
  const [ca, cert, key] = await Promise.all([
    read('ca_file', tls.ca_file),
    read('cert_file', tls.cert_file),
    read('key_file', tls.key_file),
  ]);
  return { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }), verify: !tls.insecure_skip_verify };
}

/** The rejected count and message of a response's partial_success; full success when absent. */
export function resultFromResponse<S extends Signal>(signal: S, response: SignalResponse[S]): ExportResult {
  const partial = response.partialSuccess;
  if (!partial) return success();
  let rejected: bigint;
  if (signal === 'traces') rejected = (partial as NonNullable<ExportTraceServiceResponse['partialSuccess']>).rejectedSpans;
  else if (signal === 'logs') rejected = (partial as NonNullable<ExportLogsServiceResponse['partialSuccess']>).rejectedLogRecords;
  else rejected = (partial as NonNullable<ExportMetricsServiceResponse['partialSuccess']>).rejectedDataPoints;
  return success(Number(rejected), partial.errorMessage);
}
