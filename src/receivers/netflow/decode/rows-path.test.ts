/**
 * The evidence path without objects (DecodeContext.rows): NetFlow v5, v9 and IPFIX flows written
 * straight into evidence store rows must be exactly the rows packFlows makes of the FlowRecords
 * the decoder returns otherwise: same bytes, same string table, same refusals, same counts by
 * type, and the same issues, options records (but for flowIndex) and decoder statistics; and the
 * object decoder's fast record loop (keepAllFields off) the same records as its general one; and the
 * rows of the compiled record loops (fixed-length templates) the same as those of the role-field loop. Checked
 * per datagram on the real exporters' captures (logstash-codec-netflow's, goflow2's), on the
 * softflowd captures of bench/flows, and on mutated datagrams (refusals, held sets, exceptions).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../testutil/index.js';
import { decodePacket, readPcap } from '../../../capture/index.js';
import { packFlows, RowWriter, ROW_BYTES, type PackedFlows } from '../../../evidence/memory/rows.js';
import { decodeNetflow } from './decode.js';
import { TemplateState } from './templates.js';
import { allFieldsLoopStats, rowLoopStats, useCompiledRowLoops } from './plan.js';
import {
  Bytes,
  GOFLOW_V5,
  GOFLOW_V9_DATA,
  GOFLOW_V9_TEMPLATE,
  LOGSTASH_DIR,
  datFile,
  ipfixMessage,
  ipfixTemplateRecord,
  logstashIndex,
  prng,
  readBytes,
  set,
  v9Packet,
  v9TemplateRecord,
  type FieldSpec,
} from './testkit.test.util.js';
import type { DecodeOutput } from './types.js';

const EXPORTER = '192.0.2.1';

function sameRows(a: PackedFlows, b: PackedFlows, where: string): void {
  assert.equal(b.rows, a.rows, `${where}: rows`);
  assert.equal(b.refusedAddress, a.refusedAddress, `${where}: refused (address)`);
  assert.equal(b.refusedField, a.refusedField, `${where}: refused (field)`);
  assert.deepEqual(b.strings, a.strings, `${where}: string table`);
  assert.deepEqual(b.samplerIds, a.samplerIds, `${where}: sampler ids`);
  const x = new Uint8Array(a.data, 0, a.rows * ROW_BYTES);
  const y = new Uint8Array(b.data, 0, b.rows * ROW_BYTES);
  for (let i = 0; i < x.length; i++)
    if (x[i] !== y[i]) assert.fail(`${where}: row ${Math.floor(i / ROW_BYTES)} differs at byte ${i % ROW_BYTES}`);
}

const withoutFlowIndex = (out: DecodeOutput) => (out.options ?? []).map(({ flowIndex: _, ...rest }) => rest);

/** Two decoders side by side (objects, rows), each with its own template state; compares every datagram's result. */
class Pair {
  private readonly objects = new TemplateState();
  private readonly rowState = new TemplateState();
  /** keepAllFields on (the compiled all-fields loop where it applies): its records, fields aside, must be the same. */
  private readonly allState = new TemplateState();
  /** keepAllFields on with no compiled loops (the general loop): the same records as the compiled all-fields loop, fields included. */
  private readonly allGeneralState = new TemplateState();
  private readonly writer = new RowWriter(4);
  /** The rows path with the compiled scratch loops only, and with no compiled loops (the role-field loop): the same rows, byte for byte. */
  private readonly other = (['scratch', 'off'] as const).map((mode) => ({ mode, state: new TemplateState(), writer: new RowWriter(4) }));
  records = 0;
  /** Records decoded with every field kept. */
  allFields = 0;
  rows = 0;
  refused = 0;
  reverse = 0;

  feed(bytes: Uint8Array, where: string, receivedAtMs = 1_700_000_000_000): void {
    const receivedAtUnixNano = BigInt(receivedAtMs) * 1_000_000n;
    const a = decodeNetflow(bytes, { exporter: EXPORTER, keepAllFields: false, receivedAtUnixNano }, this.objects);
    const b = decodeNetflow(bytes, { exporter: EXPORTER, keepAllFields: false, receivedAtUnixNano, rows: this.writer }, this.rowState);
    assert.equal(b.records.length, 0, `${where}: the row path returns no records`);
    for (const { mode, state, writer } of this.other) {
      useCompiledRowLoops(mode);
      try {
        const c = decodeNetflow(bytes, { exporter: EXPORTER, keepAllFields: false, receivedAtUnixNano, rows: writer }, state);
        assert.deepEqual(c.issues, b.issues, `${where}: issues with the ${mode} loops`);
      } finally {
        useCompiledRowLoops('direct');
      }
    }
    const all = decodeNetflow(bytes, { exporter: EXPORTER, keepAllFields: true, receivedAtUnixNano }, this.allState);
    useCompiledRowLoops('off');
    try {
      const general = decodeNetflow(bytes, { exporter: EXPORTER, keepAllFields: true, receivedAtUnixNano }, this.allGeneralState);
      assert.deepEqual(all, general, `${where}: every field kept, the compiled loops give the general loop's output`);
      for (let i = 0; i < all.records.length; i++)
        assert.deepEqual(
          Object.keys(all.records[i]!.fields ?? {}),
          Object.keys(general.records[i]!.fields ?? {}),
          `${where}: record ${i}: fields in the template's order`,
        );
    } finally {
      useCompiledRowLoops('direct');
    }
    this.allFields += all.records.length;
    assert.deepEqual(
      all.records.map(({ fields: _, ...r }) => r),
      a.records,
      `${where}: the fixed-length fast path gives the general loop's records`,
    );
    assert.deepEqual(b.issues, a.issues, `${where}: issues`);
    assert.deepEqual(withoutFlowIndex(b), withoutFlowIndex(a), `${where}: options records`);
    assert.deepEqual(this.rowState.stats, this.objects.stats, `${where}: decoder statistics`);
    const taken = this.writer.take();
    sameRows(packFlows(a.records), taken.packed, where);
    for (const { mode, writer } of this.other) sameRows(writer.take().packed, taken.packed, `${where}: direct loops vs ${mode} loops`);
    const byType: Record<string, number> = {};
    for (const r of a.records) byType[r.type] = (byType[r.type] ?? 0) + 1;
    assert.deepEqual(taken.recordsByType, byType, `${where}: records by type`);
    this.records += a.records.length;
    this.rows += taken.packed.rows;
    this.refused += taken.packed.refusedAddress + taken.packed.refusedField;
    this.reverse += a.records.filter((r) => r.biflowDirection === 'reverse').length;
  }
}

function pcapPayloads(path: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const frame of readPcap(readFileSync(path)).packets) {
    const p = decodePacket(frame.data, frame.linkType);
    if (p.protocol === 17 && !p.truncated && p.payload.length > 0) out.push(Uint8Array.from(p.payload));
  }
  return out;
}

const ELEMENTS: [number, number[], number?][] = [
  [8, [4, 4, 4, 2]],
  [12, [4, 4, 4, 16]],
  [27, [16, 16, 4]],
  [28, [16, 16, 4]],
  [7, [2, 2, 4]],
  [11, [2, 2, 1]],
  [180, [2]],
  [181, [2]],
  [4, [1, 1, 2]],
  [6, [1, 2, 4]],
  [60, [1]],
  [1, [4, 8, 8]],
  [85, [8]],
  [23, [8]],
  [2, [4, 8, 8]],
  [86, [8]],
  [10, [2, 4, 8]],
  [14, [2, 4]],
  [252, [4]],
  [253, [4]],
  [15, [4, 4, 16]],
  [62, [16]],
  [18, [4]],
  [63, [16]],
  [61, [1, 2]],
  [34, [4, 2]],
  [50, [4]],
  [305, [4]],
  [306, [4]],
  [309, [4]],
  [310, [4]],
  [311, [8, 4]],
  [48, [1, 2]],
  [150, [4]],
  [151, [4]],
  [152, [8]],
  [153, [8]],
  [154, [8]],
  [155, [8]],
  [156, [8]],
  [157, [8]],
  [158, [4]],
  [159, [4]],
  [21, [4]],
  [22, [4]],
  [160, [8]],
  [161, [4]],
  [162, [4]],
  [322, [4]],
  [323, [8]],
  [324, [8]],
  [325, [8]],
  [1, [8], 29305],
  [85, [8], 29305],
  [2, [8], 29305],
  [86, [8], 29305],
  [6, [2], 29305],
  [150, [4], 29305],
  [151, [4], 29305],
  [152, [8], 29305],
  [153, [8], 29305],
  [21, [4], 29305],
  [22, [4], 29305],
  [21, [4], 6871],
  [210, [3]],
];

/** Elements of every abstract data type for `fields` (strings, MACs, floats, signed, booleans, octets, NTP times, enterprise ones, unknown ones). */
const VALUE_ELEMENTS: [number, number[], number?][] = [
  [8, [4]],
  [12, [4]],
  [27, [16]],
  [56, [6, 4]],
  [82, [8, 16, 3]],
  [94, [32]],
  [5, [1, 2]],
  [276, [1, 2]],
  [311, [8, 4, 3]],
  [434, [4, 2, 3, 8]],
  [313, [12]],
  [70, [3]],
  [154, [8, 4]],
  [156, [8]],
  [150, [4, 2, 8]],
  [152, [8, 6, 4]],
  [1, [8, 3, 5]],
  [2, [8, 7]],
  [10, [2, 4]],
  [7, [2]],
  [210, [3]],
  [1, [8], 29305],
  [6, [2], 29305],
  [21, [4], 6871],
  [7, [4], 12345],
];

/** Elements of the templates the direct loop takes (no sampling fields, sub-millisecond, delta, duration or observation times, nor reverse elements). */
const DIRECT_IDS = new Set([
  8, 12, 27, 28, 7, 11, 180, 181, 4, 6, 60, 1, 85, 23, 2, 86, 10, 14, 252, 253, 15, 62, 18, 63, 61, 48, 150, 151, 152, 153, 21, 22, 210,
]);

/** `templates` random templates of `elements`, each with a few records of random values, fed as v9 or IPFIX to a Pair. */
function randomTemplates(elements: [number, number[], number?][], seed: number, templates: number): Pair {
  const rand = prng(seed);
  const pick = (n: number): number => Math.floor(rand() * n);
  const EXPORT = 1_700_000_000;
  const value = (b: Bytes, id: number, len: number): void => {
    const r = rand();
    // zeros, small numbers, near-now times in every unit, and all-ones
    if (r < 0.15) for (let i = 0; i < len; i++) b.u8(0);
    else if (r < 0.25) for (let i = 0; i < len; i++) b.u8(0xff);
    else if (len === 8 && (id === 152 || id === 153 || id === 323)) b.u64(BigInt(EXPORT * 1000 - pick(100_000)));
    else if (len === 8 && id >= 154 && id <= 160) b.u32(EXPORT + 2_208_988_800 - pick(100)).u32(pick(2 ** 32));
    else if (len === 4 && (id === 150 || id === 151 || id === 322)) b.u32(EXPORT - pick(100));
    else for (let i = 0; i < len; i++) b.u8(i < len - 2 ? pick(4) : pick(256));
  };
  const pair = new Pair();
  for (let t = 0; t < templates; t++) {
    // mostly a usable address pair first, so that most records make rows
    const fields: FieldSpec[] =
      rand() < 0.1
        ? []
        : rand() < 0.6
          ? [
              { id: 8, length: 4 },
              { id: 12, length: 4 },
            ]
          : [
              { id: 27, length: 16 },
              { id: 28, length: 16 },
            ];
    for (let k = 2 + pick(14); k > 0; k--) {
      const [id, lengths, pen] = elements[pick(elements.length)]!;
      fields.push(pen === undefined ? { id, length: lengths[pick(lengths.length)]! } : { id, length: lengths[pick(lengths.length)]!, pen });
    }
    const v9 = rand() < 0.3 && fields.every((f) => f.pen === undefined);
    const records = new Bytes();
    for (let r = 1 + pick(5); r > 0; r--) for (const f of fields) value(records, f.id, f.length);
    const templateId = 256 + (t % 8);
    const data = set(templateId, records.build());
    if (v9) {
      const h = { sysUptime: 1_000_000 + pick(1000), unixSecs: EXPORT, sequence: t, sourceId: 7 };
      if (rand() < 0.2) pair.feed(v9Packet(h, data), `template ${t}: v9 data before its template`);
      pair.feed(v9Packet(h, set(0, v9TemplateRecord(templateId, fields)), data), `template ${t}: v9`);
    } else {
      const h = { exportTime: EXPORT, sequence: t, domain: 3 };
      if (rand() < 0.2) pair.feed(ipfixMessage(h, data), `template ${t}: IPFIX data before its template`);
      pair.feed(ipfixMessage(h, set(2, ipfixTemplateRecord(templateId, fields)), data), `template ${t}: IPFIX`);
    }
  }
  return pair;
}

describe('NetFlow/IPFIX row path: the same rows as packFlows of the records', () => {
  test('every logstash-codec-netflow capture sequence (real exporters)', () => {
    let records = 0;
    for (const entry of logstashIndex()) {
      const pair = new Pair();
      for (const file of entry.dat_files) pair.feed(datFile(file), `${entry.test}: ${file}`);
      records += pair.records;
    }
    assert.ok(records > 300, `${records} records compared`);
  });

  test('every logstash .dat file alone and all of them through one state', () => {
    const files = readdirSync(join(LOGSTASH_DIR, 'dat'))
      .filter((f) => f.endsWith('.dat'))
      .sort();
    const shared = new Pair();
    for (const f of files) {
      new Pair().feed(datFile(f), f);
      shared.feed(datFile(f), `shared: ${f}`);
    }
    for (const f of files) shared.feed(datFile(f), `shared, again: ${f}`);
  });

  test('goflow2 vectors', () => {
    const pair = new Pair();
    for (const path of [GOFLOW_V5, GOFLOW_V9_DATA, GOFLOW_V9_TEMPLATE, GOFLOW_V9_DATA]) pair.feed(readBytes(path), path);
    assert.ok(pair.rows > 0);
  });

  test('the bench/flows softflowd captures (v5, v9, IPFIX with IPv6)', () => {
    for (const file of ['softflowd-v5.pcap', 'softflowd-v9.pcap', 'softflowd-v10.pcap']) {
      const payloads = pcapPayloads(join(REPO_ROOT, 'bench', 'flows', 'captures', file));
      assert.ok(payloads.length > 100, file);
      const pair = new Pair();
      payloads.forEach((p, i) => pair.feed(p, `${file} #${i}`));
      assert.ok(pair.rows > 3000, `${file}: ${pair.rows} rows`);
      assert.equal(pair.rows, pair.records, `${file}: every record is a valid row`);
    }
  });

  test('mutated datagrams (bit flips, bytes set, truncations) and data before its template', () => {
    const corpus = [
      ...readdirSync(join(LOGSTASH_DIR, 'dat'))
        .filter((f) => f.endsWith('.dat'))
        .sort()
        .map(datFile),
      readBytes(GOFLOW_V5),
      readBytes(GOFLOW_V9_TEMPLATE),
      readBytes(GOFLOW_V9_DATA),
    ];
    const rand = prng(20261122);
    const pick = (n: number): number => Math.floor(rand() * n);
    const pair = new Pair();
    for (let i = 0; i < 20_000; i++) {
      const b = corpus[pick(corpus.length)]!.slice();
      const kind = pick(4);
      if (kind === 0)
        for (let k = 1 + pick(6); k > 0; k--) {
          const o = pick(b.length);
          b[o] = b[o]! ^ (1 << pick(8));
        }
      else if (kind === 1) for (let k = 1 + pick(4); k > 0; k--) b[pick(b.length)] = [0, 0xff, pick(256)][pick(3)]!;
      const bytes = kind === 2 ? b.subarray(0, pick(b.length + 1)) : b;
      pair.feed(bytes, `mutation ${i} (kind ${kind})`, 1_700_000_000_000 + i * 1000);
    }
    assert.ok(pair.records > 10_000);
    assert.ok(pair.refused > 0, 'refused records were compared too');
  });

  test('random templates over every element a flow row uses (biflows, every time form, IPv6, next hops, sampling, odd lengths)', () => {
    const pair = randomTemplates(ELEMENTS, 5103, 400);
    assert.ok(pair.rows > 500, `${pair.rows} rows`);
    assert.ok(pair.refused > 0, 'refused records compared');
    assert.ok(pair.reverse > 0, 'biflow reverse records compared');
  });

  test('random templates of the elements the direct loop takes: most get it, and it gives the same rows', () => {
    const before = rowLoopStats.direct;
    const pair = randomTemplates(
      ELEMENTS.filter(([id, , pen]) => pen === undefined && DIRECT_IDS.has(id)),
      9197,
      600,
    );
    assert.ok(rowLoopStats.direct - before > 100, `${rowLoopStats.direct - before} templates took the direct loop`);
    assert.ok(pair.rows > 500, `${pair.rows} rows`);
    assert.ok(pair.refused > 0, 'refused records compared');
  });

  test("random templates of every value type: the compiled all-fields loop gives the general loop's records and fields", () => {
    const before = allFieldsLoopStats.compiled;
    const pair = randomTemplates(VALUE_ELEMENTS, 7012, 400);
    assert.ok(allFieldsLoopStats.compiled - before > 100, `${allFieldsLoopStats.compiled - before} templates took the all-fields loop`);
    assert.ok(pair.allFields > 500, `${pair.allFields} records compared`);
  });

  test('the softflowd captures take the direct loop and the all-fields loop', () => {
    const before = rowLoopStats.direct;
    const allBefore = allFieldsLoopStats.compiled;
    for (const file of ['softflowd-v9.pcap', 'softflowd-v10.pcap']) {
      const pair = new Pair();
      pcapPayloads(join(REPO_ROOT, 'bench', 'flows', 'captures', file)).forEach((p, i) => pair.feed(p, `${file} #${i}`));
    }
    assert.ok(rowLoopStats.direct > before, 'direct loops compiled for the softflowd templates');
    assert.ok(allFieldsLoopStats.compiled > allBefore, 'all-fields loops compiled for the softflowd templates');
  });
});
