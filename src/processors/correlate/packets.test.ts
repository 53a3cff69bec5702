/**
 * Packet evidence in the correlation: IOAM traces attach by the span ids the packet carried
 * (CLT), by the traceparent of the request on the same connection, or by quartet + time; HTTP
 * observations attach by traceparent only. Hop spans take their times from the node data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SelfMetrics } from '../../core/telemetry/metrics.js';
import { MemoryObservationStore } from '../../evidence/observations/store.js';
import type { HttpObservation, IoamObservation, Observation } from '../../model/observation.js';
import { Correlator } from './processor.js';
import { cltAttributes } from './packets.js';
import {
  MAIN,
  T0_MS,
  at,
  attr,
  clientServer,
  config,
  hex,
  span,
  Span_SpanKind,
  synthesized,
  traces,
  type Conn,
} from './testkit.test.util.js';

const NOW_MS = T0_MS + 10_000;

function observationStore(observations: Observation[]): MemoryObservationStore {
  const s = new MemoryObservationStore({ retentionMs: 15 * 60_000, maxObservations: 1000 }, new SelfMetrics(), () => NOW_MS);
  s.insert(observations);
  return s;
}

/** A kernel-filled trace of the request direction: the router (node 1) at `ms`, the server (node 2) `transitMs` later. */
function ioam(c: Conn, ms: number, transitMs: number, extra: Partial<IoamObservation> = {}): IoamObservation {
  const t = at(ms);
  const node = (id: number, ns: bigint, queue: number) => ({
    hop_limit: 64 - id,
    node_id: id,
    ingress_if_id: id * 10,
    egress_if_id: id * 10 + 1,
    timestamp_seconds: Number(ns / 1_000_000_000n),
    timestamp_subseconds: Number((ns % 1_000_000_000n) / 1000n),
    queue_depth: queue,
  });
  return {
    kind: 'ioam',
    source: 'capture',
    timeUnixNano: t + BigInt(transitMs * 1e6),
    observer: 'aramis',
    interfaceName: 'ara0',
    sourceAddress: c.src,
    sourcePort: c.sport,
    destinationAddress: c.dst,
    destinationPort: c.dport,
    protocol: 6,
    optionType: 0,
    namespaceId: 123,
    traceType: 0xf20000,
    overflow: false,
    nodes: [node(1, t, 1380), node(2, t + BigInt(Math.round(transitMs * 1e6)), 0)],
    ...extra,
  };
}

function httpSeen(
  c: Conn,
  ms: number,
  observer: string,
  iface: string,
  direction: 'ingress' | 'egress',
  traceparent: string,
): HttpObservation {
  return {
    kind: 'http',
    timeUnixNano: at(ms),
    observer,
    interfaceName: iface,
    sourceAddress: c.src,
    sourcePort: c.sport,
    destinationAddress: c.dst,
    destinationPort: c.dport,
    protocol: 6,
    direction,
    message: 'request',
    method: 'GET',
    target: '/api/cart',
    traceparent,
  };
}

const correlator = (observations: Observation[], overrides: Record<string, unknown> = {}) =>
  new Correlator(
    config({ devices: { '192.0.2.1': { name: 'porthos', ioam_node_ids: [1], observers: ['porthos-agent'] } }, ...overrides }),
    undefined,
    () => NOW_MS,
    observationStore(observations),
  );

test('IOAM traces with the client span id (CLT) become hop spans timed by the node timestamps', async () => {
  const { client, server } = clientServer(MAIN, { startMs: 0, endMs: 150 });
  const ids = { traceId: hex(client.traceId), spanId: hex(client.spanId) };
  // An unrelated trace on the same connection at the same time, carrying another span's ids: not attached.
  const other = ioam(MAIN, 5, 40, { traceId: ids.traceId, spanId: 'ffffffffffffffff' });
  const t = await traces({ frontend: [client], backend: [server] });
  const report = await correlator([ioam(MAIN, 5, 100, ids), ioam(MAIN, 6, 101.5, ids), other]).enrich(t);
  assert.equal(report.connections.packets_only, 1);
  const spans = synthesized(t);
  const summary = spans.find((s) => s.name.startsWith('network '))!;
  assert.deepEqual(attr(summary, 'netspan.evidence'), ['client_server_pair', 'ioam']);
  assert.equal(attr(summary, 'netspan.ioam.packets'), 2);
  assert.equal(attr(summary, 'netspan.timing.accuracy'), 'exact');
  const hops = spans.filter((s) => s.name.endsWith('(IOAM)'));
  assert.deepEqual(
    hops.map((s) => s.name),
    ['porthos request (IOAM)', 'ioam node 2 request (IOAM)'],
  );
  const [router, dest] = hops;
  assert.equal(router!.startTimeUnixNano, at(5));
  assert.equal(router!.endTimeUnixNano - router!.startTimeUnixNano, 100_000_000n);
  assert.equal(attr(router!, 'netspan.hop.transit_ms'), 100);
  assert.equal(attr(router!, 'netspan.hop.transit_max_ms'), 101.5);
  assert.equal(attr(router!, 'ioam.node_id'), 1);
  assert.equal(attr(router!, 'ioam.ingress_if_id'), 10);
  assert.equal(attr(router!, 'ioam.queue_depth'), 1380);
  assert.equal(attr(router!, 'netspan.device.name'), 'porthos');
  assert.equal(hex(router!.parentSpanId), hex(summary.spanId));
  assert.equal(dest!.endTimeUnixNano, dest!.startTimeUnixNano);
  assert.equal(attr(dest!, 'netspan.path.index'), 1);
});

test('a span without connection attributes still gets its IOAM hops by CLT ids (no time window)', async () => {
  const lone = span({ id: 7, kind: Span_SpanKind.CLIENT, startMs: 0, endMs: 500, name: 'fetch' });
  const t = await traces({ frontend: [lone] });
  const obs = ioam(MAIN, 900, 100, { traceId: hex(lone.traceId), spanId: hex(lone.spanId) });
  await correlator([obs]).enrich(t);
  const summary = synthesized(t).find((s) => s.name.startsWith('network '))!;
  assert.equal(summary.name, `network ${MAIN.src}:${MAIN.sport} → ${MAIN.dst}:${MAIN.dport}`);
  assert.equal(synthesized(t).filter((s) => s.name.endsWith('(IOAM)')).length, 2);
});

test('IOAM traces tagged with the traceparent of the request on their connection attach to that span exactly', async () => {
  const { client, server } = clientServer(MAIN, { startMs: 0, endMs: 150 });
  const tp = `00-${hex(client.traceId)}-${hex(client.spanId)}-01`;
  const t = await traces({ frontend: [client], backend: [server] });
  // Long after the span (a late observer clock): no time window applies to an exact attachment.
  await correlator([ioam(MAIN, 60_000, 100, { traceparent: tp })]).enrich(t);
  const summary = synthesized(t).find((s) => s.name.startsWith('network '))!;
  assert.equal(attr(summary, 'netspan.ioam.packets'), 1);
});

test('without ids, IOAM traces attach by quartet + time; outside the span they do not', async () => {
  const { client, server } = clientServer(MAIN, { startMs: 0, endMs: 150 });
  const t = await traces({ frontend: [client], backend: [server] });
  await correlator([ioam(MAIN, 10, 100), ioam(MAIN, 5_000, 100)]).enrich(t);
  const summary = synthesized(t).find((s) => s.name.startsWith('network '))!;
  assert.equal(attr(summary, 'netspan.ioam.packets'), 1);
});

test('HTTP observations attach by traceparent; the router agent gives the time inside the device', async () => {
  const { client, server } = clientServer(MAIN, { startMs: 0, endMs: 150 });
  const tp = `00-${hex(client.traceId)}-${hex(client.spanId)}-01`;
  const foreign = `00-${hex(client.traceId)}-00000000000000ee-01`;
  const t = await traces({ frontend: [client], backend: [server] });
  await correlator([
    httpSeen(MAIN, 2, 'porthos-agent', 'por0', 'ingress', tp),
    httpSeen(MAIN, 102.25, 'porthos-agent', 'por1', 'egress', tp),
    httpSeen(MAIN, 103, 'aramis', 'ara0', 'ingress', tp),
    httpSeen(MAIN, 3, 'porthos-agent', 'por0', 'ingress', foreign),
  ]).enrich(t);
  const spans = synthesized(t);
  const points = spans.filter((s) => s.name.endsWith(' observed'));
  assert.deepEqual(
    points.map((s) => s.name),
    ['porthos observed', 'aramis observed'],
  );
  const router = points[0]!;
  assert.equal(attr(router, 'netspan.device.time_in_ms'), 100.25);
  assert.equal(attr(router, 'netspan.observation.ingress.interface'), 'por0');
  assert.equal(attr(router, 'netspan.observation.egress.interface'), 'por1');
  assert.deepEqual(
    router.events.map((e) => e.name),
    ['request ingress', 'request egress'],
  );
  const summary = spans.find((s) => s.name.startsWith('network '))!;
  assert.equal(attr(summary, 'netspan.http.observations'), 3);
});

test('clt_attributes writes the ioam-collector strings', async () => {
  const { client, server } = clientServer(MAIN, { startMs: 0, endMs: 150 });
  const obs = ioam(MAIN, 5, 100, { traceId: hex(client.traceId), spanId: hex(client.spanId) });
  const t = await traces({ frontend: [client], backend: [server] });
  await correlator([obs], { packets: { clt_attributes: true } }).enrich(t);
  const summary = synthesized(t).find((s) => s.name.startsWith('network '))!;
  const first = attr(summary, 'ioam_namespace123_node1') as string;
  assert.match(first, /^HopLimit=63; Id=1; IngressId=10; EgressId=11; TimestampSecs=\d+; TimestampFrac=\d+; QueueDepth=1380; $/);
  assert.equal(cltAttributes(obs).length, 2);
});

test('the observation store bounds its size and forgets by age', () => {
  const metrics = new SelfMetrics();
  let now = NOW_MS;
  const s = new MemoryObservationStore({ retentionMs: 60_000, maxObservations: 3 }, metrics, () => now);
  const tp = (n: number) => `00-${'ab'.repeat(16)}-${n.toString(16).padStart(16, '0')}-01`;
  s.insert([1, 2, 3, 4, 5].map((n) => httpSeen(MAIN, 1000 + n, 'a', 'eth0', 'ingress', tp(n))));
  assert.equal(s.size, 3);
  assert.equal(s.bySpan('ab'.repeat(16), (1).toString(16).padStart(16, '0')).length, 0);
  assert.equal(s.bySpan('ab'.repeat(16), (5).toString(16).padStart(16, '0')).length, 1);
  assert.equal(
    s.byConnection(
      { ...MAIN, sourceAddress: MAIN.dst, sourcePort: MAIN.dport, destinationAddress: MAIN.src, destinationPort: MAIN.sport, protocol: 6 },
      at(0),
      at(2000),
    ).length,
    3,
  );
  now += 120_000;
  assert.equal(
    s.byConnection(
      { sourceAddress: MAIN.src, sourcePort: MAIN.sport, destinationAddress: MAIN.dst, destinationPort: MAIN.dport, protocol: undefined },
      at(0),
      at(2000),
    ).length,
    0,
  );
  assert.equal(s.size, 0);
});
