/** NetFlow v5: header, records, times from the raw bytes, sampling, engine ids, sequence numbers. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNetflow } from './decode.js';
import { TemplateState } from './templates.js';
import { Bytes, CTX, datFile } from './testkit.test.util.js';

function v5Header(h: {
  count: number;
  uptime: number;
  secs: number;
  nsecs: number;
  sequence: number;
  engineType?: number;
  engineId?: number;
  sampling?: number;
}): Bytes {
  return new Bytes()
    .u16(5)
    .u16(h.count)
    .u32(h.uptime)
    .u32(h.secs)
    .u32(h.nsecs)
    .u32(h.sequence)
    .u8(h.engineType ?? 0)
    .u8(h.engineId ?? 0)
    .u16(h.sampling ?? 0);
}

function v5Record(b: Bytes, first: number, last: number): Bytes {
  return b
    .ipv4('192.0.2.10')
    .ipv4('198.51.100.20')
    .ipv4('192.0.2.1')
    .u16(3)
    .u16(4)
    .u32(10)
    .u32(1500)
    .u32(first)
    .u32(last)
    .u16(40000)
    .u16(443)
    .u8(0)
    .u8(0x1b)
    .u8(6)
    .u8(0x20)
    .u16(64500)
    .u16(64501)
    .u8(24)
    .u8(16)
    .u16(0);
}

describe('NetFlow v5', () => {
  test('netflow5.dat: the first PDU, times from sysUptime with a signed 32-bit difference, trailing bytes reported', () => {
    const bytes = datFile('netflow5.dat');
    const out = decodeNetflow(bytes, CTX, new TemplateState());
    assert.equal(out.records.length, 2);
    // header: sysUptime 0x0d35, unix 0x55451990.0x10b57740; record 0: first 0xffffffff (-1), last 0x0a11
    const exportNs = BigInt(0x55451990) * 1_000_000_000n + BigInt(0x10b57740);
    const r = out.records[0];
    assert.ok(r);
    assert.equal(r.exportTimeUnixNano, exportNs);
    assert.equal(r.startUnixNano, exportNs - BigInt(0x0d35 + 1) * 1_000_000n);
    assert.equal(r.endUnixNano, exportNs - BigInt(0x0d35 - 0x0a11) * 1_000_000n);
    assert.equal(r.timeResolutionNano, 1e6);
    assert.deepEqual(
      out.issues.map((i) => [i.code, i.offset]),
      [['BAD_LENGTH', 24 + 2 * 48]],
    );
  });

  test('every record field, fields by registry name, engine ids as the domain, sampling interval', () => {
    const packet = v5Record(
      v5Record(
        v5Header({ count: 2, uptime: 100_000, secs: 1_700_000_000, nsecs: 5, sequence: 7, engineType: 1, engineId: 2, sampling: 0x4064 }),
        90_000,
        99_000,
      ),
      0xfffffff0,
      10,
    ).build();
    const out = decodeNetflow(packet, CTX, new TemplateState());
    assert.deepEqual(out.issues, []);
    const [a, b] = out.records;
    assert.ok(a && b);
    assert.deepEqual(
      {
        type: a.type,
        src: a.sourceAddress,
        dst: a.destinationAddress,
        nh: a.nextHop,
        ports: [a.sourcePort, a.destinationPort],
        ifs: [a.inputInterface, a.outputInterface],
        counters: [a.packets, a.bytes],
        proto: a.protocol,
        flags: a.tcpFlags,
        ipVersion: a.ipVersion,
        domain: a.observationDomainId,
        seq: a.sequenceNumber,
        sampling: a.samplingRate,
      },
      {
        type: 'netflow_v5',
        src: '192.0.2.10',
        dst: '198.51.100.20',
        nh: '192.0.2.1',
        ports: [40000, 443],
        ifs: [3, 4],
        counters: [10, 1500],
        proto: 6,
        flags: 0x1b,
        ipVersion: 4,
        domain: 0x0102,
        seq: 7,
        sampling: 100, // top two bits: mode 1; low 14 bits: 1 in 100
      },
    );
    const exportNs = 1_700_000_000_000_000_005n;
    assert.equal(a.startUnixNano, exportNs - 10_000_000_000n);
    assert.equal(a.endUnixNano, exportNs - 1_000_000_000n);
    // first 0xfffffff0: 16 ms before the 32-bit uptime wrapped, the header's uptime being 100 000 ms after it
    assert.equal(b.startUnixNano, exportNs - BigInt(100_000 + 16) * 1_000_000n);
    assert.equal(a.fields?.bgpSourceAsNumber, 64500);
    assert.equal(a.fields?.ipClassOfService, 0x20);
    assert.equal(a.fields?.sourceIPv4PrefixLength, 24);
    assert.equal(a.fields?.engineType, 1);
    assert.equal(a.fields?.samplingAlgorithm, 1);
  });

  test('sampling interval 0: rate unknown (0), not "unsampled"', () => {
    const out = decodeNetflow(
      v5Record(v5Header({ count: 1, uptime: 1, secs: 1, nsecs: 0, sequence: 0 }), 0, 0).build(),
      CTX,
      new TemplateState(),
    );
    assert.equal(out.records[0]?.samplingRate, 0);
  });

  test('a count larger than the datagram: the records present, and the issue', () => {
    const out = decodeNetflow(datFile('netflow5_test_invalid01.dat'), CTX, new TemplateState());
    assert.equal(out.records.length, 30);
    assert.deepEqual(
      out.issues.map((i) => [i.code, i.context?.count]),
      [['BAD_LENGTH', 55582]],
    );
  });

  test('sequence numbers count flows', () => {
    const state = new TemplateState();
    const packet = (sequence: number): Uint8Array =>
      v5Record(v5Record(v5Header({ count: 2, uptime: 1, secs: 1, nsecs: 0, sequence }), 0, 0), 0, 0).build();
    for (const seq of [0, 2, 4]) decodeNetflow(packet(seq), CTX, state);
    assert.equal(state.stats.sequenceGaps, 0);
    decodeNetflow(packet(10), CTX, state);
    assert.equal(state.stats.sequenceGaps, 1);
    assert.equal(state.stats.sequenceLost, 4);
  });
});
