/**
 * Config of the Elasticsearch / OpenSearch flow evidence source: where the flow index is, how
 * to authenticate, and which document fields hold the quartet and the exporting device. The
 * defaults fit the index Elastic Agent's NetFlow integration writes (data stream
 * `logs-netflow.log-<namespace>`, ECS fields).
 */
import { z } from 'zod';
import { duration } from '../../core/config/types.js';

/** Elastic Agent's NetFlow integration writes to the data stream logs-netflow.log-<namespace>. */
export const DEFAULT_INDEX = 'logs-netflow.log-*';
/** The document field naming the exporting device (the exporter's address in ECS). */
export const DEFAULT_DEVICE_IDENTIFIER = 'observer.ip';
/** The ECS fields of the quartet. */
export const DEFAULT_LOOKUP_FIELDS = {
  source_ip: 'source.ip',
  source_port: 'source.port',
  destination_ip: 'destination.ip',
  destination_port: 'destination.port',
} as const;
/** The ECS field with the IANA protocol number (a keyword: "6"); "" leaves the protocol out of the query. */
export const DEFAULT_PROTOCOL_FIELD = 'network.iana_number';
/** Per request (one _msearch). The lookup sits on the trace path: a slow cluster must not hold traces long. */
export const DEFAULT_TIMEOUT_MS = 5_000;
/** Retries of a failed _msearch (connection errors, 502/503/504), by the client. */
export const DEFAULT_MAX_RETRIES = 1;
/** Searches (connections) per _msearch request; a batch with more is sent as several requests at once. */
export const DEFAULT_MAX_SEARCHES_PER_REQUEST = 200;
/** Elasticsearch's default index.max_result_window: no search asks for more hits. */
export const MAX_HITS_PER_SEARCH = 10_000;

const FINGERPRINT = /^(?:[0-9a-fA-F]{2}:){31}[0-9a-fA-F]{2}$|^[0-9a-fA-F]{64}$/;

const httpUrl = () =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
      } catch {
        return false;
      }
    },
    { message: 'must be an http:// or https:// URL (e.g. https://localhost:9200)' },
  );

export const lookupFieldsSchema = z
  .object({
    source_ip: z.string().min(1).default(DEFAULT_LOOKUP_FIELDS.source_ip),
    source_port: z.string().min(1).default(DEFAULT_LOOKUP_FIELDS.source_port),
    destination_ip: z.string().min(1).default(DEFAULT_LOOKUP_FIELDS.destination_ip),
    destination_port: z.string().min(1).default(DEFAULT_LOOKUP_FIELDS.destination_port),
  })
  .strict()
  .default({});

export const elasticsearchTlsSchema = z
  .object({
    /** PEM file of the CA that signed the cluster's HTTP certificate (e.g. Elasticsearch's config/certs/http_ca.crt). */
    ca_file: z.string().min(1).optional(),
    /**
     * SHA-256 fingerprint of that CA certificate, as Elasticsearch prints it at first start
     * (hex, with or without colons). The CA is taken from the chain the server presents when
     * its fingerprint matches, then the connection is verified against it as if given as
     * ca_file (signatures and host name). Use one of ca_file and certificate_fingerprint.
     */
    certificate_fingerprint: z
      .string()
      .regex(FINGERPRINT, { message: 'must be a SHA-256 fingerprint: 64 hex digits, colons allowed' })
      .optional(),
    /** Accept any certificate (no verification at all). For tests only. */
    insecure_skip_verify: z.boolean().default(false),
  })
  .strict()
  .default({});

export const elasticsearchSourceConfigSchema = z
  .object({
    /** Node URLs, e.g. [https://localhost:9200]; requests go round-robin, failed nodes are skipped. */
    endpoints: z.array(httpUrl()).min(1, { message: 'at least one endpoint is needed (e.g. https://localhost:9200)' }),
    /** Index, data stream, alias or pattern holding the flow documents. */
    index: z.string().min(1).default(DEFAULT_INDEX),
    /**
     * `elasticsearch` checks the server's x-elastic-product header as the official client does;
     * `opensearch` (also for Elasticsearch older than 7.14) does not.
     */
    product: z.enum(['elasticsearch', 'opensearch']).default('elasticsearch'),
    /** Basic authentication. */
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    /** An API key in its encoded form (base64 of id:key), sent as `Authorization: ApiKey <key>`. */
    api_key: z.string().min(1).optional(),
    tls: elasticsearchTlsSchema,
    /** Per _msearch request, including retries' waiting. */
    timeout: duration()
      .default(`${DEFAULT_TIMEOUT_MS}ms`)
      .refine((ms) => ms > 0, { message: 'timeout must be more than 0' }),
    max_retries: z.number().int().min(0).max(10).default(DEFAULT_MAX_RETRIES),
    max_searches_per_request: z.number().int().positive().max(10_000).default(DEFAULT_MAX_SEARCHES_PER_REQUEST),
    /** Document field naming the exporting device; its value names the device spans. */
    device_identifier: z.string().min(1).default(DEFAULT_DEVICE_IDENTIFIER),
    /** Document fields of the quartet. */
    lookup_fields: lookupFieldsSchema,
    /** Field of the IANA protocol number; "" does not filter by protocol in the query (the mapping still checks it where known). */
    protocol_field: z.string().default(DEFAULT_PROTOCOL_FIELD),
    /** An Elasticsearch query object every lookup is ANDed with (a filter clause), e.g. { term: { "data_stream.namespace": "lab" } }. */
    base_query: z.record(z.unknown()).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.username !== undefined && c.password === undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['password'], message: 'password is required with username' });
    if (c.password !== undefined && c.username === undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['username'], message: 'username is required with password' });
    if (c.api_key !== undefined && c.username !== undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['api_key'], message: 'use either api_key or username/password, not both' });
    if (c.tls.ca_file !== undefined && c.tls.certificate_fingerprint !== undefined)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['tls', 'certificate_fingerprint'],
        message: 'use either ca_file or certificate_fingerprint, not both',
      });
    const tlsSet = c.tls.ca_file !== undefined || c.tls.certificate_fingerprint !== undefined;
    if (tlsSet)
      c.endpoints.forEach((e, i) => {
        if (e.startsWith('http:'))
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['endpoints', i], message: 'TLS settings need https:// endpoints' });
      });
  });

export type ElasticsearchSourceConfig = z.infer<typeof elasticsearchSourceConfigSchema>;
export type LookupFields = ElasticsearchSourceConfig['lookup_fields'];
