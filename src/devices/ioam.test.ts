/** IOAM queue depth as device state: one point per device and interval, with the largest values seen. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SelfMetrics } from '../core/telemetry/metrics.js';
import type { IoamObservation } from '../model/observation.js';
import { devicesConfigSchema } from './config.js';
import { IoamStateSampler } from './ioam.js';
import { Inventory } from './inventory.js';
import { DeviceStateStore, deviceStoreOptions } from './store.js';

const T0_MS = Date.UTC(2026, 0, 1);
const at = (ms: number) => BigInt(T0_MS + ms) * 1_000_000n;

function trace(ms: number, queue: number): IoamObservation {
  return {
    kind: 'ioam',
    source: 'capture',
    timeUnixNano: at(ms),
    observer: 'aramis',
    interfaceName: 'eth0',
    sourceAddress: 'fd00:1::2',
    sourcePort: 40000,
    destinationAddress: 'fd00:2::2',
    destinationPort: 8080,
    protocol: 6,
    optionType: 0,
    namespaceId: 123,
    traceType: 0xf20000,
    overflow: false,
    nodes: [
      { node_id: 1001, ingress_if_id: 2, egress_if_id: 3, queue_depth: queue },
      { node_id: 1002, ingress_if_id: 2, egress_if_id: null, queue_depth: null },
    ],
  };
}

test('one point per device and second, with the largest queue depth; unknown node ids keyed by id', () => {
  const cfg = devicesConfigSchema.parse({ inventory: { porthos: { ioam_node_ids: [1001] } } });
  const store = new DeviceStateStore(deviceStoreOptions(cfg), new SelfMetrics(), new Inventory(cfg.inventory), () => T0_MS + 10_000);
  const sampler = new IoamStateSampler(store);
  sampler.add([trace(0, 0), trace(300, 1380), trace(600, 200)]);
  sampler.add([trace(1200, 0)]);
  sampler.flushAll();
  const series = store.seriesIn('porthos', undefined, at(-1000), at(5000))!;
  assert.deepEqual(
    series.ioam.map((p) => [p.timeUnixNano - at(0), p.queueDepth, p.egressIf]),
    [
      [0n, 1380, 3],
      [1_200_000_000n, 0, 3],
    ],
  );
  // The server's node reported no queue depth (unavailable): no series for it.
  assert.equal(store.seriesIn('ioam:1002', undefined, at(-1000), at(5000)), undefined);
});
