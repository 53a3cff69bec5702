import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlowRecord } from '../../model/flow.js';
import { SelfMetrics } from '../../core/telemetry/metrics.js';
import { makeFlow, makeQuery, T0_MS } from '../conformance.js';
import { packFlows, ROW_BYTES, unpackFlows } from './rows.js';
import { MemoryFlowStore } from './store.js';

const T0_NS = BigInt(T0_MS) * 1_000_000n;

/** Distinct connections (source port i), in every shape the row has to keep. */
function variedFlows(): FlowRecord[] {
  return [
    makeFlow({ sourcePort: 1 }),
    makeFlow({
      sourcePort: 2,
      type: 'netflow_v9',
      sourceAddress: '2001:DB8:0:0:0:0:0:1', // not canonical: comes back as 2001:db8::1
      destinationAddress: '2001:db8::2',
      ipVersion: 6,
      startUnixNano: T0_NS + 123_456n, // not whole microseconds: floored
      endUnixNano: T0_NS + 999_999_999n,
      exportTimeUnixNano: T0_NS + 5_000_000_777n,
      flowDirection: 1,
      biflowDirection: 'reverse',
      nextHop: '2001:db8::fe',
    }),
    makeFlow({ sourcePort: 3, sourceAddress: '::ffff:10.0.0.1', type: 'sflow_5', samplerAddress: '198.51.100.7', flowDirection: 0 }),
    makeFlow({
      sourcePort: 4,
      type: 'netflow_v5',
      biflowDirection: 'forward',
      nextHop: '',
      bytes: Number.MAX_SAFE_INTEGER,
      packets: 0,
      inputInterface: 0xffffffff,
      outputInterface: 0,
      samplingRate: 0,
      observationDomainId: 0xffffffff,
      sequenceNumber: 0xffffffff,
      tcpFlags: 0xffff,
      protocol: 255,
      destinationPort: 65535,
      timeResolutionNano: 0,
      ipVersion: 0,
    }),
    makeFlow({ sourcePort: 5, timeResolutionNano: 1e9, samplerAddress: '192.0.2.253', nextHop: '10.0.0.253' }),
  ];
}

test('rows: pack → unpack gives what the store returns for the same records', async () => {
  const records = variedFlows();
  const packed = packFlows(records);
  assert.equal(packed.rows, records.length);
  assert.equal(packed.data.byteLength, records.length * ROW_BYTES);
  assert.equal(packed.refusedAddress + packed.refusedField, 0);
  const unpacked = unpackFlows(packed);

  const store = new MemoryFlowStore({ now: () => T0_MS });
  store.insert(records);
  const stored: FlowRecord[] = [];
  for (const r of records) {
    const matches = await store.query(
      makeQuery({
        sourceAddress: r.sourceAddress,
        destinationAddress: r.destinationAddress,
        sourcePort: r.sourcePort,
        destinationPort: r.destinationPort,
      }),
    );
    assert.equal(matches.length, 1);
    stored.push(matches[0]!.flow);
  }
  assert.deepEqual(unpacked, stored);
  assert.equal(unpacked[1]!.sourceAddress, '2001:db8::1');
  assert.equal(unpacked[1]!.startUnixNano, T0_NS + 123_000n);
  assert.equal(unpacked[2]!.sourceAddress, '::ffff:10.0.0.1');
  assert.equal(unpacked[3]!.flowDirection, undefined);

  // The packed rows inserted directly give the same store contents.
  const direct = new MemoryFlowStore({ now: () => T0_MS });
  direct.insertPacked(packFlows(records));
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const matches = direct.querySync(
      makeQuery({
        sourceAddress: r.sourceAddress,
        destinationAddress: r.destinationAddress,
        sourcePort: r.sourcePort,
        destinationPort: r.destinationPort,
      }),
    );
    assert.deepEqual(
      matches.map((m) => m.flow),
      [stored[i]],
    );
  }
});

test('rows: refused records are counted, not packed; the rest keep their order', () => {
  const records = [
    makeFlow({ sourcePort: 1 }),
    makeFlow({ sourceAddress: 'not an address' }),
    makeFlow({ destinationAddress: 'fe80::1%eth0' }),
    makeFlow({ tcpFlags: -1 }),
    makeFlow({ bytes: -5 }),
    makeFlow({ startUnixNano: 5 as unknown as bigint }),
    makeFlow({ sourcePort: 2, nextHop: '10.9.9.9' }),
  ];
  const packed = packFlows(records);
  assert.equal(packed.rows, 2);
  assert.equal(packed.refusedAddress, 2);
  assert.equal(packed.refusedField, 3);
  assert.equal(packed.data.byteLength, 2 * ROW_BYTES);
  assert.deepEqual(
    unpackFlows(packed).map((r) => [r.sourcePort, r.nextHop]),
    [
      [1, '10.0.0.254'],
      [2, '10.9.9.9'],
    ],
  );
  assert.deepEqual([...packed.strings].sort(), ['10.0.0.254', '10.9.9.9', '192.0.2.254']);
  assert.deepEqual(unpackFlows(packFlows([])), []);

  // Into a reused buffer: the same rows, in its head.
  const scratch = new ArrayBuffer(100 * ROW_BYTES);
  const into = packFlows(records, scratch);
  assert.equal(into.data, scratch);
  assert.equal(into.rows, 2);
  assert.deepEqual(unpackFlows(into), unpackFlows(packed));
  assert.notEqual(packFlows(records, new ArrayBuffer(ROW_BYTES)).data.byteLength, ROW_BYTES); // too small: a fresh one
});

test('rows: insertPacked keeps insert semantics (refusals, retention, capacity, metrics)', async () => {
  const run = async (insert: (store: MemoryFlowStore, records: FlowRecord[]) => void) => {
    const metrics = new SelfMetrics();
    const store = new MemoryFlowStore({ metrics, id: 'flows', maxFlows: 40, chunkRows: 16, retentionMs: 60_000, now: () => T0_MS });
    insert(
      store,
      Array.from({ length: 50 }, (_, i) => makeFlow({ sourcePort: i, samplerAddress: `192.0.2.${i % 3}`, nextHop: `10.1.0.${i % 5}` })),
    );
    insert(store, [makeFlow({ sourceAddress: 'x' }), makeFlow({ tcpFlags: -1 }), makeFlow({ endUnixNano: T0_NS - 61_000_000_000n })]);
    const value = (name: string, labels: Record<string, string> = {}) =>
      metrics.value(`netspan_evidence_${name}`, { store: 'flows', ...labels });
    const found = [];
    for (let i = 0; i < 50; i++) found.push(...store.querySync(makeQuery({ sourcePort: i })).map((m) => m.flow));
    return {
      stats: await store.stats(),
      found,
      metrics: await Promise.all([
        value('flows_inserted_total'),
        value('flows_evicted_total', { reason: 'capacity' }),
        value('flows_evicted_total', { reason: 'age' }),
        value('flows_refused_total', { reason: 'invalid_address' }),
        value('flows_refused_total', { reason: 'invalid_field' }),
        value('flows_stored'),
        value('bytes'),
      ]),
    };
  };
  const viaInsert = await run((s, r) => s.insert(r));
  const viaPacked = await run((s, r) => s.insertPacked(packFlows(r)));
  assert.deepEqual(viaPacked, viaInsert);
  assert.equal(viaPacked.stats.refused, 2);
  assert.equal(viaPacked.stats.evicted.age, 1);
  assert.ok(viaPacked.stats.evicted.capacity > 0);
  assert.equal(viaPacked.found.length, viaPacked.stats.flows);
});
