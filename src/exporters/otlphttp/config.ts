/**
 * Config of the `otlphttp` exporter, the collector's: a base `endpoint` to which the signal path
 * is appended, or full per-signal URLs, plus encoding, compression, headers, TLS and the
 * exporter helper's queue, retry and timeout settings.
 */
import { z } from 'zod';
import type { Signal } from '../../model/otlp.js';
import { compressionConfig, exporterHelperFields, headersConfig, otlpClientTls } from '../exporterhelper/index.js';

const httpUrl = () =>
  z
    .string()
    .url()
    .refine((v) => /^https?:\/\//i.test(v), { message: 'must be an http:// or https:// URL' });

export const DEFAULT_ENCODING = 'proto';

export const otlpHttpConfigSchema = z
  .object({
    /** Base URL, e.g. http://collector:4318; /v1/traces, /v1/logs or /v1/metrics is appended. */
    endpoint: httpUrl().optional(),
    /** Full URLs, used as they are, overriding `endpoint` for one signal. */
    traces_endpoint: httpUrl().optional(),
    logs_endpoint: httpUrl().optional(),
    metrics_endpoint: httpUrl().optional(),
    encoding: z.enum(['proto', 'json']).default(DEFAULT_ENCODING),
    compression: compressionConfig(),
    headers: headersConfig(),
    tls: otlpClientTls(),
    ...exporterHelperFields(),
  })
  .strict()
  .refine((c) => c.endpoint || c.traces_endpoint || c.logs_endpoint || c.metrics_endpoint, {
    message: 'set endpoint (or traces_endpoint, logs_endpoint, metrics_endpoint)',
    path: ['endpoint'],
  });

export type OtlpHttpConfig = z.infer<typeof otlpHttpConfigSchema>;

/** The URL a signal is posted to, as the collector composes it; undefined when none is configured. */
export function signalUrl(config: Pick<OtlpHttpConfig, 'endpoint' | `${Signal}_endpoint`>, signal: Signal): string | undefined {
  const explicit = config[`${signal}_endpoint`];
  if (explicit) return explicit;
  if (!config.endpoint) return undefined;
  return `${config.endpoint}${config.endpoint.endsWith('/') ? '' : '/'}v1/${signal}`;
}
