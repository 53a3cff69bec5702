/**
 * The correlate benchmark's world: flows in the evidence store and the traces that ask for them.
 *
 * Network. Clients in 10.1.0.0/16 call servers in 10.2.0.0/24 (HTTP 8080, HTTPS 443,
 * PostgreSQL 5432, Redis 6379, Kafka 9092) through two routers, porthos (192.0.2.1, NetFlow v9:
 * times in whole seconds) and dartagnan (192.0.2.2, IPFIX: millisecond times), which both
 * export every connection in both directions with TCP flags: 4 flow records per connection, so
 * 1 M flows hold 250 k connections, spread over a 10-minute window. 5 % of connections reuse
 * the ephemeral port of an earlier connection between the same hosts 0.2–2 s after its end (a
 * quartet is never in use twice at once): dartagnan's millisecond times tell such sessions
 * apart, porthos's seconds often cannot, and then porthos gets no span for that connection
 * (the ambiguity rule). Each connection's flows carry a byte count unique to it, so every
 * attachment is checked afterwards.
 *
 * Traces. 10 spans each: a root SERVER span (an entry without a peer address, so no
 * connection), 1–3 connections as a CLIENT span and its SERVER span (current semantic
 * conventions: network.peer.*, network.local.*, server.*, client.*), and INTERNAL spans for the
 * rest. 90 % of the connections are among the stored ones (span times around the flows' times,
 * as on one host clock); 10 % are not (a peer outside the flow export), so their lookups miss.
 * Batches are what groupbytrace releases: whole traces, up to 2,048 spans.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import type { FlowRecord } from '../../src/model/flow.js';
import type { Traces } from '../../src/model/otlp.js';
import { ExportTraceServiceRequestSchema } from '../../src/wire/otlp/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import type { KeyValueSchema } from '../../src/wire/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import { Span_SpanKind, type SpanSchema } from '../../src/wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { mulberry32 as prng } from '../../src/testutil/prng.js';

export const PORTHOS = '192.0.2.1';
export const DARTAGNAN = '192.0.2.2';
export const SPANS_PER_TRACE = 10;
export const FLOWS_PER_CONNECTION = 4;
/** The window the connections are spread over. */
export const SPREAD_MS = 600_000;
export const PORT_REUSE_SHARE = 0.05;
export const UNSTORED_SHARE = 0.1;

type KeyValueInit = MessageInitShape<typeof KeyValueSchema>;
type SpanInit = MessageInitShape<typeof SpanSchema>;

export interface Connection {
  client: string;
  clientPort: number;
  server: string;
  serverPort: number;
  /** Unix ms. */
  startMs: number;
  endMs: number;
  /** The byte count every flow of this connection carries (unique): the attachment check. */
  marker: number;
}

const SERVICES = [
  { port: 8080, name: 'http', method: 'GET' },
  { port: 443, name: 'https', method: 'POST' },
  { port: 5432, name: 'postgresql', method: '' },
  { port: 6379, name: 'redis', method: '' },
  { port: 9092, name: 'kafka', method: '' },
];

/** The stored connections: `flows / 4` of them over SPREAD_MS from baseMs. */
export function makeConnections(flows: number, baseMs: number, seed = 1): Connection[] {
  const rnd = prng(seed);
  const n = Math.floor(flows / FLOWS_PER_CONNECTION);
  const out: Connection[] = [];
  /** The latest end of each quartet: a quartet carries one connection at a time. */
  const lastEnd = new Map<string, number>();
  const key = (c: Connection) => `${c.client}|${c.clientPort}|${c.server}|${c.serverPort}`;
  for (let i = 0; i < n; i++) {
    const reuse = out.length > 100 && rnd() < PORT_REUSE_SHARE;
    let c: Connection;
    if (reuse) {
      const earlier = out[out.length - 1 - Math.floor(rnd() * 100)]!;
      const startMs = lastEnd.get(key(earlier))! + 200 + Math.floor(rnd() * 1800);
      c = { ...earlier, startMs, endMs: startMs + 5 + Math.floor(rnd() * 195), marker: 1_000_000 + i };
    } else {
      const startMs = baseMs + Math.floor((i / n) * SPREAD_MS) + Math.floor(rnd() * 50);
      const svc = SERVICES[Math.floor(rnd() * SERVICES.length)]!;
      c = {
        client: `10.1.${Math.floor(rnd() * 2)}.${1 + Math.floor(rnd() * 250)}`,
        clientPort: 32768 + Math.floor(rnd() * 28232),
        server: `10.2.0.${1 + Math.floor(rnd() * 50)}`,
        serverPort: svc.port,
        startMs,
        endMs: startMs + 5 + Math.floor(rnd() * 195),
        marker: 1_000_000 + i,
      };
      // A random quartet still in use (or just used): draw again.
      const busy = lastEnd.get(key(c));
      if (busy !== undefined && busy + 5_000 > c.startMs) {
        i--;
        continue;
      }
    }
    lastEnd.set(key(c), c.endMs);
    out.push(c);
  }
  return out;
}

const MS = 1_000_000n;

function record(
  c: Connection,
  exporter: string,
  request: boolean,
  offsetMs: number,
  nextHop: string,
  inIf: number,
  outIf: number,
): FlowRecord {
  // porthos: NetFlow v9, times from a header clock in whole seconds.
  const seconds = exporter === PORTHOS;
  const time = (ms: number) => (seconds ? BigInt(Math.floor(ms / 1000)) * 1_000_000_000n : BigInt(ms) * MS);
  return {
    type: seconds ? 'netflow_v9' : 'ipfix',
    samplerAddress: exporter,
    observationDomainId: 256,
    sequenceNumber: 0,
    exportTimeUnixNano: BigInt(c.endMs + 1000) * MS,
    sourceAddress: request ? c.client : c.server,
    sourcePort: request ? c.clientPort : c.serverPort,
    destinationAddress: request ? c.server : c.client,
    destinationPort: request ? c.serverPort : c.clientPort,
    protocol: 6,
    ipVersion: 4,
    bytes: c.marker,
    packets: 8,
    startUnixNano: time(c.startMs + offsetMs),
    endUnixNano: time(c.endMs - 1 + offsetMs),
    timeResolutionNano: seconds ? 1_000_000_000 : 1_000_000,
    inputInterface: inIf,
    outputInterface: outIf,
    nextHop,
    samplingRate: 1,
    tcpFlags: 0x1b,
  };
}

/** The 4 flow records of a connection: porthos (NetFlow v9) and dartagnan (IPFIX), request and response. */
export function connectionFlows(c: Connection): FlowRecord[] {
  return [
    record(c, PORTHOS, true, 0, '10.0.12.2', 1, 2),
    record(c, DARTAGNAN, true, 1, c.server, 1, 2),
    record(c, DARTAGNAN, false, 1, '10.0.12.1', 2, 1),
    record(c, PORTHOS, false, 1, c.client, 2, 1),
  ];
}

const s = (key: string, value: string): KeyValueInit => ({ key, value: { value: { case: 'stringValue', value } } });
const n = (key: string, value: number): KeyValueInit => ({ key, value: { value: { case: 'intValue', value: BigInt(value) } } });

const RESOURCE = (service: string): KeyValueInit[] => [
  s('service.name', service),
  s('service.version', '1.14.2'),
  s('deployment.environment', 'production'),
  s('telemetry.sdk.language', 'nodejs'),
  s('telemetry.sdk.name', 'opentelemetry'),
  s('host.name', `${service}-7d9f8c6b5-x2x9q`),
];

export interface TraceWorkload {
  batches: Traces[];
  spans: number;
  traces: number;
  connections: number;
  /** Connection spans whose flows are stored (the rest must find none). */
  storedConnections: number;
  /** Expected marker per (trace id hex, client span id hex), for the attachment check. */
  expected: Map<string, number>;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Batches of whole traces, up to `batchSpans` spans each, `traceCount` traces in all. */
export function makeTraces(connections: readonly Connection[], traceCount: number, batchSpans: number, seed: number): TraceWorkload {
  const rnd = prng(seed);
  const tracesPerBatch = Math.max(1, Math.floor(batchSpans / SPANS_PER_TRACE));
  const expected = new Map<string, number>();
  const batches: Traces[] = [];
  let conns = 0;
  let stored = 0;
  let spans = 0;
  let spanSeq = 1;
  for (let t = 0; t < traceCount; t += tracesPerBatch) {
    const byService: Record<string, SpanInit[]> = { frontend: [], backend: [] };
    for (let k = t; k < Math.min(traceCount, t + tracesPerBatch); k++) {
      const traceId = new Uint8Array(16);
      for (let i = 0; i < 16; i++) traceId[i] = Math.floor(rnd() * 256);
      traceId[0] = 0x5e;
      const newId = () => {
        const id = new Uint8Array(8);
        const v = spanSeq++;
        id[0] = 0x51;
        for (let i = 0; i < 6; i++) id[7 - i] = Math.floor(v / 256 ** i) % 256;
        return id;
      };
      const count = 1 + Math.floor(rnd() * 3);
      const picks: Connection[] = [];
      for (let i = 0; i < count; i++) {
        if (rnd() < UNSTORED_SHARE) {
          const base = connections[Math.floor(rnd() * connections.length)]!;
          picks.push({ ...base, client: `10.9.${Math.floor(rnd() * 200)}.${1 + Math.floor(rnd() * 250)}`, marker: -1 });
        } else {
          picks.push(connections[Math.floor(rnd() * connections.length)]!);
        }
      }
      const first = Math.min(...picks.map((c) => c.startMs));
      const last = Math.max(...picks.map((c) => c.endMs));
      const rootId = newId();
      const ns = (ms: number) => BigInt(Math.round(ms * 1000)) * 1000n;
      byService.frontend!.push({
        traceId,
        spanId: rootId,
        name: 'GET /checkout',
        kind: Span_SpanKind.SERVER,
        startTimeUnixNano: ns(first - 3),
        endTimeUnixNano: ns(last + 4),
        attributes: [
          s('http.request.method', 'GET'),
          s('http.route', '/checkout'),
          s('server.address', 'shop.example.com'),
          n('server.port', 443),
          n('http.response.status_code', 200),
        ],
        flags: 0x101,
      });
      for (const c of picks) {
        const clientId = newId();
        const svc = SERVICES.find((x) => x.port === c.serverPort) ?? SERVICES[0]!;
        const clientAttrs: KeyValueInit[] = [
          s('network.peer.address', c.server),
          n('network.peer.port', c.serverPort),
          s('network.local.address', c.client),
          n('network.local.port', c.clientPort),
          s('server.address', `${svc.name}-svc.shop.svc.cluster.local`),
          n('server.port', c.serverPort),
          s('network.transport', 'tcp'),
        ];
        if (svc.method !== '')
          clientAttrs.push(s('http.request.method', svc.method), s('url.full', `http://${svc.name}-svc:${c.serverPort}/api/items`));
        else clientAttrs.push(s('db.system', svc.name));
        byService.frontend!.push({
          traceId,
          spanId: clientId,
          parentSpanId: rootId,
          name: svc.method !== '' ? `${svc.method}` : `${svc.name} query`,
          kind: Span_SpanKind.CLIENT,
          startTimeUnixNano: ns(c.startMs - 1),
          endTimeUnixNano: ns(c.endMs + 1),
          attributes: clientAttrs,
          flags: 0x101,
        });
        byService.backend!.push({
          traceId,
          spanId: newId(),
          parentSpanId: clientId,
          name: svc.method !== '' ? `${svc.method} /api/items` : `${svc.name} serve`,
          kind: Span_SpanKind.SERVER,
          startTimeUnixNano: ns(c.startMs + 1),
          endTimeUnixNano: ns(c.endMs - 2),
          attributes: [
            s('client.address', c.client),
            s('network.peer.address', c.client),
            n('network.peer.port', c.clientPort),
            s('network.local.address', c.server),
            n('server.port', c.serverPort),
            s('url.path', '/api/items'),
          ],
          flags: 0x101,
        });
        expected.set(`${hex(traceId)}/${hex(clientId)}`, c.marker);
        conns++;
        if (c.marker >= 0) stored++;
      }
      for (let i = 0; i < SPANS_PER_TRACE - 1 - 2 * count; i++) {
        byService.frontend!.push({
          traceId,
          spanId: newId(),
          parentSpanId: rootId,
          name: `render step ${i}`,
          kind: Span_SpanKind.INTERNAL,
          startTimeUnixNano: ns(first - 2 + i),
          endTimeUnixNano: ns(first + i),
          attributes: [s('code.function', `render${i}`), s('code.namespace', 'shop.checkout'), n('app.items', 3 + i)],
          flags: 0x101,
        });
      }
      spans += SPANS_PER_TRACE;
    }
    batches.push(
      create(ExportTraceServiceRequestSchema, {
        resourceSpans: Object.entries(byService).map(([service, list]) => ({
          resource: { attributes: RESOURCE(service) },
          scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.52.1' }, spans: list }],
        })),
      }),
    );
  }
  return { batches, spans, traces: traceCount, connections: conns, storedConnections: stored, expected };
}
