import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SelfMetrics } from '../core/telemetry/metrics.js';
import { devicesConfigSchema } from './config.js';
import { Inventory } from './inventory.js';
import type { DeviceReading, InterfaceReading } from './model.js';
import { DeviceStateStore, DeviceQueryError, deviceStoreOptions } from './store.js';

const S = 1_000_000_000n;
/** A fixed "now" for the store: 2026-01-01T00:00:00Z. */
const T0_MS = Date.UTC(2026, 0, 1);
const T0 = BigInt(T0_MS) * 1_000_000n;

function makeStore(raw: Record<string, unknown> = {}, clock = { ms: T0_MS + 3_600_000 }) {
  const config = devicesConfigSchema.parse(raw);
  const metrics = new SelfMetrics();
  const store = new DeviceStateStore(deviceStoreOptions(config), metrics, new Inventory(config.inventory), () => clock.ms);
  return { store, metrics, clock };
}

function reading(t: bigint, iface: Partial<InterfaceReading>, extra: Partial<DeviceReading> = {}): DeviceReading {
  return { source: 'snmp', address: '192.0.2.1', timeUnixNano: t, interfaces: [{ ifIndex: 1, ...iface }], ...extra };
}

const GBIT = 1e9;

describe('device state store: rates', () => {
  test('octet deltas over the interval give bits per second and utilisation', () => {
    const { store } = makeStore();
    store.addReadings([
      reading(T0, { inOctets: 1_000n, outOctets: 0n, octetBits: 64, speedBps: GBIT }, { sysUpTimeTicks: 10_000 }),
      // 375 MB in, 37.5 MB out in 30 s: 100 Mb/s and 10 Mb/s.
      reading(T0 + 30n * S, { inOctets: 375_001_000n, outOctets: 37_500_000n, octetBits: 64, speedBps: GBIT }, { sysUpTimeTicks: 13_000 }),
    ]);
    const p = store.seriesIn('192.0.2.1', 1, T0, T0 + 60n * S)!.interfaces[0]!.points;
    assert.equal(p[0]!.noRate, 'first');
    assert.equal(p[1]!.noRate, undefined);
    assert.equal(p[1]!.inBitsPerSecond, 100e6);
    assert.equal(p[1]!.outBitsPerSecond, 10e6);
    assert.equal(p[1]!.inUtilisation, 0.1);
    assert.equal(p[1]!.intervalNano, 30n * S);
  });

  test('a 32-bit octet counter wrap gives the true rate', () => {
    const { store } = makeStore();
    const top = 2n ** 32n;
    store.addReadings([
      reading(T0, { inOctets: top - 1_000_000n, octetBits: 32, speedBps: GBIT }),
      reading(T0 + 10n * S, { inOctets: 9_000_000n, octetBits: 32, speedBps: GBIT }),
    ]);
    const p = store.seriesIn('192.0.2.1', 1, T0, T0 + 10n * S)!.interfaces[0]!.points[1]!;
    assert.equal(p.noRate, undefined);
    assert.equal(p.inBitsPerSecond, (10_000_000 * 8) / 10);
  });

  test('a 64-bit octet counter wrap gives the true rate', () => {
    const { store } = makeStore();
    store.addReadings([
      reading(T0, { inOctets: 2n ** 64n - 500n, octetBits: 64 }),
      reading(T0 + 10n * S, { inOctets: 500n, octetBits: 64 }),
    ]);
    const p = store.seriesIn('192.0.2.1', 1, T0, T0 + 10n * S)!.interfaces[0]!.points[1]!;
    assert.equal(p.inBitsPerSecond, (1000 * 8) / 10);
  });

  test('a reboot (sysUpTime back, counters back) is a reset, not a huge rate; rates resume after it', async () => {
    const { store, metrics } = makeStore();
    store.addReadings([
      reading(T0, { inOctets: 50_000_000_000n, inErrors: 10, octetBits: 64 }, { sysUpTimeTicks: 8_640_000 }),
      reading(T0 + 30n * S, { inOctets: 20_000n, inErrors: 0, octetBits: 64 }, { sysUpTimeTicks: 1_500 }),
      reading(T0 + 60n * S, { inOctets: 320_000n, inErrors: 0, octetBits: 64 }, { sysUpTimeTicks: 4_500 }),
    ]);
    const points = store.seriesIn('192.0.2.1', 1, T0, T0 + 60n * S)!.interfaces[0]!.points;
    assert.equal(points[1]!.noRate, 'reboot');
    assert.equal(points[1]!.inBitsPerSecond, undefined);
    assert.equal(points[2]!.inBitsPerSecond, (300_000 * 8) / 30);
    const state = store.stateAt('192.0.2.1', 1, T0 + 60n * S, 60n * S)!;
    assert.deepEqual(
      state.anomalies.map((a) => a.kind),
      ['reboot'],
    );
    assert.equal(await metrics.value('netspan_devices_counter_resets_total', { kind: 'reboot' }), 1);
  });

  test('a device restarted in between with counters that went up anyway (uptime advanced too little) is a reset', () => {
    const { store } = makeStore();
    store.addReadings([
      reading(T0, { inOctets: 1_000n, octetBits: 64 }, { sysUpTimeTicks: 500 }),
      // 30 s later, uptime only 10 s: restarted; counters happen to be higher.
      reading(T0 + 30n * S, { inOctets: 9_000_000_000n, octetBits: 64 }, { sysUpTimeTicks: 1_000 }),
    ]);
    assert.equal(store.seriesIn('192.0.2.1', 1, T0, T0 + 30n * S)!.interfaces[0]!.points[1]!.noRate, 'reboot');
  });

  test('a slow poll (uptime read well before the counters) is no restart', () => {
    const { store } = makeStore();
    store.addReadings([
      reading(T0, { inOctets: 1_000n, octetBits: 64 }, { sysUpTimeTicks: 100_000, sysUpTimeUnixNano: T0 - 100_000_000n }),
      // Uptime read at +30 s, the tables only at +40 s (retries): 40 s between the readings, 30 s of uptime.
      reading(
        T0 + 40n * S,
        { inOctets: 2_000n, octetBits: 64 },
        { sysUpTimeTicks: 103_000, sysUpTimeUnixNano: T0 + 30n * S - 100_000_000n },
      ),
    ]);
    const p = store.seriesIn('192.0.2.1', 1, T0, T0 + 40n * S)!.interfaces[0]!.points[1]!;
    assert.equal(p.noRate, undefined);
    assert.equal(p.inBitsPerSecond, (1000 * 8) / 40);
  });

  test('counters going back without uptime (sFlow) and without a plausible wrap are a counter reset', () => {
    const { store } = makeStore();
    store.addReadings([
      {
        source: 'sflow',
        address: '192.0.2.9',
        timeUnixNano: T0,
        interfaces: [{ ifIndex: 3, inOctets: 10n ** 12n, octetBits: 64, speedBps: GBIT }],
      },
      {
        source: 'sflow',
        address: '192.0.2.9',
        timeUnixNano: T0 + 20n * S,
        interfaces: [{ ifIndex: 3, inOctets: 42n, octetBits: 64, speedBps: GBIT }],
      },
    ]);
    const p = store.seriesIn('192.0.2.9', 3, T0, T0 + 20n * S)!.interfaces[0]!.points[1]!;
    assert.equal(p.noRate, 'counter_reset');
    assert.equal(p.inBitsPerSecond, undefined);
    assert.deepEqual(
      store.anomaliesIn('192.0.2.9', 3, T0, T0 + 20n * S).map((a) => a.kind),
      ['counter_reset'],
    );
  });

  test('no rate across a gap longer than max_rate_gap', () => {
    const { store } = makeStore({ max_rate_gap: '5m' });
    store.addReadings([
      reading(T0, { inOctets: 0n, octetBits: 64 }),
      reading(T0 + 301n * S, { inOctets: 1_000_000n, octetBits: 64 }),
      reading(T0 + 331n * S, { inOctets: 2_000_000n, octetBits: 64 }),
    ]);
    const points = store.seriesIn('192.0.2.1', 1, T0, T0 + 400n * S)!.interfaces[0]!.points;
    assert.equal(points[1]!.noRate, 'gap');
    assert.equal(points[2]!.inBitsPerSecond, (1_000_000 * 8) / 30);
  });

  test('a switch between 32- and 64-bit octet counters gives no rate', () => {
    const { store } = makeStore();
    store.addReadings([reading(T0, { inOctets: 5n, octetBits: 32 }), reading(T0 + 10n * S, { inOctets: 10n, octetBits: 64 })]);
    assert.equal(store.seriesIn('192.0.2.1', 1, T0, T0 + 10n * S)!.interfaces[0]!.points[1]!.noRate, 'counter_reset');
  });

  test('readings not newer than the last are rejected and counted', async () => {
    const { store, metrics } = makeStore();
    store.addReadings([reading(T0 + 10n * S, { inOctets: 5n }), reading(T0, { inOctets: 1n }), reading(T0 + 10n * S, { inOctets: 6n })]);
    assert.equal(store.seriesIn('192.0.2.1', 1, T0, T0 + 10n * S)!.interfaces[0]!.points.length, 1);
    assert.equal(await metrics.value('netspan_devices_readings_rejected_total', { reason: 'out_of_order' }), 2);
  });
});

describe('device state store: status, CPU, memory, IOAM', () => {
  test('oper status changes are recorded as flaps with their times', () => {
    const { store } = makeStore();
    store.addReadings([
      reading(T0, { operStatus: 1 }),
      reading(T0 + 10n * S, { operStatus: 2 }),
      reading(T0 + 20n * S, { operStatus: 2 }),
      reading(T0 + 30n * S, { operStatus: 1 }),
    ]);
    const series = store.seriesIn('192.0.2.1', 1, T0, T0 + 30n * S)!.interfaces[0]!;
    assert.deepEqual(series.statusChanges, [
      { timeUnixNano: T0 + 10n * S, sinceUnixNano: T0, ifIndex: 1, from: 1, to: 2 },
      { timeUnixNano: T0 + 30n * S, sinceUnixNano: T0 + 20n * S, ifIndex: 1, from: 2, to: 1 },
    ]);
    const state = store.stateAt('192.0.2.1', 1, T0 + 25n * S, 10n * S)!;
    assert.equal(state.interfaces[0]!.latest.value.operStatus, 2);
    assert.equal(state.interfaces[0]!.latest.ageNano, 5n * S);
    // Each flap is stamped at the reading that saw it, and happened after the reading before.
    assert.deepEqual(
      state.anomalies.map((a) => [a.kind, a.sinceUnixNano, a.timeUnixNano, a.detail]),
      [['flap', T0 + 20n * S, T0 + 30n * S, 'oper status down → up']],
    );
    assert.deepEqual(
      store.stateAt('192.0.2.1', 1, T0 + 20n * S, 15n * S)!.anomalies.map((a) => a.detail),
      ['oper status up → down', 'oper status down → up'],
    );
  });

  test('anomalies of listed interfaces: each once, by ifIndex or name; an empty list gives the device its own', () => {
    const { store } = makeStore({ inventory: { r1: { snmp_addresses: ['192.0.2.1'], interfaces: { '2': 'uplink' } } } });
    const flapsOn = (t: bigint, status: number) =>
      reading(t, {}, { interfaces: [1, 2, 3].map((ifIndex) => ({ ifIndex, operStatus: status })), sysUpTimeTicks: Number(t / S) * 100 });
    store.addReadings([flapsOn(T0, 1), flapsOn(T0 + 10n * S, 2), flapsOn(T0 + 20n * S, 1)]);
    // A restart: sysUpTime back.
    store.addReadings([{ ...reading(T0 + 30n * S, {}), interfaces: [], sysUpTimeTicks: 1 }]);
    const of = (list: (number | string)[]) =>
      store.anomaliesIn('r1', list, T0, T0 + 30n * S).map((a) => `${a.kind}${a.ifIndex === undefined ? '' : ` ${a.ifIndex}`}`);
    assert.deepEqual(of(['uplink', 1, 2, '2']), ['flap 1', 'flap 2', 'flap 1', 'flap 2', 'reboot']);
    assert.deepEqual(of([]), ['reboot']);
    assert.deepEqual(of(['eth9']), ['reboot']);
  });

  test('CPU is the average and max over processors; memory the RAM used and size', () => {
    const { store } = makeStore();
    store.addReadings([
      { ...reading(T0, {}), cpu: { loads: [10, 30, 80] }, memory: { usedBytes: 3e9, sizeBytes: 4e9 } },
      { ...reading(T0 + 30n * S, {}), cpu: { loads: [20, 40] } },
    ]);
    const s = store.stateAt('192.0.2.1', undefined, T0 + 40n * S, 0n)!;
    assert.deepEqual(s.cpu, { value: { average: 30, max: 40, processors: 2 }, timeUnixNano: T0 + 30n * S, ageNano: 10n * S });
    assert.deepEqual(s.memory, { value: { usedBytes: 3e9, sizeBytes: 4e9, utilisation: 0.75 }, timeUnixNano: T0, ageNano: 40n * S });
  });

  test('IOAM queue depth points: latest state and queue growth in the window', () => {
    const { store } = makeStore({ anomalies: { queue_growth: 1000 }, inventory: { porthos: { ioam_node_ids: [2] } } });
    const key = store.inventory.deviceForIoamNode(2);
    assert.equal(key, 'porthos');
    store.addIoamNodeState(key, T0 + 2n * S, { queueDepth: 1500, ingressIf: 1, egressIf: 2 });
    store.addIoamNodeState(key, T0, { queueDepth: 0, ingressIf: 1, egressIf: 2 });
    store.addIoamNodeState(key, T0 + 1n * S, { queueDepth: 400, bufferOccupancy: 7, ingressIf: 1, egressIf: 2 });
    const s = store.stateAt('porthos', undefined, T0 + 3n * S, 3n * S)!;
    assert.deepEqual(s.ioam, { value: { queueDepth: 1500, ingressIf: 1, egressIf: 2 }, timeUnixNano: T0 + 2n * S, ageNano: 1n * S });
    assert.deepEqual(
      s.anomalies.map((a) => [a.kind, a.value, a.detail]),
      [['queue_growth', 1500, 'IOAM queue depth 0 → 1500']],
    );
    assert.deepEqual(store.stateAt('porthos', undefined, T0 + 1n * S, 0n)!.anomalies, []);
  });
});

describe('device state store: anomalies', () => {
  test('utilisation, error and discard bursts above the thresholds', () => {
    const { store } = makeStore({ anomalies: { utilisation: 0.8, error_rate: 1, discard_rate: 5 } });
    const base = { octetBits: 64 as const, speedBps: 1e6, inErrors: 0, outErrors: 0, inDiscards: 0, outDiscards: 0 };
    store.addReadings([
      reading(T0, { ...base, inOctets: 0n }),
      // 10 s: 1.125 MB in = 900 kb/s of 1 Mb/s; 30 errors; 60 discards.
      reading(T0 + 10n * S, { ...base, inOctets: 1_125_000n, inErrors: 20, outErrors: 10, outDiscards: 60 }),
      // Quiet.
      reading(T0 + 20n * S, { ...base, inOctets: 1_125_100n, inErrors: 20, outErrors: 10, outDiscards: 60 }),
    ]);
    const s = store.stateAt('192.0.2.1', 1, T0 + 20n * S, 20n * S)!;
    assert.deepEqual(
      s.anomalies.map((a) => [a.kind, a.sinceUnixNano, a.timeUnixNano, a.value]),
      [
        // Rates over the interval (T0, T0 + 10 s]: stamped at its end, begun after its start.
        ['high_utilisation', T0, T0 + 10n * S, 0.9],
        ['error_burst', T0, T0 + 10n * S, 3],
        ['discard_burst', T0, T0 + 10n * S, 6],
      ],
    );
    // Outside the window: nothing.
    assert.deepEqual(store.stateAt('192.0.2.1', 1, T0 + 20n * S, 5n * S)!.anomalies, []);
    // latestRates is the quiet interval.
    assert.ok(s.interfaces[0]!.latestRates!.value.inBitsPerSecond! < 100);
  });

  test('stateAt: latest values at or before the time with their age; unknown device, interface or time', () => {
    const { store } = makeStore({ inventory: { r1: { snmp_addresses: ['192.0.2.1'], interfaces: { '1': 'uplink' } } } });
    store.addReadings([reading(T0, { inOctets: 1n, name: 'eth0' }), reading(T0 + 10n * S, { inOctets: 2n, name: 'eth0' })]);
    // The address maps to the inventory name; the inventory's interface name wins.
    const s = store.stateAt('r1', 'uplink', T0 + 15n * S, 0n)!;
    assert.equal(s.device, 'r1');
    assert.equal(s.interfaces[0]!.name, 'uplink');
    assert.equal(s.interfaces[0]!.latest.timeUnixNano, T0 + 10n * S);
    assert.equal(s.interfaces[0]!.latest.ageNano, 5n * S);
    assert.equal(store.stateAt('192.0.2.1', 1, T0 + 5n * S, 0n)!.interfaces[0]!.latest.timeUnixNano, T0);
    assert.deepEqual(store.stateAt('r1', 1, T0 - 1n, 0n)!.interfaces, []);
    assert.equal(store.stateAt('r2', undefined, T0, 0n), undefined);
    assert.equal(store.stateAt('r1', 7, T0, 0n), undefined);
    assert.throws(() => store.stateAt('r1', 1, T0, -1n), DeviceQueryError);
    assert.deepEqual(store.listDevices(), [{ device: 'r1', interfaces: [{ ifIndex: 1, name: 'uplink' }], newestUnixNano: T0 + 10n * S }]);
  });
});

describe('device state store: bounds', () => {
  test('points past retention are dropped and counted; readings already too old are rejected', async () => {
    const clock = { ms: T0_MS + 30_000 };
    const { store, metrics } = makeStore({ retention: '1m' }, clock);
    store.addReadings([reading(T0, { inOctets: 1n }), reading(T0 + 20n * S, { inOctets: 2n })]);
    clock.ms = T0_MS + 70_000;
    store.expire();
    assert.equal(store.seriesIn('192.0.2.1', 1, T0, T0 + 60n * S)!.interfaces[0]!.points.length, 1);
    assert.equal(await metrics.value('netspan_devices_points_evicted_total', { reason: 'age' }), 1);
    store.addReadings([reading(T0 + 5n * S, { inOctets: 1n })]);
    assert.equal(await metrics.value('netspan_devices_readings_rejected_total', { reason: 'too_old' }), 1);
    clock.ms = T0_MS + 200_000;
    store.expire();
    assert.equal(store.stateAt('192.0.2.1', undefined, T0 + 60n * S, 0n), undefined);
    assert.equal(store.seriesCount, 0);
  });

  test('points per series are capped (oldest first) and counted', async () => {
    const { store, metrics } = makeStore({ max_points_per_series: 3 });
    for (let i = 0n; i < 5n; i++) store.addReadings([reading(T0 + i * S, { inOctets: i, operStatus: 1 })]);
    const pts = store.seriesIn('192.0.2.1', 1, T0, T0 + 10n * S)!.interfaces[0]!.points;
    assert.deepEqual(
      pts.map((p) => p.inOctets),
      [2n, 3n, 4n],
    );
    assert.equal(await metrics.value('netspan_devices_points_evicted_total', { reason: 'capacity' }), 2);
  });

  test('series beyond max_series: the least recently updated goes, counted', async () => {
    const { store, metrics } = makeStore({ max_series: 2 });
    const r = (t: bigint, ifIndex: number): DeviceReading => ({
      source: 'snmp',
      address: '192.0.2.1',
      timeUnixNano: t,
      interfaces: [{ ifIndex, inOctets: 1n }],
    });
    store.addReadings([r(T0, 1), r(T0, 2), r(T0 + S, 1), r(T0 + S, 3)]);
    assert.equal(store.seriesCount, 2);
    assert.deepEqual(
      store.listDevices()[0]!.interfaces.map((i) => i.ifIndex),
      [1, 3],
    );
    assert.equal(await metrics.value('netspan_devices_points_evicted_total', { reason: 'series' }), 1);
    assert.equal(await metrics.value('netspan_devices_series'), 2);
  });

  test('flow exporters are remembered up to max_flow_exporters, least recently seen forgotten first', async () => {
    const { store, metrics } = makeStore({ max_flow_exporters: 2 });
    store.noteFlowExporter('192.0.2.1');
    store.noteFlowExporter('192.0.2.2');
    store.noteFlowExporter('192.0.2.1');
    store.noteFlowExporter('2001:DB8::1');
    assert.deepEqual(store.flowExporters(), ['192.0.2.1', '2001:db8::1']);
    assert.equal(await metrics.value('netspan_devices_flow_exporters_evicted_total'), 1);
  });
});

describe('devices config', () => {
  test('an address claimed by two devices is reported with its path', () => {
    const r = devicesConfigSchema.safeParse({ inventory: { a: { snmp_addresses: ['192.0.2.1'] }, b: { flow_exporters: ['192.0.2.1'] } } });
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0]!.path, ['inventory', 'b', 'flow_exporters', 0]);
    const bad = devicesConfigSchema.safeParse({ inventory: { a: { interfaces: { eth0: 'x' } } } });
    assert.equal(bad.success, false);
  });
});
