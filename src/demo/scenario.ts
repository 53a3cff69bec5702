/**
 * The demo's built-in scenario: a three-tier shop (frontend → backend → database) across two
 * routers, porthos and dartagnan. Each request gives
 *  - the application's spans, as an OpenTelemetry SDK with HTTP/DB instrumentation reports
 *    them (server and client spans with the socket attributes of the semantic conventions);
 *  - the IPFIX flows each router exports for the two connections (both directions);
 *  - packet observations: the IOAM trace the backend's agent decapsulates (nodes porthos,
 *    dartagnan, backend, with timestamps and queue depth, and the CLT ids of the client span), and
 *    the HTTP request as porthos's agent saw it enter por0 and leave por1;
 *  - device state: interface counters (SNMP-like readings) and IOAM queue depth points.
 * Porthos is congested on por1: on slow requests its queue is deep and the request spends
 * +100 ms inside it. Everything is a pure function of (request number, start time).
 */
import { create } from '@bufbuild/protobuf';
import { ExportTraceServiceRequestSchema } from '../wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { KeyValueSchema, type AnyValue, type KeyValue } from '../wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { SpanSchema, Span_SpanKind, Status_StatusCode, type Span } from '../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import type { Traces } from '../model/otlp.js';
import type { HttpObservation, IoamObservation } from '../model/observation.js';
import type { DeviceReading, IoamNodeState } from '../devices/model.js';
import type { DemoFlow } from './ipfix.js';

export const HOSTS = { frontend: '10.0.1.10', backend: '10.0.2.20', database: '10.0.3.30' } as const;
export const BACKEND_PORT = 8080;
export const DATABASE_PORT = 5432;
/** The congestion: extra time inside porthos on slow requests. */
export const CONGESTION_MS = 100;
export const IOAM_NAMESPACE = 123;
/** RFC 9197 trace type: bits 0-3 (hop limit + node id, interfaces, timestamp seconds and subseconds) and 6 (queue depth). */
export const IOAM_TRACE_TYPE = 0xf20000;

export interface RouterSpec {
  name: string;
  /** The loopback address its flow export is sent from (its exporter address). */
  exporter: string;
  ioamNodeId: number;
  interfaces: Record<number, string>;
  addresses: string[];
}

export const ROUTERS = {
  porthos: {
    name: 'porthos',
    exporter: '127.0.0.2',
    ioamNodeId: 2,
    interfaces: { 1: 'por0', 2: 'por1' },
    addresses: ['10.0.1.1', '10.0.12.1'],
  },
  dartagnan: {
    name: 'dartagnan',
    exporter: '127.0.0.3',
    ioamNodeId: 3,
    interfaces: { 1: 'dar0', 2: 'dar1', 3: 'dar2' },
    addresses: ['10.0.12.2', '10.0.2.1', '10.0.3.1'],
  },
} satisfies Record<string, RouterSpec>;
export const BACKEND_IOAM_NODE = 4;

/** Whether request `i` meets the congestion (about one in four). */
export const isSlow = (i: number): boolean => i % 4 === 2;

export interface DemoRequest {
  index: number;
  slow: boolean;
  traceId: string;
  traces: Traces;
  /** Flows by exporter address. */
  flows: Map<string, DemoFlow[]>;
  ioam: IoamObservation[];
  http: HttpObservation[];
  /** IOAM queue depth points by device name. */
  ioamStates: { device: string; timeUnixNano: bigint; state: IoamNodeState }[];
}

/** Deterministic pseudo-random in [0, 1) from integers. */
function noise(...xs: number[]): number {
  let h = 2166136261;
  for (const x of xs) {
    h ^= x & 0xffffffff;
    h = Math.imul(h, 16777619) >>> 0;
  }
  h ^= h >>> 13;
  h = Math.imul(h, 0x5bd1e995) >>> 0;
  return (h >>> 0) / 2 ** 32;
}

function hex(n: number, bytes: number, salt: number): string {
  let out = '';
  for (let i = 0; i < bytes; i++)
    out += Math.floor(noise(n, i, salt) * 256)
      .toString(16)
      .padStart(2, '0');
  return out;
}

const bytesOf = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const ns = (ms: number): bigint => BigInt(Math.round(ms * 1000)) * 1000n;

type Attr = string | number | boolean;
function attrs(values: Record<string, Attr>): KeyValue[] {
  return Object.entries(values).map(([key, v]) => {
    let value: AnyValue['value'];
    if (typeof v === 'string') value = { case: 'stringValue', value: v };
    else if (typeof v === 'boolean') value = { case: 'boolValue', value: v };
    else if (Number.isInteger(v)) value = { case: 'intValue', value: BigInt(v) };
    else value = { case: 'doubleValue', value: v };
    return create(KeyValueSchema, { key, value: { value } });
  });
}

interface SpanSpec {
  id: string;
  parent?: string;
  name: string;
  kind: Span_SpanKind;
  start: number;
  end: number;
  attributes: Record<string, Attr>;
}

function span(traceId: string, s: SpanSpec): Span {
  return create(SpanSchema, {
    traceId: bytesOf(traceId),
    spanId: bytesOf(s.id),
    parentSpanId: s.parent ? bytesOf(s.parent) : new Uint8Array(0),
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: ns(s.start),
    endTimeUnixNano: ns(s.end),
    attributes: attrs(s.attributes),
    status: { code: Status_StatusCode.UNSET },
    flags: 0x101,
  });
}

function resourceSpans(service: string, spans: Span[]) {
  return {
    resource: { attributes: attrs({ 'service.name': service, 'service.namespace': 'shop', 'deployment.environment': 'demo' }) },
    scopeSpans: [
      { scope: { name: service === 'database' ? '@opentelemetry/instrumentation-pg' : '@opentelemetry/instrumentation-http' }, spans },
    ],
  };
}

/** Request `i` starting at `t0` (Unix ms). */
export function demoRequest(i: number, t0: number): DemoRequest {
  const slow = isSlow(i);
  const traceId = hex(i, 16, 1);
  const id = (role: number) => hex(i, 8, 10 + role);
  const r = (salt: number, lo: number, hi: number) => lo + noise(i, salt) * (hi - lo);
  const linkMs = 0.25; // one way, per link
  const porthosMs = r(2, 0.05, 0.12) + (slow ? CONGESTION_MS + r(3, 0, 8) : 0);
  const dartagnanMs = r(4, 0.04, 0.1);
  const requestWayMs = 3 * linkMs + porthosMs + dartagnanMs;
  const responseWayMs = 3 * linkMs + r(5, 0.08, 0.2);
  const dbWayMs = 2 * linkMs + r(6, 0.05, 0.1);
  const dbQueryMs = r(7, 2, 6);
  const backendWorkMs = r(8, 3, 9);

  const frontPort = 41000 + (i % 20000);
  const backPort = 52000 + (i % 10000);

  const fServer = { start: t0, end: 0 };
  const fClient = { start: t0 + r(9, 1, 3), end: 0 };
  const bServer = { start: fClient.start + requestWayMs + 0.2, end: 0 };
  const bClient = { start: bServer.start + backendWorkMs / 2, end: 0 };
  const dServer = { start: bClient.start + dbWayMs + 0.1, end: 0 };
  dServer.end = dServer.start + dbQueryMs;
  bClient.end = dServer.end + dbWayMs + 0.1;
  bServer.end = bClient.end + backendWorkMs / 2;
  fClient.end = bServer.end + responseWayMs + 0.2;
  fServer.end = fClient.end + r(10, 1, 3);

  const ids = { fServer: id(1), fClient: id(2), bServer: id(3), bClient: id(4), dServer: id(5) };
  const cartId = 1000 + i;
  const spansFrontend = [
    span(traceId, {
      id: ids.fServer,
      name: 'GET /cart',
      kind: Span_SpanKind.SERVER,
      ...fServer,
      attributes: {
        'http.request.method': 'GET',
        'url.path': '/cart',
        'http.route': '/cart',
        'http.response.status_code': 200,
        'server.address': 'shop.example',
      },
    }),
    span(traceId, {
      id: ids.fClient,
      parent: ids.fServer,
      name: 'GET /api/cart',
      kind: Span_SpanKind.CLIENT,
      ...fClient,
      attributes: {
        'http.request.method': 'GET',
        'url.full': `http://${HOSTS.backend}:${BACKEND_PORT}/api/cart/${cartId}`,
        'server.address': HOSTS.backend,
        'server.port': BACKEND_PORT,
        'network.peer.address': HOSTS.backend,
        'network.peer.port': BACKEND_PORT,
        'network.local.address': HOSTS.frontend,
        'network.local.port': frontPort,
        'network.transport': 'tcp',
        'http.response.status_code': 200,
      },
    }),
  ];
  const spansBackend = [
    span(traceId, {
      id: ids.bServer,
      parent: ids.fClient,
      name: 'GET /api/cart/:id',
      kind: Span_SpanKind.SERVER,
      ...bServer,
      attributes: {
        'http.request.method': 'GET',
        'http.route': '/api/cart/:id',
        'url.path': `/api/cart/${cartId}`,
        'network.peer.address': HOSTS.frontend,
        'network.peer.port': frontPort,
        'network.local.address': HOSTS.backend,
        'network.local.port': BACKEND_PORT,
        'network.transport': 'tcp',
        'http.response.status_code': 200,
      },
    }),
    span(traceId, {
      id: ids.bClient,
      parent: ids.bServer,
      name: 'SELECT shop.cart_items',
      kind: Span_SpanKind.CLIENT,
      ...bClient,
      attributes: {
        'db.system': 'postgresql',
        'db.namespace': 'shop',
        'db.operation.name': 'SELECT',
        'server.address': HOSTS.database,
        'server.port': DATABASE_PORT,
        'network.peer.address': HOSTS.database,
        'network.peer.port': DATABASE_PORT,
        'network.local.address': HOSTS.backend,
        'network.local.port': backPort,
        'network.transport': 'tcp',
      },
    }),
  ];
  const spansDatabase = [
    span(traceId, {
      id: ids.dServer,
      parent: ids.bClient,
      name: 'SELECT shop.cart_items',
      kind: Span_SpanKind.SERVER,
      ...dServer,
      attributes: {
        'db.system': 'postgresql',
        'db.operation.name': 'SELECT',
        'network.peer.address': HOSTS.backend,
        'network.peer.port': backPort,
        'network.local.address': HOSTS.database,
        'network.local.port': DATABASE_PORT,
        'network.transport': 'tcp',
      },
    }),
  ];
  const traces = create(ExportTraceServiceRequestSchema, {
    resourceSpans: [
      resourceSpans('frontend', spansFrontend),
      resourceSpans('backend', spansBackend),
      resourceSpans('database', spansDatabase),
    ],
  });

  // Flows: the two connections through the routers, both directions, millisecond times.
  const P = ROUTERS.porthos;
  const D = ROUTERS.dartagnan;
  const reqBytes = 420 + Math.floor(r(11, 0, 200));
  const respBytes = 2400 + Math.floor(r(12, 0, 3000));
  const flow = (
    src: string,
    sp: number,
    dst: string,
    dp: number,
    start: number,
    end: number,
    inIf: number,
    outIf: number,
    nextHop: string,
    bytes: number,
  ): DemoFlow => ({
    sourceAddress: src,
    sourcePort: sp,
    destinationAddress: dst,
    destinationPort: dp,
    protocol: 6,
    bytes,
    packets: Math.max(3, Math.ceil(bytes / 1400) + 2),
    startMs: start,
    endMs: end,
    inputInterface: inIf,
    outputInterface: outIf,
    nextHop,
    tcpFlags: 0x1b,
  });
  const reqAtP = fClient.start + linkMs;
  const reqAtD = reqAtP + porthosMs + linkMs;
  const respAtD = bServer.end + linkMs;
  const respAtP = respAtD + linkMs + 0.1;
  const dbAtD = bClient.start + linkMs;
  const flows = new Map<string, DemoFlow[]>([
    [
      P.exporter,
      [
        flow(HOSTS.frontend, frontPort, HOSTS.backend, BACKEND_PORT, reqAtP, reqAtP + porthosMs + 0.5, 1, 2, '10.0.12.2', reqBytes),
        flow(HOSTS.backend, BACKEND_PORT, HOSTS.frontend, frontPort, respAtP, respAtP + 0.6, 2, 1, HOSTS.frontend, respBytes),
      ],
    ],
    [
      D.exporter,
      [
        flow(HOSTS.frontend, frontPort, HOSTS.backend, BACKEND_PORT, reqAtD, reqAtD + 0.6, 1, 2, HOSTS.backend, reqBytes),
        flow(HOSTS.backend, BACKEND_PORT, HOSTS.frontend, frontPort, respAtD, respAtD + 0.5, 2, 1, '10.0.12.1', respBytes),
        flow(HOSTS.backend, backPort, HOSTS.database, DATABASE_PORT, dbAtD, bClient.end - linkMs, 2, 3, HOSTS.database, 610),
        flow(
          HOSTS.database,
          DATABASE_PORT,
          HOSTS.backend,
          backPort,
          dServer.end + linkMs,
          dServer.end + linkMs + 0.4,
          3,
          2,
          HOSTS.backend,
          1800,
        ),
      ],
    ],
  ]);

  // IOAM: the request's first data packet, traced by porthos, dartagnan and the backend (decapsulating).
  const stamp = (ms: number) => ({ timestamp_seconds: Math.floor(ms / 1000), timestamp_subseconds: Math.round((ms % 1000) * 1000) });
  const porthosQueue = slow ? 40_000 + Math.floor(r(13, 0, 20_000)) : Math.floor(r(13, 0, 1500));
  const dartagnanQueue = Math.floor(r(14, 0, 800));
  const atBackend = reqAtD + dartagnanMs + linkMs;
  const ioam: IoamObservation = {
    kind: 'ioam',
    timeUnixNano: ns(atBackend + 0.01),
    observer: 'backend',
    interfaceName: 'eth0',
    sourceAddress: HOSTS.frontend,
    sourcePort: frontPort,
    destinationAddress: HOSTS.backend,
    destinationPort: BACKEND_PORT,
    protocol: 6,
    source: 'capture',
    optionType: 0,
    namespaceId: IOAM_NAMESPACE,
    traceType: IOAM_TRACE_TYPE,
    overflow: false,
    nodes: [
      { hop_limit: 64, node_id: P.ioamNodeId, ingress_if_id: 1, egress_if_id: 2, ...stamp(reqAtP), queue_depth: porthosQueue },
      { hop_limit: 63, node_id: D.ioamNodeId, ingress_if_id: 1, egress_if_id: 2, ...stamp(reqAtD), queue_depth: dartagnanQueue },
      { hop_limit: 62, node_id: BACKEND_IOAM_NODE, ingress_if_id: 1, egress_if_id: 0, ...stamp(atBackend), queue_depth: 0 },
    ],
    traceId,
    spanId: ids.fClient,
    traceparent: `00-${traceId}-${ids.fClient}-01`,
  };
  const sighting = (direction: 'ingress' | 'egress', iface: string, ms: number): HttpObservation => ({
    kind: 'http',
    timeUnixNano: ns(ms),
    observer: 'porthos',
    interfaceName: iface,
    sourceAddress: HOSTS.frontend,
    sourcePort: frontPort,
    destinationAddress: HOSTS.backend,
    destinationPort: BACKEND_PORT,
    protocol: 6,
    direction,
    message: 'request',
    method: 'GET',
    target: `/api/cart/${cartId}`,
    host: `${HOSTS.backend}:${BACKEND_PORT}`,
    traceparent: `00-${traceId}-${ids.fClient}-01`,
  });
  const http = [sighting('ingress', 'por0', reqAtP + 0.01), sighting('egress', 'por1', reqAtP + porthosMs - 0.01)];
  const ioamStates = [
    { device: P.name, timeUnixNano: ns(reqAtP), state: { queueDepth: porthosQueue, ingressIf: 1, egressIf: 2 } },
    { device: D.name, timeUnixNano: ns(reqAtD), state: { queueDepth: dartagnanQueue, ingressIf: 1, egressIf: 2 } },
  ];
  return { index: i, slow, traceId, traces, flows, ioam: [ioam], http, ioamStates };
}

/** Cumulative interface counters of the two routers, one reading per router every `stepMs` from `fromMs` to `toMs`. */
export class DeviceCounters {
  private readonly octets = new Map<string, { in: bigint; out: bigint; errors: number; discards: number }>();
  private step = 0;

  /** `epochMs`: the time the routers' sysUpTime counts from (they booted a day before it). */
  constructor(private readonly epochMs: number) {}

  readings(fromMs: number, toMs: number, stepMs: number, congested: (ms: number) => boolean): DeviceReading[] {
    const out: DeviceReading[] = [];
    for (let t = fromMs; t <= toMs; t += stepMs) {
      this.step++;
      for (const router of Object.values(ROUTERS)) {
        const interfaces = Object.entries(router.interfaces).map(([ifIndexText, name]) => {
          const ifIndex = Number(ifIndexText);
          const key = `${router.name}/${ifIndex}`;
          const c = this.octets.get(key) ?? { in: 0n, out: 0n, errors: 0, discards: 0 };
          const hot = router.name === 'porthos' && ifIndex === 2 && congested(t);
          const base = 0.18 + 0.1 * noise(this.step, ifIndex, router.ioamNodeId);
          const outUtil = hot ? 0.93 + 0.05 * noise(this.step, 7) : base;
          const inUtil = base * 0.8;
          const speed = 1e9;
          c.out += BigInt(Math.round(((outUtil * speed) / 8) * (stepMs / 1000)));
          c.in += BigInt(Math.round(((inUtil * speed) / 8) * (stepMs / 1000)));
          if (hot) c.discards += Math.round(200 + 400 * noise(this.step, 9));
          if (hot && noise(this.step, 11) < 0.3) c.errors += 3;
          this.octets.set(key, c);
          return {
            ifIndex,
            name,
            inOctets: c.in,
            outOctets: c.out,
            octetBits: 64 as const,
            inErrors: 0,
            outErrors: c.errors,
            inDiscards: 0,
            outDiscards: c.discards,
            operStatus: 1,
            speedBps: speed,
          };
        });
        out.push({
          source: 'snmp',
          address: router.exporter,
          device: router.name,
          timeUnixNano: ns(t),
          sysUpTimeTicks: 8_640_000 + Math.round((t - this.epochMs) / 10),
          interfaces,
          cpu: { loads: [router.name === 'porthos' && congested(t) ? 71 : 12 + Math.round(10 * noise(this.step, 3)), 9] },
          memory: { usedBytes: 1.2e9, sizeBytes: 4e9 },
        });
      }
    }
    return out;
  }
}
