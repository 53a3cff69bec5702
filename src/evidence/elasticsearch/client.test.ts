/**
 * The official client end to end against a fake node on 127.0.0.1:0: the request it sends
 * (path, media types, authorization, the ndjson body) and what the source makes of the fixture
 * response; product check, failures, batching, TLS with a CA file or a pinned CA fingerprint.
 * No Elasticsearch server runs here; the fixtures are constructed (testdata/PROVENANCE.md).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { SelfMetrics } from '../../core/telemetry/metrics.js';
import { ElasticsearchFlowSource, SearchFailuresError } from './source.js';
import { fetchPinnedCertificate, normalizeFingerprint } from './tls.js';
import {
  EXTRA_FIELDS,
  QUERIES,
  QUERY_SETTINGS,
  TESTDATA,
  answerFixture,
  fakeNode,
  fixture,
  fixtureJson,
  ndjson,
  sourceConfig,
  toNdjson,
  type FakeNode,
} from './testkit.test.util.js';
import { msearchSearches } from './query.js';

const nodes: FakeNode[] = [];
const sources: ElasticsearchFlowSource[] = [];
after(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await Promise.all(nodes.map((n) => n.close()));
});

async function node(tls?: { cert: string; key: string }): Promise<FakeNode> {
  const n = await fakeNode(tls);
  nodes.push(n);
  return n;
}

function source(config: Record<string, unknown>, metrics?: SelfMetrics): ElasticsearchFlowSource {
  const s = new ElasticsearchFlowSource(sourceConfig(config), {
    extraFields: EXTRA_FIELDS,
    ...(metrics ? { metrics, id: 'ipfix_lookup' } : {}),
  });
  sources.push(s);
  return s;
}

const GOLDEN_LINES = fixture('msearch-request.ndjson')
  .split('\n')
  .filter((l) => l !== '');
const RESPONSES = fixtureJson<{ responses: unknown[] }>('msearch-response.json').responses;

/** Answers each search of a request with the fixture's answer to the same search (batching tests). */
function answerBySearch(n: FakeNode): void {
  n.respond = (req, res) => {
    const lines = req.body.split('\n').filter((l) => l !== '');
    const responses: unknown[] = [];
    for (let i = 1; i < lines.length; i += 2) responses.push(RESPONSES[(GOLDEN_LINES.indexOf(lines[i]!) - 1) / 2]);
    res
      .writeHead(200, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' })
      .end(JSON.stringify({ took: 1, responses }));
  };
}

test('one _msearch per batch: path, media types, basic auth, the ndjson body; the fixture mapped per connection', async () => {
  const n = await node();
  const metrics = new SelfMetrics();
  const s = source({ endpoints: [n.url], username: 'elastic', password: 'changeme' }, metrics);
  const out = await s.lookup(QUERIES);

  assert.equal(n.requests.length, 1, 'four connections, one request');
  const req = n.requests[0]!;
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/logs-netflow.log-*/_msearch');
  assert.equal(req.headers['content-type'], 'application/x-ndjson');
  assert.equal(req.headers.accept, 'application/json');
  assert.equal(req.headers.authorization, `Basic ${Buffer.from('elastic:changeme').toString('base64')}`);
  assert.match(String(req.headers['user-agent']), /^elasticsearch-js\//, 'the official client sent it');
  assert.equal(req.body, toNdjson(msearchSearches(QUERIES, QUERY_SETTINGS)));
  assert.equal(req.body, fixture('msearch-request.ndjson'));

  assert.equal(out.length, 4);
  assert.equal(out[0]!.length, 5);
  assert.deepEqual(out[1], []);
  assert.equal(out[2]!.length, 2);
  assert.equal(out[3], undefined);
  assert.equal(s.kind, 'elasticsearch');
  assert.equal(s.retentionMs, undefined);
  assert.deepEqual(
    { requests: s.stats.requests, searches: s.stats.searches, failed: s.stats.failedSearches, hits: s.stats.hits },
    { requests: 1, searches: 4, failed: 1, hits: 7 },
  );
  assert.equal(await metrics.value('netspan_evidence_elasticsearch_requests_total', { outcome: 'ok' }), 1);
  assert.equal(await metrics.value('netspan_evidence_elasticsearch_search_failures_total'), 1);
  assert.equal(await metrics.value('netspan_evidence_elasticsearch_hits_total'), 7);

  // FlowStore read side: queryMany insists on every answer; query() of a good one works.
  await assert.rejects(s.queryMany(QUERIES), SearchFailuresError);
  assert.equal((await s.query(QUERIES[0]!)).length, 5);
});

test('an API key is sent as Authorization: ApiKey', async () => {
  const n = await node();
  const s = source({ endpoints: [n.url], api_key: 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==' });
  await s.lookup(QUERIES.slice(0, 1));
  assert.equal(n.requests[0]!.headers.authorization, 'ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==');
});

test('max_searches_per_request splits a large batch into requests sent together; answers stay in query order', async () => {
  const n = await node();
  answerBySearch(n);
  const s = source({ endpoints: [n.url], max_searches_per_request: 3 });
  const out = await s.lookup(QUERIES);
  assert.equal(n.requests.length, 2);
  assert.deepEqual(n.requests.map((r) => ndjson(r.body).length / 2).sort(), [1, 3]);
  assert.deepEqual(
    out.map((a) => a?.length),
    [5, 0, 2, undefined],
  );
});

test('product check: a server without x-elastic-product is refused as Elasticsearch, accepted as OpenSearch', async () => {
  const n = await node();
  n.respond = answerFixture('msearch-response.json', null);
  await assert.rejects(source({ endpoints: [n.url] }).lookup(QUERIES), /_msearch failed: .*not Elasticsearch/);
  const os = source({ endpoints: [n.url], product: 'opensearch' });
  assert.equal(os.kind, 'opensearch');
  const out = await os.lookup(QUERIES);
  assert.equal(out[0]!.length, 5);
  assert.equal(
    n.requests.at(-1)!.headers['content-type'],
    'application/x-ndjson',
    'plain media types, which OpenSearch and every Elasticsearch version accept',
  );
});

test('a failed request rejects the lookup (the processor then passes the batch on with evidence_error)', async () => {
  const n = await node();
  n.respond = (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' }).end(
      JSON.stringify({
        error: { type: 'cluster_block_exception', reason: 'blocked by: [SERVICE_UNAVAILABLE/2/no master];' },
        status: 503,
      }),
    );
  };
  const metrics = new SelfMetrics();
  const s = source({ endpoints: [n.url] }, metrics);
  await assert.rejects(
    s.lookup(QUERIES),
    (err: Error & { code?: string }) => err.code === 'EVIDENCE_LOOKUP_FAILED' && /cluster_block_exception|503/.test(err.message),
  );
  assert.equal(await metrics.value('netspan_evidence_elasticsearch_requests_total', { outcome: 'failed' }), 1);
  // Nothing listening.
  const closed = await node();
  const url = closed.url;
  await closed.close();
  await assert.rejects(source({ endpoints: [url] }).lookup(QUERIES), /EVIDENCE_LOOKUP_FAILED|_msearch failed/);
});

test('close: idempotent; no lookup afterwards', async () => {
  const n = await node();
  const s = source({ endpoints: [n.url] });
  await s.lookup(QUERIES.slice(0, 1));
  await s.close();
  await s.close();
  await assert.rejects(s.lookup(QUERIES), /closed/);
  const never = source({ endpoints: [n.url] });
  await never.close();
});

const TLS = `${TESTDATA}/tls`;
const CA = fixture('tls/ca.crt');
const CA_FINGERPRINT = new X509Certificate(CA).fingerprint256;
const SERVER = { cert: fixture('tls/server.crt') + CA, key: fixture('tls/server.key') };

test('TLS: CA file, pinned CA fingerprint (with or without colons), insecure_skip_verify', async () => {
  const n = await node(SERVER);
  assert.ok(n.url.startsWith('https://127.0.0.1:'));
  assert.equal((await source({ endpoints: [n.url], tls: { ca_file: `${TLS}/ca.crt` } }).lookup(QUERIES))[0]!.length, 5);
  assert.equal((await source({ endpoints: [n.url], tls: { certificate_fingerprint: CA_FINGERPRINT } }).lookup(QUERIES))[0]!.length, 5);
  const bare = normalizeFingerprint(CA_FINGERPRINT).toUpperCase();
  assert.equal((await source({ endpoints: [n.url], tls: { certificate_fingerprint: bare } }).lookup(QUERIES))[0]!.length, 5);
  assert.equal((await source({ endpoints: [n.url], tls: { insecure_skip_verify: true } }).lookup(QUERIES))[0]!.length, 5);
  // The system CAs do not know this one.
  await assert.rejects(source({ endpoints: [n.url] }).lookup(QUERIES), /_msearch failed/);
});

test('TLS: a wrong fingerprint, and an impostor presenting the real CA beside its own certificate, are refused', async () => {
  const n = await node(SERVER);
  await assert.rejects(
    source({ endpoints: [n.url], tls: { certificate_fingerprint: 'ab'.repeat(32) } }).lookup(QUERIES),
    /certificate_fingerprint: .*no certificate presented .* has the SHA-256 fingerprint/,
  );
  // The CA certificate is public: presenting it proves nothing. The impostor's certificate names
  // the real CA as issuer (same name, no key identifiers), so the presented chain links up and
  // the pinned CA is found in it; only verifying the chain against that CA exposes the forgery.
  const impostor = await node({ cert: fixture('tls/impostor.crt') + CA, key: fixture('tls/impostor.key') });
  assert.equal(await fetchPinnedCertificate(new URL(impostor.url), CA_FINGERPRINT, 2_000), new X509Certificate(CA).toString());
  const s = source({ endpoints: [impostor.url], tls: { certificate_fingerprint: CA_FINGERPRINT } });
  await assert.rejects(s.lookup(QUERIES), /certificate signature failure/);
  assert.equal(impostor.requests.length, 0, 'nothing was sent to the impostor');
});
