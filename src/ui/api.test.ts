import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { SelfMetrics } from '../core/telemetry/metrics.js';
import { silentLogger } from '../core/telemetry/logger.js';
import { repoPath } from '../testutil/index.js';
import { MemoryFlowStore } from '../evidence/memory/store.js';
import { MemoryObservationStore } from '../evidence/observations/store.js';
import { DeviceStateStore, deviceStoreOptions } from '../devices/store.js';
import { devicesConfigSchema } from '../devices/config.js';
import { Inventory } from '../devices/inventory.js';
import type { FlowRecord } from '../model/flow.js';
import { DeviceCounters, demoRequest, HOSTS } from '../demo/scenario.js';
import { answer, type ApiContext } from './api.js';
import { TraceStore, type TraceDetail, type TraceSummary } from './traces.js';
import type { PageResult } from './query.js';
import type { EvidenceAnswer } from './evidence.js';
import { uiExporterConfigSchema, DEFAULT_UI_ENDPOINT } from './config.js';
import { UiExporter } from './exporter.js';

import { enriched, ns, T0 } from './testkit.test.util.js';

function flow(i: number, over: Partial<FlowRecord> = {}): FlowRecord {
  return {
    type: 'ipfix',
    samplerAddress: i % 2 ? '127.0.0.2' : '127.0.0.3',
    observationDomainId: 1,
    sequenceNumber: i,
    exportTimeUnixNano: ns(T0),
    sourceAddress: HOSTS.frontend,
    sourcePort: 41000 + i,
    destinationAddress: HOSTS.backend,
    destinationPort: 8080,
    protocol: 6,
    ipVersion: 4,
    bytes: 100 * (i + 1),
    packets: i + 1,
    startUnixNano: ns(T0 + i * 1000),
    endUnixNano: ns(T0 + i * 1000 + 5),
    timeResolutionNano: 1e6,
    inputInterface: 1,
    outputInterface: 2,
    nextHop: '',
    samplingRate: 1,
    tcpFlags: 0x1b,
    ...over,
  };
}

function context(): ApiContext & { ids: { traceId: string; slow: boolean; verdict: boolean }[] } {
  const metrics = new SelfMetrics();
  const traces = new TraceStore({ maxTraces: 100, maxSpans: 10_000 }, metrics);
  const ids: { traceId: string; slow: boolean; verdict: boolean }[] = [];
  for (let i = 0; i < 8; i++) {
    const e = enriched(i, { verdict: i === 2 });
    traces.add(e.traces);
    ids.push({ traceId: e.traceId, slow: e.slow, verdict: i === 2 });
  }
  const now = () => T0 + 60_000;
  const flows = new MemoryFlowStore({ now });
  flows.insert(Array.from({ length: 30 }, (_, i) => flow(i)));
  const observations = new MemoryObservationStore({ retentionMs: 3_600_000, maxObservations: 1000 }, metrics, now);
  for (let i = 0; i < 4; i++) {
    const r = demoRequest(i, T0 + i * 1000);
    observations.insert([...r.ioam, ...r.http]);
  }
  const devicesConfig = devicesConfigSchema.parse({
    inventory: {
      porthos: { snmp_addresses: ['127.0.0.2'], interfaces: { 1: 'por0', 2: 'por1' } },
      dartagnan: { snmp_addresses: ['127.0.0.3'] },
    },
  });
  const devices = new DeviceStateStore(deviceStoreOptions(devicesConfig), metrics, new Inventory(devicesConfig.inventory), now);
  devices.addReadings(new DeviceCounters(T0 - 3_600_000).readings(T0 - 300_000, T0 + 30_000, 10_000, (t) => t > T0 - 60_000));
  return { traces, stores: { flows, observations, devices }, maxEvidenceScan: 1000, now, ids };
}

const ctx = context();
const get = <T>(path: string, query = '') => {
  const a = answer(ctx, path, new URLSearchParams(query));
  return { status: a.status, body: a.body as T };
};
const badRequest = (path: string, query: string, parameter: string) => {
  const a = get<{ error: string; parameter: string }>(path, query);
  assert.equal(a.status, 400, `${path}?${query}: ${JSON.stringify(a.body)}`);
  assert.equal(a.body.parameter, parameter);
  assert.ok(a.body.error.includes(parameter), a.body.error);
};

test('GET /api/traces lists summaries: root, duration, span count, network share, verdict', () => {
  const { status, body } = get<PageResult<TraceSummary>>('/api/traces');
  assert.equal(status, 200);
  assert.equal(body.total, 8);
  const t = body.items.find((x) => x.traceId === ctx.ids[2]!.traceId)!;
  assert.equal(t.rootName, 'GET /cart');
  assert.equal(t.rootService, 'frontend');
  assert.equal(t.spanCount, 8);
  assert.equal(t.networkShareMs, 104.5);
  assert.equal(t.connections, 1);
  assert.deepEqual(t.verdict, {
    text: 'porthos por1: queue 52 kB, +100 ms',
    rule: 'ioam_queue',
    device: 'porthos',
    interface: 'por1',
    cause: 'congestion',
    addedMs: 100.5,
    spanId: t.verdict!.spanId,
  });
  assert.ok(t.durationMs > 100);
  assert.ok(body.items.filter((x) => x.traceId !== t.traceId).every((x) => x.verdict === null));
});

test('GET /api/traces: search by service, duration, attribute, verdict, time; sort; paginate', () => {
  const slowIds = ctx.ids.filter((x) => x.slow).map((x) => x.traceId);
  let r = get<PageResult<TraceSummary>>('/api/traces', 'sort=-duration&limit=2');
  assert.deepEqual(
    r.body.items.map((t) => t.traceId),
    slowIds,
  );
  r = get('/api/traces', 'min_duration_ms=100');
  assert.deepEqual(new Set(r.body.items.map((t) => t.traceId)), new Set(slowIds));
  r = get('/api/traces', 'max_duration_ms=100');
  assert.equal(r.body.total, 6);
  r = get('/api/traces', 'has_verdict=true');
  assert.deepEqual(
    r.body.items.map((t) => t.traceId),
    [ctx.ids[2]!.traceId],
  );
  assert.equal(get<PageResult<TraceSummary>>('/api/traces', 'has_verdict=false').body.total, 7);
  assert.equal(get<PageResult<TraceSummary>>('/api/traces', 'service=database').body.total, 8);
  assert.equal(get<PageResult<TraceSummary>>('/api/traces', 'service=nope').body.total, 0);
  r = get('/api/traces', 'attribute=url.path:/api/cart/1003');
  assert.equal(r.body.total, 1);
  assert.equal(r.body.items[0]!.traceId, ctx.ids[3]!.traceId);
  assert.equal(get<PageResult<TraceSummary>>('/api/traces', 'attribute=netspan.evidence:ioam').body.total, 8);
  r = get('/api/traces', `from=${T0 + 2500}&to=${new Date(T0 + 4500).toISOString()}`);
  assert.equal(r.body.total, 2);
  // Pagination: cursor and offset walk the same order.
  const all = get<PageResult<TraceSummary>>('/api/traces', 'sort=start').body.items.map((t) => t.traceId);
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = get<PageResult<TraceSummary>>('/api/traces', `sort=start&limit=3${cursor ? `&cursor=${cursor}` : ''}`).body;
    seen.push(...page.items.map((t) => t.traceId));
    cursor = page.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, all);
  assert.deepEqual(
    get<PageResult<TraceSummary>>('/api/traces', 'sort=start&offset=6').body.items.map((t) => t.traceId),
    all.slice(6),
  );
});

test('GET /api/traces: unknown parameters and bad values are 400 naming the parameter', () => {
  badRequest('/api/traces', 'colour=red', 'colour');
  badRequest('/api/traces', 'min_duration_ms=slow', 'min_duration_ms');
  badRequest('/api/traces', 'min_duration_ms=-1', 'min_duration_ms');
  badRequest('/api/traces', 'has_verdict=maybe', 'has_verdict');
  badRequest('/api/traces', 'sort=colour', 'sort');
  badRequest('/api/traces', 'limit=0', 'limit');
  badRequest('/api/traces', 'limit=5000', 'limit');
  badRequest('/api/traces', 'limit=2.5', 'limit');
  badRequest('/api/traces', 'cursor=xyz', 'cursor');
  badRequest('/api/traces', 'cursor=bzE&offset=1', 'cursor');
  badRequest('/api/traces', 'attribute=novalue', 'attribute');
  badRequest('/api/traces', 'from=yesterday', 'from');
  badRequest('/api/traces', 'from=2000&to=1000', 'from');
  badRequest('/api/traces', 'limit=1&limit=2', 'limit');
});

test('GET /api/traces/{id}: spans as plain JSON, connections with their hops, devices', () => {
  const id = ctx.ids[2]!.traceId;
  const { status, body } = get<TraceDetail>(`/api/traces/${id}`);
  assert.equal(status, 200);
  assert.equal(body.spans.length, 8);
  const summary = body.spans.find((s) => s.role === 'network_summary')!;
  assert.equal(summary.attributes['netspan.network.share_ms'], 104.5);
  assert.deepEqual(summary.attributes['netspan.evidence'], ['client_server_pair', 'ipfix', 'ioam']);
  assert.equal(summary.scope, 'netspan');
  assert.equal(body.spans.find((s) => s.name === 'GET /cart')!.kind, 'server');
  assert.equal(body.connections.length, 1);
  const c = body.connections[0]!;
  assert.equal(c.source, '10.0.1.10:41002');
  assert.equal(c.destination, '10.0.2.20:8080');
  assert.equal(c.verdict?.device, 'porthos');
  assert.deepEqual(
    c.hops.map((h) => [h.name, h.role]),
    [
      ['porthos request (IOAM)', 'ioam_hop'],
      ['porthos response', 'flow_device'],
    ],
  );
  assert.deepEqual(c.slowestHop && { device: c.slowestHop.device, transitMs: c.slowestHop.transitMs }, {
    device: 'porthos',
    transitMs: 101.2,
  });
  assert.deepEqual(body.devices, [{ name: 'porthos', address: '127.0.0.2', spans: 2, roles: ['flow_device', 'ioam_hop'] }]);
  assert.equal(get(`/api/traces/${'0'.repeat(32)}`).status, 404);
  badRequest('/api/traces/xyz', '', 'traceId');
  badRequest(`/api/traces/${id}`, 'x=1', 'x');
});

test('the trace store is bounded by traces and spans, oldest received first, evictions counted', async () => {
  const metrics = new SelfMetrics();
  const sent = Array.from({ length: 4 }, (_, i) => enriched(i));
  const byCount = new TraceStore({ maxTraces: 3, maxSpans: 1000 }, metrics, 'ui/a');
  for (const e of sent) byCount.add(e.traces);
  assert.deepEqual(
    byCount.summaries().map((s) => s.traceId),
    [sent[3]!.traceId, sent[2]!.traceId, sent[1]!.traceId],
  );
  assert.equal(await metrics.value('netspan_ui_traces_evicted_total', { exporter: 'ui/a', reason: 'max_traces' }), 1);
  // 8 spans a trace: the third trace takes the store over 20 spans.
  const bySpans = new TraceStore({ maxTraces: 100, maxSpans: 20 }, metrics, 'ui/b');
  for (const e of sent.slice(0, 3)) bySpans.add(e.traces);
  assert.deepEqual(
    bySpans.summaries().map((s) => s.traceId),
    [sent[2]!.traceId, sent[1]!.traceId],
  );
  assert.equal(bySpans.spanCount, 16);
  assert.equal(await metrics.value('netspan_ui_traces_evicted_total', { exporter: 'ui/b', reason: 'max_spans' }), 1);
  // Spans of a trace arriving again join it (and make it the most recent); a span delivered twice counts once.
  bySpans.add(sent[1]!.traces);
  assert.equal(bySpans.spanCount, 16);
  assert.equal(bySpans.summaries()[0]!.traceId, sent[1]!.traceId);
  assert.equal(await metrics.value('netspan_ui_spans_stored', { exporter: 'ui/b' }), 16);
});

test('GET /api/evidence/flows: filters on any field, time range, sort, pagination', () => {
  let r = get<EvidenceAnswer>('/api/evidence/flows', 'limit=5');
  assert.equal(r.status, 200);
  assert.equal(r.body.total, 30);
  assert.equal(r.body.items.length, 5);
  assert.equal(r.body.items[0]!['source.port'], 41029, 'newest first');
  assert.ok(r.body.next_cursor);
  r = get('/api/evidence/flows', `limit=5&cursor=${r.body.next_cursor}`);
  assert.equal(r.body.items[0]!['source.port'], 41024);
  // A quartet.
  r = get('/api/evidence/flows', 'source.address=10.0.1.10&source.port=41007&destination.address=10.0.2.20&destination.port=8080');
  assert.equal(r.body.total, 1);
  assert.equal(r.body.items[0]!['flow.sampler_address'], '127.0.0.2');
  assert.equal(r.body.items[0]!['flow.io.bytes'], 800);
  r = get('/api/evidence/flows', 'flow.sampler_address_ne=127.0.0.2');
  assert.equal(r.body.total, 15);
  r = get('/api/evidence/flows', 'flow.io.bytes_gt=1000&flow.io.bytes_lt=1500&sort=flow.io.bytes');
  assert.deepEqual(
    r.body.items.map((x) => x['flow.io.bytes']),
    [1100, 1200, 1300, 1400],
  );
  r = get('/api/evidence/flows', `flow.start_gt=${ns(T0 + 27_000)}`);
  assert.equal(r.body.total, 2, 'nanosecond integers compare exactly');
  r = get('/api/evidence/flows', `from=${T0 + 10_000}&to=${T0 + 12_000}`);
  assert.equal(r.body.total, 3);
  badRequest('/api/evidence/flows', 'colour=red', 'colour');
  badRequest('/api/evidence/flows', 'flow.io.bytes_gt=lots', 'flow.io.bytes_gt');
  badRequest('/api/evidence/flows', 'sort=-colour', 'sort');
  badRequest('/api/evidence/flows', 'from=x', 'from');
});

test('GET /api/evidence/ioam and /http: observations with their fields, filters', () => {
  let r = get<EvidenceAnswer>('/api/evidence/ioam');
  assert.equal(r.body.total, 4);
  const one = r.body.items.find((x) => x['source.port'] === 41002)!;
  assert.deepEqual(one['ioam.node_ids'], [2, 3, 4]);
  assert.ok((one['ioam.queue_depth_max'] as number) >= 40_000, 'the congested request');
  assert.ok((one['ioam.transit_ms'] as number) > 100);
  r = get('/api/evidence/ioam', 'ioam.queue_depth_max_gt=10000');
  assert.equal(r.body.total, 1);
  r = get('/api/evidence/ioam', 'ioam.node_ids=3');
  assert.equal(r.body.total, 4);
  r = get('/api/evidence/http', 'source.port=41001&observation.direction=egress');
  assert.equal(r.body.total, 1);
  assert.equal(r.body.items[0]!['network.interface.name'], 'por1');
  assert.equal(get<EvidenceAnswer>('/api/evidence/http', 'sort=observation.time').body.total, 8);
  badRequest('/api/evidence/http', 'ioam.node_ids=3', 'ioam.node_ids');
});

test('GET /api/devices and /api/devices/{name}: series and anomalies', () => {
  const list = get<{ available: boolean; items: { device: string; interfaces: { ifIndex: number; name?: string }[] }[] }>('/api/devices');
  assert.deepEqual(
    list.body.items.map((d) => d.device),
    ['dartagnan', 'porthos'],
  );
  assert.deepEqual(list.body.items[1]!.interfaces, [
    { ifIndex: 1, name: 'por0' },
    { ifIndex: 2, name: 'por1' },
  ]);
  const d = get<{
    device: string;
    interfaces: { name: string; points: { outUtilisation?: number }[] }[];
    devicePoints: unknown[];
    anomalies: { kind: string }[];
  }>('/api/devices/porthos');
  assert.equal(d.status, 200);
  const por1 = d.body.interfaces.find((i) => i.name === 'por1')!;
  assert.ok(por1.points.length > 20);
  assert.ok(por1.points.some((p) => (p.outUtilisation ?? 0) > 0.9));
  assert.ok(d.body.anomalies.some((a) => a.kind === 'high_utilisation'));
  const one = get<{ interfaces: unknown[] }>('/api/devices/porthos', 'interface=por0');
  assert.equal(one.body.interfaces.length, 1);
  assert.equal(get('/api/devices/aramis').status, 404);
  badRequest('/api/devices/porthos', 'from=soon', 'from');
  badRequest('/api/devices/porthos', 'window=1', 'window');
  badRequest('/api/devices', 'x=1', 'x');
});

test('GET /api/openapi.json describes every path', () => {
  const r = get<{ openapi: string; paths: Record<string, unknown> }>('/api/openapi.json');
  assert.equal(r.body.openapi, '3.0.3');
  for (const p of [
    '/api/traces',
    '/api/traces/{traceId}',
    '/api/evidence/flows',
    '/api/evidence/ioam',
    '/api/evidence/http',
    '/api/devices',
    '/api/devices/{name}',
  ])
    assert.ok(p in r.body.paths, p);
  assert.equal(get('/api/nothing').status, 404);
});

test('config: defaults, unknown keys', () => {
  const c = uiExporterConfigSchema.parse({});
  assert.equal(c.endpoint, DEFAULT_UI_ENDPOINT);
  assert.equal(DEFAULT_UI_ENDPOINT, '127.0.0.1:8686');
  assert.equal(c.auth, undefined);
  assert.ok(!uiExporterConfigSchema.safeParse({ colour: 1 }).success);
  assert.ok(!uiExporterConfigSchema.safeParse({ endpoint: 'nowhere' }).success);
  assert.ok(!uiExporterConfigSchema.safeParse({ auth: { token: '' } }).success);
});

test('the server: the app loads without the token, every /api call needs it; static files are its own', async (t) => {
  const exporter = new UiExporter(
    { id: 'ui', logger: silentLogger(), metrics: new SelfMetrics(), evidence: undefined as never, evidenceStores: ctx.stores },
    uiExporterConfigSchema.parse({ endpoint: '127.0.0.1:0', auth: { token: 's3cret' } }),
    'traces',
  );
  await exporter.start();
  t.after(() => exporter.shutdown());
  await exporter.consume(enriched(1).traces);
  const base = exporter.url!;
  const page = await fetch(base);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type')!, /text\/html/);
  assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
  assert.match(await page.text(), /app\.js/);
  for (const f of ['app.js', 'charts.js', 'style.css', 'vendor/preact.mjs', 'vendor/hooks.mjs', 'vendor/htm.mjs']) {
    const res = await fetch(`${base}${f}`);
    assert.equal(res.status, 200, f);
    const text = await res.text();
    assert.ok(!/from\s*["']preact["']/.test(text), `${f} imports no bare module name`);
  }
  assert.equal((await fetch(`${base}../../etc/passwd`)).status, 404);
  for (const path of ['api/traces', 'api/openapi.json', 'api/evidence/flows', 'api/devices']) {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 401, path);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await fetch(`${base}${path}`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  }
  const ok = await fetch(`${base}api/traces`, { headers: { authorization: 'Bearer s3cret' } });
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as PageResult<TraceSummary>).total, 1);
  const bad = await fetch(`${base}api/traces?limit=x`, { headers: { authorization: 'Bearer s3cret' } });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { parameter: string }).parameter, 'limit');
  assert.equal((await fetch(`${base}api/traces`, { method: 'POST', headers: { authorization: 'Bearer s3cret' } })).status, 405);
});

test('lifecycle: shutdown twice, shutdown without start', async () => {
  const make = () =>
    new UiExporter(
      { id: 'ui', logger: silentLogger(), metrics: new SelfMetrics(), evidence: undefined as never },
      uiExporterConfigSchema.parse({ endpoint: '127.0.0.1:0' }),
      'traces',
    );
  await make().shutdown();
  const e = make();
  await e.start();
  await e.shutdown();
  await e.shutdown();
});

test('TLS: the app and the API over HTTPS', async (t) => {
  const testdata = repoPath('src', 'receivers', 'otlp', 'testdata');
  const exporter = new UiExporter(
    { id: 'ui', logger: silentLogger(), metrics: new SelfMetrics(), evidence: undefined as never },
    uiExporterConfigSchema.parse({
      endpoint: '127.0.0.1:0',
      tls: { cert_file: join(testdata, 'server.crt'), key_file: join(testdata, 'server.key') },
    }),
    'traces',
  );
  await exporter.start();
  t.after(() => exporter.shutdown());
  assert.match(exporter.url!, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      httpsGet(`${exporter.url}${path}`, { ca: readFileSync(join(testdata, 'server.crt')) }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
  assert.equal((await get('')).status, 200);
  const api = await get('api/traces');
  assert.equal(api.status, 200);
  assert.equal((JSON.parse(api.body) as { total: number }).total, 0);
});

test('docs/openapi.json is the served description (regenerate it when openapi.ts changes)', () => {
  const committed = JSON.parse(readFileSync(repoPath('docs', 'openapi.json'), 'utf8')) as unknown;
  assert.deepEqual(committed, get('/api/openapi.json').body);
});
