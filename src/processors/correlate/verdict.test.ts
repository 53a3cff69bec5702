/**
 * Device state on device spans and the verdict on the summary: each rule fires on its evidence,
 * names the device, the interface and the cause, and nothing is claimed without evidence.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SelfMetrics } from '../../core/telemetry/metrics.js';
import { devicesConfigSchema } from '../../devices/config.js';
import { Inventory } from '../../devices/inventory.js';
import { OPER_STATUS, type DeviceReading, type InterfaceReading } from '../../devices/model.js';
import { DeviceStateStore, deviceStoreOptions } from '../../devices/store.js';
import { MemoryObservationStore } from '../../evidence/observations/store.js';
import type { IoamObservation } from '../../model/observation.js';
import { Correlator } from './processor.js';
import { NetworkMetrics } from '../../evidence/network-metrics.js';
import { NetworkMetricsReceiver } from '../../receivers/networkmetrics/receiver.js';
import { networkMetricsReceiverConfigSchema } from '../../receivers/networkmetrics/config.js';
import { RecordingConsumer, testSettings } from '../../testutil/index.js';
import { MAIN, T0_MS, at, attr, clientServer, config, hex, synthesized, traces } from './testkit.test.util.js';

const NOW_MS = T0_MS + 10_000;
const ROUTER = '192.0.2.1';
const POR1 = 3;

function deviceStore(): DeviceStateStore {
  const cfg = devicesConfigSchema.parse({
    inventory: {
      porthos: { snmp_addresses: [ROUTER], ioam_node_ids: [1], interfaces: { [POR1]: 'por1' } },
      aramis: { ioam_node_ids: [2] },
    },
  });
  return new DeviceStateStore(deviceStoreOptions(cfg), new SelfMetrics(), new Inventory(cfg.inventory), () => NOW_MS);
}

/** An SNMP poll of the router at `ms`: por1 with `outOctets` and its oper status. */
function poll(ms: number, outOctets: bigint, iface: Partial<InterfaceReading> = {}): DeviceReading {
  return {
    source: 'snmp',
    address: ROUTER,
    timeUnixNano: at(ms),
    sysUpTimeTicks: 100_000 + Math.round(ms / 10),
    interfaces: [
      {
        ifIndex: POR1,
        name: 'por1',
        inOctets: 0n,
        outOctets,
        octetBits: 64,
        operStatus: OPER_STATUS.up,
        speedBps: 10_000_000,
        inErrors: 0,
        outErrors: 0,
        inDiscards: 0,
        outDiscards: 0,
        ...iface,
      },
    ],
  };
}

/** The router (node 1, egress ifIndex 3 = por1) then the server (node 2); the router's hop lasts `transitMs`. */
function ioam(traceId: string, spanId: string, ms: number, transitMs: number, queue: number): IoamObservation {
  const t = at(ms);
  const node = (id: number, ns: bigint, q: number, egress: number | null) => ({
    hop_limit: 64 - id,
    node_id: id,
    ingress_if_id: 2,
    egress_if_id: egress,
    timestamp_seconds: Number(ns / 1_000_000_000n),
    timestamp_subseconds: Number((ns % 1_000_000_000n) / 1000n),
    queue_depth: q,
  });
  return {
    kind: 'ioam',
    source: 'capture',
    timeUnixNano: t,
    observer: 'aramis',
    interfaceName: 'eth0',
    sourceAddress: MAIN.src,
    sourcePort: MAIN.sport,
    destinationAddress: MAIN.dst,
    destinationPort: MAIN.dport,
    protocol: 6,
    optionType: 0,
    namespaceId: 123,
    traceType: 0xf20000,
    overflow: false,
    nodes: [node(1, t, queue, POR1), node(2, t + BigInt(Math.round(transitMs * 1e6)), 0, null)],
    traceId,
    spanId,
  };
}

async function enrich(
  readings: DeviceReading[],
  transitMs: number,
  queue: number,
  overrides: Record<string, unknown> = {},
  networkMetrics?: NetworkMetrics,
  shareMs = 20,
) {
  const { client, server } = clientServer(MAIN, {
    startMs: 1000,
    endMs: 1000 + transitMs + shareMs,
    serverStartMs: 1000 + shareMs / 2,
    serverEndMs: 1000 + transitMs + shareMs / 2,
  });
  const obs = new MemoryObservationStore({ retentionMs: 15 * 60_000, maxObservations: 100 }, new SelfMetrics(), () => NOW_MS);
  obs.insert([ioam(hex(client.traceId), hex(client.spanId), 1005, transitMs, queue)]);
  const devices = deviceStore();
  devices.addReadings(readings);
  const t = await traces({ frontend: [client], backend: [server] });
  const report = await new Correlator(config(overrides), undefined, () => NOW_MS, obs, devices, networkMetrics).enrich(t);
  const spans = synthesized(t);
  return {
    devices,
    report,
    summary: spans.find((s) => s.name.startsWith('network '))!,
    router: spans.find((s) => attr(s, 'ioam.node_id') === 1)!,
  };
}

// 10 Mbit/s por1: 1.2 MB in 1 s is 96 % utilised; 100 kB is 8 %.
const busy = [poll(0, 0n), poll(1000, 1_200_000n)];
const quiet = [poll(0, 0n), poll(1000, 100_000n)];

test('a queue on the router with a slow hop: ioam_queue names the router, the interface and the queue, with its utilisation', async () => {
  const { summary, router, report } = await enrich(busy, 100.4, 1380);
  assert.equal(attr(summary, 'netspan.verdict.rule'), 'ioam_queue');
  assert.equal(attr(summary, 'netspan.verdict.device'), 'porthos');
  assert.equal(attr(summary, 'netspan.verdict.interface'), 'por1');
  assert.equal(attr(summary, 'netspan.verdict.cause'), 'queue');
  assert.equal(attr(summary, 'netspan.verdict.added_ms'), 100.4);
  assert.equal(attr(summary, 'netspan.verdict'), 'porthos por1: queue depth 1380 B, 96 % utilised, +100.4 ms');
  assert.equal(attr(router, 'netspan.interface.name'), 'por1');
  assert.equal(attr(router, 'netspan.interface.out.utilisation'), 0.96);
  assert.equal(attr(router, 'netspan.interface.oper_status'), 'up');
  assert.equal(typeof attr(router, 'netspan.device.state_age_ms'), 'number');
  assert.deepEqual(report.verdicts, { ioam_queue: 1 });
});

test('a queue on a router only IOAM reports on (no SNMP): the verdict names the interface from the inventory', async () => {
  const { summary, router } = await enrich([], 55.2, 140_596);
  assert.equal(attr(summary, 'netspan.verdict.rule'), 'ioam_queue');
  assert.equal(attr(summary, 'netspan.verdict.interface'), 'por1');
  assert.equal(attr(summary, 'netspan.verdict'), 'porthos por1: queue depth 140596 B, +55.2 ms');
  // No reading of the interface: no state is claimed on the hop.
  assert.equal(attr(router, 'netspan.interface.out.utilisation'), undefined);
});

test('a slow hop without a queue: ioam_transit, cause delay', async () => {
  const { summary } = await enrich(quiet, 100, 0);
  assert.equal(attr(summary, 'netspan.verdict.rule'), 'ioam_transit');
  assert.equal(attr(summary, 'netspan.verdict.cause'), 'delay');
  assert.equal(attr(summary, 'netspan.verdict.device'), 'porthos');
  assert.equal(attr(summary, 'netspan.verdict.interface'), 'por1');
});

test('a congested interface with a fast hop: interface_utilisation', async () => {
  const { summary } = await enrich(busy, 0.05, 0);
  assert.equal(attr(summary, 'netspan.verdict.rule'), 'interface_utilisation');
  assert.equal(attr(summary, 'netspan.verdict'), 'porthos por1: 96 % utilised');
});

test('a flap of a path interface during the request wins, shown as an event on the hop', async () => {
  const flap = [poll(0, 0n), poll(500, 10_000n, { operStatus: OPER_STATUS.down }), poll(1000, 20_000n)];
  const { summary, router } = await enrich(flap, 0.05, 0);
  assert.equal(attr(summary, 'netspan.verdict.rule'), 'interface_flap');
  assert.equal(attr(summary, 'netspan.verdict.cause'), 'link_flap');
  assert.equal(attr(summary, 'netspan.verdict.interface'), 'por1');
  assert.ok(router.events.some((e) => e.name === 'anomaly: flap'));
});

test('a busy interface under a fast request: no verdict (device state alone does not make a request slow)', async () => {
  const { summary, router } = await enrich(busy, 0.05, 0, {}, undefined, 2);
  assert.equal(attr(summary, 'netspan.verdict'), undefined);
  assert.equal(attr(router, 'netspan.interface.out.utilisation'), 0.96);
});

test('a quiet network: no verdict at all, but the state is on the hop', async () => {
  const { summary, router, report } = await enrich(quiet, 0.05, 0);
  assert.equal(attr(summary, 'netspan.verdict'), undefined);
  assert.equal(attr(summary, 'netspan.verdict.rule'), undefined);
  assert.deepEqual(report.verdicts, {});
  assert.equal(attr(router, 'netspan.interface.out.utilisation'), 0.08);
});

// The request runs from 1000 ms to 1020.05 ms; its network share (client − server) is 20 ms.
const { up, down } = OPER_STATUS;

test('a flap during the request: added_ms is the network share the request lost, not the IOAM hop transit', async () => {
  const flap = [poll(0, 0n), poll(500, 10_000n, { operStatus: down }), poll(1010, 20_000n, { operStatus: up })];
  const { summary } = await enrich(flap, 0.05, 0);
  assert.equal(attr(summary, 'netspan.verdict.rule'), 'interface_flap');
  assert.equal(attr(summary, 'netspan.verdict.added_ms'), 20);
  assert.equal(attr(summary, 'netspan.verdict'), 'porthos por1: link flap during the request (oper status up → down)');
});

test("a flap seen at the first poll after the request, whose previous poll was before its end, is the request's", async () => {
  // The poll at 0 saw up, the one at 1500 down: the link went down between them, maybe during the request.
  const flap = [poll(0, 0n), poll(1500, 10_000n, { operStatus: down }), poll(2000, 20_000n, { operStatus: up })];
  const { summary, router } = await enrich(flap, 0.05, 0);
  assert.equal(attr(summary, 'netspan.verdict.rule'), 'interface_flap');
  assert.equal(attr(summary, 'netspan.verdict.interface'), 'por1');
  // The way back up (seen at 2000, after a poll at 1500 that still saw down) began after the request.
  assert.deepEqual(
    router.events.map((e) => e.name),
    ['anomaly: flap'],
  );
});

test('a fast request just before a flap that the next poll saw: no verdict (the link may have gone down after it)', async () => {
  const flap = [poll(0, 0n), poll(1500, 10_000n, { operStatus: down }), poll(2000, 20_000n, { operStatus: up })];
  const { summary } = await enrich(flap, 0.05, 0, {}, undefined, 2);
  assert.equal(attr(summary, 'netspan.verdict'), undefined);
});

test('a fast request while a poll saw the link down: no verdict (readings lag the link; a request a down link hurt is slow)', async () => {
  const flap = [poll(0, 0n), poll(1001, 10_000n, { operStatus: down }), poll(2000, 20_000n, { operStatus: up })];
  const { summary, router } = await enrich(flap, 0.05, 0, {}, undefined, 2);
  assert.equal(attr(summary, 'netspan.verdict'), undefined);
  assert.ok(
    router.events.some((e) => e.name === 'anomaly: flap'),
    'the flap is still shown on the hop',
  );
});

test('a flap that began after the request ended does not explain it, even a slow one', async () => {
  // A slow request (1000 to 1050.05 ms); the poll at 1100, after its end, still saw up: the flap is wholly after it.
  const flap = [poll(0, 0n), poll(1100, 0n), poll(1500, 10_000n, { operStatus: down }), poll(2000, 20_000n, { operStatus: up })];
  const { summary, router } = await enrich(flap, 0.05, 0, {}, undefined, 50);
  assert.equal(attr(summary, 'netspan.verdict'), undefined);
  assert.deepEqual(router.events, [], 'no anomaly event for what came after the request');
});

test('a link that went down and came back before a fast request: no verdict', async () => {
  const flap = [poll(-2000, 0n), poll(-1000, 0n, { operStatus: down }), poll(0, 0n, { operStatus: up }), poll(900, 0n)];
  const { summary } = await enrich(flap, 0.05, 0, {}, undefined, 2);
  assert.equal(attr(summary, 'netspan.verdict'), undefined);
});

test('a slow request after a flap that was over before it began: no verdict', async () => {
  const flap = [poll(-3000, 0n), poll(-2000, 0n, { operStatus: down }), poll(-1000, 0n, { operStatus: up }), poll(900, 0n)];
  const { summary, router } = await enrich(flap, 0.05, 0, {}, undefined, 50);
  assert.equal(attr(summary, 'netspan.verdict'), undefined);
  assert.equal(router.events.length, 2, 'the flap within the anomaly window is shown on the hop');
});

test('two flaps that may both have hit the request: the verdict names the one seen nearest to it, not the first', async () => {
  const flaps = [
    poll(0, 0n),
    poll(990, 0n, { operStatus: OPER_STATUS.lowerLayerDown }),
    poll(1005, 0n, { operStatus: up }),
    poll(1015, 0n, { operStatus: down }),
    poll(2000, 0n, { operStatus: up }),
  ];
  const { summary } = await enrich(flaps, 0.05, 0);
  assert.equal(attr(summary, 'netspan.verdict'), 'porthos por1: link flap during the request (oper status up → down)');
});

test("a queue on the request's own hop wins over a flap before the request", async () => {
  const flaps = [poll(-3000, 0n), poll(-2000, 0n, { operStatus: down }), poll(-1000, 0n, { operStatus: up }), poll(900, 0n)];
  const { summary } = await enrich(flaps, 100.4, 1380);
  assert.equal(attr(summary, 'netspan.verdict.rule'), 'ioam_queue');
});

test("a flap outside the anomaly window is not the request's", async () => {
  const flap = [poll(-60_000, 0n, { operStatus: OPER_STATUS.down }), poll(-59_000, 0n), poll(0, 0n), poll(1000, 20_000n)];
  const { summary } = await enrich(flap, 0.05, 0);
  assert.equal(attr(summary, 'netspan.verdict'), undefined);
});

test('verdicts can be turned off; device state stays', async () => {
  const { summary, router } = await enrich(busy, 100.4, 1380, { verdict: { enabled: false } });
  assert.equal(attr(summary, 'netspan.verdict'), undefined);
  assert.equal(attr(router, 'netspan.interface.name'), 'por1');
});

test('hop durations, the verdict and the device state go out as OTLP metrics through the network_metrics receiver', async () => {
  const networkMetrics = new NetworkMetrics(100, () => NOW_MS);
  const { devices } = await enrich(busy, 100.4, 1380, {}, networkMetrics);
  const next = new RecordingConsumer<'metrics'>();
  const settings = testSettings('network_metrics', undefined, { networkMetrics, devices });
  const receiver = new NetworkMetricsReceiver(settings, networkMetricsReceiverConfigSchema.parse({}), { metrics: next });
  await receiver.collect();
  await receiver.shutdown();
  const metrics = next.received[0]!.resourceMetrics[0]!.scopeMetrics[0]!.metrics;
  const byName = new Map(metrics.map((m) => [m.name, m]));
  const hop = byName.get('netspan.network.hop.duration')!;
  assert.equal(hop.data.case, 'histogram');
  const points = hop.data.case === 'histogram' ? hop.data.value.dataPoints : [];
  const router = points.find((p) => p.attributes.some((a) => a.key === 'netspan.device.name' && a.value?.value.value === 'porthos'))!;
  assert.equal(router.count, 1n);
  assert.equal(router.sum, 100.4);
  assert.ok(router.attributes.some((a) => a.key === 'netspan.interface.name' && a.value?.value.value === 'por1'));
  const verdicts = byName.get('netspan.network.verdicts')!;
  assert.equal(verdicts.data.case === 'sum' ? verdicts.data.value.dataPoints[0]!.value.value : undefined, 1n);
  const util = byName.get('netspan.device.interface.utilisation')!;
  const out =
    util.data.case === 'gauge'
      ? util.data.value.dataPoints.find((p) => p.attributes.some((a) => a.value?.value.value === 'out'))
      : undefined;
  assert.equal(out?.value.value, 0.96);
});
