/**
 * Golden file: a whole enriched trace as OTLP JSON (testdata/enriched-trace.golden.json).
 * Rewritten only with UPDATE_GOLDEN=1.
 *
 * The trace: a user calls the frontend (a root SERVER span whose caller is outside: no flows);
 * the frontend calls the backend (CLIENT + SERVER spans, flows on porthos and dartagnan in both
 * directions, plus a later session on the same port that must be rejected); the backend queries
 * the database (CLIENT only, flows on dartagnan).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { toOtlpJson } from '../../wire/otlp/codec.js';
import { repoPath } from '../../testutil/index.js';
import { Correlator } from './processor.js';
import {
  ARAMIS,
  ATHOS,
  config,
  CountingSource,
  DARTAGNAN,
  DB,
  flow,
  MAIN,
  sessionFlows,
  span,
  Span_SpanKind,
  T0_MS,
  traces,
  type Conn,
} from './testkit.test.util.js';

const PATH = repoPath('src', 'processors', 'correlate', 'testdata', 'enriched-trace.golden.json');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

test('golden: a whole enriched trace as OTLP JSON', async () => {
  const { CLIENT, SERVER } = Span_SpanKind;
  const root = span({
    id: 1,
    name: 'GET /checkout',
    kind: SERVER,
    startMs: -20,
    endMs: 140,
    attributes: {
      'http.request.method': 'GET',
      'client.address': '198.51.100.7',
      'client.port': 51000,
      'network.peer.address': '198.51.100.7',
      'network.peer.port': 51000,
      'network.local.address': ATHOS,
      'server.port': 443,
    },
  });
  const client = span({
    id: 2,
    parent: 1,
    name: 'GET /api/cart',
    kind: CLIENT,
    startMs: 0,
    endMs: 100,
    attributes: {
      'http.request.method': 'GET',
      'url.full': 'http://aramis:8080/api/cart',
      'server.address': 'aramis',
      'server.port': 8080,
      'network.local.port': 40000,
    },
  });
  const server = span({
    id: 3,
    parent: 2,
    name: 'GET /api/cart',
    kind: SERVER,
    startMs: 12,
    endMs: 88,
    attributes: {
      'http.request.method': 'GET',
      'url.path': '/api/cart',
      'client.address': ATHOS,
      'network.peer.address': ATHOS,
      'network.peer.port': 40000,
      'network.local.address': ARAMIS,
      'server.port': 8080,
    },
  });
  const dbConn: Conn = { src: ARAMIS, sport: 50000, dst: DB, dport: 5432 };
  const query = span({
    id: 4,
    parent: 3,
    name: 'SELECT cart',
    kind: CLIENT,
    startMs: 30,
    endMs: 70,
    attributes: {
      'db.system': 'postgresql',
      'net.peer.name': 'db',
      'net.peer.port': 5432,
      'net.sock.host.addr': ARAMIS,
      'net.sock.host.port': 50000,
      'net.transport': 'ip_tcp',
    },
  });
  const t = traces({ frontend: [root, client], backend: [server, query] });

  const records = [
    ...sessionFlows(MAIN, 5, 95, 4321),
    // The port reused by a later session, 600 ms on: found in the window, rejected.
    ...sessionFlows(MAIN, 700, 760, 999),
    flow(dbConn, {
      exporter: DARTAGNAN,
      direction: 'request',
      startMs: 31,
      endMs: 69,
      bytes: 300,
      packets: 4,
      nextHop: DB,
      inIf: 2,
      outIf: 3,
    }),
    flow(dbConn, {
      exporter: DARTAGNAN,
      direction: 'response',
      startMs: 32,
      endMs: 69,
      bytes: 5000,
      packets: 6,
      nextHop: ARAMIS,
      inIf: 3,
      outIf: 2,
    }),
  ];
  const correlator = new Correlator(config({ hosts: { db: DB } }), new CountingSource(records), () => T0_MS + 10_000);
  const report = await correlator.enrich(t);
  assert.deepEqual(report.connections, { flows: 2, no_flows: 1 });
  assert.equal(report.candidatesRejected, 4);

  const actual = JSON.parse(JSON.stringify(toOtlpJson('traces', t))) as unknown;
  if (UPDATE) writeFileSync(PATH, `${JSON.stringify(actual, null, 1)}\n`);
  assert.ok(existsSync(PATH), `${PATH} missing: run with UPDATE_GOLDEN=1 to create it`);
  assert.deepEqual(actual, JSON.parse(readFileSync(PATH, 'utf8')));
});
