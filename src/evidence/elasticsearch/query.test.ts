/**
 * The query builder: one _msearch body for a batch of connections, checked against a golden
 * file (testdata/msearch-request.ndjson, rewritten with UPDATE_GOLDEN=1) and clause by clause.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { MAX_HITS_PER_SEARCH } from './config.js';
import { msearchSearches, searchBody, sourceFields, timeClause, TIME_SOURCES, QUERY_WIDENING_MS } from './query.js';
import { QUERIES, QUERY_SETTINGS, TESTDATA, T0_MS, WINDOW_MS, fixture, ndjson, toNdjson } from './testkit.test.util.js';

const GOLDEN = `${TESTDATA}/msearch-request.ndjson`;

test('golden: the _msearch body of a batch of four connections', () => {
  const body = toNdjson(msearchSearches(QUERIES, QUERY_SETTINGS));
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(GOLDEN)) writeFileSync(GOLDEN, body);
  assert.equal(body, fixture('msearch-request.ndjson'));
  const lines = ndjson(body);
  assert.equal(lines.length, 8, 'a header and a body per connection: one request, not one per span');
  for (let i = 0; i < 8; i += 2) assert.deepEqual(lines[i], {}, 'the index is in the path, not in each header');
});

test('a search: both directions in one bool/should, the protocol as ECS keyword, the window widened by 1 s', () => {
  const q = QUERIES[0]!;
  const body = searchBody(q, QUERY_SETTINGS) as {
    size: number;
    query: { bool: { filter: Record<string, unknown>[] } };
    sort: unknown[];
    _source: { includes: string[] };
  };
  assert.equal(body.size, 1000);
  const [quartet, protocol, time, ...rest] = body.query.bool.filter;
  assert.deepEqual(quartet, {
    bool: {
      should: [
        {
          bool: {
            filter: [
              { term: { 'source.ip': '10.0.1.10' } },
              { term: { 'source.port': 40000 } },
              { term: { 'destination.ip': '10.0.2.20' } },
              { term: { 'destination.port': 8080 } },
            ],
          },
        },
        {
          bool: {
            filter: [
              { term: { 'source.ip': '10.0.2.20' } },
              { term: { 'source.port': 8080 } },
              { term: { 'destination.ip': '10.0.1.10' } },
              { term: { 'destination.port': 40000 } },
            ],
          },
        },
      ],
      minimum_should_match: 1,
    },
  });
  assert.deepEqual(protocol, { term: { 'network.iana_number': '6' } });
  assert.deepEqual(time, timeClause(q.fromUnixNano, q.toUnixNano));
  assert.deepEqual(rest, []);
  assert.ok(body._source.includes.includes('observer.ip'));
  assert.ok(body._source.includes.includes('network.community_id'), 'span_attribute_fields are fetched');
  assert.ok(body._source.includes.includes('netflow.flow_start_milliseconds'));
});

test('the time clause: the first time source a document has, else @timestamp; window ± 1 s, in epoch ms', () => {
  const from = T0_MS - WINDOW_MS - QUERY_WIDENING_MS;
  const to = T0_MS + 100 + WINDOW_MS + QUERY_WIDENING_MS;
  const clause = timeClause(QUERIES[0]!.fromUnixNano, QUERIES[0]!.toUnixNano) as {
    bool: { should: { bool: { filter: unknown[]; must_not?: unknown[] } }[]; minimum_should_match: number };
  };
  assert.equal(clause.bool.minimum_should_match, 1);
  assert.equal(clause.bool.should.length, TIME_SOURCES.length + 1);
  assert.deepEqual(clause.bool.should[0], {
    bool: {
      filter: [
        { exists: { field: 'event.start' } },
        { range: { 'event.end': { gte: from, format: 'epoch_millis' } } },
        { range: { 'event.start': { lte: to, format: 'epoch_millis' } } },
      ],
    },
  });
  assert.deepEqual(clause.bool.should[1]!.bool.must_not, [{ exists: { field: 'event.start' } }]);
  assert.deepEqual(clause.bool.should.at(-1), {
    bool: {
      filter: [{ range: { '@timestamp': { gte: from, lte: to, format: 'epoch_millis' } } }],
      must_not: TIME_SOURCES.map((t) => ({ exists: { field: t.start } })),
    },
  });
  // Sub-millisecond bounds round outward.
  const c2 = timeClause(BigInt(T0_MS) * 1_000_000n + 1n, BigInt(T0_MS) * 1_000_000n + 999_999n) as typeof clause;
  assert.deepEqual(c2.bool.should.at(-1)!.bool.filter, [
    { range: { '@timestamp': { gte: T0_MS - 1000, lte: T0_MS + 1 + 1000, format: 'epoch_millis' } } },
  ]);
});

test('options: one direction, no protocol, base_query ANDed, custom fields, the limit capped at the result window', () => {
  const q = { ...QUERIES[0]!, bothDirections: false, protocol: undefined, limit: 50_000 };
  const settings = {
    ...QUERY_SETTINGS,
    fields: {
      source_ip: 'netflow.source_ipv4_address',
      source_port: 'netflow.source_transport_port',
      destination_ip: 'netflow.destination_ipv4_address',
      destination_port: 'netflow.destination_transport_port',
    },
    deviceIdentifier: 'observer.hostname',
    baseQuery: { term: { 'data_stream.namespace': 'lab' } },
  };
  const body = searchBody(q, settings) as {
    size: number;
    query: { bool: { filter: { bool?: { should: unknown[] } }[] } };
    _source: { includes: string[] };
  };
  assert.equal(body.size, MAX_HITS_PER_SEARCH);
  const filter = body.query.bool.filter;
  assert.equal(filter[0]!.bool!.should.length, 1);
  assert.equal(filter.length, 3, 'quartet, time, base_query (no protocol)');
  assert.deepEqual(filter[2], { term: { 'data_stream.namespace': 'lab' } });
  assert.ok(JSON.stringify(filter[0]).includes('netflow.source_ipv4_address'));
  assert.ok(body._source.includes.includes('observer.hostname'));
  assert.deepEqual(sourceFields({ ...settings, protocolField: '' }).includes('network.iana_number'), true, 'still fetched for the mapping');
  const noProto = searchBody({ ...QUERIES[0]! }, { ...QUERY_SETTINGS, protocolField: '' }) as { query: { bool: { filter: unknown[] } } };
  assert.equal(noProto.query.bool.filter.length, 2, 'protocol_field "" leaves the protocol out');
});
