/** The read-only listing methods the UI added to the evidence stores. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFlowStore } from '../evidence/memory/store.js';
import { MemoryObservationStore } from '../evidence/observations/store.js';
import { SelfMetrics } from '../core/telemetry/metrics.js';
import type { FlowRecord } from '../model/flow.js';
import { demoRequest } from '../demo/scenario.js';

const T0 = 1_800_000_000_000;
const ns = (ms: number) => BigInt(ms) * 1_000_000n;

const flow = (i: number): FlowRecord => ({
  type: 'netflow_v5',
  samplerAddress: '192.0.2.1',
  observationDomainId: 0,
  sequenceNumber: i,
  exportTimeUnixNano: ns(T0),
  sourceAddress: '10.0.0.1',
  sourcePort: 1000 + i,
  destinationAddress: '10.0.0.2',
  destinationPort: 80,
  protocol: 6,
  ipVersion: 4,
  bytes: i,
  packets: 1,
  startUnixNano: ns(T0 + i * 1000),
  endUnixNano: ns(T0 + i * 1000 + 10),
  timeResolutionNano: 1e6,
  inputInterface: 0,
  outputInterface: 0,
  nextHop: '',
  samplingRate: 0,
  tcpFlags: 0,
});

test('MemoryFlowStore.listSync: newest inserted first, within retention and range, bounded by limit and scan', () => {
  let now = T0 + 100_000;
  const store = new MemoryFlowStore({ now: () => now, retentionMs: 60_000, maxFlows: 1000, chunkRows: 16 });
  store.insert(Array.from({ length: 100 }, (_, i) => flow(i)));
  assert.deepEqual(
    store.listSync({ limit: 3 }).map((f) => f.sourcePort),
    [1099, 1098, 1097],
  );
  // Retention: flows ending before now − 60 s are not listed.
  assert.equal(store.listSync({ limit: Infinity }).length, 60);
  assert.deepEqual(
    store.listSync({ limit: Infinity, fromUnixNano: ns(T0 + 50_000), toUnixNano: ns(T0 + 52_000) }).map((f) => f.sourcePort),
    [1052, 1051, 1050],
  );
  assert.equal(store.listSync({ limit: Infinity, maxScan: 10 }).length, 10);
  assert.deepEqual(
    store.listSync({ limit: 2, keep: (f) => f.bytes % 10 === 0 }).map((f) => f.bytes),
    [90, 80],
  );
  now += 1_000_000;
  assert.equal(store.listSync({ limit: Infinity }).length, 0);
});

test('MemoryObservationStore.list: newest first, by kind and time, bounded', () => {
  const now = T0 + 600_000;
  const store = new MemoryObservationStore({ retentionMs: 3_600_000, maxObservations: 1000 }, new SelfMetrics(), () => now);
  for (let i = 0; i < 5; i++) {
    const r = demoRequest(i, T0 + i * 1000);
    store.insert([...r.ioam, ...r.http]);
  }
  assert.equal(store.list({ limit: Infinity }).length, 15);
  const ioam = store.list({ limit: Infinity, kind: 'ioam' });
  assert.deepEqual(
    ioam.map((o) => o.sourcePort),
    [41004, 41003, 41002, 41001, 41000],
  );
  assert.equal(store.list({ limit: 2, kind: 'http' }).length, 2);
  assert.equal(store.list({ limit: Infinity, kind: 'http', fromNs: ns(T0 + 2000), toNs: ns(T0 + 3999) }).length, 4);
  assert.equal(store.list({ limit: Infinity, maxScan: 4 }).length, 4);
  assert.equal(store.list({ limit: Infinity, keep: (o) => o.sourcePort === 41001 }).length, 3);
});
