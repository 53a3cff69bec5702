/**
 * The load generator's requests: OTLP ExportTraceServiceRequests of 100 spans (10 traces of 10
 * spans) shaped like an instrumented HTTP service — a SERVER span with the semantic-convention
 * HTTP attributes, database, cache, HTTP client and messaging children — with resource
 * attributes like an SDK on Kubernetes sends.
 *
 * A few templates are built and encoded once, from a seeded generator (same bytes on every run).
 * Each request sent is a copy of a template's bytes with fresh ids and times patched in place:
 * the first 4 bytes of every trace id and span id (parent ids included) become the request's
 * sequence number, and every timestamp is moved to "now". So every request carries distinct
 * trace and span ids at the cost of a memcpy, and the sender measures the collector rather
 * than its own encoder.
 */
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { ExportTraceServiceRequestSchema } from '../../src/wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { Span_SpanKind, Status_StatusCode, type SpanSchema } from '../../src/wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import type { KeyValueSchema } from '../../src/wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { spanCount, type Traces } from '../../src/model/otlp.js';
import { mulberry32 as prng } from '../../src/testutil/prng.js';

export const SPANS_PER_TRACE = 10;
export const TRACES_PER_REQUEST = 10;
export const SPANS_PER_REQUEST = SPANS_PER_TRACE * TRACES_PER_REQUEST;

type RequestInit = MessageInitShape<typeof ExportTraceServiceRequestSchema>;
type KeyValueInit = MessageInitShape<typeof KeyValueSchema>;
type SpanInit = MessageInitShape<typeof SpanSchema>;
/** What some spans carry beyond the common fields. */
interface SpanExtra {
  status?: { code: Status_StatusCode; message?: string };
  events?: { name: string; timeUnixNano: bigint; attributes: KeyValueInit[] }[];
}

const str = (key: string, value: string): KeyValueInit => ({ key, value: { value: { case: 'stringValue', value } } });
const int = (key: string, value: number): KeyValueInit => ({ key, value: { value: { case: 'intValue', value: BigInt(value) } } });
const bool = (key: string, value: boolean): KeyValueInit => ({ key, value: { value: { case: 'boolValue', value } } });
const dbl = (key: string, value: number): KeyValueInit => ({ key, value: { value: { case: 'doubleValue', value } } });

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'okhttp/4.12.0',
];

/** One template: the encoded bytes and where its ids and timestamps sit in them. */
export interface RequestTemplate {
  bytes: Uint8Array;
  traceIdOffsets: number[];
  spanIdOffsets: number[];
  timeOffsets: number[];
  /** The time the template's timestamps are relative to (ns since the epoch). */
  baseNs: bigint;
}

/** Every offset at which `needle` occurs in `hay`. */
function occurrences(hay: Buffer, needle: Uint8Array): number[] {
  const out: number[] = [];
  for (let at = hay.indexOf(needle); at !== -1; at = hay.indexOf(needle, at + 1)) out.push(at);
  return out;
}

function buildTemplate(variant: number, baseNs: bigint): RequestTemplate {
  const rnd = prng(0x5eed + variant * 7919);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  const ip = (prefix: string) => `${prefix}.${1 + Math.floor(rnd() * 254)}.${1 + Math.floor(rnd() * 254)}`;
  const hex = (n: number) => Buffer.from(bytes(n)).toString('hex');

  const traceIds: Uint8Array[] = [];
  const spanIds: Uint8Array[] = [];
  const times: bigint[] = [];
  const spans: SpanInit[] = [];

  for (let t = 0; t < TRACES_PER_REQUEST; t++) {
    const traceId = bytes(16);
    traceIds.push(traceId);
    const ids = Array.from({ length: SPANS_PER_TRACE }, () => bytes(8));
    spanIds.push(...ids);
    // Each trace starts 1 ms after the previous one; every timestamp gets a distinct ns offset.
    const t0 = baseNs + BigInt(t) * 1_000_000n + BigInt(variant) * 97n;
    let tick = 0;
    const at = (ms: number): bigint => {
      const v = t0 + BigInt(Math.round(ms * 1_000_000)) + BigInt(++tick);
      times.push(v);
      return v;
    };
    const cartId = hex(6);
    const tenant = `tenant-${1 + Math.floor(rnd() * 40)}`;
    const items = 1 + Math.floor(rnd() * 12);
    const failed = rnd() < 0.05;
    const status = failed ? 503 : pick([200, 200, 200, 200, 200, 200, 304, 404]);
    const clientIp = ip('203.0');
    const podIp = ip('10.42');
    const sku = `SKU-${100000 + Math.floor(rnd() * 900000)}`;
    const total = 18 + rnd() * 40;
    const span = (
      i: number,
      parent: number | undefined,
      name: string,
      kind: Span_SpanKind,
      startMs: number,
      endMs: number,
      attributes: KeyValueInit[],
      extra: SpanExtra = {},
    ): void => {
      spans.push({
        traceId,
        spanId: ids[i]!,
        ...(parent !== undefined && { parentSpanId: ids[parent]! }),
        flags: 0x101,
        name,
        kind,
        startTimeUnixNano: at(startMs),
        endTimeUnixNano: at(endMs),
        attributes,
        ...extra,
      });
    };

    span(
      0,
      undefined,
      'GET /api/cart/{cartId}',
      Span_SpanKind.SERVER,
      0,
      total,
      [
        str('http.request.method', 'GET'),
        str('url.full', `https://shop.example.com/api/cart/${cartId}?currency=EUR&locale=de-DE`),
        str('url.path', `/api/cart/${cartId}`),
        str('url.scheme', 'https'),
        str('http.route', '/api/cart/{cartId}'),
        int('http.response.status_code', status),
        str('server.address', 'shop.example.com'),
        int('server.port', 443),
        str('network.peer.address', podIp),
        int('network.peer.port', 30000 + Math.floor(rnd() * 30000)),
        str('network.protocol.version', '1.1'),
        str('client.address', clientIp),
        str('user_agent.original', pick(USER_AGENTS)),
        int('http.response.body.size', 900 + Math.floor(rnd() * 4000)),
        str('app.tenant.id', tenant),
        str('app.cart.id', cartId),
        int('app.cart.items', items),
        str('app.user.tier', pick(['free', 'plus', 'business'])),
        bool('app.feature.new_checkout', rnd() < 0.3),
      ],
      failed
        ? { status: { code: Status_StatusCode.ERROR, message: 'inventory unavailable' } }
        : status >= 400
          ? {}
          : { status: { code: Status_StatusCode.UNSET } },
    );
    span(1, 0, 'CartService.load', Span_SpanKind.INTERNAL, 0.4, total * 0.55, [
      str('code.function.name', 'CartService.load'),
      str('code.file.path', '/app/src/cart/service.ts'),
      str('app.cart.id', cartId),
      int('app.cart.items', items),
    ]);
    span(2, 1, 'SELECT shop.cart_items', Span_SpanKind.CLIENT, 0.6, 3.1, [
      str('db.system.name', 'postgresql'),
      str('db.namespace', 'shop'),
      str('db.collection.name', 'cart_items'),
      str('db.operation.name', 'SELECT'),
      str('db.query.text', 'SELECT id, sku, quantity, unit_price FROM cart_items WHERE cart_id = $1 ORDER BY added_at'),
      str('server.address', 'pg-primary.shop.svc.cluster.local'),
      int('server.port', 5432),
      str('network.peer.address', ip('10.43')),
      int('db.response.returned_rows', items),
    ]);
    span(
      3,
      1,
      'GET',
      Span_SpanKind.CLIENT,
      3.3,
      total * 0.5,
      [
        str('http.request.method', 'GET'),
        str('url.full', `http://inventory.shop.svc.cluster.local:8080/v1/stock?sku=${sku}`),
        str('server.address', 'inventory.shop.svc.cluster.local'),
        int('server.port', 8080),
        str('network.peer.address', ip('10.43')),
        str('network.protocol.version', '1.1'),
        int('http.response.status_code', failed ? 503 : 200),
        str('user_agent.original', 'undici/6.13.0'),
      ],
      failed
        ? {
            status: { code: Status_StatusCode.ERROR, message: 'HTTP 503' },
            events: [
              {
                name: 'exception',
                timeUnixNano: at(total * 0.5),
                attributes: [
                  str('exception.type', 'UpstreamUnavailableError'),
                  str('exception.message', 'inventory answered 503 Service Unavailable'),
                ],
              },
            ],
          }
        : {},
    );
    span(4, 1, 'GET', Span_SpanKind.CLIENT, 1.1, 1.6, [
      str('db.system.name', 'redis'),
      str('db.operation.name', 'GET'),
      str('db.query.text', `GET cart:${cartId}:summary`),
      str('server.address', 'redis.shop.svc.cluster.local'),
      int('server.port', 6379),
      str('network.peer.address', ip('10.43')),
    ]);
    span(5, 0, 'PricingService.compute', Span_SpanKind.INTERNAL, total * 0.56, total * 0.9, [
      str('code.function.name', 'PricingService.compute'),
      str('app.pricing.currency', 'EUR'),
      dbl('app.pricing.total', Math.round(rnd() * 50000) / 100),
      int('app.pricing.rules_applied', Math.floor(rnd() * 6)),
    ]);
    span(6, 5, 'POST', Span_SpanKind.CLIENT, total * 0.57, total * 0.8, [
      str('http.request.method', 'POST'),
      str('url.full', 'http://pricing.shop.svc.cluster.local:8080/v2/quote'),
      str('server.address', 'pricing.shop.svc.cluster.local'),
      int('server.port', 8080),
      str('network.peer.address', ip('10.43')),
      int('http.request.body.size', 200 + items * 64),
      int('http.response.status_code', 200),
    ]);
    span(7, 5, 'SELECT shop.promotions', Span_SpanKind.CLIENT, total * 0.81, total * 0.88, [
      str('db.system.name', 'postgresql'),
      str('db.namespace', 'shop'),
      str('db.collection.name', 'promotions'),
      str('db.operation.name', 'SELECT'),
      str('db.query.text', 'SELECT code, percent_off FROM promotions WHERE tenant_id = $1 AND valid_until > now()'),
      str('server.address', 'pg-replica.shop.svc.cluster.local'),
      int('server.port', 5432),
    ]);
    span(8, 0, 'render cart', Span_SpanKind.INTERNAL, total * 0.91, total * 0.97, [
      str('code.function.name', 'renderCart'),
      str('app.template', 'cart/summary'),
    ]);
    span(9, 0, 'cart.viewed publish', Span_SpanKind.PRODUCER, total * 0.97, total * 0.99, [
      str('messaging.system', 'kafka'),
      str('messaging.destination.name', 'cart.viewed'),
      str('messaging.operation.type', 'send'),
      str('messaging.kafka.message.key', cartId),
      str('server.address', 'kafka-0.kafka.shop.svc.cluster.local'),
      int('server.port', 9092),
    ]);
  }

  const init: RequestInit = {
    resourceSpans: [
      {
        resource: {
          attributes: [
            str('service.name', 'checkout'),
            str('service.namespace', 'shop'),
            str('service.version', '2.14.3'),
            str('service.instance.id', `${hex(4)}-${hex(2)}-${hex(2)}-${hex(2)}-${hex(6)}`),
            str('deployment.environment.name', 'production'),
            str('host.name', `checkout-7d9f8b6c5-${hex(3)}`),
            str('host.arch', 'amd64'),
            str('os.type', 'linux'),
            str('process.runtime.name', 'nodejs'),
            str('process.runtime.version', '20.12.2'),
            int('process.pid', 1 + Math.floor(rnd() * 30000)),
            str('k8s.namespace.name', 'shop'),
            str('k8s.pod.name', `checkout-7d9f8b6c5-${hex(3)}`),
            str('k8s.node.name', `ip-10-0-${Math.floor(rnd() * 255)}-${Math.floor(rnd() * 255)}.eu-central-1.compute.internal`),
            str('cloud.provider', 'aws'),
            str('cloud.region', 'eu-central-1'),
            str('telemetry.sdk.name', 'opentelemetry'),
            str('telemetry.sdk.language', 'nodejs'),
            str('telemetry.sdk.version', '1.30.1'),
          ],
        },
        scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.57.2' }, spans }],
        schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      },
    ],
  };
  const encoded = toBinary(ExportTraceServiceRequestSchema, create(ExportTraceServiceRequestSchema, init));
  const buf = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);

  // Locate the ids and timestamps; each must be found exactly where expected, or the patching
  // would corrupt the message (the self-check in checkRequest() guards the result too).
  const traceIdOffsets = traceIds.flatMap((id) => {
    const at = occurrences(buf, id);
    if (at.length !== SPANS_PER_TRACE) throw new Error(`template ${variant}: a trace id occurs ${at.length} times`);
    return at;
  });
  const spanIdOffsets = spanIds.flatMap((id) => {
    const at = occurrences(buf, id);
    if (at.length < 1) throw new Error(`template ${variant}: a span id was not found`);
    return at;
  });
  const expectedIdRefs = spans.length + spans.filter((s) => s.parentSpanId !== undefined).length;
  if (spanIdOffsets.length !== expectedIdRefs)
    throw new Error(`template ${variant}: span id references ${spanIdOffsets.length} ≠ ${expectedIdRefs}`);
  const timeOffsets = times.flatMap((ns) => {
    const le = Buffer.alloc(8);
    le.writeBigUInt64LE(ns);
    const at = occurrences(buf, le);
    if (at.length !== 1) throw new Error(`template ${variant}: a timestamp occurs ${at.length} times`);
    return at;
  });
  return { bytes: encoded, traceIdOffsets, spanIdOffsets, timeOffsets, baseNs };
}

/** Builds `count` templates (deterministic content; timestamps relative to now). */
export function buildTemplates(count = 8): RequestTemplate[] {
  const baseNs = BigInt(Date.now()) * 1_000_000n;
  return Array.from({ length: count }, (_, i) => buildTemplate(i, baseNs));
}

/** A request ready to send: the template's bytes with ids made unique by `seq` and times moved to `nowNs`. */
export function materialize(template: RequestTemplate, seq: number, nowNs: bigint): Buffer {
  const buf = Buffer.allocUnsafe(template.bytes.byteLength);
  buf.set(template.bytes);
  const s = seq >>> 0;
  for (const off of template.traceIdOffsets) buf.writeUInt32BE(s, off);
  for (const off of template.spanIdOffsets) buf.writeUInt32BE(s, off);
  const delta = nowNs - template.baseNs;
  for (const off of template.timeOffsets) buf.writeBigUInt64LE(buf.readBigUInt64LE(off) + delta, off);
  return buf;
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** Decodes a materialized request and checks it is what the load generator claims to send. */
export function checkRequest(bytes: Uint8Array, seq: number): Traces {
  const req = fromBinary(ExportTraceServiceRequestSchema, bytes);
  const n = spanCount(req);
  if (n !== SPANS_PER_REQUEST) throw new Error(`self-check: ${n} spans, expected ${SPANS_PER_REQUEST}`);
  const traces = new Set<string>();
  const spanIds = new Set<string>();
  for (const rs of req.resourceSpans)
    for (const ss of rs.scopeSpans)
      for (const span of ss.spans) {
        const head = Buffer.from(span.traceId).readUInt32BE(0);
        if (head !== seq >>> 0 || Buffer.from(span.spanId).readUInt32BE(0) !== seq >>> 0) throw new Error('self-check: ids not patched');
        traces.add(Buffer.from(span.traceId).toString('hex'));
        spanIds.add(Buffer.from(span.spanId).toString('hex'));
      }
  if (traces.size !== TRACES_PER_REQUEST || spanIds.size !== SPANS_PER_REQUEST) throw new Error('self-check: ids not distinct');
  return req;
}

/** Mean attributes per span (resource attributes not counted), for the report. */
export function attributesPerSpan(req: Traces): number {
  let spans = 0;
  let attrs = 0;
  for (const rs of req.resourceSpans)
    for (const ss of rs.scopeSpans)
      for (const span of ss.spans) {
        spans++;
        attrs += span.attributes.length;
      }
  return spans === 0 ? 0 : attrs / spans;
}
