/** Config of the OTLP receiver, in the OpenTelemetry Collector's shape. */
import { z } from 'zod';
import { bearerAuth, byteSize, endpoint, serverTls } from '../../core/config/types.js';

/** OTLP/gRPC's standard port, on loopback: exposing it is a deliberate choice. */
export const DEFAULT_GRPC_ENDPOINT = '127.0.0.1:4317';
/** OTLP/HTTP's standard port, on loopback. */
export const DEFAULT_HTTP_ENDPOINT = '127.0.0.1:4318';
/** The collector's default gRPC message limit (after decompression). */
export const DEFAULT_GRPC_MAX_RECV_MSG_SIZE_MIB = 4;
/** The collector's default HTTP body limit (after decompression). */
export const DEFAULT_HTTP_MAX_REQUEST_BODY_SIZE = 20 * 1024 * 1024;
/** Seconds a refused sender is told to wait before retrying (Retry-After / RetryInfo). */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

const grpcSchema = z
  .object({
    /** host:port to listen on. */
    endpoint: endpoint().default(DEFAULT_GRPC_ENDPOINT),
    /** Largest message accepted, in MiB, after decompression. */
    max_recv_msg_size_mib: z.number().positive().default(DEFAULT_GRPC_MAX_RECV_MSG_SIZE_MIB),
    /** Serve TLS with these files (mTLS with client_ca_file). */
    tls: serverTls().optional(),
    /** Require `authorization: Bearer <token>` metadata. */
    auth: bearerAuth().optional(),
  })
  .strict();

const httpSchema = z
  .object({
    /** host:port to listen on. */
    endpoint: endpoint().default(DEFAULT_HTTP_ENDPOINT),
    /** Largest body accepted, after decompression (bytes, or e.g. "20MiB"). */
    max_request_body_size: byteSize().default(DEFAULT_HTTP_MAX_REQUEST_BODY_SIZE),
    /** Serve HTTPS with these files (mTLS with client_ca_file). */
    tls: serverTls().optional(),
    /** Require `Authorization: Bearer <token>`. */
    auth: bearerAuth().optional(),
    /** Paths of the three signals. */
    traces_url_path: z.string().startsWith('/').default('/v1/traces'),
    logs_url_path: z.string().startsWith('/').default('/v1/logs'),
    metrics_url_path: z.string().startsWith('/').default('/v1/metrics'),
  })
  .strict();

/** `grpc:` or `http:` with no value turns the protocol on with its defaults, as in the collector. */
const protocol = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((v) => (v === null ? {} : v), schema.optional());

export const otlpReceiverConfigSchema = z
  .object({
    protocols: z
      .object({ grpc: protocol(grpcSchema), http: protocol(httpSchema) })
      .strict()
      .refine((p) => p.grpc !== undefined || p.http !== undefined, { message: 'enable at least one of grpc, http' }),
    /** Retry-After (seconds) sent with 503 / UNAVAILABLE when the pipeline is full. */
    retry_after_seconds: z.number().int().positive().default(DEFAULT_RETRY_AFTER_SECONDS),
    /**
     * Take `netspan agent` observations (OTLP log records with a netspan observation event name)
     * as network evidence for the correlation, also when no logs pipeline lists this receiver.
     */
    agent_observations: z.boolean().default(true),
  })
  .strict();

export type OtlpReceiverConfig = z.infer<typeof otlpReceiverConfigSchema>;
export type OtlpGrpcConfig = z.infer<typeof grpcSchema>;
export type OtlpHttpConfig = z.infer<typeof httpSchema>;
