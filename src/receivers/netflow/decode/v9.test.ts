/**
 * NetFlow v9 (RFC 3954): sysUptime-relative times, options templates (scopes, samplers, interface names),
 * vendor quirks from the logstash captures (variable-length strings, zero-length fields, zero padding).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNetflow } from './decode.js';
import { TemplateState } from './templates.js';
import {
  Bytes,
  CTX,
  datFile,
  decodeSequence,
  set,
  v9OptionsTemplateRecord,
  v9Packet,
  v9TemplateRecord,
  type FieldSpec,
} from './testkit.test.util.js';

const SECS = 1_700_000_000;
const FLOW: FieldSpec[] = [
  { id: 8, length: 4 },
  { id: 12, length: 4 },
  { id: 1, length: 4 },
  { id: 2, length: 4 },
  { id: 22, length: 4 },
  { id: 21, length: 4 },
  { id: 48, length: 1 },
];
const flow = (b: Bytes, first: number, last: number, sampler = 0): Bytes =>
  b.ipv4('10.1.1.1').ipv4('10.2.2.2').u32(100).u32(2).u32(first).u32(last).u8(sampler);

describe('NetFlow v9 times', () => {
  test('FIRST/LAST_SWITCHED relative to the header: signed 32-bit difference, whole-second resolution', () => {
    const uptime = 1000;
    const out = decodeNetflow(
      v9Packet(
        { sysUptime: uptime, unixSecs: SECS, sequence: 0, sourceId: 0 },
        set(0, v9TemplateRecord(256, FLOW)),
        set(256, flow(new Bytes(), 0xffffff00, 900).build(), flow(new Bytes(), 1100, 1200).build()),
      ),
      CTX,
      new TemplateState(),
    );
    assert.deepEqual(out.issues, []);
    const exportNs = BigInt(SECS) * 1_000_000_000n;
    const [wrapped, ahead] = out.records;
    // 256 ms before the uptime counter wrapped, 1000 ms after: 1256 ms before the export
    assert.equal(wrapped?.startUnixNano, exportNs - 1_256_000_000n);
    assert.equal(wrapped?.endUnixNano, exportNs - 100_000_000n);
    // a first/last slightly after the header's uptime (clock quirk) stays slightly after the export
    assert.equal(ahead?.startUnixNano, exportNs + 100_000_000n);
    assert.equal(ahead?.timeResolutionNano, 1e9);
  });

  test('logstash capture: Netflow 9 valid 01 from the raw header and record bytes', () => {
    const bytes = datFile('netflow9_test_valid01.dat');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = decodeNetflow(bytes, CTX, new TemplateState());
    const r = out.records[0];
    // header at 0; the first data flowset (1024) at 148: record fields LAST_SWITCHED at +12, FIRST_SWITCHED at +16
    const exportNs = BigInt(view.getUint32(8)) * 1_000_000_000n;
    const uptime = view.getUint32(4);
    assert.equal(r?.endUnixNano, exportNs - BigInt(uptime - view.getUint32(148 + 4 + 8)) * 1_000_000n);
    assert.equal(r?.startUnixNano, exportNs - BigInt(uptime - view.getUint32(148 + 4 + 12)) * 1_000_000n);
  });
});

describe('NetFlow v9 options', () => {
  test('sampler options: FLOW_SAMPLER_RANDOM_INTERVAL by FLOW_SAMPLER_ID applies to flows naming the sampler', () => {
    const state = new TemplateState();
    const options = set(
      1,
      v9OptionsTemplateRecord(
        300,
        [{ id: 1, length: 4 }],
        [
          { id: 48, length: 1 },
          { id: 49, length: 1 },
          { id: 50, length: 4 },
        ],
      ),
    );
    const out = decodeNetflow(
      v9Packet(
        { sysUptime: 1, unixSecs: SECS, sequence: 0, sourceId: 7 },
        options,
        set(300, new Bytes().u32(0x0a000001).u8(1).u8(2).u32(100).build(), new Bytes().u32(0x0a000001).u8(2).u8(2).u32(10).build()),
        set(0, v9TemplateRecord(256, FLOW)),
        set(256, flow(new Bytes(), 0, 0, 1).build(), flow(new Bytes(), 0, 0, 2).build(), flow(new Bytes(), 0, 0, 0).build()),
      ),
      CTX,
      state,
    );
    assert.deepEqual(out.issues, []);
    assert.equal(out.options?.length, 2);
    assert.deepEqual(out.options?.[0]?.scope, { scopeSystem: 0x0a000001 });
    assert.deepEqual(out.options?.[0]?.fields, { samplerId: 1, samplerMode: 2, samplerRandomInterval: 100 });
    // sampler 0 is unknown: the domain's latest announced rate
    assert.deepEqual(
      out.records.map((r) => r.samplingRate),
      [100, 10, 10],
    );
    assert.equal(state.samplingRate(CTX.exporter, 9, 7, 1), 100);
  });

  test('ASR 9000 options: interface names by ifIndex', () => {
    const { state, events } = decodeSequence(['netflow9_test_cisco_asr9k_opttpl256.dat', 'netflow9_test_cisco_asr9k_data256.dat']);
    assert.equal(events.length, 19);
    const domain = events[0]?.record.observationDomainId ?? -1;
    assert.equal(state.interfaceName(CTX.exporter, 9, domain, 104), 'TenGigE0_6_0_2');
    assert.ok(state.optionsRecords(CTX.exporter, 9, domain).length > 0);
  });

  test('Juniper SRX: a zero-length scope field, sampling options kept', () => {
    const { state, events, issues } = decodeSequence(['netflow9_test_juniper_srx_tplopt.dat']);
    assert.deepEqual(issues, []);
    assert.equal(events.length, 1);
    const [only] = events;
    assert.equal(only?.kind, 'options');
    if (only?.kind === 'options') {
      assert.deepEqual(only.record.scope, {});
      assert.deepEqual(only.record.fields, { samplingAlgorithm: 2, samplingInterval: 1 });
    }
    assert.equal(state.samplingRate(CTX.exporter, 9, 142), 1);
  });

  test('Fortigate: options records apply the sampling rate to later flows', () => {
    const { records } = decodeSequence([
      'netflow9_test_fortigate_fortios_521_tpl.dat',
      'netflow9_test_fortigate_fortios_521_data256.dat',
      'netflow9_test_fortigate_fortios_521_data257.dat',
    ]);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.samplingRate, 1); // sampling_interval 1: unsampled
  });
});

describe('NetFlow v9 vendor quirks', () => {
  test('H3C: a 65535-length field is a variable-length string; type 0 kept as raw bytes under 0.0', () => {
    const { records, issues } = decodeSequence([
      'netflow9_test_h3c_netstream_varstring_tpl3281.dat',
      'netflow9_test_h3c_netstream_varstring_data3281.dat',
    ]);
    assert.deepEqual(issues, []);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.fields?.VRFname, '');
    assert.ok(records[0]?.fields?.['0.0'] instanceof Uint8Array);
  });

  test('Palo Alto: one flowset then zero padding to 1400 bytes, no issue', () => {
    const { records, issues } = decodeSequence([
      'netflow9_test_paloalto_81_tpl256-263.dat',
      'netflow9_test_paloalto_81_data257_1flowset_in_large_zerofilled_packet.dat',
    ]);
    assert.deepEqual(issues, []);
    assert.equal(records.length, 1);
  });

  test('zero-length template fields take no bytes', () => {
    const { records, issues, state } = decodeSequence(['netflow9_test_0length_fields_tpl_data.dat']);
    assert.deepEqual(issues, []);
    assert.equal(records.length, 10);
    assert.equal(state.stats.badTemplates, 0);
    assert.equal(records[9]?.bytes, 32); // IN_BYTES 0, OUT_BYTES 32: the non-zero counter
  });

  test('non-zero bytes after the last flowset are reported', () => {
    const packet = v9Packet(
      { sysUptime: 1, unixSecs: SECS, sequence: 0, sourceId: 0 },
      set(0, v9TemplateRecord(256, FLOW)),
      Uint8Array.from([0, 1]),
    );
    const out = decodeNetflow(packet, CTX, new TemplateState());
    assert.deepEqual(
      out.issues.map((i) => [i.code, i.offset]),
      [['BAD_LENGTH', packet.length - 2]],
    );
  });

  test('reserved template ids and empty templates are refused', () => {
    const out = decodeNetflow(
      v9Packet({ sysUptime: 1, unixSecs: SECS, sequence: 0, sourceId: 0 }, set(0, v9TemplateRecord(255, FLOW), v9TemplateRecord(256, []))),
      CTX,
      new TemplateState(),
    );
    assert.deepEqual(
      out.issues.map((i) => [i.code, i.context?.templateId]),
      [
        ['BAD_TEMPLATE', 255],
        ['BAD_TEMPLATE', 256],
      ],
    );
  });

  test('sequence numbers count packets per source id', () => {
    const state = new TemplateState();
    const packet = (sequence: number, sourceId: number): Uint8Array =>
      v9Packet({ sysUptime: 1, unixSecs: SECS, sequence, sourceId }, set(0, v9TemplateRecord(256, FLOW)));
    for (const [seq, id] of [
      [1, 0],
      [2, 0],
      [50, 1],
      [3, 0],
      [51, 1],
    ] as const)
      decodeNetflow(packet(seq, id), CTX, state);
    assert.equal(state.stats.sequenceGaps, 0);
    decodeNetflow(packet(9, 0), CTX, state);
    assert.deepEqual([state.stats.sequenceGaps, state.stats.sequenceLost], [1, 5]);
  });
});
