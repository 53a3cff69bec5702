/**
 * Template state: keyed by exporter, then (version, domain, template id); bounded (templates per exporter,
 * exporters, held sets by count, bytes and age) with everything that falls off counted.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNetflow } from './decode.js';
import { TemplateState } from './templates.js';
import {
  Bytes,
  decodeSequence,
  ipfixMessage,
  ipfixTemplateRecord,
  set,
  v9Packet,
  v9TemplateRecord,
  type FieldSpec,
} from './testkit.test.util.js';

const A = { exporter: '192.0.2.1', keepAllFields: false };
const B = { exporter: '192.0.2.2', keepAllFields: false };
const PORTS: FieldSpec[] = [
  { id: 7, length: 2 },
  { id: 11, length: 2 },
];
const PROTO_PORTS: FieldSpec[] = [
  { id: 4, length: 1 },
  { id: 7, length: 2 },
  { id: 11, length: 2 },
];
const ports = (): Uint8Array => new Bytes().u16(1).u16(2).build();
const msg = (domain: number, ...sets: Uint8Array[]): Uint8Array =>
  ipfixMessage({ exportTime: 1_700_000_000, sequence: 0, domain }, ...sets);

describe('template keys', () => {
  test('the same template id from two exporters never mixes', () => {
    const state = new TemplateState();
    decodeNetflow(msg(0, set(2, ipfixTemplateRecord(256, PORTS))), A, state);
    decodeNetflow(msg(0, set(2, ipfixTemplateRecord(256, PROTO_PORTS))), B, state);
    const fromA = decodeNetflow(msg(0, set(256, new Bytes().u16(1).u16(2).build())), A, state);
    const fromB = decodeNetflow(msg(0, set(256, new Bytes().u8(17).u16(3).u16(4).build())), B, state);
    assert.deepEqual(
      fromA.records.map((r) => [r.protocol, r.sourcePort, r.destinationPort, r.samplerAddress]),
      [[0, 1, 2, '192.0.2.1']],
    );
    assert.deepEqual(
      fromB.records.map((r) => [r.protocol, r.sourcePort, r.destinationPort, r.samplerAddress]),
      [[17, 3, 4, '192.0.2.2']],
    );
    assert.equal(state.stats.templates, 2);
  });

  test('nor across observation domains, nor between v9 and IPFIX', () => {
    const state = new TemplateState();
    decodeNetflow(msg(1, set(2, ipfixTemplateRecord(256, PORTS))), A, state);
    decodeNetflow(msg(2, set(2, ipfixTemplateRecord(256, PROTO_PORTS))), A, state);
    decodeNetflow(
      v9Packet({ sysUptime: 0, unixSecs: 1, sequence: 0, sourceId: 1 }, set(0, v9TemplateRecord(256, [{ id: 4, length: 1 }]))),
      A,
      state,
    );
    assert.equal(state.templateCount(A.exporter), 3);
    const d1 = decodeNetflow(msg(1, set(256, new Bytes().u16(1).u16(2).build())), A, state);
    const d2 = decodeNetflow(msg(2, set(256, new Bytes().u8(6).u16(1).u16(2).build())), A, state);
    const v9 = decodeNetflow(v9Packet({ sysUptime: 0, unixSecs: 1, sequence: 1, sourceId: 1 }, set(256, Uint8Array.from([17]))), A, state);
    assert.deepEqual(
      [...d1.records, ...d2.records, ...v9.records].map((r) => [r.type, r.observationDomainId, r.protocol]),
      [
        ['ipfix', 1, 0],
        ['ipfix', 2, 6],
        ['netflow_v9', 1, 17],
      ],
    );
  });

  test('a refresh with the same bytes keeps the compiled template', () => {
    const state = new TemplateState();
    decodeNetflow(msg(0, set(2, ipfixTemplateRecord(256, PORTS))), A, state);
    const [before] = state.templates(A.exporter);
    decodeNetflow(msg(0, set(2, ipfixTemplateRecord(256, PORTS))), A, state);
    const [after] = state.templates(A.exporter);
    assert.equal(after, before);
    assert.equal(state.stats.templates, 1);
  });
});

describe('data before its template', () => {
  test('held, then decoded (with its own header) when the template arrives', () => {
    const state = new TemplateState();
    const early = decodeNetflow(
      ipfixMessage({ exportTime: 1_700_000_000, sequence: 10, domain: 0 }, set(256, new Bytes().u16(1).u16(2).build())),
      A,
      state,
    );
    assert.deepEqual(early.records, []);
    assert.deepEqual(
      early.issues.map((i) => [i.code, i.offset, i.context]),
      [['MISSING_TEMPLATE', 16, { templateId: 256, held: 1 }]],
    );
    assert.equal(state.stats.missingTemplate, 1);
    assert.equal(state.stats.heldSets, 1);
    const later = decodeNetflow(
      ipfixMessage({ exportTime: 1_700_000_005, sequence: 11, domain: 0 }, set(2, ipfixTemplateRecord(256, PORTS))),
      A,
      state,
    );
    assert.deepEqual(later.issues, []);
    assert.deepEqual(
      later.records.map((r) => [r.sourcePort, r.sequenceNumber, r.exportTimeUnixNano]),
      [[1, 10, 1_700_000_000_000_000_000n]],
    );
    assert.equal(state.stats.heldSetsDecoded, 1);
    assert.equal(state.heldSetsWaiting, 0);
  });

  test('a real capture: Netscaler data first, then its templates', () => {
    const { records, issues, state } = decodeSequence(['ipfix_test_netscaler_data.dat', 'ipfix_test_netscaler_tpl.dat']);
    assert.deepEqual(
      issues.map((i) => [i.file, i.code, i.context?.templateId]),
      [
        ['ipfix_test_netscaler_data.dat', 'MISSING_TEMPLATE', 258],
        ['ipfix_test_netscaler_data.dat', 'MISSING_TEMPLATE', 257],
        ['ipfix_test_netscaler_data.dat', 'MISSING_TEMPLATE', 280],
        ['ipfix_test_netscaler_data.dat', 'MISSING_TEMPLATE', 258],
      ],
    );
    // decoded in template order (257 is defined before 258), as the same records as with templates first
    const inOrder = decodeSequence(['ipfix_test_netscaler_tpl.dat', 'ipfix_test_netscaler_data.dat']).records;
    const key = (r: { fields?: Record<string, unknown> }): unknown => r.fields?.flowId;
    assert.deepEqual(records.map(key).sort(), inOrder.map(key).sort());
    assert.deepEqual([state.stats.heldSets, state.stats.heldSetsDecoded, state.heldSetsWaiting], [4, 3, 1]); // 280 never comes
  });

  test('held too long: dropped and counted (injected clock)', () => {
    let now = 1_000_000;
    const state = new TemplateState({ now: () => now, maxHeldAgeMs: 30_000 });
    decodeNetflow(msg(0, set(256, new Bytes().u16(1).u16(2).build())), A, state);
    now += 30_001;
    const later = decodeNetflow(msg(0, set(2, ipfixTemplateRecord(256, PORTS))), A, state);
    assert.deepEqual(later.records, []);
    assert.equal(state.stats.droppedSets, 1);
    assert.equal(state.stats.heldSetsDecoded, 0);
  });

  test('expiry follows arrival order across exporters, and keeps working after the queue empties', () => {
    let now = 0;
    const state = new TemplateState({ now: () => now, maxHeldAgeMs: 100 });
    const data = (exporter: string): void => void decodeNetflow(msg(0, set(256, ports())), { exporter, keepAllFields: false }, state);
    for (let i = 0; i < 50; i++) {
      now = i;
      data(`e${i}`);
    }
    now = 120; // sets from t < 20 are too old
    decodeNetflow(Uint8Array.from([0, 7]), A, state);
    assert.deepEqual([state.stats.droppedSets, state.heldSetsWaiting], [20, 30]);
    now = 200;
    decodeNetflow(Uint8Array.from([0, 7]), A, state);
    assert.deepEqual([state.stats.droppedSets, state.heldSetsWaiting], [50, 0]);
    data('late');
    now = 301;
    decodeNetflow(Uint8Array.from([0, 7]), A, state);
    assert.deepEqual([state.stats.droppedSets, state.heldSetsWaiting], [51, 0]);
  });

  test('per-exporter count and total byte limits: beyond them, dropped and counted', () => {
    const state = new TemplateState({ maxHeldSetsPerExporter: 2, maxHeldBytes: 100 });
    const body = new Bytes().u16(1).u16(2).build();
    for (let i = 0; i < 3; i++) decodeNetflow(msg(0, set(300 + i, body)), A, state);
    assert.deepEqual([state.stats.heldSets, state.stats.droppedSets], [2, 1]);
    const out = decodeNetflow(msg(0, set(400, new Uint8Array(200))), B, state);
    assert.deepEqual(out.issues[0]?.context, { templateId: 400, held: 0 });
    assert.deepEqual([state.stats.heldSets, state.stats.droppedSets], [2, 2]);
  });

  test('held sets of a forgotten exporter are dropped', () => {
    const state = new TemplateState({ maxExporters: 1 });
    decodeNetflow(msg(0, set(256, new Bytes().u16(1).u16(2).build())), A, state);
    decodeNetflow(msg(0, set(2, ipfixTemplateRecord(256, PORTS))), B, state);
    assert.deepEqual([state.stats.exportersEvicted, state.stats.droppedSets, state.heldSetsWaiting], [1, 1, 0]);
    assert.deepEqual(state.exporterNames(), [B.exporter]);
  });
});

describe('limits', () => {
  test('templates per exporter: the least recently defined is evicted, counted', () => {
    const state = new TemplateState({ maxTemplatesPerExporter: 2 });
    decodeNetflow(msg(0, set(2, ipfixTemplateRecord(256, PORTS), ipfixTemplateRecord(257, PORTS))), A, state);
    decodeNetflow(msg(0, set(2, ipfixTemplateRecord(256, PORTS))), A, state); // refresh: 256 is now the newest
    decodeNetflow(msg(0, set(2, ipfixTemplateRecord(258, PORTS))), A, state);
    assert.deepEqual(
      state
        .templates(A.exporter)
        .map((t) => t.templateId)
        .sort(),
      [256, 258],
    );
    assert.deepEqual([state.stats.templates, state.stats.templatesEvicted], [2, 1]);
  });

  test('exporters: the longest silent is forgotten with its templates', () => {
    const state = new TemplateState({ maxExporters: 2 });
    for (const exporter of ['a', 'b', 'a', 'c'])
      decodeNetflow(msg(0, set(2, ipfixTemplateRecord(256, PORTS))), { exporter, keepAllFields: false }, state);
    assert.deepEqual(state.exporterNames().sort(), ['a', 'c']);
    assert.deepEqual([state.stats.exporters, state.stats.exportersEvicted, state.stats.templates], [2, 1, 2]);
  });

  test('stats count packets, records, issues', () => {
    const state = new TemplateState();
    decodeNetflow(msg(0, set(2, ipfixTemplateRecord(256, PORTS)), set(256, new Bytes().u16(1).u16(2).u16(3).u16(4).build())), A, state);
    decodeNetflow(Uint8Array.from([0, 7]), A, state);
    assert.deepEqual([state.stats.packets, state.stats.records, state.stats.issues], [2, 2, 1]);
  });
});
