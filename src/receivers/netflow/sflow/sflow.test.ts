import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { repoPath } from '../../../testutil/index.js';
import { decodePacket } from '../../../capture/decode/index.js';
import { ethernet, ipv4, ipv6, tcp, udp } from '../../../capture/decode/build.test.util.js';
import { readPcap } from '../../../capture/pcap/index.js';
import { assertGolden, concat, mutate, prng, toJson } from '../../../capture/testkit.test.util.js';
import type { DecodeContext } from '../decode/types.js';
import {
  address,
  counterSample,
  datagram,
  flowSample,
  gatewayRecord,
  genericCountersRecord,
  headerRecord,
  ipv4Record,
  ipv6Record,
  routerRecord,
  switchRecord,
  tagged,
  u32,
  type GenericCounters,
} from './build.test.util.js';
import { decodeSflow, parseSflowDatagram, type SflowDropSample, type SflowFlowSample, type SflowHeaderRecord } from './index.js';

const testdata = (name: string) => new Uint8Array(readFileSync(repoPath('src', 'receivers', 'netflow', 'sflow', 'testdata', name)));
const VECTORS = {
  flow: 'goflow2-00_TestSFlowDecode_data.bin',
  expanded: 'goflow2-01_TestExpandedSFlowDecode_data.bin',
  dropQueue: 'goflow2-02_TestSFlowDecodeDropEgressQueue_data.bin',
  dropAcl: 'goflow2-03_TestSFlowDecodeDropExtendedACL_data.bin',
  dropFunction: 'goflow2-04_TestSFlowDecodeDropExtendedFunction_data.bin',
};
const RECEIVED = 1_700_000_000_123_000_000n;
const ctx = (keepAllFields = false): DecodeContext => ({ exporter: '198.51.100.7', keepAllFields, receivedAtUnixNano: RECEIVED });

type Json = Record<string, unknown>;
const tsharkJson = (name: string) =>
  (
    JSON.parse(readFileSync(repoPath('src', 'receivers', 'netflow', 'sflow', 'testdata', name), 'utf8')) as { _source: { layers: Json } }[]
  ).map((p) => p._source.layers);

/** The UDP payloads (sFlow datagrams) of a pcap, through the capture reader and packet decoder. */
function udpPayloads(pcap: Uint8Array): Uint8Array[] {
  return readPcap(pcap).packets.map((cp) => {
    const p = decodePacket(cp.data, cp.linkType);
    assert.equal(p.protocol, 17);
    assert.equal(p.destinationPort, 6343);
    return p.payload;
  });
}

// ---- goflow2 vectors: what upstream asserts ----

test('goflow2 TestSFlowDecode: agent 172.16.0.17, sub-agent 1, seq 426, one flow sample', () => {
  const { datagram: d, issues } = parseSflowDatagram(testdata(VECTORS.flow));
  assert.deepEqual(issues, []);
  assert.deepEqual(
    [d!.version, d!.agentAddress, d!.subAgentId, d!.sequenceNumber, d!.declaredSamples, d!.samples.length],
    [5, '172.16.0.17', 1, 426, 1, 1],
  );
  assert.equal(d!.samples[0]!.kind, 'flow');
  const out = decodeSflow(testdata(VECTORS.flow), ctx());
  assert.deepEqual([out.records.length, out.counters.length, out.issues], [1, 0, []]);
});

test('goflow2 TestExpandedSFlowDecode: agent 1.2.3.4, seq 262632130, five expanded flow samples', () => {
  const { datagram: d, issues } = parseSflowDatagram(testdata(VECTORS.expanded));
  assert.deepEqual(issues, []);
  assert.deepEqual([d!.agentAddress, d!.sequenceNumber, d!.samples.length], ['1.2.3.4', 262632130, 5]);
  assert.ok(d!.samples.every((s) => s.kind === 'flow' && s.expanded));
  assert.equal(decodeSflow(testdata(VECTORS.expanded), ctx()).records.length, 5);
});

test('goflow2 drop notifications: EgressQueue 42, ACL 42 "foo!" egress, function "foobar"', () => {
  const drop = (name: string) => {
    const { datagram: d, issues } = parseSflowDatagram(testdata(name));
    assert.deepEqual(issues, [], name);
    assert.deepEqual([d!.agentAddress, d!.subAgentId, d!.sequenceNumber, d!.samples.length], ['192.168.119.184', 100000, 3, 1]);
    const s = d!.samples[0] as SflowDropSample;
    assert.equal(s.kind, 'drop');
    assert.deepEqual(
      [s.sequenceNumber, s.sourceIdType, s.sourceIdIndex, s.drops, s.inputIfIndex, s.outputIfIndex, s.reason],
      [2, 0, 1, 256, 1, 2, 1],
    );
    assert.equal(s.records.length, 1);
    // drops are parsed, but are not traffic: no FlowRecord
    const out = decodeSflow(testdata(name), ctx(true));
    assert.deepEqual([out.records, out.counters, out.issues], [[], [], []]);
    return s.records[0];
  };
  assert.deepEqual(drop(VECTORS.dropQueue), { offset: 76, enterprise: 0, format: 1036, kind: 'egress_queue', queue: 42 });
  assert.deepEqual(drop(VECTORS.dropAcl), { offset: 76, enterprise: 0, format: 1037, kind: 'acl', number: 42, name: 'foo!', direction: 2 });
  assert.deepEqual(drop(VECTORS.dropFunction), { offset: 76, enterprise: 0, format: 1038, kind: 'function', symbol: 'foobar' });
});

// ---- against TShark ----

test('goflow2 flow samples match TShark field by field, sampled headers down to the quartet', () => {
  const layers = tsharkJson('goflow2-sflow_vectors.tshark.json');
  const datagrams = [VECTORS.flow, VECTORS.expanded].map(testdata);
  let samples = 0;
  datagrams.forEach((bytes, di) => {
    const sflow = layers[di]!.sflow as Json;
    const parsed = parseSflowDatagram(bytes).datagram!;
    const out = decodeSflow(bytes, ctx(true));
    assert.equal(parsed.agentAddress, sflow['sflow_245.agent']);
    assert.equal(String(parsed.subAgentId), sflow['sflow_245.sub_agent_id']);
    assert.equal(String(parsed.sequenceNumber), sflow['sflow_245.sequence_number']);
    assert.equal(String(parsed.uptimeMs), sflow['sflow_245.sysuptime']);
    const tsamples = Object.entries(sflow)
      .filter(([k]) => /flow sample/i.test(k))
      .map(([, v]) => v as Json);
    assert.equal(tsamples.length, out.records.length);
    tsamples.forEach((ts, i) => {
      const s = parsed.samples[i] as SflowFlowSample;
      const r = out.records[i]!;
      const where = `datagram ${di} sample ${i}`;
      assert.equal(String(s.sequenceNumber), ts['sflow.flow_sample.sequence_number'], where);
      assert.equal(String(r.samplingRate), ts['sflow.flow_sample.sampling_rate'], where);
      assert.equal(String(s.samplePool), ts['sflow.flow_sample.sample_pool'], where);
      assert.equal(String(s.drops), ts['sflow.flow_sample.dropped_packets'], where);
      const input = ts['sflow.flow_sample.input_interface_value'] ?? ts['sflow.flow_sample.input_interface'];
      const output =
        ts['sflow.flow_sample.output_interface_value'] ??
        (ts['sflow.flow_sample.output_interface_tree'] as Json)['sflow.flow_sample.output_interface_value'];
      assert.equal(String(r.inputInterface), input, where);
      assert.equal(String(r.outputInterface), output, where);
      const raw = ts['Raw packet header'] as Json;
      const h = s.records.find((x) => x.kind === 'header') as SflowHeaderRecord;
      assert.equal(String(r.bytes), raw['sflow_245.header.frame_length'], where);
      assert.equal(String(h.stripped), raw['sflow_245.header.payload_stripped'], where);
      assert.equal(String(h.header.length), raw['sflow_245.header.sampled_header_length'], where);
      // TShark shows the header with its XDR padding
      assert.ok((raw['sflow_245.header'] as string).replaceAll(':', '').startsWith(Buffer.from(h.header).toString('hex')), where);
      const tree = raw['sflow_245.header_tree'] as Record<string, Json>;
      assert.equal(r.sourceAddress, tree.ip!['ip.src'], where);
      assert.equal(r.destinationAddress, tree.ip!['ip.dst'], where);
      assert.equal(String(r.protocol), tree.ip!['ip.proto'], where);
      assert.equal(String(r.fields!['packet.ttl']), tree.ip!['ip.ttl'], where);
      assert.equal(String(r.fields!['packet.vlan_id']), tree.vlan!['vlan.id'], where);
      if (tree.tcp) {
        assert.equal(String(r.sourcePort), tree.tcp['tcp.srcport'], where);
        assert.equal(String(r.destinationPort), tree.tcp['tcp.dstport'], where);
        assert.equal(r.tcpFlags, parseInt(tree.tcp['tcp.flags'] as string, 16), where);
      } else {
        assert.equal(r.protocol, 1, `${where}: ICMP echo`);
        assert.deepEqual([r.sourcePort, r.destinationPort, r.tcpFlags], [0, 0, 0]);
      }
      const sw = ts['Extended switch data'] as Json | undefined;
      if (sw) {
        assert.equal(String(r.fields!['sflow.src_vlan']), sw['sflow_245.vlan.in'], where);
        assert.equal(String(r.fields!['sflow.dst_vlan']), sw['sflow_245.vlan.out'], where);
        assert.equal(String(r.fields!['sflow.src_priority']), sw['sflow_245.pri.in'], where);
        assert.equal(String(r.fields!['sflow.dst_priority']), sw['sflow_245.pri.out'], where);
      }
      samples++;
    });
  });
  assert.equal(samples, 6);
});

test('loghub sflow.pcap (real Alcatel-Lucent datagrams): counters match TShark field by field', () => {
  const layers = tsharkJson('loghub-sflow.tshark.json');
  const payloads = udpPayloads(testdata('loghub-sflow.pcap'));
  assert.equal(payloads.length, 9);
  let counters = 0;
  let flows = 0;
  payloads.forEach((bytes, i) => {
    const sflow = layers[i]!.sflow as Json;
    const out = decodeSflow(bytes, ctx());
    assert.deepEqual(out.issues, []);
    const d = parseSflowDatagram(bytes).datagram!;
    assert.equal(d.agentAddress, sflow['sflow_245.agent']);
    assert.equal(String(d.subAgentId), sflow['sflow_245.sub_agent_id']);
    assert.equal(String(d.sequenceNumber), sflow['sflow_245.sequence_number']);
    assert.equal(String(d.uptimeMs), sflow['sflow_245.sysuptime']);
    assert.equal(String(d.declaredSamples), sflow['sflow_245.numsamples']);
    for (const [key, value] of Object.entries(sflow)) {
      if (key.startsWith('Counters sample')) {
        const ts = value as Json;
        const g = ts['Generic interface counters'] as Json;
        const c = out.counters[0]!;
        const sample = d.samples[0]!;
        assert.equal(sample.kind, 'counters');
        if (sample.kind === 'counters') {
          assert.equal(String(sample.sequenceNumber), ts['sflow.counters_sample.sequence_number']);
          assert.equal(String(sample.sourceIdIndex), ts['sflow.counters_sample.source_id_index']);
        }
        const expect: [unknown, string][] = [
          [c.ifIndex, 'sflow_245.ifindex'],
          [c.ifType, 'sflow_245.iftype'],
          [c.ifSpeed, 'sflow_245.ifspeed'],
          [c.ifDirection, 'sflow_245.ifdirection'],
          [c.ifStatus & 1, 'sflow_245.ifadmin_status'],
          [c.ifStatus >> 1, 'sflow_245.ifoper_status'],
          [c.inOctets, 'sflow_245.ifinoct'],
          [c.inUnicastPackets, 'sflow_245.ifinpkt'],
          [c.inMulticastPackets, 'sflow_245.ifinmcast'],
          [c.inBroadcastPackets, 'sflow_245.ifinbcast'],
          [c.inDiscards, 'sflow_245.ifindisc'],
          [c.inErrors, 'sflow_245.ifinerr'],
          [c.inUnknownProtocols, 'sflow_245.ifinunk'],
          [c.outOctets, 'sflow_245.ifoutoct'],
          [c.outUnicastPackets, 'sflow_245.ifoutpkt'],
          [c.outMulticastPackets, 'sflow_245.ifoutmcast'],
          [c.outBroadcastPackets, 'sflow_245.ifoutbcast'],
          [c.outDiscards, 'sflow_245.ifoutdisc'],
          [c.outErrors, 'sflow_245.ifouterr'],
          [c.promiscuousMode, 'sflow_245.ifpromisc'],
        ];
        for (const [ours, field] of expect) assert.equal(String(ours), g[field], `datagram ${i + 1} ${field}`);
        assert.deepEqual([c.samplerAddress, c.observationDomainId, c.timeUnixNano], ['172.21.35.17', 1, RECEIVED]);
        counters++;
      } else if (key.startsWith('Flow sample')) {
        const r = out.records[0]!;
        const tree = ((value as Json)['Raw packet header'] as Json)['sflow_245.header_tree'] as Record<string, Json>;
        assert.deepEqual(
          [r.sourceAddress, r.destinationAddress, String(r.protocol)],
          [tree.ip!['ip.src'], tree.ip!['ip.dst'], tree.ip!['ip.proto']],
        );
        assert.equal(String(r.inputInterface), (value as Json)['sflow.flow_sample.input_interface']);
        flows++;
      }
    }
  });
  assert.deepEqual([counters, flows], [8, 1]);
});

// ---- the FlowRecord mapping ----

test('a flow sample becomes one FlowRecord: one sampled packet, receive time with a one-second resolution', () => {
  const [r] = decodeSflow(testdata(VECTORS.expanded), ctx()).records;
  assert.deepEqual(r, {
    type: 'sflow_5',
    samplerAddress: '1.2.3.4',
    observationDomainId: 0,
    sequenceNumber: 262632130,
    exportTimeUnixNano: RECEIVED,
    sourceAddress: '185.59.220.147',
    sourcePort: 443,
    destinationAddress: '88.238.78.19',
    destinationPort: 53206,
    protocol: 6,
    ipVersion: 4,
    bytes: 1514,
    packets: 1,
    startUnixNano: RECEIVED,
    endUnixNano: RECEIVED,
    timeResolutionNano: 1e9,
    inputInterface: 1000100,
    outputInterface: 1000018,
    nextHop: '',
    samplingRate: 16383,
    tcpFlags: 0x10,
  });
  const noTime = decodeSflow(testdata(VECTORS.expanded), { exporter: 'x', keepAllFields: false }).records[0]!;
  assert.deepEqual([noTime.startUnixNano, noTime.endUnixNano, noTime.exportTimeUnixNano], [0n, 0n, 0n]);
});

const HTTP = new TextEncoder().encode('GET / HTTP/1.1\r\n');
const COUNTERS: GenericCounters = {
  ifIndex: 7,
  ifType: 6,
  ifSpeed: 10_000_000_000n,
  ifDirection: 1,
  ifStatus: 3,
  inOctets: 0x1_0000_0001n,
  inUcast: 1,
  inMcast: 2,
  inBcast: 3,
  inDiscards: 4,
  inErrors: 5,
  inUnknown: 6,
  outOctets: 0xffff_ffff_ffff_fff0n,
  outUcast: 7,
  outMcast: 8,
  outBcast: 9,
  outDiscards: 10,
  outErrors: 11,
  promiscuous: 1,
};

function builtDatagram(): Uint8Array {
  const v6frame = ethernet(
    0x86dd,
    ipv6({ src: '2001:db8::a', dst: '2001:db8::b', nextHeader: 6, hopLimit: 60, payload: tcp({ sport: 51000, dport: 443, flags: 0x02 }) }),
    [[0x8100, 42]],
  );
  return datagram({
    agent: '2001:db8::100',
    subAgentId: 9,
    sequence: 77,
    uptimeMs: 123456,
    samples: [
      flowSample({
        sequence: 10,
        samplingRate: 512,
        input: 5,
        output: 0x3fffffff, // to the device itself
        records: [headerRecord(1, 78, v6frame), switchRecord(42, 3, 43, 0), routerRecord('2001:db8::fe', 48, 64)],
      }),
      tagged(4300, 1002, new Uint8Array(12)), // enterprise sample: skipped
      flowSample({
        expanded: true,
        sequence: 11,
        samplingRate: 4096,
        input: 0x01020304,
        outputFormat: 1,
        output: 258, // discarded: ACL
        records: [
          tagged(0, 1010, new Uint8Array(8)), // MPLS FTN: kept raw
          ipv4Record({ length: 52, protocol: 17, src: '10.0.0.1', dst: '10.0.0.2', sport: 53, dport: 5353, flags: 0, tos: 0x20 }),
          gatewayRecord({
            nextHop: '192.0.2.254',
            as: 65000,
            srcAs: 64500,
            srcPeerAs: 64501,
            path: [
              [2, [64502, 64503]],
              [1, [64510, 64511]],
            ],
            communities: [(65000 << 16) | 100],
            localPref: 200,
          }),
        ],
      }),
      flowSample({
        inputFormat: 0,
        input: 1,
        outputFormat: 2,
        output: 7, // 7 interfaces
        records: [ipv6Record({ length: 1280, protocol: 6, src: 'fe80::1', dst: 'ff02::1', sport: 1, dport: 2, flags: 0x12, priority: 0 })],
      }),
      flowSample({
        records: [headerRecord(11, 60, ipv4({ protocol: 17, src: '203.0.113.1', dst: '203.0.113.2', payload: udp(4000, 53, HTTP) }), 0)],
      }),
      flowSample({ records: [headerRecord(12, 60, ipv6({ nextHeader: 17, payload: udp(4000, 53, HTTP) }), 0)] }),
      counterSample({ records: [genericCountersRecord(COUNTERS), tagged(0, 2, new Uint8Array(52))] }),
      counterSample({ expanded: true, sourceIdIndex: 0x01000000, records: [genericCountersRecord({ ...COUNTERS, ifIndex: 0x01000000 })] }),
      tagged(0, 99, new Uint8Array(8)), // unknown standard sample: skipped
    ],
  });
}

test('built datagram: IPv6 agent, compact and expanded samples, interface formats, records of every kind', () => {
  const out = decodeSflow(builtDatagram(), ctx(true));
  assert.deepEqual(out.issues, []);
  assert.equal(out.records.length, 5);
  const [a, b, c, d, e] = out.records as [(typeof out.records)[0], ...typeof out.records];
  assert.deepEqual(
    [
      a.samplerAddress,
      a.observationDomainId,
      a.sequenceNumber,
      a.ipVersion,
      a.sourceAddress,
      a.destinationAddress,
      a.sourcePort,
      a.destinationPort,
      a.protocol,
      a.tcpFlags,
    ],
    ['2001:db8::100', 9, 77, 6, '2001:db8::a', '2001:db8::b', 51000, 443, 6, 2],
  );
  assert.deepEqual([a.bytes, a.samplingRate, a.inputInterface, a.outputInterface, a.nextHop], [78, 512, 5, 0, '2001:db8::fe']);
  assert.deepEqual(
    [
      a.fields!['packet.vlan_id'],
      a.fields!['sflow.src_vlan'],
      a.fields!['sflow.src_mask_len'],
      a.fields!['sflow.output_value'],
      a.fields!['packet.ttl'],
    ],
    [42, 42, 48, 0x3fffffff, 60],
  );
  assert.deepEqual(
    [b!.ipVersion, b!.sourceAddress, b!.sourcePort, b!.destinationPort, b!.protocol, b!.bytes],
    [4, '10.0.0.1', 53, 5353, 17, 52],
  );
  assert.deepEqual(
    [b!.inputInterface, b!.outputInterface, b!.fields!['sflow.output_format'], b!.fields!['sflow.output_value']],
    [0x01020304, 0, 1, 258],
  );
  assert.deepEqual(
    [
      b!.fields!['sflow.bgp_next_hop'],
      b!.fields!['sflow.dst_as_path'],
      b!.fields!['sflow.dst_as'],
      b!.fields!['sflow.dst_peer_as'],
      b!.fields!['sflow.communities'],
      b!.fields!['sflow.local_pref'],
    ],
    ['192.0.2.254', '64502 64503 {64510 64511}', 64511, 64502, '65000:100', 200],
  );
  assert.deepEqual(b!.fields!['sflow.flow_record.0.1010'], new Uint8Array(8));
  assert.equal(b!.nextHop, '', 'the BGP next hop is not the IP next hop');
  assert.deepEqual(
    [c!.ipVersion, c!.sourceAddress, c!.destinationAddress, c!.tcpFlags, c!.bytes, c!.outputInterface],
    [6, 'fe80::1', 'ff02::1', 0x12, 1280, 0],
  );
  assert.deepEqual([d!.sourceAddress, d!.destinationPort, d!.protocol, d!.fields!['sflow.header_protocol']], ['203.0.113.1', 53, 17, 11]);
  assert.deepEqual([e!.sourceAddress, e!.destinationPort, e!.ipVersion], ['2001:db8::1', 53, 6]);
  assert.equal(out.counters.length, 2);
  assert.deepEqual(out.counters[0], {
    samplerAddress: '2001:db8::100',
    observationDomainId: 9,
    timeUnixNano: RECEIVED,
    ifIndex: 7,
    ifType: 6,
    ifSpeed: 1e10,
    ifDirection: 1,
    ifStatus: 3,
    inOctets: 0x1_0000_0001n,
    inUnicastPackets: 1,
    inMulticastPackets: 2,
    inBroadcastPackets: 3,
    inDiscards: 4,
    inErrors: 5,
    inUnknownProtocols: 6,
    outOctets: 0xffff_ffff_ffff_fff0n,
    outUnicastPackets: 7,
    outMulticastPackets: 8,
    outBroadcastPackets: 9,
    outDiscards: 10,
    outErrors: 11,
    promiscuousMode: 1,
  });
  assert.equal(out.counters[1]!.ifIndex, 0x01000000);
  const kinds = parseSflowDatagram(builtDatagram()).datagram!.samples.map((s) => s.kind);
  assert.deepEqual(kinds, ['flow', 'unknown', 'flow', 'flow', 'flow', 'flow', 'counters', 'counters', 'unknown']);
});

test('keepAllFields off: no fields; agent address type 0 falls back to the exporter', () => {
  const bytes = datagram({
    agent: '',
    samples: [
      flowSample({
        records: [headerRecord(1, 60, ethernet(0x0800, ipv4({ protocol: 6, payload: tcp({ sport: 1, dport: 2, flags: 2 }) })))],
      }),
    ],
  });
  const [r] = decodeSflow(bytes, ctx(false)).records;
  assert.equal(r!.fields, undefined);
  assert.equal(r!.samplerAddress, '198.51.100.7');
});

test('the raw header wins over sampled IP and Ethernet records; a non-IP header still gives the frame length', () => {
  const v4 = ipv4Record({ length: 40, protocol: 6, src: '10.9.9.1', dst: '10.9.9.2', sport: 7, dport: 8, flags: 0x10, tos: 0 });
  const ipHeader = headerRecord(1, 1514, ethernet(0x0800, ipv4({ protocol: 17, payload: udp(1, 2, new Uint8Array(8)) })));
  const arpHeader = headerRecord(1, 64, ethernet(0x0806, new Uint8Array(28)));
  const ethernetRecord = tagged(0, 2, concat(u32(1000), new Uint8Array(16), u32(0x0800)));
  const out = decodeSflow(
    datagram({
      samples: [
        flowSample({ records: [v4, ipHeader] }),
        flowSample({ records: [arpHeader, v4] }),
        flowSample({ records: [ethernetRecord] }),
      ],
    }),
    ctx(),
  );
  assert.deepEqual(out.issues, []);
  assert.deepEqual(
    out.records.map((r) => [r.bytes, r.sourceAddress, r.protocol]),
    [
      [1514, '192.0.2.1', 17],
      [64, '10.9.9.1', 6],
      [1000, '', 0],
    ],
  );
});

// ---- malformed input ----

test('not version 5, or a header cut short: an issue and nothing else', () => {
  const v4 = testdata(VECTORS.flow).slice();
  v4[3] = 4;
  assert.deepEqual(decodeSflow(v4, ctx()), {
    records: [],
    counters: [],
    issues: [{ code: 'BAD_VERSION', message: 'sFlow version 4 (only 5 is decoded)', offset: 0 }],
  });
  const cut = decodeSflow(testdata(VECTORS.flow).subarray(0, 20), ctx());
  assert.deepEqual(
    cut.issues.map((i) => [i.code, i.offset]),
    [['TRUNCATED', 20]],
  );
  const badAddress = testdata(VECTORS.flow).slice();
  badAddress[7] = 3;
  assert.deepEqual(
    decodeSflow(badAddress, ctx()).issues.map((i) => [i.code, i.offset]),
    [['MALFORMED', 4]],
  );
});

test('a sample length past the datagram end stops there; the samples before it stand', () => {
  const good = flowSample({ records: [] });
  const bytes = datagram({ samples: [good, good] });
  const second = bytes.length - good.length;
  new DataView(bytes.buffer).setUint32(second + 4, 1000, false);
  const out = decodeSflow(bytes, ctx());
  assert.equal(out.records.length, 1);
  assert.deepEqual(
    out.issues.map((i) => [i.code, i.offset, i.context]),
    [['BAD_LENGTH', second + 4, { sample: 1, sampleType: '0:1' }]],
  );
});

test('a record that does not fit its sample drops that sample only; a short record drops that record only', () => {
  const header = headerRecord(1, 60, ethernet(0x0800, ipv4({ protocol: 6, payload: tcp({ sport: 1, dport: 2, flags: 2 }) })));
  const broken = flowSample({ sequence: 1, records: [header] });
  // the record's length (after its format) claims more than the sample holds
  // sample header (8), seven words up to the output interface, the record count, the record's format
  const recordLengthAt = 8 + 7 * 4 + 4 + 4;
  new DataView(broken.buffer).setUint32(recordLengthAt, 4000, false);
  const shortSwitch = tagged(0, 1001, new Uint8Array(8)); // 16 bytes needed
  const bytes = datagram({ samples: [broken, flowSample({ sequence: 2, records: [shortSwitch, header] })] });
  const out = decodeSflow(bytes, ctx(true));
  assert.equal(out.records.length, 1);
  assert.equal(out.records[0]!.fields!['sflow.sample_sequence_number'], 2);
  assert.equal(out.records[0]!.sourcePort, 1, 'the header after the short record is decoded');
  assert.deepEqual(
    out.issues.map((i) => [i.code, i.context]),
    [
      ['BAD_LENGTH', { sample: 0, sampleType: '0:1' }],
      ['TRUNCATED', { sample: 1, record: 0, recordFormat: '0:1001' }],
    ],
  );
  assert.equal(out.issues[0]!.offset, 28 + recordLengthAt);
  // second sample: its header (8), 28 bytes of fields, the count (4), the record header (8), two of four words read
  assert.equal(out.issues[1]!.offset, 28 + broken.length + 8 + 28 + 4 + 8 + 8, out.issues[1]!.message);
});

test('fewer samples than announced is an issue; bytes after the last sample are only counted', () => {
  const one = flowSample({ records: [] });
  const fewer = decodeSflow(datagram({ samples: [one], declared: 3 }), ctx());
  assert.deepEqual(
    fewer.issues.map((i) => i.code),
    ['TRUNCATED'],
  );
  assert.equal(fewer.records.length, 1);
  const strayBytes = concat(datagram({ samples: [one] }), u32(0));
  const stray = decodeSflow(strayBytes, ctx());
  assert.deepEqual([stray.issues, stray.records.length], [[], 1]);
  assert.equal(parseSflowDatagram(strayBytes).datagram!.trailingBytes, 4);
});

test('a datagram cut at every offset never throws; issues point inside it', () => {
  for (const bytes of [
    testdata(VECTORS.flow),
    testdata(VECTORS.expanded),
    testdata(VECTORS.dropAcl),
    builtDatagram(),
    ...udpPayloads(testdata('loghub-sflow.pcap')).slice(0, 4),
  ]) {
    const whole = decodeSflow(bytes, ctx(true));
    assert.deepEqual(whole.issues, []);
    const used = bytes.length - parseSflowDatagram(bytes).datagram!.trailingBytes;
    for (let cut = 0; cut < bytes.length; cut++) {
      const out = decodeSflow(bytes.subarray(0, cut), ctx(true));
      if (cut < used) assert.ok(out.issues.length > 0, `cut at ${cut} of ${bytes.length}: no issue`);
      else assert.deepEqual(out, whole, 'a cut in the trailing bytes changes nothing');
      for (const i of out.issues) assert.ok(i.offset >= 0 && i.offset <= cut, `cut at ${cut}: ${i.message}`);
      assert.ok(out.records.length <= whole.records.length && out.counters.length <= whole.counters.length);
      // a record that survives the cut is the same as in the whole datagram
      out.records.forEach((r, k) => assert.deepEqual(r, whole.records[k]));
    }
  }
});

test('fuzz: 200,000 mutated datagrams: no throw, no hang, offsets inside the datagram', () => {
  const seeds = [
    testdata(VECTORS.flow),
    testdata(VECTORS.expanded),
    testdata(VECTORS.dropQueue),
    testdata(VECTORS.dropAcl),
    testdata(VECTORS.dropFunction),
    builtDatagram(),
    ...udpPayloads(testdata('loghub-sflow.pcap')).slice(0, 4),
  ];
  const rand = prng(0x5f10);
  const started = Date.now();
  let issues = 0;
  let records = 0;
  for (let i = 0; i < 200_000; i++) {
    const bytes = mutate(rand, seeds[i % seeds.length]!);
    const out = decodeSflow(bytes, ctx(i % 2 === 0));
    for (const is of out.issues) assert.ok(is.offset >= 0 && is.offset <= bytes.length, is.message);
    issues += out.issues.length;
    records += out.records.length + out.counters.length;
  }
  const ms = Date.now() - started;
  assert.ok(issues > 10_000 && records > 100_000, `${issues} issues, ${records} records`);
  assert.ok(ms < 90_000, `${ms} ms`);
});

// ---- golden ----

test('decoded datagrams (golden)', async () => {
  const out: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(VECTORS)) out[`goflow2 ${key}`] = decodeSflow(testdata(name), ctx(true));
  const loghub = udpPayloads(testdata('loghub-sflow.pcap'));
  out['loghub #1'] = decodeSflow(loghub[0]!, ctx(true));
  out['loghub #4'] = decodeSflow(loghub[3]!, ctx(true));
  out['built'] = decodeSflow(builtDatagram(), ctx(true));
  await assertGolden(['receivers', 'netflow', 'sflow'], 'decoded.golden.json', toJson(out));
});

test('address builder sanity', () => {
  assert.deepEqual(address('10.1.2.3'), Uint8Array.of(0, 0, 0, 1, 10, 1, 2, 3));
});
