import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EvidenceHub, evidenceConfigSchema } from '../core/evidence-hub.js';
import { SelfMetrics } from '../core/telemetry/metrics.js';
import { silentLogger } from '../core/telemetry/logger.js';
import type { FlowRecord, InterfaceCounters } from '../model/flow.js';
import { packFlows } from '../evidence/memory/rows.js';
import { readFileSync } from 'node:fs';
import { repoPath } from '../testutil/index.js';
import { readPcap } from '../capture/pcap/index.js';
import { decodePacket } from '../capture/decode/index.js';
import { decodeSflow } from '../receivers/netflow/sflow/index.js';

const S = 1_000_000_000n;

function counters(t: bigint, inOctets: bigint, ifStatus: number): InterfaceCounters {
  return {
    samplerAddress: '198.18.3.1',
    observationDomainId: 0,
    timeUnixNano: t,
    ifIndex: 4,
    ifType: 6,
    ifSpeed: 1e9,
    ifDirection: 1,
    ifStatus,
    inOctets,
    inUnicastPackets: 0,
    inMulticastPackets: 0,
    inBroadcastPackets: 0,
    inDiscards: 0,
    inErrors: 0,
    inUnknownProtocols: 0,
    outOctets: 0n,
    outUnicastPackets: 0,
    outMulticastPackets: 0,
    outBroadcastPackets: 0,
    outDiscards: 0,
    outErrors: 0,
    promiscuousMode: 0,
  };
}

test('the evidence hub stores sFlow counter samples in the device store, under the inventory name of the agent', async () => {
  const config = evidenceConfigSchema.parse({ devices: { inventory: { porthos: { flow_exporters: ['198.18.3.1'] } } } });
  const hub = new EvidenceHub(config, new SelfMetrics(), silentLogger());
  const t0 = BigInt(Date.now() - 60_000) * 1_000_000n;
  hub.addInterfaceCounters([counters(t0, 1000n, 3)]);
  hub.addInterfaceCounters([counters(t0 + 20n * S, 2_501_000n, 1)]);
  const s = hub.devices.stateAt('porthos', 4, t0 + 20n * S, 30n * S)!;
  assert.equal(s.interfaces[0]!.latest.value.inBitsPerSecond, 1e6);
  assert.equal(s.interfaces[0]!.latest.value.inUtilisation, 1e-3);
  // ifStatus 3 = admin and oper up; 1 = admin up, oper down.
  assert.deepEqual(
    s.anomalies.map((a) => a.detail),
    ['oper status up → down'],
  );
  // By address too.
  assert.equal(hub.devices.stateAt('198.18.3.1', 4, t0 + 20n * S, 0n)!.device, 'porthos');
  await hub.close();
});

test('the evidence hub notes flow exporter addresses (records and packed rows) for SNMP polling', async () => {
  const hub = new EvidenceHub(evidenceConfigSchema.parse({}), new SelfMetrics(), silentLogger());
  const now = BigInt(Date.now()) * 1_000_000n;
  const flow = (sampler: string): FlowRecord => ({
    type: 'ipfix',
    samplerAddress: sampler,
    observationDomainId: 0,
    sequenceNumber: 0,
    exportTimeUnixNano: now,
    sourceAddress: '198.18.1.2',
    sourcePort: 40000,
    destinationAddress: '198.18.2.2',
    destinationPort: 80,
    protocol: 6,
    ipVersion: 4,
    bytes: 100,
    packets: 1,
    startUnixNano: now,
    endUnixNano: now,
    timeResolutionNano: 1_000_000,
    inputInterface: 1,
    outputInterface: 2,
    nextHop: '198.18.2.2',
    samplingRate: 1,
    tcpFlags: 0,
  });
  hub.addFlows([flow('198.18.3.1'), flow('198.18.3.1')]);
  hub.addPackedFlows(packFlows([flow('198.18.9.1'), flow('fd00:3::1'), flow('198.18.9.1')]));
  assert.deepEqual(hub.devices.flowExporters(), ['198.18.3.1', '198.18.9.1', 'fd00:3::1']);
  await hub.close();
});

test('real sFlow datagrams (loghub capture, an Alcatel-Lucent switch): counter samples become interface series with rates', async () => {
  const pcap = readPcap(new Uint8Array(readFileSync(repoPath('src', 'receivers', 'netflow', 'sflow', 'testdata', 'loghub-sflow.pcap'))));
  // The capture is from 2013: a retention that keeps it.
  const hub = new EvidenceHub(evidenceConfigSchema.parse({ devices: { retention: '1000000h' } }), new SelfMetrics(), silentLogger());
  const samples: InterfaceCounters[] = [];
  for (const cp of pcap.packets) {
    const p = decodePacket(cp.data, cp.linkType);
    const out = decodeSflow(p.payload, { exporter: '192.0.2.1', keepAllFields: false, receivedAtUnixNano: cp.timestampUnixNano });
    hub.addInterfaceCounters(out.counters);
    samples.push(...out.counters);
  }
  assert.equal(samples.length, 8);
  const listed = hub.devices.listDevices();
  assert.deepEqual(
    listed.map((d) => [d.device, d.interfaces.map((i) => i.ifIndex)]),
    [['172.21.35.17', [1036, 1043]]],
  );
  for (const ifIndex of [1036, 1043]) {
    const mine = samples.filter((c) => c.ifIndex === ifIndex);
    const series = hub.devices.seriesIn('172.21.35.17', ifIndex, 0n, 2n ** 62n)!.interfaces[0]!;
    assert.equal(series.points.length, mine.length);
    assert.equal(series.points[0]!.noRate, 'first');
    for (let i = 1; i < mine.length; i++) {
      const a = mine[i - 1]!;
      const b = mine[i]!;
      const seconds = Number(b.timeUnixNano - a.timeUnixNano) / 1e9;
      const p = series.points[i]!;
      assert.equal(p.noRate, undefined);
      assert.equal(p.inBitsPerSecond, (Number(b.inOctets - a.inOctets) * 8) / seconds);
      assert.equal(p.outBitsPerSecond, (Number(b.outOctets - a.outOctets) * 8) / seconds);
      assert.equal(p.inUtilisation, p.inBitsPerSecond! / 100e6);
      assert.equal(p.operStatus, 1);
    }
  }
  await hub.close();
});
