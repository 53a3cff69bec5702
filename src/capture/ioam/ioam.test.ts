import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPcap } from '../pcap/index.js';
import { decodePacket } from '../decode/index.js';
import { concat, hex, mutate, prng } from '../testkit.test.util.js';
import { IOAM_DIR, assertMatchesExpected, loadExpected, skipWithoutShared as skip } from '../observe/kernel-ioam.test.util.js';
import { decodeIoamOptions, traceTypeNodeLength, type IoamIssueCode } from './index.js';

function hbhOptions(file: string): Uint8Array[] {
  const cap = readPcap(new Uint8Array(readFileSync(join(IOAM_DIR, file))));
  return cap.packets.map((p) => {
    const d = decodePacket(p.data, p.linkType);
    assert.ok(d.hopByHopOptions, `${file}: no Hop-by-Hop options`);
    return d.hopByHopOptions;
  });
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('every Linux-kernel capture decodes to EXPECTED.json, field by field', { skip }, () => {
  let packets = 0;
  let nodes = 0;
  for (const f of loadExpected()) {
    const opts = hbhOptions(f.file);
    assert.equal(opts.length, f.packets.length, `${f.file}: packet count`);
    for (const e of f.packets) {
      const where = `${f.file} frame ${e.frame}`;
      const o = opts[e.frame - 1]!;
      assert.equal(toHex(o), e.hbh_hex.slice(4), `${where}: HbH bytes`);
      const { traces, issues } = decodeIoamOptions(o);
      assert.equal(traces.length, 1, where);
      const t = traces[0]!;
      assertMatchesExpected(where, f.file, e, {
        optionType: t.ioamOptionType,
        optionLength: o[t.offset + 1],
        namespaceId: t.namespaceId,
        nodeLength: t.nodeLength,
        overflow: t.overflow,
        remainingLength: t.remainingLength,
        traceType: t.traceType,
        nodes: t.nodes,
      });
      assert.deepEqual(
        issues.map((i) => i.code),
        e.trace_header.overflow ? ['OVERFLOW'] : [],
        `${where}: issues ${JSON.stringify(issues)}`,
      );
      packets++;
      nodes += t.nodes.length;
    }
  }
  assert.equal(packets, 52);
  assert.ok(nodes > 60);
});

test('path order: the first hop (T1, hop limit 63) comes first', { skip }, () => {
  const [o] = hbhOptions('pcap/full_supp_trace.after-hop2.pcap');
  const t = decodeIoamOptions(o!).traces[0]!;
  assert.deepEqual(
    t.nodes.map((n) => [n.hop_limit, n.node_id, n.node_id_wide]),
    [
      [63, 1, 11111111n],
      [62, 2, 22222222n],
    ],
  );
  assert.equal(t.nodes[0]!.namespace_data_wide, 0xcafec0caf00dc0den);
  assert.equal(t.nodes[1]!.namespace_data_wide, null);
  assert.equal(t.nodes[1]!.transit_delay, null);
});

test('traceTypeNodeLength matches the kernel arithmetic', () => {
  assert.equal(traceTypeNodeLength(0xfff002), 15);
  assert.equal(traceTypeNodeLength(0xf6e002), 12);
  assert.equal(traceTypeNodeLength(0x000002), 0);
  assert.equal(traceTypeNodeLength(0x008000), 2);
});

// ---- malformed cases built from real packets ----

function seeds(): Uint8Array[] {
  const files = [
    'pcap/full_supp_trace.after-hop2.pcap',
    'pcap/agent_example_0xf6e002.after-hop2.pcap',
    'pcap/bit22.after-hop2.pcap',
    'pcap/size12_bit0_bit1.after-hop2.pcap',
    'pcap/size244_bit0.after-hop2.pcap',
    'pcap/bit8.after-hop2.pcap',
  ];
  return files.map((f) => hbhOptions(f)[0]!);
}

const codes = (o: Uint8Array, cltIds = false): IoamIssueCode[] => decodeIoamOptions(o, { cltIds }).issues.map((i) => i.code);

test('truncation at every offset of the option: no throw, TRUNCATED_OPTION, nodes are a suffix of the full path', { skip }, () => {
  for (const full of seeds()) {
    const whole = decodeIoamOptions(full).traces[0]!;
    const optEnd = whole.offset + 2 + full[whole.offset + 1]!;
    for (let cut = 0; cut <= full.length; cut++) {
      const r = decodeIoamOptions(full.subarray(0, cut));
      if (cut > whole.offset && cut < optEnd) {
        assert.ok(
          r.issues.some((i) => i.code === 'TRUNCATED_OPTION' && i.offset === whole.offset),
          `cut ${cut}: ${JSON.stringify(r.issues)}`,
        );
      }
      if (cut >= optEnd) assert.ok(!r.issues.some((i) => i.code === 'TRUNCATED_OPTION' && i.offset === whole.offset));
      const t = r.traces[0];
      if (!t) continue;
      assert.ok(t.nodes.length <= whole.nodes.length);
      assert.deepStrictEqual(t.nodes, whole.nodes.slice(whole.nodes.length - t.nodes.length), `cut ${cut}`);
      for (const i of r.issues) assert.ok(i.offset >= 0 && i.offset <= cut, `offset ${i.offset} at cut ${cut}`);
    }
  }
});

test('corrupt lengths are flagged with typed issues', { skip }, () => {
  const [full] = hbhOptions('pcap/full_supp_trace.after-hop2.pcap');
  const base = full!;
  const at = decodeIoamOptions(base).traces[0]!.offset; // option type byte
  const h = at + 4; // trace header
  const edit = (f: (b: Uint8Array) => void): Uint8Array => {
    const b = Uint8Array.from(base);
    f(b);
    return b;
  };
  // Option data length: below the IOAM header, below the trace header, past the input.
  assert.deepEqual(codes(edit((b) => (b[at + 1] = 1))).slice(0, 1), ['BAD_OPTION_LENGTH']);
  assert.ok(codes(edit((b) => (b[at + 1] = 9))).includes('BAD_OPTION_LENGTH'));
  assert.ok(codes(edit((b) => (b[at + 1] = 255))).includes('TRUNCATED_OPTION'));
  // Remaining length past the option's data.
  const rem = decodeIoamOptions(edit((b) => (b[h + 3] = 0x7f)));
  assert.deepEqual(
    rem.issues.map((i) => [i.code, i.offset]),
    [['REMAINING_LENGTH_OVERFLOW', h + 3]],
  );
  assert.equal(rem.traces[0]!.nodes.length, 0);
  // Node length bigger than the trace type says: mismatch, and the node overruns.
  for (let nl = 0; nl < 32; nl++) {
    const c = codes(edit((b) => (b[h + 2] = (nl << 3) | (b[h + 2]! & 7))));
    assert.equal(c.includes('NODE_LENGTH_MISMATCH'), nl !== 15, `${nl}: ${c}`);
  }
  // 20 units: the second node's snapshot header lands on T1's transit delay (0xffffffff), 1020 bytes: overrun.
  assert.deepEqual(codes(edit((b) => (b[h + 2] = 20 << 3))), ['NODE_LENGTH_MISMATCH', 'NODE_OVERRUN']);
  // Node length 0 with no snapshot bit: trailing data, no loop.
  const zero = edit((b) => {
    b[h + 2] = 0;
    b[h + 4] = 0;
    b[h + 5] = 0;
    b[h + 6] = 0;
  });
  assert.deepEqual(codes(zero), ['TRAILING_DATA']);
  // Overflow flag, reserved bit 23, undefined bits 12-21 (raw values kept).
  assert.deepEqual(codes(edit((b) => (b[h + 2] = b[h + 2]! | 4))), ['OVERFLOW']);
  assert.deepEqual(codes(edit((b) => (b[h + 6] = b[h + 6]! | 1))), ['RESERVED_TRACE_BIT']);
  const [bit0] = hbhOptions('pcap/bit0.after-hop2.pcap');
  const u = Uint8Array.from(bit0!);
  u[h + 2] = 2 << 3; // node length 2: bit 0 + bit 20
  u[h + 6] = 0x08; // bit 20
  const undef = decodeIoamOptions(u);
  assert.deepEqual(
    undef.issues.map((i) => i.code),
    ['UNDEFINED_TRACE_BIT'],
  );
  assert.deepEqual(undef.traces[0]!.nodes, [{ hop_limit: 62, node_id: 2, undefined_fields: [{ bit: 20, value: 0x3f000001 }] }]);
  // A snapshot length past the option.
  const [oss] = hbhOptions('pcap/bit22.after-hop2.pcap');
  const o2 = Uint8Array.from(oss!);
  o2[at + 4 + 8] = 0x20; // T2's snapshot length
  assert.ok(codes(o2).includes('NODE_OVERRUN'));
  // An IOAM option-type that is not a trace.
  assert.deepEqual(codes(edit((b) => (b[at + 3] = 2))), ['UNSUPPORTED_IOAM_TYPE']);
});

test('other options are skipped; Pad1 / PadN; a second IOAM option', { skip }, () => {
  const [o] = hbhOptions('pcap/bit0.after-hop2.pcap');
  const ioam = o!.subarray(2); // drop the leading PadN(0)
  const blob = concat(hex('00 00 1e 03 aa bb cc 01 01 00'), ioam, hex('00'), ioam);
  const r = decodeIoamOptions(blob);
  assert.deepEqual(r.issues, []);
  assert.equal(r.traces.length, 2);
  assert.deepEqual(r.traces[0]!.nodes, [
    { hop_limit: 63, node_id: 1 },
    { hop_limit: 62, node_id: 2 },
  ]);
  assert.equal(r.traces[1]!.offset, 10 + ioam.length + 1);
  assert.deepEqual(decodeIoamOptions(hex('1e 03 aa bb')).issues[0]!.code, 'TRUNCATED_OPTION');
  assert.deepEqual(decodeIoamOptions(hex('00 01')).issues[0]!.code, 'TRUNCATED_OPTION');
  assert.deepEqual(decodeIoamOptions(new Uint8Array(0)), { traces: [], issues: [] });
});

test('incremental trace (option-type 1): nodes start right after the header', { skip }, () => {
  const [o] = hbhOptions('pcap/size244_bit0.after-hop2.pcap');
  const pre = decodeIoamOptions(o!).traces[0]!;
  // Make it incremental: keep only the filled nodes, option length fixed up.
  const at = pre.offset;
  const filled = pre.nodes.length * 4;
  const header = Uint8Array.from(o!.subarray(at, at + 12));
  header[1] = 10 + filled;
  header[3] = 1;
  const optEnd = at + 2 + o![at + 1]!;
  const blob = concat(header, o!.subarray(optEnd - filled, optEnd));
  const r = decodeIoamOptions(blob);
  assert.deepEqual(r.issues, []);
  assert.equal(r.traces[0]!.ioamOptionType, 1);
  assert.equal(r.traces[0]!.remainingLength, 59);
  assert.deepStrictEqual(r.traces[0]!.nodes, pre.nodes);
});

test('CLT ids: 128-bit trace id and 64-bit span id after the trace header', { skip }, () => {
  const [o] = hbhOptions('pcap/bit0.after-hop2.pcap');
  const at = decodeIoamOptions(o!).traces[0]!.offset;
  const ids = hex('0af7651916cd43dd8448eb211c80319c b7ad6b7169203331');
  const b = concat(o!.subarray(0, at + 12), ids, o!.subarray(at + 12));
  b[at + 1] = b[at + 1]! + 24;
  const r = decodeIoamOptions(b, { cltIds: true });
  assert.deepEqual(r.issues, []);
  const t = r.traces[0]!;
  assert.equal(t.traceId, '0af7651916cd43dd8448eb211c80319c');
  assert.equal(t.spanId, 'b7ad6b7169203331');
  assert.deepEqual(t.nodes, [
    { hop_limit: 63, node_id: 1 },
    { hop_limit: 62, node_id: 2 },
  ]);
  // Without the option the ids would be taken as free space / nodes; with it a short option is flagged.
  assert.deepEqual(codes(o!, true), ['CLT_TRUNCATED']);
});

test('fuzz: 200k mutated IOAM option blobs never throw, in bounded time', { skip }, () => {
  const base = seeds();
  // Add CLT and incremental variants to the seeds.
  const extra: Uint8Array[] = [];
  for (const s of base) {
    const at = decodeIoamOptions(s).traces[0]!.offset;
    const inc = Uint8Array.from(s);
    inc[at + 3] = 1;
    extra.push(inc);
    const clt = concat(s.subarray(0, at + 12), new Uint8Array(24).fill(0xab), s.subarray(at + 12));
    clt[at + 1] = Math.min(255, clt[at + 1]! + 24);
    extra.push(clt);
  }
  const all = [...base, ...extra];
  const rand = prng(0x10a0);
  const started = process.hrtime.bigint();
  const N = 200_000;
  let traces = 0;
  let issues = 0;
  for (let k = 0; k < N; k++) {
    let blob = mutate(rand, all[rand() % all.length]!);
    if (rand() % 8 === 0) blob = blob.subarray(0, rand() % (blob.length + 1));
    const r = decodeIoamOptions(blob, { cltIds: (k & 1) === 1 });
    traces += r.traces.length;
    issues += r.issues.length;
    for (const t of r.traces) assert.ok(t.nodes.length <= blob.length / 4 + 1);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(ms < 30_000, `fuzz took ${ms.toFixed(0)} ms`);
  assert.ok(traces > N / 2 && issues > 0);
});
