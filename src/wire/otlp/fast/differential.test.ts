/**
 * The fast codec against protobuf-es on seeded random messages and the OTLP JSON examples:
 * decoding must give the very objects fromBinary gives, encoding the very bytes toBinary
 * gives, and a message must come back equal from its encoding.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { clone, create, createRegistry, equals, fromBinary, toBinary, toJson, type DescMessage, type Message } from '@bufbuild/protobuf';
import { ExportTraceServiceRequestSchema } from '../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { ExportLogsServiceRequestSchema } from '../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { decodeJson, decodeProtobuf, encodeProtobuf } from '../codec.js';
import { SHARED_DIR } from '../../../testutil/index.js';
import { decodeLogsRequest, decodeTraceRequest, ENCODE_ERROR_CODE, encodeLogsRequest, encodeTraceRequest } from './index.js';
import { NetspanError } from '../../../core/errors.js';
import { randomLogs, randomTraces, Rng, type GenOptions } from './random_otlp.test.util.js';

interface Codec<M extends Message> {
  schema: DescMessage;
  decode(bytes: Uint8Array): M;
  encode(m: M): Uint8Array;
  random(rng: Rng, opts?: GenOptions): M;
}

const CODECS = {
  traces: { schema: ExportTraceServiceRequestSchema, decode: decodeTraceRequest, encode: encodeTraceRequest, random: randomTraces },
  logs: { schema: ExportLogsServiceRequestSchema, decode: decodeLogsRequest, encode: encodeLogsRequest, random: randomLogs },
} as const;

const NO_REGISTRY = createRegistry();

/** equals() with unknown fields compared too; it ignores NaN (NaN != NaN), deepStrictEqual does not. */
function assertSameMessage(schema: DescMessage, actual: Message, expected: Message, what: string): void {
  assert.deepStrictEqual(actual, expected, what);
  // Key order too: the decoder builds keys in the order protobuf-es does.
  assert.deepStrictEqual(keyOrders(actual), keyOrders(expected), `${what}: key order`);
  assert.ok(equals(schema, actual, expected, { registry: NO_REGISTRY, unknown: true }) || hasNaN(actual), `${what}: equals()`);
}

function keyOrders(value: unknown, acc: string[] = []): string[] {
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    if (!Array.isArray(value)) acc.push(Object.keys(value).join(','));
    for (const v of Object.values(value)) keyOrders(v, acc);
  }
  return acc;
}

function hasNaN(value: unknown): boolean {
  if (typeof value === 'number') return Number.isNaN(value);
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) return Object.values(value).some(hasNaN);
  return false;
}

function checkMessage<M extends Message>(codec: Codec<M>, m: M, lossless: boolean, what: string): void {
  const reference = toBinary(codec.schema, m);
  const encoded = codec.encode(m);
  assert.deepStrictEqual(encoded, reference, `${what}: bytes differ from toBinary`);
  assertSameMessage(codec.schema, codec.decode(reference), fromBinary(codec.schema, reference), `${what}: decode`);
  if (lossless) assertSameMessage(codec.schema, fromBinary(codec.schema, encoded) as Message, m, `${what}: round trip`);
}

for (const [signal, codec] of Object.entries(CODECS) as [keyof typeof CODECS, Codec<Message>][]) {
  test(`${signal}: 2000 random messages decode and encode like protobuf-es`, () => {
    const rng = new Rng(signal === 'traces' ? 0x5eed : 0x1095);
    for (let i = 0; i < 2000; i++) checkMessage(codec, codec.random(rng), true, `${signal} #${i}`);
  });

  test(`${signal}: lone surrogates and a leading BOM behave like protobuf-es`, () => {
    const rng = new Rng(42);
    for (let i = 0; i < 500; i++) checkMessage(codec, codec.random(rng, { lossyStrings: true }), false, `${signal} lossy #${i}`);
  });

  test(`${signal}: deeply nested AnyValues`, () => {
    const rng = new Rng(7);
    for (let i = 0; i < 200; i++) checkMessage(codec, codec.random(rng, { maxDepth: 12 }), true, `${signal} deep #${i}`);
  });

  test(`${signal}: decodes from a Buffer at an offset, and copies bytes out of it`, () => {
    const rng = new Rng(99);
    for (let i = 0; i < 50; i++) {
      const m = codec.random(rng);
      const bytes = toBinary(codec.schema, m);
      // A pooled Buffer: its bytes start somewhere inside a larger ArrayBuffer.
      const pooled = Buffer.allocUnsafe(bytes.length + 16).subarray(7, 7 + bytes.length);
      pooled.set(bytes);
      const decoded = codec.decode(pooled);
      assertSameMessage(codec.schema, decoded, fromBinary(codec.schema, bytes), `pooled #${i}`);
      pooled.fill(0);
      assertSameMessage(codec.schema, decoded, fromBinary(codec.schema, bytes), `pooled #${i} after the input was overwritten`);
    }
  });
}

test('decoded messages work with create, clone, equals and toJson', () => {
  const rng = new Rng(3);
  for (let i = 0; i < 100; i++) {
    const m = randomTraces(rng);
    const bytes = toBinary(ExportTraceServiceRequestSchema, m);
    const fast = decodeTraceRequest(bytes);
    const slow = fromBinary(ExportTraceServiceRequestSchema, bytes);
    assert.deepStrictEqual(clone(ExportTraceServiceRequestSchema, fast), slow);
    assert.equal(create(ExportTraceServiceRequestSchema, fast), fast);
    if (!hasNaN(slow)) assert.deepStrictEqual(toJson(ExportTraceServiceRequestSchema, fast), toJson(ExportTraceServiceRequestSchema, slow));
  }
});

test('an empty request and a message field present but empty', () => {
  for (const codec of Object.values(CODECS) as Codec<Message>[]) {
    assert.deepStrictEqual(codec.encode(create(codec.schema)), new Uint8Array(0));
    assert.deepStrictEqual(codec.decode(new Uint8Array(0)), create(codec.schema));
  }
  const m = create(ExportTraceServiceRequestSchema, {
    resourceSpans: [{ resource: {}, scopeSpans: [{ scope: {}, spans: [{ status: {}, attributes: [{ value: {} }] }] }] }],
  });
  const bytes = encodeTraceRequest(m);
  assert.deepStrictEqual(bytes, toBinary(ExportTraceServiceRequestSchema, m));
  const back = decodeTraceRequest(bytes);
  assert.ok(back.resourceSpans[0]!.resource);
  assert.ok(back.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.status);
  assert.deepStrictEqual(back, fromBinary(ExportTraceServiceRequestSchema, bytes));
});

test('a singular message field given twice is merged, like protobuf-es', () => {
  // Span { status { message: "a" } status { code: 2 } attributes { key: "k" value { string "x" } value { int 5 } } }
  const status1 = [0x12, 0x01, 0x61];
  const status2 = [0x18, 0x02];
  const kv = [0x0a, 0x01, 0x6b, 0x12, 0x03, 0x0a, 0x01, 0x78, 0x12, 0x02, 0x18, 0x05];
  const span = [0x7a, status1.length, ...status1, 0x7a, status2.length, ...status2, 0x4a, kv.length, ...kv];
  const scopeSpans = [0x12, span.length, ...span];
  const resourceSpans = [0x12, scopeSpans.length, ...scopeSpans];
  const bytes = Uint8Array.from([0x0a, resourceSpans.length, ...resourceSpans]);
  const fast = decodeTraceRequest(bytes);
  assertSameMessage(ExportTraceServiceRequestSchema, fast, fromBinary(ExportTraceServiceRequestSchema, bytes), 'merged');
  const s = fast.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
  assert.equal(s.status?.message, 'a');
  assert.equal(s.status?.code, 2);
  assert.deepStrictEqual(s.attributes[0]!.value!.value, { case: 'intValue', value: 5n });
});

test('non-canonical input: padded varints and repeated scalars decode like protobuf-es', () => {
  // Span { name: "n" (length as a 2-byte varint), kind: 2 as a 10-byte varint with high bits, dropped count 3 twice }
  const span = [0x2a, 0x81, 0x00, 0x6e, 0x30, 0x82, 0x80, 0x80, 0x80, 0xf0, 0xff, 0xff, 0xff, 0xff, 0x01, 0x50, 0x03, 0x50, 0x04];
  const scopeSpans = [0x12, span.length, ...span];
  const resourceSpans = [0x12, scopeSpans.length, ...scopeSpans];
  const bytes = Uint8Array.from([0x0a, resourceSpans.length, ...resourceSpans]);
  assertSameMessage(
    ExportTraceServiceRequestSchema,
    decodeTraceRequest(bytes),
    fromBinary(ExportTraceServiceRequestSchema, bytes),
    'padded',
  );
});

for (const [signal, file] of [
  ['traces', 'trace.json'],
  ['logs', 'logs.json'],
  ['logs', 'events.json'],
] as const) {
  test(`OTLP JSON example ${file} round trips through the fast codec`, () => {
    const m = decodeJson(signal, readFileSync(join(SHARED_DIR, 'data', 'otlp', 'examples', file), 'utf8'));
    const codec = CODECS[signal] as Codec<Message>;
    checkMessage(codec, m, true, file);
    // And through codec.ts, which routes this signal to the fast path.
    const bytes = encodeProtobuf(signal, m as never);
    assert.deepStrictEqual(bytes, toBinary(codec.schema, m));
    assert.ok(equals(codec.schema, decodeProtobuf(signal, bytes) as Message, m));
  });
}

test('strings of every length class, with lone surrogates and a BOM, encode like TextEncoder', () => {
  const pieces = ['a', 'é', '中', '😀', '\ud800', '\udfff', '\ufeff'];
  for (const units of [1, 7, 8, 9, 24, 25, 42, 43, 63, 64, 127, 128, 256, 257, 5000]) {
    for (const piece of pieces) {
      const text = (piece + 'x'.repeat(units)).slice(0, units);
      const m = create(ExportTraceServiceRequestSchema, {
        resourceSpans: [
          {
            scopeSpans: [{ spans: [{ name: text, attributes: [{ key: text, value: { value: { case: 'stringValue', value: text } } }] }] }],
          },
        ],
      });
      const bytes = toBinary(ExportTraceServiceRequestSchema, m);
      assert.deepStrictEqual(encodeTraceRequest(m), bytes, `${units} units starting with ${JSON.stringify(piece)}`);
      assert.deepStrictEqual(decodeTraceRequest(bytes), fromBinary(ExportTraceServiceRequestSchema, bytes));
    }
  }
});

test('values protobuf-es refuses to encode are refused too', () => {
  const span = (init: Record<string, unknown>) =>
    create(ExportTraceServiceRequestSchema, { resourceSpans: [{ scopeSpans: [{ spans: [init] }] }] });
  for (const init of [
    { droppedAttributesCount: -1 },
    { droppedAttributesCount: 2 ** 32 },
    { flags: 1.5 },
    { kind: 2 ** 31 },
    { startTimeUnixNano: -1n },
    { endTimeUnixNano: 2n ** 64n },
  ]) {
    const m = span(init);
    assert.throws(() => toBinary(ExportTraceServiceRequestSchema, m), Error);
    assert.throws(
      () => encodeTraceRequest(m),
      (err) => err instanceof NetspanError && err.code === ENCODE_ERROR_CODE,
    );
  }
  const tooBig = create(ExportTraceServiceRequestSchema, {
    resourceSpans: [{ resource: { attributes: [{ key: 'k', value: { value: { case: 'intValue', value: 2n ** 63n } } }] } }],
  });
  assert.throws(
    () => encodeTraceRequest(tooBig),
    (err) => err instanceof NetspanError && /invalid int64/.test(err.message),
  );
});
