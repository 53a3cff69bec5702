/**
 * The thesis's processor config, accepted as it was written: `ipfix_lookup` ("Network insights
 * in OpenTelemetry", OST 2024), mapped onto the correlate processor's options. README.md ("What netspan adds to a trace") has
 * the mapping table.
 *
 *   processors:
 *     ipfix_lookup:
 *       elastic_search:
 *         connection: { addresses: [https://localhost:9200], username: elastic, password: changeme, certificate_fingerprint: "..." }
 *       timing: { lookup_window: 25s }
 *       query_parameters:
 *         base_query: { ... }
 *         device_identifier: observer.ip
 *         lookup_fields: { source_ip: source.ip, source_port: source.port, destination_ip: destination.ip, destination_port: destination.port }
 *       span_attribute_fields: [ ... ]
 *       spans:
 *         span_fields: { source_ips: [...], source_ports: [...], destination_ip_and_port: [...], destination_ips: [...], destination_ports: [...] }
 *
 * netspan extensions (absent from the thesis): elastic_search.connection.{api_key, ca_file,
 * insecure_skip_verify}, elastic_search.{index, product, timeout, max_retries,
 * max_searches_per_request}, and `correlate:`, any correlate option (devices, clock_skew,
 * reparent, ...), which wins over the mapped values. Unknown keys are errors with their path,
 * and every value is checked by the correlate schema, its problems reported at the thesis key
 * they came from.
 */
import { z, type ZodIssue } from 'zod';
import { correlateConfigSchema, type CorrelateConfig } from './config.js';

const value = z.unknown().optional();

const thesisShape = z
  .object({
    elastic_search: z
      .object({
        connection: z
          .object({
            addresses: value,
            username: value,
            password: value,
            certificate_fingerprint: value,
            // netspan extensions
            api_key: value,
            ca_file: value,
            insecure_skip_verify: value,
          })
          .strict(),
        // netspan extensions
        index: value,
        product: value,
        timeout: value,
        max_retries: value,
        max_searches_per_request: value,
      })
      .strict()
      .optional(),
    timing: z.object({ lookup_window: value }).strict().optional(),
    query_parameters: z
      .object({
        base_query: value,
        device_identifier: value,
        lookup_fields: z
          .object({ source_ip: value, source_port: value, destination_ip: value, destination_port: value })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    span_attribute_fields: value,
    spans: z
      .object({
        span_fields: z
          .object({
            source_ips: value,
            source_ports: value,
            destination_ip_and_port: value,
            destination_ips: value,
            destination_ports: value,
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    /** netspan extension: correlate options, over the mapped ones. */
    correlate: z.record(z.unknown()).optional(),
  })
  .strict();

type Thesis = z.infer<typeof thesisShape>;
type Path = (string | number)[];

/** Correlate option path prefix → the thesis key it is mapped from (longest prefix wins). */
const ORIGINS: [Path, Path][] = [
  [
    ['elasticsearch', 'endpoints'],
    ['elastic_search', 'connection', 'addresses'],
  ],
  [
    ['elasticsearch', 'username'],
    ['elastic_search', 'connection', 'username'],
  ],
  [
    ['elasticsearch', 'password'],
    ['elastic_search', 'connection', 'password'],
  ],
  [
    ['elasticsearch', 'api_key'],
    ['elastic_search', 'connection', 'api_key'],
  ],
  [
    ['elasticsearch', 'tls', 'certificate_fingerprint'],
    ['elastic_search', 'connection', 'certificate_fingerprint'],
  ],
  [
    ['elasticsearch', 'tls', 'ca_file'],
    ['elastic_search', 'connection', 'ca_file'],
  ],
  [
    ['elasticsearch', 'tls', 'insecure_skip_verify'],
    ['elastic_search', 'connection', 'insecure_skip_verify'],
  ],
  [
    ['elasticsearch', 'tls'],
    ['elastic_search', 'connection'],
  ],
  [
    ['elasticsearch', 'device_identifier'],
    ['query_parameters', 'device_identifier'],
  ],
  [
    ['elasticsearch', 'lookup_fields'],
    ['query_parameters', 'lookup_fields'],
  ],
  [
    ['elasticsearch', 'base_query'],
    ['query_parameters', 'base_query'],
  ],
  [['elasticsearch'], ['elastic_search']],
  [['window'], ['timing', 'lookup_window']],
  [['span_attribute_fields'], ['span_attribute_fields']],
  ...(['client', 'other'] as const).flatMap((side): [Path, Path][] => [
    [
      ['attributes', side, 'source_address'],
      ['spans', 'span_fields', 'source_ips'],
    ],
    [
      ['attributes', side, 'source_port'],
      ['spans', 'span_fields', 'source_ports'],
    ],
    [
      ['attributes', side, 'destination_address'],
      ['spans', 'span_fields', 'destination_ips'],
    ],
    [
      ['attributes', side, 'destination_port'],
      ['spans', 'span_fields', 'destination_ports'],
    ],
    [
      ['attributes', side, 'destination_host'],
      ['spans', 'span_fields', 'destination_ip_and_port'],
    ],
  ]),
];

function startsWith(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((p, i) => path[i] === p);
}

function has(obj: unknown, path: Path): boolean {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || !(String(p) in (cur as object))) return false;
    cur = (cur as Record<string, unknown>)[String(p)];
  }
  return true;
}

/** Where an issue of the mapped correlate config belongs in the thesis config. */
function thesisPath(path: Path, block: Record<string, unknown> | undefined): Path {
  if (block && path.length > 0 && has(block, path.slice(0, 1))) {
    // Set in the correlate block (it wins): report it there, as deep as the block goes.
    return ['correlate', ...path];
  }
  for (const [from, to] of ORIGINS) if (startsWith(path, from)) return [...to, ...path.slice(from.length)];
  return ['correlate', ...path];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `over` merged into `base`: objects key by key, anything else replaced. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function defined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/** The thesis config as a raw correlate config (not yet validated). */
export function thesisToCorrelate(t: Thesis): Record<string, unknown> {
  let raw: Record<string, unknown> = { thesis_span_shape: true };
  const es = t.elastic_search;
  const qp = t.query_parameters;
  if (es) {
    const c = es.connection;
    const tls = defined({
      certificate_fingerprint: c.certificate_fingerprint,
      ca_file: c.ca_file,
      insecure_skip_verify: c.insecure_skip_verify,
    });
    raw.elasticsearch = defined({
      endpoints: c.addresses,
      username: c.username,
      password: c.password,
      api_key: c.api_key,
      ...(Object.keys(tls).length > 0 ? { tls } : {}),
      index: es.index,
      product: es.product,
      timeout: es.timeout,
      max_retries: es.max_retries,
      max_searches_per_request: es.max_searches_per_request,
      device_identifier: qp?.device_identifier,
      lookup_fields: qp?.lookup_fields ? defined(qp.lookup_fields) : undefined,
      base_query: qp?.base_query,
    });
  }
  if (t.timing?.lookup_window !== undefined) raw.window = t.timing.lookup_window;
  if (t.span_attribute_fields !== undefined) raw.span_attribute_fields = t.span_attribute_fields;
  const sf = t.spans?.span_fields;
  if (sf) {
    const side = defined({
      source_address: sf.source_ips,
      source_port: sf.source_ports,
      destination_address: sf.destination_ips,
      destination_port: sf.destination_ports,
      destination_host: sf.destination_ip_and_port,
    });
    // The thesis read every span alike, from its caller's side: CLIENT-like and INTERNAL spans.
    // SERVER spans keep netspan's keys (net.sock.host.* is the server's own end there).
    if (Object.keys(side).length > 0) raw.attributes = { client: side, other: side };
  }
  if (t.correlate) raw = deepMerge(raw, t.correlate);
  return raw;
}

function reissue(ctx: z.RefinementCtx, issues: readonly ZodIssue[], block: Record<string, unknown> | undefined): void {
  for (const issue of issues) ctx.addIssue({ ...issue, path: thesisPath(issue.path, block) } as Parameters<z.RefinementCtx['addIssue']>[0]);
}

/** `ipfix_lookup`: the thesis's keys in, the correlate processor's config out. */
export const ipfixLookupConfigSchema = thesisShape
  .superRefine((t, ctx) => {
    if (t.query_parameters !== undefined && t.elastic_search === undefined && !has(t.correlate, ['elasticsearch']))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['query_parameters'],
        message: 'query_parameters describe the Elasticsearch index: they need elastic_search.connection',
      });
    const parsed = correlateConfigSchema.safeParse(thesisToCorrelate(t));
    if (!parsed.success) reissue(ctx, parsed.error.issues, t.correlate);
  })
  .transform((t): CorrelateConfig => correlateConfigSchema.parse(thesisToCorrelate(t)));

export type IpfixLookupConfig = z.input<typeof thesisShape>;
