/**
 * IPFIX (RFC 7011) decoding on synthetic messages written field by field: variable-length and enterprise
 * elements, reduced-size encoding, every timestamp form, RFC 5103 biflows, template withdrawal, options
 * records applied to later flows, sequence numbers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlowRecord } from '../../../model/flow.js';
import { decodeNetflow } from './decode.js';
import { TemplateState } from './templates.js';
import { Bytes, CTX, decodeSequence, ipfixMessage, ipfixTemplateRecord, set, type FieldSpec } from './testkit.test.util.js';
import type { DecodeOutput } from './types.js';

const EXPORT = 1_700_000_000; // 2023-11-14T22:13:20Z
const EXPORT_NS = BigInt(EXPORT) * 1_000_000_000n;
const header = (sequence = 0, domain = 1): { exportTime: number; sequence: number; domain: number } => ({
  exportTime: EXPORT,
  sequence,
  domain,
});
const NTP_OFFSET = 2_208_988_800;

const QUARTET: FieldSpec[] = [
  { id: 8, length: 4 },
  { id: 12, length: 4 },
  { id: 7, length: 2 },
  { id: 11, length: 2 },
  { id: 4, length: 1 },
];
const quartet = (b: Bytes, src = '10.0.0.1', dst = '10.0.0.2', sport = 1234, dport = 80, proto = 6): Bytes =>
  b.ipv4(src).ipv4(dst).u16(sport).u16(dport).u8(proto);

function decode(state: TemplateState, ...messages: Uint8Array[]): DecodeOutput {
  const all: DecodeOutput = { records: [], counters: [], issues: [], options: [] };
  for (const m of messages) {
    const out = decodeNetflow(m, CTX, state);
    all.records.push(...out.records);
    all.issues.push(...out.issues);
    all.options?.push(...(out.options ?? []));
  }
  return all;
}

/** One template (id 256) and one data record in one message; returns the record. */
function single(fields: FieldSpec[], record: (b: Bytes) => Bytes, state = new TemplateState()): FlowRecord {
  const out = decode(state, ipfixMessage(header(), set(2, ipfixTemplateRecord(256, fields)), set(256, record(new Bytes()).build())));
  assert.deepEqual(out.issues, []);
  assert.equal(out.records.length, 1);
  return out.records[0] as FlowRecord;
}

describe('IPFIX field encodings', () => {
  test('variable-length elements: 1-byte and 255 + 2-byte lengths, and an empty one', () => {
    const long = 'x'.repeat(300);
    const r = single([...QUARTET, { id: 130, length: 65535, pen: 5951 }, { id: 82, length: 65535 }, { id: 83, length: 65535 }], (b) =>
      quartet(b).u8(4).bytes(Buffer.from('/a/b')).u8(255).u16(300).bytes(Buffer.from(long)).u8(0),
    );
    assert.equal(r.sourceAddress, '10.0.0.1');
    assert.equal(r.fields?.netscalerHttpReqUrl, '/a/b');
    assert.equal(r.fields?.interfaceName, long);
    assert.equal(r.fields?.interfaceDescription, '');
  });

  test('enterprise elements: known vendor names, unknown ones as raw bytes under <pen>.<id>', () => {
    const r = single([...QUARTET, { id: 133, length: 4, pen: 5951 }, { id: 42, length: 3, pen: 12345 }, { id: 999, length: 2 }], (b) =>
      quartet(b).u32(14460661).bytes([1, 2, 3]).u16(0xbeef),
    );
    assert.equal(r.fields?.netscalerConnectionId, 14460661);
    assert.deepEqual(r.fields?.['12345.42'], Uint8Array.from([1, 2, 3]));
    assert.deepEqual(r.fields?.['0.999'], Uint8Array.from([0xbe, 0xef]));
  });

  test('reduced-size encoding (RFC 7011 §6.2): counters in 4, 2 or 1 bytes; addresses of a wrong size are not addresses', () => {
    const r = single(
      [
        { id: 8, length: 2 },
        { id: 12, length: 4 },
        { id: 1, length: 2 },
        { id: 2, length: 1 },
        { id: 6, length: 1 },
        { id: 10, length: 2 },
        { id: 85, length: 4 },
      ],
      (b) => b.u16(0x0a00).ipv4('10.0.0.2').u16(1500).u8(3).u8(0x12).u16(7).u32(99),
    );
    assert.equal(r.bytes, 1500);
    assert.equal(r.packets, 3);
    assert.equal(r.tcpFlags, 0x12);
    assert.equal(r.inputInterface, 7);
    assert.equal(r.sourceAddress, '');
    assert.equal(r.destinationAddress, '10.0.0.2');
    assert.deepEqual(r.fields?.sourceIPv4Address, Uint8Array.from([0x0a, 0x00]));
    assert.equal(r.fields?.octetTotalCount, 99);
  });

  test('unsigned64 counters above 2^53 stay exact in fields', () => {
    const r = single([...QUARTET, { id: 1, length: 8 }], (b) => quartet(b).u64(2n ** 60n + 1n));
    assert.equal(r.fields?.octetDeltaCount, 2n ** 60n + 1n);
  });

  test('IPv6 addresses and next hops, ipVersion', () => {
    const v6 = (last: number): number[] => [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last];
    const r = single(
      [
        { id: 27, length: 16 },
        { id: 28, length: 16 },
        { id: 62, length: 16 },
        { id: 60, length: 1 },
      ],
      (b) =>
        b
          .bytes(v6(1))
          .bytes(v6(2))
          .bytes([0xfe, 0x80, ...Array<number>(13).fill(0), 1])
          .u8(6),
    );
    assert.equal(r.ipVersion, 6);
    assert.equal(r.sourceAddress, '2001:db8::1');
    assert.equal(r.destinationAddress, '2001:db8::2');
    assert.equal(r.nextHop, 'fe80::1');
  });

  test('keepAllFields off: no fields object', () => {
    const state = new TemplateState();
    const out = decodeNetflow(
      ipfixMessage(header(), set(2, ipfixTemplateRecord(256, QUARTET)), set(256, quartet(new Bytes()).build())),
      { exporter: 'a', keepAllFields: false },
      state,
    );
    assert.equal(out.records.length, 1);
    assert.equal(out.records[0]?.fields, undefined);
    assert.equal(out.records[0]?.sourcePort, 1234);
  });
});

describe('IPFIX timestamps', () => {
  const ms = (t: number): bigint => BigInt(t) * 1_000_000n;
  const T0 = (EXPORT - 10) * 1000; // 10 s before the export

  test('flowStart/EndSeconds: whole seconds', () => {
    const r = single([...QUARTET, { id: 150, length: 4 }, { id: 151, length: 4 }], (b) =>
      quartet(b)
        .u32(EXPORT - 10)
        .u32(EXPORT - 5),
    );
    assert.equal(r.startUnixNano, ms(T0));
    assert.equal(r.endUnixNano, ms(T0 + 5000));
    assert.equal(r.timeResolutionNano, 1e9);
  });

  test('flowStart/EndMilliseconds', () => {
    const r = single([...QUARTET, { id: 152, length: 8 }, { id: 153, length: 8 }], (b) =>
      quartet(b)
        .u64(BigInt(T0 + 1))
        .u64(BigInt(T0 + 2)),
    );
    assert.deepEqual([r.startUnixNano, r.endUnixNano, r.timeResolutionNano], [ms(T0 + 1), ms(T0 + 2), 1e6]);
  });

  test('flowStart/EndMicroseconds and Nanoseconds in NTP format (RFC 7011 §6.1.9/10)', () => {
    const ntp = EXPORT - 10 + NTP_OFFSET;
    const micro = single(
      [...QUARTET, { id: 154, length: 8 }, { id: 155, length: 8 }],
      (b) =>
        quartet(b)
          .u32(ntp)
          .u32(0x80000000)
          .u32(ntp)
          .u32(0xc0000000 + 0x7ff), // the low 11 bits are ignored
    );
    assert.equal(micro.startUnixNano, ms(T0) + 500_000_000n);
    assert.equal(micro.endUnixNano, ms(T0) + 750_000_000n);
    assert.equal(micro.timeResolutionNano, 1e3);
    const nano = single([...QUARTET, { id: 156, length: 8 }, { id: 157, length: 8 }], (b) =>
      quartet(b).u32(ntp).u32(1).u32(ntp).u32(0x40000000),
    );
    assert.equal(nano.startUnixNano, ms(T0)); // 2^-32 s is below a nanosecond
    assert.equal(nano.endUnixNano, ms(T0) + 250_000_000n);
    assert.equal(nano.timeResolutionNano, 1);
  });

  test('flowStart/EndSysUpTime with systemInitTimeMilliseconds in the record', () => {
    const init = T0 - 60_000;
    const r = single([...QUARTET, { id: 160, length: 8 }, { id: 22, length: 4 }, { id: 21, length: 4 }], (b) =>
      quartet(b).u64(BigInt(init)).u32(60_000).u32(61_500),
    );
    assert.deepEqual([r.startUnixNano, r.endUnixNano, r.timeResolutionNano], [ms(T0), ms(T0 + 1500), 1e6]);
  });

  test('flowStart/EndSysUpTime with systemInitTimeMilliseconds from an options record of the domain', () => {
    const state = new TemplateState();
    const init = T0 - 60_000;
    const out = decode(
      state,
      ipfixMessage(
        header(0),
        set(
          3,
          ipfixTemplateRecord(
            300,
            [
              { id: 143, length: 4 },
              { id: 160, length: 8 },
            ],
            1,
          ),
        ),
        set(300, new Bytes().u32(1).u64(BigInt(init)).build()),
        set(2, ipfixTemplateRecord(256, [...QUARTET, { id: 22, length: 4 }, { id: 21, length: 4 }])),
        set(256, quartet(new Bytes()).u32(60_000).u32(60_100).build()),
      ),
    );
    assert.deepEqual(out.issues, []);
    assert.equal(out.options?.length, 1);
    assert.equal(state.systemInitTimeMs(CTX.exporter, 10, 1), init);
    const r = out.records[0];
    assert.deepEqual([r?.startUnixNano, r?.endUnixNano, r?.timeResolutionNano], [ms(T0), ms(T0 + 100), 1e6]);
  });

  test('flowStart/EndSysUpTime without any init time: anchored on the export, duration kept, coarse', () => {
    const r = single([...QUARTET, { id: 22, length: 4 }, { id: 21, length: 4 }], (b) => quartet(b).u32(2_000_000).u32(2_003_000));
    assert.equal(r.endUnixNano, EXPORT_NS);
    assert.equal(r.startUnixNano, EXPORT_NS - ms(3000));
    assert.equal(r.timeResolutionNano, 60e9);
  });

  test('flowStart/EndDeltaMicroseconds: before the export time', () => {
    const r = single([...QUARTET, { id: 158, length: 4 }, { id: 159, length: 4 }], (b) => quartet(b).u32(2_500_001).u32(1_000));
    assert.equal(r.startUnixNano, EXPORT_NS - 2_500_001_000n);
    assert.equal(r.endUnixNano, EXPORT_NS - 1_000_000n);
    assert.equal(r.timeResolutionNano, 1e3);
  });

  test('flowDurationMilliseconds/Microseconds complete a start or an end', () => {
    const fromStart = single([...QUARTET, { id: 152, length: 8 }, { id: 161, length: 4 }], (b) => quartet(b).u64(BigInt(T0)).u32(1234));
    assert.deepEqual([fromStart.startUnixNano, fromStart.endUnixNano, fromStart.timeResolutionNano], [ms(T0), ms(T0 + 1234), 1e6]);
    const fromEnd = single([...QUARTET, { id: 153, length: 8 }, { id: 162, length: 4 }], (b) => quartet(b).u64(BigInt(T0)).u32(1500));
    assert.equal(fromEnd.endUnixNano, ms(T0));
    assert.equal(fromEnd.startUnixNano, ms(T0) - 1_500_000n);
  });

  test('no time at all: the export time, marked coarse', () => {
    const r = single(QUARTET, (b) => quartet(b));
    assert.deepEqual([r.startUnixNano, r.endUnixNano, r.timeResolutionNano], [EXPORT_NS, EXPORT_NS, 60e9]);
    assert.equal(r.exportTimeUnixNano, EXPORT_NS);
  });

  test('a zero absolute time means "not set"', () => {
    const r = single([...QUARTET, { id: 152, length: 8 }, { id: 153, length: 8 }], (b) => quartet(b).u64(0n).u64(BigInt(T0)));
    assert.equal(r.startUnixNano, ms(T0));
    assert.equal(r.fields?.flowStartMilliseconds, 0);
  });
});

describe('RFC 5103 biflows', () => {
  const BIFLOW: FieldSpec[] = [
    ...QUARTET,
    { id: 1, length: 8 },
    { id: 2, length: 8 },
    { id: 6, length: 2 },
    { id: 10, length: 4 },
    { id: 14, length: 4 },
    { id: 152, length: 8 },
    { id: 153, length: 8 },
    { id: 1, length: 8, pen: 29305 },
    { id: 2, length: 8, pen: 29305 },
    { id: 6, length: 2, pen: 29305 },
    { id: 152, length: 8, pen: 29305 },
  ];
  const T = (EXPORT - 10) * 1000;
  const record = (b: Bytes, revBytes: bigint, revPackets: bigint): Bytes =>
    quartet(b)
      .u64(1000n)
      .u64(10n)
      .u16(0x1b)
      .u32(3)
      .u32(4)
      .u64(BigInt(T))
      .u64(BigInt(T + 900))
      .u64(revBytes)
      .u64(revPackets)
      .u16(0x12)
      .u64(BigInt(T + 5));

  test('reverse elements yield a second record: swapped quartet and interfaces, reverse counters and flags', () => {
    const state = new TemplateState();
    const out = decode(
      state,
      ipfixMessage(header(), set(2, ipfixTemplateRecord(256, BIFLOW)), set(256, record(new Bytes(), 5000n, 8n).build())),
    );
    assert.deepEqual(out.issues, []);
    assert.equal(out.records.length, 2);
    const [fwd, rev] = out.records as [FlowRecord, FlowRecord];
    assert.equal(fwd.biflowDirection, 'forward');
    assert.deepEqual([fwd.sourceAddress, fwd.sourcePort, fwd.destinationAddress, fwd.destinationPort], ['10.0.0.1', 1234, '10.0.0.2', 80]);
    assert.deepEqual([fwd.bytes, fwd.packets, fwd.tcpFlags, fwd.inputInterface, fwd.outputInterface], [1000, 10, 0x1b, 3, 4]);
    assert.equal(rev.biflowDirection, 'reverse');
    assert.deepEqual([rev.sourceAddress, rev.sourcePort, rev.destinationAddress, rev.destinationPort], ['10.0.0.2', 80, '10.0.0.1', 1234]);
    assert.deepEqual([rev.bytes, rev.packets, rev.tcpFlags, rev.inputInterface, rev.outputInterface], [5000, 8, 0x12, 4, 3]);
    assert.equal(rev.startUnixNano, BigInt(T + 5) * 1_000_000n);
    assert.equal(rev.endUnixNano, fwd.endUnixNano);
    assert.equal(rev.protocol, 6);
    assert.equal(fwd.fields?.reverseOctetDeltaCount, 5000);
    assert.equal(state.stats.records, 2);
  });

  test('no reverse traffic: only the forward record', () => {
    const out = decode(
      new TemplateState(),
      ipfixMessage(header(), set(2, ipfixTemplateRecord(256, BIFLOW)), set(256, record(new Bytes(), 0n, 0n).build())),
    );
    assert.equal(out.records.length, 1);
    assert.equal(out.records[0]?.biflowDirection, 'forward');
  });

  test('reverse elements without reverse counters (Ixia) make no biflow', () => {
    const r = single([...QUARTET, { id: 32, length: 2, pen: 29305 }], (b) => quartet(b).u16(0));
    assert.equal(r.biflowDirection, undefined);
    assert.equal(r.fields?.reverseIcmpTypeCodeIPv4, 0);
  });
});

describe('IPFIX templates', () => {
  const data = (sequence: number, ...sets: Uint8Array[]): Uint8Array => ipfixMessage(header(sequence), ...sets);

  test('a template withdrawn mid-stream: later data waits for a new template', () => {
    const state = new TemplateState();
    const first = decode(state, data(0, set(2, ipfixTemplateRecord(256, QUARTET)), set(256, quartet(new Bytes()).build())));
    assert.equal(first.records.length, 1);
    assert.equal(state.templateCount(CTX.exporter), 1);
    const withdrawn = decode(state, data(1, set(2, new Bytes().u16(256).u16(0).build())));
    assert.deepEqual(withdrawn.issues, []);
    assert.equal(state.templateCount(CTX.exporter), 0);
    assert.equal(state.stats.templatesWithdrawn, 1);
    const after = decode(state, data(1, set(256, quartet(new Bytes()).build())));
    assert.equal(after.records.length, 0);
    assert.deepEqual(
      after.issues.map((i) => [i.code, i.context?.templateId]),
      [['MISSING_TEMPLATE', 256]],
    );
  });

  test('withdraw all: template id 2 (or 3) with field count 0 removes every data (or options) template of the domain', () => {
    const state = new TemplateState();
    decode(
      state,
      data(
        0,
        set(2, ipfixTemplateRecord(256, QUARTET), ipfixTemplateRecord(257, QUARTET)),
        set(
          3,
          ipfixTemplateRecord(
            258,
            [
              { id: 143, length: 4 },
              { id: 34, length: 4 },
            ],
            1,
          ),
        ),
      ),
    );
    assert.equal(state.templateCount(CTX.exporter), 3);
    decode(state, data(0, set(2, new Bytes().u16(2).u16(0).build())));
    assert.deepEqual(
      state.templates(CTX.exporter).map((t) => t.templateId),
      [258],
    );
    decode(state, data(0, set(3, new Bytes().u16(3).u16(0).build())));
    assert.equal(state.templateCount(CTX.exporter), 0);
  });

  test('a refresh with a different layout replaces the template', () => {
    const state = new TemplateState();
    decode(state, data(0, set(2, ipfixTemplateRecord(256, QUARTET))));
    const out = decode(state, data(0, set(2, ipfixTemplateRecord(256, [{ id: 7, length: 2 }])), set(256, new Bytes().u16(53).build())));
    assert.equal(out.records.length, 1);
    assert.equal(out.records[0]?.sourcePort, 53);
    assert.equal(out.records[0]?.sourceAddress, '');
    assert.equal(state.templateCount(CTX.exporter), 1);
  });

  test('options records: sampling interval applies to later flows of that domain only', () => {
    const state = new TemplateState();
    const options = set(
      3,
      ipfixTemplateRecord(
        300,
        [
          { id: 143, length: 4 },
          { id: 34, length: 4 },
          { id: 35, length: 1 },
        ],
        1,
      ),
    );
    const out = decode(
      state,
      ipfixMessage(header(0, 1), set(2, ipfixTemplateRecord(256, QUARTET)), set(256, quartet(new Bytes()).build())),
      ipfixMessage(header(1, 1), options, set(300, new Bytes().u32(1).u32(1000).u8(2).build()), set(256, quartet(new Bytes()).build())),
      ipfixMessage(header(0, 2), set(2, ipfixTemplateRecord(256, QUARTET)), set(256, quartet(new Bytes()).build())),
    );
    assert.deepEqual(out.issues, []);
    assert.deepEqual(
      out.records.map((r) => [r.observationDomainId, r.samplingRate]),
      [
        [1, 0],
        [1, 1000],
        [2, 0],
      ],
    );
    assert.deepEqual(out.options?.[0]?.scope, { meteringProcessId: 1 });
    assert.deepEqual(out.options?.[0]?.fields, { samplingInterval: 1000, samplingAlgorithm: 2 });
    assert.equal(out.options?.[0]?.flowIndex, 0); // first in its datagram, before that datagram's flow
    assert.equal(state.samplingRate(CTX.exporter, 10, 1), 1000);
  });

  test('options records: PSAMP packet interval/space and per-selector rates', () => {
    const state = new TemplateState();
    const out = decode(
      state,
      ipfixMessage(
        header(0),
        set(
          3,
          ipfixTemplateRecord(
            300,
            [
              { id: 302, length: 4 },
              { id: 305, length: 4 },
              { id: 306, length: 4 },
            ],
            1,
          ),
        ),
        set(300, new Bytes().u32(7).u32(1).u32(99).build(), new Bytes().u32(8).u32(1).u32(9).build()),
        set(2, ipfixTemplateRecord(256, [...QUARTET, { id: 302, length: 4 }])),
        set(256, quartet(new Bytes()).u32(7).build(), quartet(new Bytes()).u32(8).build(), quartet(new Bytes()).u32(9).build()),
      ),
    );
    // selector 9 is unknown: the domain's latest rate
    assert.deepEqual(
      out.records.map((r) => r.samplingRate),
      [100, 10, 10],
    );
  });

  test('Juniper MX240 capture: its options record sets the sampling rate and system init time of the domain', () => {
    const { state, events } = decodeSequence([
      'ipfix_test_juniper_mx240_junos151r6s3_opttpl512.dat',
      'ipfix_test_juniper_mx240_junos151r6s3_data512.dat',
    ]);
    const domain = events[0]?.record.observationDomainId ?? -1;
    assert.equal(state.samplingRate(CTX.exporter, 10, domain), 1000);
    assert.equal(state.systemInitTimeMs(CTX.exporter, 10, domain), 1262761598000);
  });

  test('interface names from options records', () => {
    const state = new TemplateState();
    decode(
      state,
      ipfixMessage(
        header(0),
        set(
          3,
          ipfixTemplateRecord(
            300,
            [
              { id: 10, length: 4 },
              { id: 82, length: 65535 },
              { id: 83, length: 65535 },
            ],
            1,
          ),
        ),
        set(300, new Bytes().u32(5).u8(3).bytes(Buffer.from('ge0')).u8(6).bytes(Buffer.from('uplink')).build()),
      ),
    );
    assert.equal(state.interfaceName(CTX.exporter, 10, 1, 5), 'ge0');
    assert.equal(state.interfaceName(CTX.exporter, 10, 1, 6), undefined);
  });

  test('a template whose records would be empty is refused', () => {
    const out = decode(new TemplateState(), data(0, set(2, ipfixTemplateRecord(256, [{ id: 8, length: 0 }]))));
    assert.deepEqual(
      out.issues.map((i) => i.code),
      ['BAD_TEMPLATE'],
    );
  });

  test('options template scope count 0 or above the field count is refused', () => {
    const out = decode(
      new TemplateState(),
      data(0, set(3, ipfixTemplateRecord(300, [{ id: 34, length: 4 }], 0), ipfixTemplateRecord(301, [{ id: 34, length: 4 }], 2))),
    );
    assert.deepEqual(
      out.issues.map((i) => [i.code, i.context?.templateId]),
      [
        ['BAD_TEMPLATE', 300],
        ['BAD_TEMPLATE', 301],
      ],
    );
  });
});

describe('IPFIX sequence numbers count data records', () => {
  test('in order: no gap; a jump: gap and lost records counted', () => {
    const state = new TemplateState();
    const tpl = set(2, ipfixTemplateRecord(256, QUARTET));
    const two = set(256, quartet(new Bytes()).build(), quartet(new Bytes()).build());
    decode(state, ipfixMessage(header(100), tpl, two), ipfixMessage(header(102), two));
    assert.equal(state.stats.sequenceGaps, 0);
    decode(state, ipfixMessage(header(110), two));
    assert.equal(state.stats.sequenceGaps, 1);
    assert.equal(state.stats.sequenceLost, 6);
    // another domain keeps its own count
    decode(state, ipfixMessage(header(5, 9), tpl, two), ipfixMessage(header(7, 9), two));
    assert.equal(state.stats.sequenceGaps, 1);
  });
});
