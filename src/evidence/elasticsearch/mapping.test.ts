/**
 * Response mapping, against the constructed fixtures (testdata/PROVENANCE.md): Elastic Agent
 * NetFlow documents → flow records → matches with the FlowStore rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  documentFlows,
  getField,
  mapMsearchResponses,
  matchHits,
  newMappingStats,
  parseTimeNs,
  type MsearchItem,
  type SearchFailure,
} from './mapping.js';
import { MAPPING_SETTINGS, QUERIES, T0_MS, at, fixtureJson } from './testkit.test.util.js';

const response = fixtureJson<{ responses: MsearchItem[] }>('msearch-response.json');
const documents = fixtureJson<Record<string, unknown>>('netflow-documents.json');

test('the fixture response: per connection, both directions, exact window, biflows, a failed search', () => {
  const stats = newMappingStats();
  const failures: SearchFailure[] = [];
  const out = mapMsearchResponses(QUERIES, response.responses, MAPPING_SETTINGS, stats, failures);
  assert.equal(out.length, 4);

  const lab = out[0]!;
  assert.deepEqual(
    lab.map((m) => [m.direction, m.flow.samplerAddress, m.flow.bytes, m.flow.timeResolutionNano, m.flow.type]),
    [
      ['request', '192.0.2.1', 1234, 1e9, 'netflow_v9'],
      ['request', '192.0.2.2', 1234, 1e6, 'ipfix'],
      ['response', '192.0.2.2', 5678, 1e6, 'ipfix'],
      ['response', '192.0.2.1', 5678, 1e9, 'netflow_v9'],
      ['request', '192.0.2.1', 987, 1e9, 'netflow_v9'],
    ],
    'in start order; the flow that ended before the window is dropped by the exact rule',
  );
  const porthos = lab[0]!.flow;
  assert.equal(porthos.sourceAddress, '10.0.1.10');
  assert.equal(porthos.sourcePort, 40000);
  assert.equal(porthos.destinationAddress, '10.0.2.20');
  assert.equal(porthos.destinationPort, 8080);
  assert.equal(porthos.protocol, 6);
  assert.equal(porthos.ipVersion, 4);
  assert.equal(porthos.startUnixNano, at(4));
  assert.equal(porthos.endUnixNano, at(97));
  assert.equal(porthos.packets, 7);
  assert.equal(porthos.tcpFlags, 0x1b);
  assert.equal(porthos.inputInterface, 1);
  assert.equal(porthos.outputInterface, 2);
  assert.equal(porthos.nextHop, '10.0.12.2');
  assert.equal(porthos.observationDomainId, 0);
  assert.equal(porthos.exportTimeUnixNano, at(2000));
  assert.deepEqual(porthos.fields, { 'network.community_id': '1:T9FHTZKOy58JtEfn72JwS9vc4Fo=', 'netflow.ip_class_of_service': 0 });
  const dartagnan = lab[1]!.flow;
  assert.equal(dartagnan.startUnixNano, at(5), 'netflow.flow_start_milliseconds when there is no event.start');
  assert.equal(dartagnan.endUnixNano, at(98));
  assert.equal(dartagnan.observationDomainId, 256);

  assert.deepEqual(out[1], [], 'a connection without flows');

  const v6 = out[2]!;
  assert.deepEqual(
    v6.map((m) => [m.direction, m.flow.sourceAddress, m.flow.sourcePort, m.flow.bytes, m.flow.packets, m.flow.biflowDirection]),
    [
      ['request', '2001:db8:1::10', 40002, 2048, 9, 'forward'],
      ['response', '2001:db8:2::20', 443, 16384, 14, 'reverse'],
    ],
    'an RFC 5103 biflow document gives a record per direction',
  );
  assert.equal(v6[0]!.flow.timeResolutionNano, 1e3, 'microsecond IPFIX times');
  assert.equal(v6[0]!.flow.startUnixNano, at(10.25));
  assert.equal(v6[0]!.flow.endUnixNano, at(180.5));
  assert.equal(v6[0]!.flow.ipVersion, 6);
  assert.equal(v6[0]!.flow.flowDirection, 0);
  assert.equal(v6[0]!.flow.samplerAddress, '192.0.2.3');

  assert.equal(out[3], undefined, 'the rejected search leaves only its connection without evidence');
  assert.deepEqual(
    failures.map((f) => [f.index, f.status]),
    [[3, 429]],
  );
  assert.match(failures[0]!.reason, /^es_rejected_execution_exception: rejected execution/);
  assert.deepEqual(stats, { hits: 7, unusable: 0, filtered: 1 });
});

test('every constructed document maps to flow records', () => {
  for (const [name, doc] of Object.entries(documents)) {
    const records = documentFlows(doc, MAPPING_SETTINGS);
    assert.ok(records && records.length >= 1, name);
    for (const r of records) {
      assert.ok(r.startUnixNano > 0n && r.endUnixNano >= r.startUnixNano, name);
      assert.equal(r.protocol, 6, name);
    }
  }
});

test('limit, protocol, one direction and address forms follow the store rules', () => {
  const hits = response.responses[0]!.hits!.hits!;
  assert.equal(matchHits({ ...QUERIES[0]!, limit: 2 }, hits, MAPPING_SETTINGS).length, 2);
  assert.equal(matchHits({ ...QUERIES[0]!, protocol: 17 }, hits, MAPPING_SETTINGS).length, 0);
  assert.deepEqual(
    matchHits({ ...QUERIES[0]!, bothDirections: false }, hits, MAPPING_SETTINGS).map((m) => m.direction),
    ['request', 'request', 'request'],
  );
  // The query written the other way round: the same flows, directions swapped.
  const reversed = {
    ...QUERIES[0]!,
    sourceAddress: '10.0.2.20',
    sourcePort: 8080,
    destinationAddress: '10.0.1.10',
    destinationPort: 40000,
  };
  assert.deepEqual(
    matchHits(reversed, hits, MAPPING_SETTINGS).map((m) => m.direction),
    ['response', 'response', 'request', 'request', 'response'],
  );
  // An IPv4-mapped query address compares by value.
  assert.equal(matchHits({ ...QUERIES[0]!, sourceAddress: '::ffff:10.0.1.10' }, hits, MAPPING_SETTINGS).length, 5);
});

test('documents without a usable quartet or time are skipped and counted; dotted keys and arrays are read', () => {
  const stats = newMappingStats();
  const hits = [
    { _source: { source: { ip: 'not-an-ip', port: 1 }, destination: { ip: '10.0.0.2', port: 2 }, '@timestamp': '2024-05-14T09:30:12Z' } },
    { _source: { source: { ip: '10.0.0.1', port: 1 }, destination: { ip: '10.0.0.2', port: 2 } } },
    {
      _source: {
        'source.ip': '10.0.0.1',
        'source.port': '1',
        'destination.ip': ['10.0.0.2'],
        'destination.port': 2,
        '@timestamp': 1715679012000,
        'network.transport': 'udp',
        'netflow.exporter.address': '[2001:db8::9]:2055',
      },
    },
  ];
  const q = { ...QUERIES[0]!, sourceAddress: '10.0.0.1', sourcePort: 1, destinationAddress: '10.0.0.2', destinationPort: 2, protocol: 17 };
  const out = matchHits(q, hits, MAPPING_SETTINGS, stats);
  assert.deepEqual(stats, { hits: 3, unusable: 2, filtered: 0 });
  assert.equal(out.length, 1);
  const f = out[0]!.flow;
  assert.equal(f.protocol, 17, 'network.transport by name');
  assert.equal(f.samplerAddress, '2001:db8::9', 'netflow.exporter.address without the port when there is no observer.ip');
  assert.equal(f.timeResolutionNano, 1e9, '@timestamp only: export time at 1 s');
  assert.equal(f.startUnixNano, BigInt(T0_MS) * 1_000_000n);
});

test('getField and parseTimeNs', () => {
  assert.equal(getField({ a: { b: { c: 1 } } }, 'a.b.c'), 1);
  assert.equal(getField({ 'a.b': { c: 2 } }, 'a.b.c'), 2);
  assert.equal(getField({ a: { 'b.c': 3 } }, 'a.b.c'), 3);
  assert.equal(getField({ a: 1 }, 'a.b'), undefined);
  const ns = BigInt(T0_MS) * 1_000_000n;
  assert.equal(parseTimeNs('2024-05-14T09:30:12Z'), ns);
  assert.equal(parseTimeNs('2024-05-14T09:30:12.123456789Z'), ns + 123_456_789n);
  assert.equal(parseTimeNs('2024-05-14T11:30:12.5+02:00'), ns + 500_000_000n);
  assert.equal(parseTimeNs('2024-05-14T11:30:12+0200'), ns);
  assert.equal(parseTimeNs('2024-05-14T09:30:12.004'), ns + 4_000_000n, 'no zone: UTC, as Elasticsearch reads it');
  assert.equal(parseTimeNs(T0_MS + 0.25), ns + 250_000n);
  assert.equal(parseTimeNs(String(T0_MS)), ns);
  assert.equal(parseTimeNs(['2024-05-14T09:30:12Z']), ns);
  assert.equal(parseTimeNs('yesterday'), undefined);
  assert.equal(parseTimeNs(null), undefined);
});
