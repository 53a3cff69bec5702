/**
 * Config of the collector's `otlp` exporter (OTLP over gRPC): a host:port endpoint, TLS unless
 * `tls.insecure: true` (as the collector), headers sent as metadata, gzip by default, and the
 * exporter helper's queue, retry and timeout settings.
 */
import { z } from 'zod';
import { endpoint } from '../../core/config/types.js';
import { compressionConfig, exporterHelperFields, headersConfig, otlpClientTls } from '../exporterhelper/index.js';

export const otlpGrpcConfigSchema = z
  .object({
    /** host:port of the OTLP/gRPC server, e.g. collector:4317. */
    endpoint: endpoint(),
    tls: otlpClientTls(),
    /** Sent as gRPC metadata on every call. */
    headers: headersConfig(),
    compression: compressionConfig(),
    ...exporterHelperFields(),
  })
  .strict();

export type OtlpGrpcConfig = z.infer<typeof otlpGrpcConfigSchema>;
