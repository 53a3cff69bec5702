/**
 * `ipfix_lookup`: the thesis's processor config accepted as written, mapped onto correlate,
 * reading an Elasticsearch flow index (a fake node serving the constructed fixtures of
 * src/evidence/elasticsearch/testdata) and naming spans as the thesis did.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { FACTORIES } from '../../components.js';
import { validateServiceConfig } from '../../core/config/service.js';
import { parseYaml } from '../../core/config/load.js';
import { ConfigError } from '../../core/errors.js';
import { RecordingConsumer, testSettings } from '../../testutil/index.js';
import { DEFAULT_CLIENT_KEYS, DEFAULT_SERVER_KEYS, DEFAULT_WINDOW_MS } from './config.js';
import { correlateFactory, ipfixLookupFactory } from './factory.js';
import { ipfixLookupConfigSchema } from './thesis-config.js';
import { fakeNode, fixture, fixtureJson, ndjson, QUERIES, T0_MS, type FakeNode } from '../../evidence/elasticsearch/testkit.test.util.js';
import { attr, span, Span_SpanKind, synthesized, traces } from './testkit.test.util.js';

/** The thesis's example, as its README showed it. */
const THESIS_YAML = `
processors:
  ipfix_lookup:
    elastic_search:
      connection:
        addresses: [https://localhost:9200]
        username: elastic
        password: changeme
        certificate_fingerprint: "55:4D:BD:39:75:37:BA:00:3F:F3:20:C0:86:8C:13:CB:8B:9F:BF:75:F0:35:9F:A6:22:30:FA:8A:3E:D2:CD:EA"
    timing:
      lookup_window: 25s
    query_parameters:
      base_query:
        bool:
          filter: [{ term: { data_stream.dataset: netflow.log } }]
      device_identifier: observer.ip
      lookup_fields:
        source_ip: source.ip
        source_port: source.port
        destination_ip: destination.ip
        destination_port: destination.port
    span_attribute_fields: [network.community_id, netflow.ip_class_of_service]
    spans:
      span_fields:
        source_ips: [net.sock.host.addr, src.ip]
        source_ports: [net.sock.host.port, src.port]
        destination_ip_and_port: [http.host]
        destination_ips: [net.sock.peer.addr, dst.ip]
        destination_ports: [net.sock.peer.port, dst.port]
`;

const thesisBlock = () =>
  (parseYaml(THESIS_YAML, 'thesis.yaml') as { processors: { ipfix_lookup: Record<string, unknown> } }).processors.ipfix_lookup;

test('the thesis config maps onto correlate: Elasticsearch source, window, key lists, thesis span shape', () => {
  const c = ipfixLookupConfigSchema.parse(thesisBlock());
  assert.equal(c.thesis_span_shape, true);
  assert.equal(c.window, 25_000);
  const es = c.elasticsearch!;
  assert.deepEqual(es.endpoints, ['https://localhost:9200']);
  assert.equal(es.username, 'elastic');
  assert.equal(es.password, 'changeme');
  assert.equal(
    es.tls.certificate_fingerprint,
    '55:4D:BD:39:75:37:BA:00:3F:F3:20:C0:86:8C:13:CB:8B:9F:BF:75:F0:35:9F:A6:22:30:FA:8A:3E:D2:CD:EA',
  );
  assert.equal(es.device_identifier, 'observer.ip');
  assert.deepEqual(es.lookup_fields, {
    source_ip: 'source.ip',
    source_port: 'source.port',
    destination_ip: 'destination.ip',
    destination_port: 'destination.port',
  });
  assert.deepEqual(es.base_query, { bool: { filter: [{ term: { 'data_stream.dataset': 'netflow.log' } }] } });
  assert.equal(es.index, 'logs-netflow.log-*');
  assert.deepEqual(c.span_attribute_fields, ['network.community_id', 'netflow.ip_class_of_service']);
  for (const side of [c.attributes.client, c.attributes.other]) {
    assert.deepEqual(side.source_address, ['net.sock.host.addr', 'src.ip']);
    assert.deepEqual(side.source_port, ['net.sock.host.port', 'src.port']);
    assert.deepEqual(side.destination_address, ['net.sock.peer.addr', 'dst.ip']);
    assert.deepEqual(side.destination_port, ['net.sock.peer.port', 'dst.port']);
    assert.deepEqual(side.destination_host, ['http.host']);
  }
  assert.deepEqual(c.attributes.client.destination_url, DEFAULT_CLIENT_KEYS.destination_url);
  assert.deepEqual(c.attributes.server.source_address, DEFAULT_SERVER_KEYS.source_address, 'SERVER spans keep netspan keys');

  // Defaults: everything but the connection is optional; no elastic_search → the collector's store.
  const minimal = ipfixLookupConfigSchema.parse({ elastic_search: { connection: { addresses: ['http://127.0.0.1:9200'] } } });
  assert.equal(minimal.window, DEFAULT_WINDOW_MS);
  assert.equal(minimal.elasticsearch!.device_identifier, 'observer.ip');
  assert.deepEqual(minimal.attributes.client.source_address, DEFAULT_CLIENT_KEYS.source_address);
  const storeOnly = ipfixLookupConfigSchema.parse({});
  assert.equal(storeOnly.elasticsearch, undefined);
  assert.equal(storeOnly.thesis_span_shape, true);
});

test('the correlate block (netspan extension) adds and overrides options', () => {
  const c = ipfixLookupConfigSchema.parse({
    ...thesisBlock(),
    correlate: {
      clock_skew: '10ms',
      thesis_span_shape: false,
      devices: { '192.0.2.1': { name: 'porthos' } },
      elasticsearch: { index: 'flows-*' },
    },
  });
  assert.equal(c.clock_skew, 10);
  assert.equal(c.thesis_span_shape, false);
  assert.equal(c.devices['192.0.2.1']!.name, 'porthos');
  assert.equal(c.elasticsearch!.index, 'flows-*');
  assert.equal(c.elasticsearch!.username, 'elastic', 'merged, not replaced');
});

function problems(block: unknown): string[] {
  const raw = {
    receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:0' } } } },
    processors: { ipfix_lookup: block },
    exporters: { debug: {} },
    service: { pipelines: { traces: { receivers: ['otlp'], processors: ['ipfix_lookup'], exporters: ['debug'] } } },
  };
  try {
    validateServiceConfig(raw, [...FACTORIES.filter((f) => f.type !== 'ipfix_lookup'), ipfixLookupFactory]);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

test('validation: unknown keys and bad values are reported at their thesis path, all at once', () => {
  assert.deepEqual(problems(thesisBlock()), []);
  const bad = thesisBlock() as Record<string, Record<string, unknown>>;
  const got = problems({
    ...bad,
    elastic_search: { connection: { addresses: ['localhost:9200'], usernme: 'elastic', certificate_fingerprint: 'abc' } },
    timing: { lookup_window: 'soon' },
    query_parameters: { device_identifier: '', lookup_fields: { source_address: 'x' } },
    spans: { span_fields: { source_ips: 'net.sock.host.addr', destination_port: ['x'] } },
    span_attribute_fields: [1],
    extra: true,
    correlate: { devices: { 'not-an-ip': {} }, clock_skew: '-1s' },
  });
  const expect = [
    'processors.ipfix_lookup.extra: unknown key',
    'processors.ipfix_lookup.elastic_search.connection.usernme: unknown key',
    'processors.ipfix_lookup.query_parameters.lookup_fields.source_address: unknown key',
    'processors.ipfix_lookup.spans.span_fields.destination_port: unknown key',
    'processors.ipfix_lookup.elastic_search.connection.addresses.0:',
    'processors.ipfix_lookup.elastic_search.connection.certificate_fingerprint:',
    'processors.ipfix_lookup.query_parameters.device_identifier:',
    'processors.ipfix_lookup.timing.lookup_window:',
    'processors.ipfix_lookup.spans.span_fields.source_ips:',
    'processors.ipfix_lookup.span_attribute_fields.0:',
    'processors.ipfix_lookup.correlate.devices.not-an-ip:',
    'processors.ipfix_lookup.correlate.clock_skew:',
  ];
  for (const e of expect)
    assert.ok(
      got.some((g) => g.startsWith(e)),
      `expected a problem "${e}…", got:\n  ${got.join('\n  ')}`,
    );
  assert.ok(
    problems({ query_parameters: { device_identifier: 'observer.ip' } }).some((p) =>
      p.startsWith('processors.ipfix_lookup.query_parameters: query_parameters describe'),
    ),
  );
  assert.ok(
    problems({ elastic_search: { connection: {} } }).some((p) =>
      p.startsWith('processors.ipfix_lookup.elastic_search.connection.addresses:'),
    ),
  );
});

// End to end: the thesis config, the official client, a fake node answering with the fixtures.

const nodes: FakeNode[] = [];
after(() => Promise.all(nodes.map((n) => n.close())));

const RESPONSES = fixtureJson<{ responses: unknown[] }>('msearch-response.json').responses;

/** The quartet a search body asks for (its first term set), as "sip|sport|dip|dport". */
function quartetOf(body: unknown): string {
  const terms = (
    body as { query: { bool: { filter: { bool: { should: { bool: { filter: { term: Record<string, unknown> }[] } }[] } }[] } } }
  ).query.bool.filter[0]!.bool.should[0]!.bool.filter;
  return terms.map((t) => String(Object.values(t.term)[0])).join('|');
}

async function esNode(): Promise<FakeNode> {
  const n = await fakeNode();
  nodes.push(n);
  // Each search is answered with the fixture's answer for the same connection (unknown ones: no hits).
  const known = QUERIES.map((q) => `${q.sourceAddress}|${q.sourcePort}|${q.destinationAddress}|${q.destinationPort}`);
  n.respond = (req, res) => {
    const lines = ndjson(req.body);
    const responses: unknown[] = [];
    for (let i = 1; i < lines.length; i += 2) {
      const k = known.indexOf(quartetOf(lines[i]));
      responses.push(k >= 0 ? RESPONSES[k] : { hits: { hits: [] }, status: 200 });
    }
    res
      .writeHead(200, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' })
      .end(JSON.stringify({ took: 1, responses }));
  };
  return n;
}

/** Spans at the fixtures' time (T0 = 2024-05-14T09:30:12Z), with the thesis's attribute keys. */
const ms = (x: number) => x + (T0_MS - 1_700_000_000_000);

function thesisTraces() {
  const { CLIENT, SERVER, INTERNAL } = Span_SpanKind;
  // Trace 1: a Go client and server with the older semantic conventions (net.sock.*).
  const client = span({
    trace: 1,
    id: 2,
    name: 'HTTP GET',
    kind: CLIENT,
    startMs: ms(0),
    endMs: ms(100),
    attributes: {
      'net.sock.host.addr': '10.0.1.10',
      'net.sock.host.port': 40000,
      'net.sock.peer.addr': '10.0.2.20',
      'net.sock.peer.port': 8080,
    },
  });
  const server = span({
    trace: 1,
    id: 3,
    parent: 2,
    name: 'GET /api/cart',
    kind: SERVER,
    startMs: ms(10),
    endMs: ms(90),
    attributes: {
      'net.sock.peer.addr': '10.0.1.10',
      'net.sock.peer.port': 40000,
      'net.sock.host.addr': '10.0.2.20',
      'net.host.port': 8080,
    },
  });
  // Trace 2: an INTERNAL span with the thesis's own src/dst keys, IPv6 through the firewall.
  const internal = span({
    trace: 2,
    id: 4,
    name: 'tls call',
    kind: INTERNAL,
    startMs: ms(0),
    endMs: ms(200),
    attributes: { 'src.ip': '2001:db8:1::10', 'src.port': 40002, 'dst.ip': '2001:db8:2::20', 'dst.port': 443 },
  });
  // Trace 3: a client known by http.host; the cluster rejects its search.
  const rejected = span({
    trace: 3,
    id: 5,
    name: 'HTTP GET',
    kind: CLIENT,
    startMs: ms(0),
    endMs: ms(100),
    attributes: { 'net.sock.host.addr': '10.0.1.10', 'net.sock.host.port': 40003, 'http.host': '10.0.2.20:8080' },
  });
  return { client, server, t: traces({ shop: [client, server, internal, rejected] }) };
}

test('end to end: ipfix_lookup reads the index with one _msearch and adds the thesis span shape', async () => {
  const n = await esNode();
  const block = thesisBlock() as { elastic_search: { connection: Record<string, unknown> } };
  block.elastic_search.connection = { addresses: [n.url], username: 'elastic', password: 'changeme' };
  const config = ipfixLookupConfigSchema.parse({ ...block, elastic_search: { ...block.elastic_search, max_retries: 0 } });
  const settings = testSettings('ipfix_lookup');
  const next = new RecordingConsumer<'traces'>();
  const processor = ipfixLookupFactory.create(settings, config, 'traces', next);
  await processor.start();
  const { client, server, t } = thesisTraces();
  await processor.consume(t);
  await processor.shutdown();
  await processor.shutdown();

  assert.equal(n.requests.length, 1, 'one request for the batch (3 connections), not one per span or per direction');
  assert.equal(n.requests[0]!.headers.authorization, `Basic ${Buffer.from('elastic:changeme').toString('base64')}`);
  assert.match(n.requests[0]!.body, /"data_stream.dataset":"netflow.log"/, 'base_query ANDed');

  const out = synthesized(next.received[0]!);
  const names = (trace: number) => out.filter((s) => s.traceId[15] === trace).map((s) => s.name);
  assert.deepEqual(names(1), [
    '10.0.1.10:40000-10.0.2.20:8080',
    'Request - 192.0.2.1',
    'Request - 192.0.2.2',
    'Response - 192.0.2.2',
    'Response - 192.0.2.1',
  ]);
  const summary = out[0]!;
  assert.equal(summary.parentSpanId.toString(), client.spanId.toString());
  assert.equal(server.parentSpanId.toString(), summary.spanId.toString(), 'client → network → server');
  assert.equal(attr(summary, 'netspan.candidates.rejected'), 1, 'the later session on the same port');
  assert.equal(attr(summary, 'netspan.candidates.ambiguous'), 0);
  assert.deepEqual(attr(summary, 'netspan.evidence'), ['client_server_pair', 'ipfix', 'netflow_v9']);
  const porthos = out.find((s) => s.name === 'Request - 192.0.2.1')!;
  assert.equal(attr(porthos, 'flow.io.bytes'), 1234);
  assert.equal(attr(porthos, 'flow.time_resolution_ns'), 1e9);
  assert.equal(attr(porthos, 'network.community_id'), '1:T9FHTZKOy58JtEfn72JwS9vc4Fo=', 'span_attribute_fields copied');
  assert.equal(attr(porthos, 'netflow.ip_class_of_service'), 0);

  assert.deepEqual(names(2), ['[2001:db8:1::10]:40002-[2001:db8:2::20]:443', 'Request - 192.0.2.3', 'Response - 192.0.2.3']);
  const fw = out.find((s) => s.name === 'Response - 192.0.2.3')!;
  assert.equal(attr(fw, 'flow.io.bytes'), 16384, 'the reverse half of the biflow');
  assert.equal(attr(fw, 'netflow.ip_class_of_service'), 40);

  assert.deepEqual(names(3), ['10.0.1.10:40003-10.0.2.20:8080']);
  assert.equal(
    attr(
      out.find((s) => s.traceId[15] === 3)!,
      'netspan.no_evidence.reason',
    ),
    'evidence_error',
    'only the rejected search goes without evidence',
  );
  assert.equal(await settings.metrics.value('netspan_correlate_lookup_failures_total', { processor: 'ipfix_lookup' }), 1);
  assert.equal(await settings.metrics.value('netspan_evidence_elasticsearch_requests_total', { source: 'ipfix_lookup', outcome: 'ok' }), 1);
});

test('end to end over TLS with the pinned CA fingerprint; a cluster that is down leaves evidence_error', async () => {
  const ca = fixture('tls/ca.crt');
  const n = await fakeNode({ cert: fixture('tls/server.crt') + ca, key: fixture('tls/server.key') });
  nodes.push(n);
  n.respond = (await esNode()).respond;
  const config = ipfixLookupConfigSchema.parse({
    elastic_search: { connection: { addresses: [n.url], certificate_fingerprint: new X509Certificate(ca).fingerprint256 }, max_retries: 0 },
    timing: { lookup_window: '25s' },
  });
  const next = new RecordingConsumer<'traces'>();
  const p = ipfixLookupFactory.create(testSettings('ipfix_lookup'), config, 'traces', next);
  await p.consume(thesisTraces().t);
  assert.equal(n.requests.length, 1);
  assert.equal(synthesized(next.received[0]!).filter((s) => s.name.startsWith('Request - ')).length, 3);
  await p.shutdown();

  const down = ipfixLookupFactory.create(
    testSettings('ipfix_lookup'),
    ipfixLookupConfigSchema.parse({ elastic_search: { connection: { addresses: ['http://127.0.0.1:1'] }, max_retries: 0, timeout: '1s' } }),
    'traces',
    next,
  );
  await down.consume(thesisTraces().t);
  const reasons = synthesized(next.received[1]!)
    .filter((s) => s.name.includes('-'))
    .map((s) => attr(s, 'netspan.no_evidence.reason'));
  assert.deepEqual(reasons, ['evidence_error', 'evidence_error', 'evidence_error']);
  await down.shutdown();
});

test('lifecycle: ipfix_lookup and correlate with an elasticsearch block start and shut down (twice, or without start)', async () => {
  const es = { elastic_search: { connection: { addresses: ['http://127.0.0.1:1'] } } };
  for (const [factory, raw] of [
    [ipfixLookupFactory, es],
    [correlateFactory, { elasticsearch: { endpoints: ['http://127.0.0.1:1'] } }],
  ] as const) {
    const config = factory.configSchema.parse(raw);
    const a = factory.create(testSettings(factory.type), config, 'traces', new RecordingConsumer());
    await a.start();
    await a.shutdown();
    await a.shutdown();
    const b = factory.create(testSettings(factory.type), config, 'traces', new RecordingConsumer());
    await b.shutdown();
    await b.shutdown();
  }
  assert.equal(ipfixLookupFactory.type, 'ipfix_lookup');
  assert.deepEqual(ipfixLookupFactory.signals, ['traces']);
  assert.throws(() => ipfixLookupFactory.create(testSettings('x'), ipfixLookupConfigSchema.parse({}), 'logs', new RecordingConsumer()));
});
