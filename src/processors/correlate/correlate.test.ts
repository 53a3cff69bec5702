/** The correlate processor: matching against a flow store, span synthesis, reparenting, counters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CapacityError } from '../../core/errors.js';
import type { FlowRecord } from '../../model/flow.js';
import { spanCount, type Traces } from '../../model/otlp.js';
import type { Span } from '../../wire/otlp/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { RecordingConsumer, testSettings } from '../../testutil/index.js';
import { correlateConfigSchema, DEFAULT_CLOCK_SKEW_MS, DEFAULT_SERVICE_NAME, DEFAULT_WINDOW_MS } from './config.js';
import { correlateFactory } from './factory.js';
import { selectFlows } from './match.js';
import { Correlator, CorrelateProcessor, type CorrelateOptions } from './processor.js';
import type { FlowEvidenceSource } from './source.js';
import {
  ARAMIS,
  ATHOS,
  attr,
  byName,
  clientServer,
  config,
  CountingSource,
  DARTAGNAN,
  DARTAGNAN_LINK,
  flow,
  hex,
  MAIN,
  PORTHOS,
  PORTHOS_LINK,
  sessionFlows,
  span,
  Span_SpanKind,
  store,
  synthesized,
  T0_MS,
  traces,
  type Conn,
} from './testkit.test.util.js';

const SUMMARY = `network ${ATHOS}:40000 → ${ARAMIS}:8080`;

async function enrich(
  t: Traces,
  records: FlowRecord[] | FlowEvidenceSource | null,
  overrides: Record<string, unknown> = {},
  now?: () => number,
) {
  const source = records === null ? undefined : Array.isArray(records) ? new CountingSource(records) : records;
  const correlator = new Correlator(config(overrides), source, now ?? (() => T0_MS + 10_000));
  const report = await correlator.enrich(t);
  return report;
}

function setup(overrides: Record<string, unknown> = {}, options: CorrelateOptions = {}) {
  const settings = testSettings('correlate');
  const next = new RecordingConsumer<'traces'>();
  const processor = new CorrelateProcessor(settings, config(overrides), next, { now: () => T0_MS + 10_000, ...options });
  const metric = (name: string, labels: Record<string, string> = {}) =>
    settings.metrics.value(`netspan_correlate_${name}`, { processor: 'correlate', ...labels });
  return { processor, next, metric, settings };
}

function children(t: Traces, parent: Span): Span[] {
  const id = hex(parent.spanId);
  return synthesized(t)
    .concat(t.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)))
    .filter((s, i, all) => all.indexOf(s) === i && hex(s.parentSpanId) === id);
}

test('config: defaults and validation with paths', () => {
  const c = correlateConfigSchema.parse({});
  assert.equal(c.window, DEFAULT_WINDOW_MS);
  assert.equal(c.clock_skew, DEFAULT_CLOCK_SKEW_MS);
  assert.equal(c.reparent, true);
  assert.equal(c.service_name, DEFAULT_SERVICE_NAME);
  assert.equal(c.thesis_span_shape, false);
  assert.equal(c.default_transport, 'tcp');
  assert.ok(c.attributes.client.destination_address.includes('server.address'));
  assert.ok(c.attributes.server.source_address.includes('client.address'));
  assert.equal(correlateConfigSchema.parse({ window: '500ms' }).window, 500);

  const bad = correlateConfigSchema.safeParse({
    devices: { 'not-an-ip': { name: 'x' }, '192.0.2.1': { interfaces: { eth0: 'x' } } },
    hosts: { web: 'nowhere' },
    window: '-1s',
    extra: 1,
  });
  assert.equal(bad.success, false);
  const paths = bad.error!.issues.map((i) => i.path.join('.'));
  assert.ok(paths.includes('devices.not-an-ip'), paths.join());
  assert.ok(paths.includes('devices.192.0.2.1.interfaces.eth0'), paths.join());
  assert.ok(paths.includes('hosts.web'), paths.join());
});

test('factory: type, signals, lifecycle; runs without an evidence store', async () => {
  assert.equal(correlateFactory.type, 'correlate');
  assert.equal(correlateFactory.kind, 'processor');
  assert.deepEqual(correlateFactory.signals, ['traces']);
  const next = new RecordingConsumer<'traces'>();
  const p = correlateFactory.create(testSettings('c'), correlateConfigSchema.parse({}), 'traces', next);
  await p.start();
  const { client, server } = clientServer(MAIN);
  await p.consume(traces({ frontend: [client], backend: [server] }));
  const summary = byName(next.received[0]!, SUMMARY);
  assert.equal(attr(summary, 'netspan.no_evidence.reason'), 'no_evidence_store');
  await p.shutdown();
  await p.shutdown();
  assert.throws(() => correlateFactory.create(testSettings('c'), correlateConfigSchema.parse({}), 'logs', new RecordingConsumer()));
});

test('factory: reads the flow store the settings offer', async () => {
  const next = new RecordingConsumer<'traces'>();
  // The processor judges retention by the real clock: keep the test's 2023 flows in reach.
  const flows = store(sessionFlows(MAIN, 5, 95, 777), 10_000, Date.now() - T0_MS + 3_600_000);
  const p = correlateFactory.create(testSettings('c', undefined, { flows }), config(), 'traces', next);
  const { client, server } = clientServer(MAIN);
  await p.consume(traces({ frontend: [client], backend: [server] }));
  assert.equal(attr(byName(next.received[0]!, SUMMARY), 'netspan.devices'), 2);
});

test('client + server pair: ONE summary under the client, the server reparented under it, device spans in path order', async () => {
  const { client, server } = clientServer(MAIN, { startMs: 0, endMs: 100, serverStartMs: 12, serverEndMs: 90 });
  const t = traces({ frontend: [client], backend: [server] });
  const source = new CountingSource(sessionFlows(MAIN, 5, 95, 1234));
  const report = await enrich(t, source);
  assert.equal(source.calls.length, 1);
  assert.equal(source.calls[0]!.length, 1, 'one query for the one connection, not one per span');
  assert.deepEqual(report.connections, { flows: 1 });

  const spans = synthesized(t);
  assert.equal(spans.length, 5, 'summary + 2 devices × 2 directions');
  const summary = spans[0]!;
  assert.equal(summary.name, SUMMARY);
  assert.equal(hex(summary.parentSpanId), hex(client.spanId));
  assert.equal(hex(server.parentSpanId), hex(summary.spanId), 'client → network → server');
  assert.equal(summary.startTimeUnixNano, client.startTimeUnixNano);
  assert.equal(summary.endTimeUnixNano, client.endTimeUnixNano);
  assert.equal(attr(summary, 'source.address'), ATHOS);
  assert.equal(attr(summary, 'source.port'), 40000);
  assert.equal(attr(summary, 'destination.address'), ARAMIS);
  assert.equal(attr(summary, 'destination.port'), 8080);
  assert.equal(attr(summary, 'network.transport'), 'tcp');
  assert.equal(attr(summary, 'netspan.client.duration_ms'), 100);
  assert.equal(attr(summary, 'netspan.server.duration_ms'), 78);
  assert.equal(attr(summary, 'netspan.network.share_ms'), 22);
  assert.deepEqual(attr(summary, 'netspan.evidence'), ['client_server_pair', 'ipfix']);
  assert.equal(attr(summary, 'netspan.timing.accuracy'), 'exact');
  assert.equal(attr(summary, 'netspan.flow.time_resolution_ms'), 1);
  assert.equal(attr(summary, 'netspan.devices'), 2);
  assert.equal(attr(summary, 'netspan.flow.count'), 4);
  assert.equal(attr(summary, 'netspan.candidates.rejected'), 0);
  assert.equal(attr(summary, 'netspan.no_evidence.reason'), undefined);

  assert.deepEqual(
    spans.slice(1).map((s) => [s.name, attr(s, 'netspan.path.index'), hex(s.parentSpanId) === hex(summary.spanId)]),
    [
      ['porthos request', 0, true],
      ['dartagnan request', 1, true],
      ['dartagnan response', 0, true],
      ['porthos response', 1, true],
    ],
  );
  const porthosReq = spans[1]!;
  assert.equal(attr(porthosReq, 'netspan.device.address'), PORTHOS);
  assert.equal(attr(porthosReq, 'netspan.device.name'), 'porthos');
  assert.equal(attr(porthosReq, 'netspan.direction'), 'request');
  assert.equal(attr(porthosReq, 'netspan.interface.in.index'), 1);
  assert.equal(attr(porthosReq, 'netspan.interface.in.name'), 'por0');
  assert.equal(attr(porthosReq, 'netspan.interface.out.index'), 2);
  assert.equal(attr(porthosReq, 'netspan.interface.out.name'), 'por1');
  assert.equal(attr(porthosReq, 'flow.io.bytes'), 1234);
  assert.equal(attr(porthosReq, 'flow.io.packets'), 5);
  assert.equal(attr(porthosReq, 'flow.tcp_flags'), 0x1b);
  assert.equal(attr(porthosReq, 'flow.next_hop'), DARTAGNAN_LINK);
  assert.equal(attr(porthosReq, 'flow.type'), 'ipfix');
  assert.equal(attr(porthosReq, 'flow.sampling_rate'), 1);
  assert.equal(attr(porthosReq, 'flow.time_resolution_ns'), 1_000_000);
  assert.equal(attr(porthosReq, 'netspan.flow.count'), 1);
  assert.equal(porthosReq.startTimeUnixNano, BigInt(T0_MS + 5) * 1_000_000n);
  assert.equal(porthosReq.endTimeUnixNano, BigInt(T0_MS + 95) * 1_000_000n);

  // The synthesised spans are a ResourceSpans of their own.
  const rs = t.resourceSpans.at(-1)!;
  assert.equal(rs.resource?.attributes[0]?.key, 'service.name');
  assert.equal(rs.resource?.attributes[0]?.value?.value.value, 'network');
  assert.equal(rs.scopeSpans[0]!.scope?.name, 'netspan');
  for (const s of spans) {
    assert.deepEqual(s.traceId, client.traceId);
    assert.equal(s.flags, client.flags);
  }
});

test('reparent: false leaves the server span under the client span', async () => {
  const { client, server } = clientServer(MAIN);
  const t = traces({ frontend: [client], backend: [server] });
  await enrich(t, sessionFlows(MAIN, 5, 95, 1), { reparent: false });
  assert.equal(hex(server.parentSpanId), hex(client.spanId));
  assert.equal(synthesized(t).length, 5);
});

test('client-only: summary under the client span, no share', async () => {
  const { client } = clientServer(MAIN);
  const t = traces({ frontend: [client] });
  await enrich(t, sessionFlows(MAIN, 5, 95, 1));
  const summary = byName(t, SUMMARY);
  assert.equal(hex(summary.parentSpanId), hex(client.spanId));
  assert.equal(attr(summary, 'netspan.network.share_ms'), undefined);
  assert.equal(attr(summary, 'netspan.client.duration_ms'), 100);
  assert.equal(attr(summary, 'netspan.server.duration_ms'), undefined);
  assert.deepEqual(attr(summary, 'netspan.evidence'), ['ipfix']);
  assert.equal(attr(summary, 'netspan.timing.accuracy'), 'coarse');
});

test('server-only: the summary goes between the server span and its (remote) parent', async () => {
  const { server } = clientServer(MAIN, { client: 9 }); // the client span (9) is not in the trace
  const t = traces({ backend: [server] });
  await enrich(t, sessionFlows(MAIN, 5, 95, 1));
  const summary = byName(t, SUMMARY);
  assert.equal(hex(summary.parentSpanId), hex(new Uint8Array([0xcd, 0, 0, 0, 0, 0, 0, 9])));
  assert.equal(hex(server.parentSpanId), hex(summary.spanId));
  assert.equal(summary.startTimeUnixNano, server.startTimeUnixNano);
  assert.equal(attr(summary, 'netspan.server.duration_ms'), 80);
  assert.equal(attr(summary, 'netspan.client.duration_ms'), undefined);

  // A root server span keeps its place; the summary becomes its child.
  const root = span({
    id: 5,
    kind: Span_SpanKind.SERVER,
    startMs: 10,
    endMs: 90,
    attributes: { 'client.address': ATHOS, 'client.port': 40000, 'server.address': ARAMIS, 'server.port': 8080 },
  });
  const t2 = traces({ backend: [root] });
  await enrich(t2, sessionFlows(MAIN, 5, 95, 1));
  assert.equal(root.parentSpanId.length, 0);
  assert.equal(hex(byName(t2, SUMMARY).parentSpanId), hex(root.spanId));
});

test('a pair found by quartet alone (no parent link) is still one summary', async () => {
  const { client, server } = clientServer(MAIN);
  server.parentSpanId = new Uint8Array(0);
  const t = traces({ frontend: [client], backend: [server] });
  await enrich(t, []);
  const summaries = synthesized(t).filter((s) => s.name.startsWith('network '));
  assert.equal(summaries.length, 1);
  assert.equal(hex(server.parentSpanId), hex(summaries[0]!.spanId));
  assert.deepEqual(attr(summaries[0]!, 'netspan.evidence'), ['client_server_pair']);
  assert.equal(attr(summaries[0]!, 'netspan.no_evidence.reason'), 'no_flows_in_window');
});

test('two routers chained by next hop are in path order even when their flow times say otherwise', async () => {
  const records = [
    // dartagnan's request flow starts first (its clock is early), but porthos forwards to it.
    flow(MAIN, { exporter: DARTAGNAN, direction: 'request', startMs: 1, endMs: 90, nextHop: ARAMIS }),
    flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs: 3, endMs: 90, nextHop: DARTAGNAN_LINK }),
    flow(MAIN, { exporter: PORTHOS, direction: 'response', startMs: 2, endMs: 95, nextHop: ATHOS }),
    flow(MAIN, { exporter: DARTAGNAN, direction: 'response', startMs: 4, endMs: 94, nextHop: PORTHOS_LINK }),
  ];
  const { client } = clientServer(MAIN);
  const t = traces({ frontend: [client] });
  await enrich(t, records);
  assert.deepEqual(
    synthesized(t)
      .slice(1)
      .map((s) => `${s.name}#${attr(s, 'netspan.path.index')}`),
    ['porthos request#0', 'dartagnan request#1', 'dartagnan response#0', 'porthos response#1'],
  );

  // Without next hops: by flow start.
  const t2 = traces({ frontend: [clientServer(MAIN).client] });
  await enrich(
    t2,
    records.map((r) => ({ ...r, nextHop: '' })),
  );
  assert.deepEqual(
    synthesized(t2)
      .slice(1)
      .map((s) => s.name),
    ['dartagnan request', 'porthos request', 'porthos response', 'dartagnan response'],
  );
});

test('flows of a device not in the inventory: named by address, no interface names', async () => {
  const unknown = '198.51.100.77';
  const { client } = clientServer(MAIN);
  const t = traces({ frontend: [client] });
  const report = await enrich(t, [flow(MAIN, { exporter: unknown, direction: 'request', startMs: 5, endMs: 95, inIf: 4, outIf: 5 })]);
  assert.equal(report.unknownDeviceSpans, 1, 'counted as a device outside the inventory');
  const d = byName(t, `${unknown} request`);
  assert.equal(attr(d, 'netspan.device.address'), unknown);
  assert.equal(attr(d, 'netspan.device.name'), undefined);
  assert.equal(attr(d, 'netspan.interface.in.index'), 4);
  assert.equal(attr(d, 'netspan.interface.in.name'), undefined);
});

test('window edges: candidates within the window but not overlapping the span are rejected; beyond it they are not found', async () => {
  const { client } = clientServer(MAIN, { startMs: 0, endMs: 100 });
  const skew = DEFAULT_CLOCK_SKEW_MS;
  const records = [
    // Overlaps only thanks to the clock_skew allowance: attached.
    flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs: 100 + skew, endMs: 300, flags: 0x10, bytes: 1 }),
    // In the window, beyond the allowance: a rejected candidate.
    flow(MAIN, { exporter: DARTAGNAN, direction: 'request', startMs: -1500, endMs: -skew - 2, flags: 0x10, bytes: 2 }),
    // Exactly at the window's far edge (ends at start − window): found, rejected.
    flow(MAIN, { exporter: DARTAGNAN, direction: 'response', startMs: -2500, endMs: -DEFAULT_WINDOW_MS, flags: 0x10, bytes: 3 }),
    // Beyond the window (resolution widens by 1 ms): not even a candidate.
    flow(MAIN, { exporter: DARTAGNAN, direction: 'response', startMs: -3000, endMs: -DEFAULT_WINDOW_MS - 2, flags: 0x10, bytes: 4 }),
    flow(MAIN, { exporter: PORTHOS, direction: 'response', startMs: 100 + DEFAULT_WINDOW_MS + 2, endMs: 2500, flags: 0x10, bytes: 5 }),
  ];
  const t = traces({ frontend: [client] });
  const report = await enrich(t, records);
  const summary = byName(t, SUMMARY);
  assert.equal(attr(summary, 'netspan.candidates.rejected'), 2);
  assert.equal(report.candidatesRejected, 2);
  assert.deepEqual(
    synthesized(t)
      .slice(1)
      .map((s) => [s.name, attr(s, 'flow.io.bytes')]),
    [['porthos request', 1]],
  );

  // Coarse flow times widen the match by their resolution.
  const coarse = traces({ frontend: [clientServer(MAIN).client] });
  await enrich(coarse, [
    flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs: 1000, endMs: 1000, resolutionNs: 1e9, flags: 0x10 }),
  ]);
  assert.equal(attr(byName(coarse, SUMMARY), 'netspan.devices'), 1);
  assert.equal(attr(byName(coarse, SUMMARY), 'netspan.flow.time_resolution_ms'), 1000);
});

/** Three sessions of the same quartet (the ephemeral port reused) within one window. */
async function portReuse(flags: boolean) {
  const sessions = [
    { trace: 1, startMs: 0, endMs: 100, bytes: 1111 },
    { trace: 2, startMs: 600, endMs: 700, bytes: 2222 },
    { trace: 3, startMs: 1200, endMs: 1300, bytes: 3333 },
  ];
  const records = sessions.flatMap((s) => sessionFlows(MAIN, s.startMs + 2, s.endMs - 2, s.bytes, flags));
  const source = new CountingSource(records);
  const t = traces({
    frontend: sessions.map((s) => clientServer(MAIN, { trace: s.trace, startMs: s.startMs, endMs: s.endMs }).client),
    backend: sessions.map((s) => clientServer(MAIN, { trace: s.trace, startMs: s.startMs, endMs: s.endMs }).server),
  });
  const report = await enrich(t, source);
  assert.equal(source.calls.length, 1, 'one lookup for the whole batch');
  assert.equal(source.calls[0]!.length, 3);

  let wrong = 0;
  let attached = 0;
  for (const s of sessions) {
    const mine = synthesized(t).filter((x) => x.traceId[15] === s.trace);
    const summary = mine.find((x) => x.name === SUMMARY)!;
    assert.ok(summary, `trace ${s.trace} has its summary`);
    assert.equal(mine.filter((x) => x.name === SUMMARY).length, 1, 'one summary per connection');
    assert.equal(attr(summary, 'netspan.candidates.rejected'), 8, 'the other two sessions, 4 flows each');
    for (const d of mine.filter((x) => x !== summary)) {
      attached++;
      if (attr(d, 'flow.io.bytes') !== s.bytes) wrong++;
    }
  }
  assert.equal(attached, 12);
  assert.equal(wrong, 0, 'no flow of another session is attached');
  assert.equal(report.candidatesRejected, 24);
}

test('port reuse: three sessions in one window, each trace gets its own session only (with TCP flags)', () => portReuse(true));
test('port reuse: three sessions in one window, told apart by time alone (no TCP flags exported)', () => portReuse(false));

test('SYN/FIN: flags reject sessions the clock_skew allowance would let in', async () => {
  // The span's own flows were not exported by dartagnan; what it did export is a session that
  // opened (SYN) 20 ms after the span ended, and one that closed (FIN) 20 ms before it began.
  const { client } = clientServer(MAIN, { startMs: 1000, endMs: 1100 });
  const later = flow(MAIN, { exporter: DARTAGNAN, direction: 'request', startMs: 1120, endMs: 1200, flags: 0x02 | 0x10, bytes: 9 });
  const earlier = flow(MAIN, { exporter: DARTAGNAN, direction: 'response', startMs: 900, endMs: 980, flags: 0x01 | 0x10, bytes: 8 });
  const own = flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs: 1002, endMs: 1098, flags: 0x1b, bytes: 7 });
  const t = traces({ frontend: [client] });
  await enrich(t, [later, earlier, own]);
  const summary = byName(t, SUMMARY);
  assert.equal(attr(summary, 'netspan.candidates.rejected'), 2);
  assert.deepEqual(
    synthesized(t)
      .slice(1)
      .map((s) => s.name),
    ['porthos request'],
  );

  // The same flows without flags: within the allowance, so attached.
  const t2 = traces({ frontend: [clientServer(MAIN, { startMs: 1000, endMs: 1100 }).client] });
  await enrich(t2, [
    { ...later, tcpFlags: 0x10 },
    { ...earlier, tcpFlags: 0x10 },
  ]);
  assert.equal(attr(byName(t2, SUMMARY), 'netspan.devices'), 1);
  assert.equal(attr(byName(t2, SUMMARY), 'netspan.flow.count'), 2);
});

test('selectFlows: a SYN starts a new session within a stream, a FIN closes one; sessions split by active timeout stay whole', () => {
  const us = (ms: number) => (T0_MS + ms) * 1000;
  const m = (startMs: number, endMs: number, flags: number) => ({
    direction: 'request' as const,
    flow: flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs, endMs, flags, bytes: startMs }),
  });
  // One long session exported in three back-to-back records (only the first has SYN), then a new one.
  const matches = [m(0, 60_000, 0x12), m(60_000, 120_000, 0x10), m(120_000, 130_000, 0x11), m(130_000, 131_000, 0x1b)];
  const sel = selectFlows(matches, us(119_000), us(119_500), 50_000, (a) => a);
  assert.deepEqual(
    sel.groups[0]!.flows.map((f) => f.bytes),
    [0, 60_000, 120_000],
  );
  assert.equal(sel.rejected, 1);
});

test('no evidence: the reason attribute says why', async () => {
  const { client } = clientServer(MAIN);
  const reason = async (source: FlowRecord[] | FlowEvidenceSource | null, overrides: Record<string, unknown> = {}, now?: () => number) => {
    const t = traces({ frontend: [clientServer(MAIN).client] });
    await enrich(t, source, overrides, now);
    const s = byName(t, SUMMARY);
    assert.equal(attr(s, 'netspan.devices'), 0);
    assert.equal(attr(s, 'netspan.timing.accuracy'), 'none');
    return attr(s, 'netspan.no_evidence.reason');
  };
  assert.equal(await reason(null), 'no_evidence_store');
  assert.equal(await reason([]), 'no_flows_in_window');
  assert.equal(
    await reason([flow(MAIN, { exporter: PORTHOS, direction: 'request', startMs: 1500, endMs: 1600, flags: 0x10 })]),
    'candidates_rejected',
  );
  const sampled = Object.fromEntries([PORTHOS, DARTAGNAN].map((a) => [a, { sampling_rate: 1000 }]));
  assert.equal(await reason([], { devices: sampled }), 'sampled_exporter');
  // The whole window is older than the store keeps: not even looked up.
  const src = new CountingSource(store([], 0, 60_000));
  assert.equal(await reason(src, {}, () => T0_MS + 60_000 + 2_101), 'outside_retention');
  assert.equal(src.calls.length, 0);
  assert.equal(await reason(src, {}, () => T0_MS + 60_000 + 2_099), 'no_flows_in_window');
  const failing = new CountingSource();
  failing.fail = new Error('backend down');
  assert.equal(await reason(failing), 'evidence_error');
  void client;
});

test('emit_without_evidence: false adds nothing for a lone span without flows, but keeps pairs', async () => {
  const t = traces({ frontend: [clientServer(MAIN).client] });
  const report = await enrich(t, [], { emit_without_evidence: false });
  assert.equal(synthesized(t).length, 0);
  assert.deepEqual(report.connections, { no_flows: 1 });
  const { client, server } = clientServer(MAIN);
  const t2 = traces({ frontend: [client], backend: [server] });
  await enrich(t2, [], { emit_without_evidence: false });
  assert.equal(synthesized(t2).length, 1);
});

test('thesis_span_shape names spans as the thesis did', async () => {
  const { client } = clientServer(MAIN);
  const t = traces({ frontend: [client] });
  await enrich(t, sessionFlows(MAIN, 5, 95, 1), { thesis_span_shape: true });
  assert.deepEqual(
    synthesized(t).map((s) => s.name),
    [`${ATHOS}:40000-${ARAMIS}:8080`, `Request - ${PORTHOS}`, `Request - ${DARTAGNAN}`, `Response - ${DARTAGNAN}`, `Response - ${PORTHOS}`],
  );
});

test('IPv6: addresses in brackets in names, network.type ipv6', async () => {
  const c6: Conn = { src: '2001:db8:1::10', sport: 40000, dst: '2001:db8:2::20', dport: 443 };
  const { client, server } = clientServer(c6);
  const t = traces({ frontend: [client], backend: [server] });
  await enrich(t, sessionFlows(c6, 5, 95, 1));
  const summary = byName(t, 'network [2001:db8:1::10]:40000 → [2001:db8:2::20]:443');
  assert.equal(attr(summary, 'network.type'), 'ipv6');
  assert.equal(attr(summary, 'netspan.devices'), 2);
});

test('transport: a UDP span matches UDP flows only; default_transport any matches every protocol', async () => {
  const c: Conn = { src: ATHOS, sport: 5353, dst: ARAMIS, dport: 53 };
  const dns = (extra: Record<string, string>) =>
    span({
      id: 2,
      kind: Span_SpanKind.CLIENT,
      startMs: 0,
      endMs: 10,
      attributes: {
        'network.peer.address': c.dst,
        'network.peer.port': 53,
        'network.local.address': c.src,
        'network.local.port': 5353,
        ...extra,
      },
    });
  const records = [
    flow(c, { exporter: PORTHOS, direction: 'request', startMs: 1, endMs: 2, protocol: 17, flags: 0 }),
    flow(c, { exporter: DARTAGNAN, direction: 'request', startMs: 1, endMs: 2, protocol: 6, flags: 0x10 }),
  ];
  const name = `network ${ATHOS}:5353 → ${ARAMIS}:53`;
  const udp = traces({ a: [dns({ 'network.transport': 'udp' })] });
  await enrich(udp, records);
  assert.equal(attr(byName(udp, name), 'network.transport'), 'udp');
  assert.deepEqual(
    synthesized(udp)
      .slice(1)
      .map((s) => [s.name, attr(s, 'flow.tcp_flags')]),
    [['porthos request', undefined]],
  );
  const any = traces({ a: [dns({})] });
  await enrich(any, records, { default_transport: 'any' });
  assert.equal(attr(byName(any, name), 'network.transport'), undefined);
  assert.equal(attr(byName(any, name), 'netspan.devices'), 2);
});

test('malformed and incomplete inputs are counted, never thrown; the batch passes on', async () => {
  const { processor, next, metric } = setup({}, { source: new CountingSource([]) });
  const bad = [
    span({
      id: 10,
      kind: Span_SpanKind.CLIENT,
      startMs: 0,
      endMs: 1,
      attributes: {
        'network.peer.address': '10.0.0.999',
        'network.peer.port': 80,
        'network.local.address': ATHOS,
        'network.local.port': 1,
      },
    }),
    span({
      id: 11,
      kind: Span_SpanKind.CLIENT,
      startMs: 0,
      endMs: 1,
      attributes: { 'server.address': 'unknown-host', 'server.port': 80, 'network.local.address': ATHOS, 'network.local.port': 2 },
    }),
    span({ id: 12, kind: Span_SpanKind.CLIENT, startMs: 0, endMs: 1, attributes: { 'server.address': ARAMIS, 'server.port': 80 } }),
    span({
      id: 13,
      kind: Span_SpanKind.CLIENT,
      startMs: 0,
      endMs: 1,
      attributes: {
        'server.address': ARAMIS,
        'server.port': 80,
        'network.local.address': ATHOS,
        'network.local.port': 3,
        'network.transport': 'unix',
      },
    }),
    span({
      id: 14,
      kind: Span_SpanKind.CLIENT,
      startMs: 0,
      endMs: 1,
      attributes: { 'server.address': ARAMIS, 'server.port': 'eighty', 'network.local.address': ATHOS, 'network.local.port': 4 },
    }),
    // End before start, and otherwise fine: handled as a zero-length span.
    span({
      id: 15,
      kind: Span_SpanKind.CLIENT,
      startMs: 10,
      endMs: 5,
      attributes: { 'server.address': ARAMIS, 'server.port': 80, 'network.local.address': ATHOS, 'network.local.port': 5 },
    }),
    span({ id: 16, kind: Span_SpanKind.INTERNAL, startMs: 0, endMs: 1, attributes: { 'db.system': 'none' } }),
  ];
  const t = traces({ app: bad });
  await processor.consume(t);
  assert.equal(next.received.length, 1);
  assert.equal(spanCount(next.received[0]!), 8, 'the 7 spans and one summary');
  assert.equal(await metric('connections_total', { outcome: 'malformed' }), 2);
  assert.equal(await metric('connections_total', { outcome: 'unresolved_host' }), 1);
  assert.equal(await metric('connections_total', { outcome: 'incomplete_quartet' }), 1);
  assert.equal(await metric('connections_total', { outcome: 'not_ip' }), 1);
  assert.equal(await metric('connections_total', { outcome: 'no_flows' }), 1);
  assert.equal(await metric('unresolved_hosts_total'), 1);
  assert.equal(await metric('spans_synthesized_total'), 1);
  const zeroLength = synthesized(next.received[0]!)[0]!;
  assert.equal(zeroLength.startTimeUnixNano, zeroLength.endTimeUnixNano);
});

test('re-processing is idempotent: same ids, nothing added twice', async () => {
  const { client, server } = clientServer(MAIN);
  const t = traces({ frontend: [client], backend: [server] });
  const records = sessionFlows(MAIN, 5, 95, 1);
  await enrich(t, records);
  const first = synthesized(t).map((s) => hex(s.spanId));
  const serverParent = hex(server.parentSpanId);
  const report = await enrich(t, records);
  assert.deepEqual(report.connections, { already_enriched: 1 });
  assert.deepEqual(
    synthesized(t).map((s) => hex(s.spanId)),
    first,
  );
  assert.equal(hex(server.parentSpanId), serverParent);

  // A fresh copy of the same trace gets the same ids.
  const again = clientServer(MAIN);
  const t2 = traces({ frontend: [again.client], backend: [again.server] });
  await enrich(t2, records);
  assert.deepEqual(
    synthesized(t2).map((s) => hex(s.spanId)),
    first,
  );
  assert.equal(new Set(first).size, first.length);

  // The same client span twice in one batch (a duplicate delivery): one summary.
  const dup = clientServer(MAIN).client;
  const t3 = traces({ a: [dup], b: [clientServer(MAIN).client] });
  const dupReport = await enrich(t3, records);
  assert.deepEqual(dupReport.connections, { flows: 1, already_enriched: 1 });
  assert.equal(synthesized(t3).filter((s) => s.name === SUMMARY).length, 1);
});

test('one lookup per batch, for every connection of every trace', async () => {
  const source = new CountingSource([]);
  const spans: Span[] = [];
  for (let trace = 1; trace <= 4; trace++) {
    const a = clientServer({ ...MAIN, sport: 40000 + trace }, { trace, client: 2, server: 3 });
    const b = clientServer({ ...MAIN, sport: 41000 + trace, dport: 5432 }, { trace, client: 4, server: 5 });
    spans.push(a.client, a.server, b.client, b.server);
  }
  const t = traces({ app: spans });
  const report = await enrich(t, source);
  assert.equal(source.calls.length, 1);
  assert.equal(source.calls[0]!.length, 8);
  assert.deepEqual(report.connections, { no_flows: 8 });
  assert.equal(synthesized(t).length, 8);
});

test('processor: metrics, canAccept delegates, refuses when the next consumer is full, survives a failing source', async () => {
  const failing = new CountingSource(sessionFlows(MAIN, 5, 95, 1));
  const { processor, next, metric } = setup({}, { source: failing });
  assert.equal(processor.canAccept(), true);
  next.full = true;
  assert.equal(processor.canAccept(), false);
  await assert.rejects(processor.consume(traces({ frontend: [clientServer(MAIN).client] })), CapacityError);
  assert.equal(failing.calls.length, 0, 'refused before the lookup');
  next.full = false;

  await processor.consume(traces({ frontend: [clientServer(MAIN).client] }));
  assert.equal(await metric('connections_total', { outcome: 'flows' }), 1);
  assert.equal(await metric('spans_synthesized_total'), 5);
  assert.equal(await metric('candidates_rejected_total'), 0);

  failing.fail = new Error('down');
  await processor.consume(traces({ frontend: [clientServer(MAIN).client] }));
  assert.equal(next.received.length, 2);
  assert.equal(attr(byName(next.received[1]!, SUMMARY), 'netspan.no_evidence.reason'), 'evidence_error');
  assert.equal(await metric('lookup_failures_total'), 1);
  assert.equal(await metric('connections_total', { outcome: 'no_flows' }), 1);
});

test('children helper sanity: the enriched tree reads client → network → server', async () => {
  const { client, server } = clientServer(MAIN);
  const t = traces({ frontend: [client], backend: [server] });
  await enrich(t, sessionFlows(MAIN, 5, 95, 1));
  const network = children(t, client);
  assert.deepEqual(
    network.map((s) => s.name),
    [SUMMARY],
  );
  assert.deepEqual(
    children(t, network[0]!)
      .map((s) => s.name)
      .sort(),
    ['GET /api/cart (server)', 'dartagnan request', 'dartagnan response', 'porthos request', 'porthos response'],
  );
});
