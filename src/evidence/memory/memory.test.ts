import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetspanError } from '../../core/errors.js';
import { SelfMetrics } from '../../core/telemetry/metrics.js';
import type { FlowRecord } from '../../model/flow.js';
import { makeFlow, makeQuery, ReferenceFlowStore, runFlowStoreConformance, T0_MS, describeMatch, seededRandom } from '../conformance.js';
import { memoryFlowStoreConfigSchema } from './config.js';
import { MemoryFlowStore, ROW_BYTES } from './store.js';

runFlowStoreConformance('memory', (settings) => new MemoryFlowStore(settings));
// Tiny chunks and 8 buckets: every test runs across chunk boundaries with long collision chains.
runFlowStoreConformance('memory, 16-row chunks, 8 buckets', (settings) => new MemoryFlowStore({ ...settings, chunkRows: 16, buckets: 8 }));

const T0_NS = BigInt(T0_MS) * 1_000_000n;

test('memory: metrics', async () => {
  const metrics = new SelfMetrics();
  let now = T0_MS;
  const store = new MemoryFlowStore({ metrics, id: 'flows', maxFlows: 40, chunkRows: 16, retentionMs: 60_000, now: () => now });
  const value = (name: string, labels: Record<string, string> = {}) =>
    metrics.value(`netspan_evidence_${name}`, { store: 'flows', ...labels });
  store.insert(Array.from({ length: 50 }, (_, i) => makeFlow({ sourcePort: i })));
  store.insert([makeFlow({ sourceAddress: 'x' }), makeFlow({ tcpFlags: -1 }), makeFlow({ endUnixNano: T0_NS - 61_000_000_000n })]);
  const stats = await store.stats();
  assert.equal(await value('flows_inserted_total'), 51);
  assert.equal(await value('flows_evicted_total', { reason: 'capacity' }), stats.evicted.capacity);
  assert.equal(stats.evicted.capacity, 50 - stats.flows);
  assert.equal(await value('flows_evicted_total', { reason: 'age' }), 1);
  assert.equal(await value('flows_refused_total', { reason: 'invalid_address' }), 1);
  assert.equal(await value('flows_refused_total', { reason: 'invalid_field' }), 1);
  assert.equal(await value('flows_stored'), stats.flows);
  assert.equal(await value('bytes'), stats.bytes);
  now += 120_000; // everything ages out
  await store.stats();
  assert.equal(await value('flows_stored'), 0);
  assert.equal(await value('flows_evicted_total', { reason: 'age' }), 1 + stats.flows);
  await store.close();
  assert.equal(await value('bytes'), 0);
});

for (const buckets of [4, 1024]) {
  test(`memory: the index stays right while the ring wraps many times (${buckets} buckets)`, async () => {
    // Connections of very different frequency: rare ones keep links to rows whose chunk was
    // evicted and whose slot now holds newer rows, and buckets whose newest row is evicted.
    let now = T0_MS;
    const random = seededRandom(buckets);
    const store = new MemoryFlowStore({ maxFlows: 100, chunkRows: 16, buckets, now: () => now });
    const inserted: FlowRecord[] = [];
    const connection = (c: number, forward: boolean) => ({
      sourceAddress: forward ? `10.0.0.${c}` : '10.9.9.9',
      destinationAddress: forward ? '10.9.9.9' : `10.0.0.${c}`,
      sourcePort: forward ? 1000 + c : 80,
      destinationPort: forward ? 80 : 1000 + c,
    });
    for (let i = 0; i < 6000; i++) {
      const c = Math.min(19, Math.floor(-Math.log2(random() + 1e-9))); // 0 half the time, 1 a quarter, ...
      const start = T0_NS + BigInt(Math.floor(random() * 1e9));
      const flow = makeFlow({ ...connection(c, random() < 0.6), bytes: i, startUnixNano: start, endUnixNano: start + 1_000_000n });
      inserted.push(flow);
      store.insert([flow]);
      now = T0_MS + i;
      if (i % 37 === 0 || i === 5999) {
        const { flows } = store.statsSync();
        const reference = new ReferenceFlowStore(store.limits, () => now);
        reference.insert(inserted.slice(inserted.length - flows));
        for (let k = 0; k < 20; k++) {
          const query = makeQuery({ ...connection(k, true), fromUnixNano: 0n, toUnixNano: T0_NS * 2n });
          assert.deepEqual(
            store.querySync(query).map(describeMatch),
            (await reference.query(query)).map(describeMatch),
            `after ${i}, connection ${k}`,
          );
        }
      }
    }
  });
}

test('memory: bytes per flow stays under 150 in a store filled to its 200k flows (the index is sized for maxFlows)', async () => {
  const store = new MemoryFlowStore({ maxFlows: 200_000, now: () => T0_MS });
  const batch: FlowRecord[] = [];
  for (let i = 0; i < 200_000; i++) {
    batch.push(makeFlow({ sourceAddress: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`, sourcePort: i & 0xffff }));
    if (batch.length === 10_000) store.insert(batch.splice(0));
  }
  const stats = store.statsSync();
  assert.equal(stats.flows, 200_000);
  assert.ok(stats.bytesPerFlow < 150, `${stats.bytesPerFlow.toFixed(1)} bytes per flow`);
  assert.ok(stats.bytesPerFlow >= ROW_BYTES);
  assert.equal(store.querySync(makeQuery({ sourceAddress: '10.1.134.160', sourcePort: 100_000 & 0xffff })).length, 1);
  await store.close();
});

test('memory: options are checked, closed stores refuse work', async () => {
  assert.throws(() => new MemoryFlowStore({ maxFlows: 0 }), NetspanError);
  assert.throws(() => new MemoryFlowStore({ retentionMs: 0 }), NetspanError);
  assert.throws(() => new MemoryFlowStore({ chunkRows: 100 }), NetspanError);
  assert.throws(() => new MemoryFlowStore({ buckets: 3 }), NetspanError);
  const store = new MemoryFlowStore({ maxFlows: 10 });
  await store.close();
  await store.close();
  assert.throws(
    () => store.insert([makeFlow()]),
    (e: unknown) => e instanceof NetspanError && e.code === 'EVIDENCE_CLOSED',
  );
  await assert.rejects(store.query(makeQuery()), (e: unknown) => e instanceof NetspanError && e.code === 'EVIDENCE_CLOSED');
});

test('memory: config defaults and limits', () => {
  assert.deepEqual(memoryFlowStoreConfigSchema.parse({}), { retention: 15 * 60_000, max_flows: 2_000_000 });
  assert.deepEqual(memoryFlowStoreConfigSchema.parse({ retention: '5m', max_flows: 1000 }), { retention: 300_000, max_flows: 1000 });
  assert.equal(memoryFlowStoreConfigSchema.safeParse({ retention: '0s' }).success, false);
  assert.equal(memoryFlowStoreConfigSchema.safeParse({ max_flows: 0 }).success, false);
  assert.equal(memoryFlowStoreConfigSchema.safeParse({ maxflows: 10 }).success, false);
});
