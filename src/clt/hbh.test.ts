import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeIoamOptions, traceTypeNodeLength } from '../capture/ioam/decode.js';
import {
  buildHopByHopOptions,
  decodeTraceContextOption,
  CltOptionsError,
  HopByHopOptionsTemplate,
  IPV6_OPTION_TRACE_CONTEXT,
} from './hbh.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

test('the documented layout, byte for byte (room for 2 nodes of trace type 0xf00000)', () => {
  const b = buildHopByHopOptions({ namespaceId: 123, traceType: 0xf00000, nodes: 2, traceId: TRACE_ID, spanId: SPAN_ID });
  const expected =
    '00' + // next header (the kernel writes it)
    '09' + // header length 80 bytes: 80 / 8 - 1
    '0100' + // PadN, no data: the IOAM option starts at offset 4
    '312a0000' + // IOAM option, 42 data bytes, reserved, pre-allocated trace
    '007b' + // namespace 123
    '2008' + // node length 4 | flags 0 | remaining length 8 words
    'f0000000' + // trace type 0xf00000, reserved
    '00'.repeat(32) + // room for 2 nodes
    '1e1a' + // trace context option, 26 data bytes
    '00' + // version
    TRACE_ID +
    SPAN_ID +
    '01' + // flags: sampled
    '01020000'; // PadN to a multiple of 8
  assert.equal(b.toString('hex'), expected);
  assert.equal(b.length, 80);
  assert.equal(b[1], b.length / 8 - 1);
});

/** Every option of a Hop-by-Hop header, checking the padding rules the kernel applies on input. */
function walk(b: Buffer): { offset: number; type: number; length: number }[] {
  const out: { offset: number; type: number; length: number }[] = [];
  for (let i = 2; i < b.length;) {
    if (b[i] === 0) {
      out.push({ offset: i, type: 0, length: 0 });
      i++;
      continue;
    }
    const length = b[i + 1]!;
    assert.ok(i + 2 + length <= b.length, `option at ${i} fits`);
    if (b[i] === 1) {
      assert.ok(length <= 5, 'PadN pads at most 7 bytes');
      assert.ok(
        b.subarray(i + 2, i + 2 + length).every((x) => x === 0),
        'PadN data is zero',
      );
    }
    out.push({ offset: i, type: b[i]!, length });
    i += 2 + length;
  }
  return out;
}

test('for every node count and trace types: 8n long, IOAM option 4n-aligned, valid padding, decodable by the IOAM decoder', () => {
  for (const traceType of [0x800000, 0xf00000, 0xfc0000, 0xff0000, 0x820000, 0xf0e000]) {
    const nodeLength = traceTypeNodeLength(traceType);
    for (let nodes = 1; nodes * nodeLength * 4 <= 244; nodes++) {
      const b = buildHopByHopOptions({ namespaceId: 0xbeef, traceType, nodes, traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 });
      const what = `type ${traceType.toString(16)} nodes ${nodes}`;
      assert.equal(b.length % 8, 0, what);
      assert.equal(b[1], b.length / 8 - 1, what);
      const options = walk(b).filter((o) => o.type > 1);
      assert.deepEqual(
        options.map((o) => [o.type, o.length]),
        [
          [0x31, 10 + nodes * nodeLength * 4],
          [IPV6_OPTION_TRACE_CONTEXT, 26],
        ],
        what,
      );
      assert.equal(options[0]!.offset % 4, 0, `${what}: IOAM option 4n-aligned`);
      assert.ok(
        b.subarray(16, 16 + nodes * nodeLength * 4).every((x) => x === 0),
        `${what}: zeroed room`,
      );
      const { traces, issues } = decodeIoamOptions(b.subarray(2));
      assert.deepEqual(issues, [], what);
      assert.equal(traces.length, 1);
      assert.deepEqual(
        traces[0],
        {
          offset: 2,
          ioamOptionType: 0,
          namespaceId: 0xbeef,
          nodeLength,
          flags: 0,
          overflow: false,
          remainingLength: nodes * nodeLength,
          traceType,
          nodes: [],
        },
        what,
      );
      assert.deepEqual(decodeTraceContextOption(b.subarray(2)), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 }, what);
    }
  }
});

test('what cannot be encoded is a CltOptionsError', () => {
  const ok = { namespaceId: 1, nodes: 1, traceId: TRACE_ID, spanId: SPAN_ID };
  const bad: [string, object][] = [
    ['trace id length', { traceId: 'abc' }],
    ['trace id uppercase', { traceId: TRACE_ID.toUpperCase() }],
    ['trace id zero', { traceId: '0'.repeat(32) }],
    ['span id zero', { spanId: '0'.repeat(16) }],
    ['namespace', { namespaceId: 0x10000 }],
    ['nodes 0', { nodes: 0 }],
    ['too many nodes', { traceType: 0xf00000, nodes: 16 }],
    ['snapshot bit', { traceType: 0x800002 }],
    ['reserved bit', { traceType: 0x800001 }],
    ['no data', { traceType: 0 }],
    ['flags', { traceFlags: 256 }],
  ];
  for (const [what, change] of bad)
    assert.throws(
      () => buildHopByHopOptions({ ...ok, ...change }),
      (e: unknown) => e instanceof CltOptionsError && e.code === 'CLT_INVALID_OPTIONS' && e.name === 'CltOptionsError',
      what,
    );
  // The most an IOAM trace holds: 244 bytes.
  assert.equal(buildHopByHopOptions({ ...ok, traceType: 0x800000, nodes: 61 })[5], 254);
});

test('a template rewrites the ids of one header: the same bytes as building it anew; invalid ids leave it as it was', () => {
  const options = { namespaceId: 123, traceType: 0xf20000, nodes: 3 };
  const template = new HopByHopOptionsTemplate(options);
  const header = Buffer.from(template.bytes);
  template.writeIds(header, TRACE_ID, SPAN_ID);
  assert.deepEqual(header, buildHopByHopOptions({ ...options, traceId: TRACE_ID, spanId: SPAN_ID }));
  const otherSpan = '00f067aa0ba902b7';
  template.writeIds(header, TRACE_ID, otherSpan);
  assert.deepEqual(header, buildHopByHopOptions({ ...options, traceId: TRACE_ID, spanId: otherSpan }));
  // A valid trace id with an invalid span id writes neither.
  assert.throws(() => template.writeIds(header, '4bf92f3577b34da6a3ce929d0e0e4736', 'zz'), CltOptionsError);
  assert.deepEqual(decodeTraceContextOption(header.subarray(2)), { traceId: TRACE_ID, spanId: otherSpan, traceFlags: 1 });
  // The template itself is never written: its ids (the 24 bytes before the flags, the last byte here) stay zero.
  assert.ok(template.bytes.subarray(-25, -1).every((b) => b === 0));
});

test('decodeTraceContextOption finds the option among others and refuses what is not valid', () => {
  const ctx = (version: number, dataLength: number, fill = 0x11): number[] => [
    IPV6_OPTION_TRACE_CONTEXT,
    dataLength,
    version,
    ...new Array<number>(dataLength - 1).fill(fill),
  ];
  const ids = { traceId: '11'.repeat(16), spanId: '11'.repeat(8), traceFlags: 0x11 };
  const u8 = (a: number[]): Uint8Array => Uint8Array.from(a);
  assert.equal(decodeTraceContextOption(new Uint8Array(0)), undefined);
  assert.deepEqual(decodeTraceContextOption(u8([0, 1, 1, 0, 0x3e, 2, 9, 9, ...ctx(0, 26)])), ids, 'after Pad1, PadN and another option');
  assert.deepEqual(decodeTraceContextOption(u8(ctx(1, 30))), ids, 'a later version may append fields');
  assert.equal(decodeTraceContextOption(u8(ctx(0, 27))), undefined, 'version 0 is exactly 26 bytes');
  assert.equal(decodeTraceContextOption(u8(ctx(0, 20))), undefined, 'too short');
  assert.equal(decodeTraceContextOption(u8(ctx(0xff, 26))), undefined, 'version 0xff is invalid');
  assert.equal(decodeTraceContextOption(u8(ctx(0, 26, 0))), undefined, 'all-zero ids');
  assert.equal(decodeTraceContextOption(u8(ctx(0, 26).slice(0, 20))), undefined, 'truncated');
});
