/**
 * Malformed input: the fast decoder must throw DecodeError 'OTLP_PROTOBUF_INVALID' (never
 * another error, never hang) and must never accept what protobuf-es rejects or decode
 * something different from it. Where protobuf-es misreads bad input, it is stricter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromBinary, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { DecodeError } from '../../../core/errors.js';
import { ExportTraceServiceRequestSchema } from '../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { ExportLogsServiceRequestSchema } from '../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { decodeProtobuf } from '../codec.js';
import { decodeLogsRequest, decodeTraceRequest, MAX_MESSAGE_DEPTH } from './index.js';
import { realisticLogs, realisticTraces } from './measure.js';
import { randomLogs, randomTraces, Rng } from './random_otlp.test.util.js';

type Decode = (bytes: Uint8Array) => Message;

const SIGNALS: { name: string; schema: DescMessage; decode: Decode; random: (rng: Rng) => Message; realistic: () => Message }[] = [
  {
    name: 'traces',
    schema: ExportTraceServiceRequestSchema,
    decode: decodeTraceRequest,
    random: (rng) => randomTraces(rng),
    realistic: () => realisticTraces(10),
  },
  {
    name: 'logs',
    schema: ExportLogsServiceRequestSchema,
    decode: decodeLogsRequest,
    random: (rng) => randomLogs(rng),
    realistic: () => realisticLogs(10),
  },
];

function assertDecodeError(fn: () => unknown, pattern?: RegExp): DecodeError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`);
    assert.equal(err.code, 'OTLP_PROTOBUF_INVALID');
    assert.match(err.message, /^cannot decode protobuf: .* at byte \d+$/);
    assert.equal(typeof err.context.offset, 'number');
    if (pattern) assert.match(err.message, pattern);
    return err;
  }
  assert.fail('expected a DecodeError, but decoding succeeded');
}

type Outcome = 'both accept' | 'both reject' | 'only protobuf-es accepts';

/** Decodes with both; fails the test if the fast decoder accepts what protobuf-es does not, or differs. */
function compareOutcome(schema: DescMessage, decode: Decode, bytes: Uint8Array, what: string): Outcome {
  let fast: Message | undefined;
  try {
    fast = decode(bytes);
  } catch (err) {
    if (!(err instanceof DecodeError)) assert.fail(`${what}: threw ${String(err)} instead of a DecodeError\n${(err as Error).stack}`);
  }
  let reference: Message | undefined;
  try {
    reference = fromBinary(schema, bytes);
  } catch {
    // protobuf-es rejects it
  }
  if (fast === undefined) return reference === undefined ? 'both reject' : 'only protobuf-es accepts';
  if (reference === undefined)
    assert.fail(`${what}: the fast decoder accepted bytes protobuf-es rejects: ${Buffer.from(bytes).toString('hex')}`);
  assert.deepStrictEqual(fast, reference, `${what}: decoded differently from protobuf-es: ${Buffer.from(bytes).toString('hex')}`);
  return 'both accept';
}

// Wraps Span bytes in ScopeSpans, ResourceSpans and the request.
function inRequest(span: number[]): Uint8Array {
  const scopeSpans = [0x12, ...varint(span.length), ...span];
  const resourceSpans = [0x12, ...varint(scopeSpans.length), ...scopeSpans];
  return Uint8Array.from([0x0a, ...varint(resourceSpans.length), ...resourceSpans]);
}

// Wraps LogRecord bytes in ScopeLogs, ResourceLogs and the request.
function inLogsRequest(record: number[]): Uint8Array {
  const scopeLogs = [0x12, ...varint(record.length), ...record];
  const resourceLogs = [0x12, ...varint(scopeLogs.length), ...scopeLogs];
  return Uint8Array.from([0x0a, ...varint(resourceLogs.length), ...resourceLogs]);
}

function varint(v: number): number[] {
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A valid payload for each wire type, to follow a tag. */
const PAYLOAD: Record<number, number[]> = { 0: [0x05], 1: [1, 2, 3, 4, 5, 6, 7, 8], 2: [0x01, 0x61], 5: [1, 2, 3, 4] };

for (const { name, schema, decode, realistic } of SIGNALS) {
  test(`${name}: truncation at every offset is a DecodeError or a shorter valid message`, () => {
    const bytes = toBinary(schema, realistic());
    assert.ok(bytes.length > 2000);
    let accepted = 0;
    for (let cut = 0; cut < bytes.length; cut++) {
      if (compareOutcome(schema, decode, bytes.subarray(0, cut), `cut at ${cut}`) === 'both accept') accepted++;
    }
    // Only cuts at a boundary of a top-level field (the empty prefix included) are whole messages.
    assert.ok(accepted >= 1 && accepted < 5, `accepted ${accepted} truncations`);
  });
}

test('varints longer than 10 bytes', () => {
  const long = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
  assertDecodeError(() => decodeTraceRequest(inRequest([0x30, ...long])), /varint longer than 10 bytes/); // Span.kind
  assertDecodeError(() => decodeTraceRequest(inRequest([0x50, ...long])), /varint longer than 10 bytes/); // uint32
  assertDecodeError(() => decodeTraceRequest(inRequest([0xa0, 0x01, ...long])), /varint longer than 10 bytes/); // unknown varint field
  assertDecodeError(() => decodeTraceRequest(Uint8Array.from(long)), /tag varint/);
  // Tags and lengths must fit in 32 bits: protobuf-es silently truncates a length of 2^32 + 1 to 1.
  assertDecodeError(() => decodeTraceRequest(inRequest([0x2a, 0x81, 0x80, 0x80, 0x80, 0x10, 0x61])), /length varint exceeds 32 bits/);
  assertDecodeError(() => decodeTraceRequest(Uint8Array.from([0x8a, 0x80, 0x80, 0x80, 0x10])), /tag varint exceeds 32 bits/);
  // A 10-byte varint is fine (negative int32 values are sign-extended to 10 bytes).
  const minusOne = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  assert.equal(decodeTraceRequest(inRequest([0x30, ...minusOne])).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.kind, -1);
});

test('lengths past the end of the input or of the enclosing message', () => {
  assertDecodeError(() => decodeTraceRequest(Uint8Array.from([0x0a, 0x05, 0x01])), /ResourceSpans of 5 bytes exceeds the 1 bytes left/);
  assertDecodeError(() => decodeTraceRequest(inRequest([0x2a, 0x05, 0x61])), /length 5 exceeds the 1 bytes left/); // string
  assertDecodeError(() => decodeTraceRequest(inRequest([0x0a, 0x10, 0x61])), /length 16 exceeds/); // bytes
  assertDecodeError(() => decodeTraceRequest(inRequest([0xa2, 0x01, 0x03, 0x61])), /length 3 exceeds/); // unknown field
  assertDecodeError(() => decodeTraceRequest(inRequest([0x39, 1, 2, 3])), /truncated fixed64/);
  assertDecodeError(() => decodeTraceRequest(inRequest([0x85, 0x01, 1, 2])), /truncated fixed32/);
  // The input is long enough, but a nested message claims more than its parent holds:
  // ResourceSpans of 2 bytes holding a ScopeSpans of 5.
  assertDecodeError(
    () => decodeTraceRequest(Uint8Array.from([0x0a, 0x02, 0x12, 0x05, 0x0a, 0x03, 0x61, 0x62, 0x63])),
    /ScopeSpans of 5 bytes exceeds the 0 bytes left in its parent at byte 3/,
  );
  // A string that runs past the end of its Span but not of the input.
  const span = [0x2a, 0x03, 0x61]; // name of 3 bytes, 1 present in the span
  const scopeSpans = [0x12, span.length, ...span, 0x62, 0x63];
  const resourceSpans = [0x12, scopeSpans.length, ...scopeSpans];
  assertDecodeError(
    () => decodeTraceRequest(Uint8Array.from([0x0a, resourceSpans.length, ...resourceSpans])),
    /length 3 exceeds the 1 bytes left/,
  );
});

test('a known field with the wrong wire type is an error (protobuf-es misreads it)', () => {
  const spanWire: Record<number, number> = {
    1: 2,
    2: 2,
    3: 2,
    4: 2,
    5: 2,
    6: 0,
    7: 1,
    8: 1,
    9: 2,
    10: 0,
    11: 2,
    12: 0,
    13: 2,
    14: 0,
    15: 2,
    16: 5,
  };
  const logWire: Record<number, number> = { 1: 1, 2: 0, 3: 2, 5: 2, 6: 2, 7: 0, 8: 5, 9: 2, 10: 2, 11: 1, 12: 2 };
  for (const [wires, wrap, decode] of [
    [spanWire, inRequest, decodeTraceRequest],
    [logWire, inLogsRequest, decodeLogsRequest],
  ] as const) {
    for (const [no, expected] of Object.entries(wires)) {
      for (const wt of [0, 1, 2, 5]) {
        if (wt === expected) continue;
        const bytes = wrap([...varint((Number(no) << 3) | wt), ...PAYLOAD[wt]!]);
        assertDecodeError(() => decode(bytes), new RegExp(`field ${no} has wire type .*, expected`));
      }
    }
  }
  assertDecodeError(() => decodeTraceRequest(Uint8Array.from([0x08, 0x01])), /ExportTraceServiceRequest field 1 has wire type varint/);
});

test('groups, field number 0 and wire types 6 and 7 are errors', () => {
  // protobuf-es skips a well-formed group in an unknown field; OTLP never uses groups.
  assertDecodeError(() => decodeTraceRequest(inRequest([0xa3, 0x01, 0xa4, 0x01])), /uses a group \(wire type 3\)/);
  assertDecodeError(() => decodeTraceRequest(inRequest([0xa4, 0x01])), /uses a group \(wire type 4\)/);
  assertDecodeError(() => decodeTraceRequest(inRequest([0x00, 0x01])), /invalid field number 0/);
  assertDecodeError(() => decodeTraceRequest(inRequest([0x0e])), /invalid wire type 6/);
  assertDecodeError(() => decodeLogsRequest(Uint8Array.from([0x0f])), /invalid wire type 7/);
});

test(`AnyValues nested deeper than ${MAX_MESSAGE_DEPTH} messages are an error, not a stack overflow`, () => {
  // KeyValue { value: AnyValue { array_value { values: AnyValue { array_value { ... } } } } }, built inside out.
  const nest = (levels: number): number[] => {
    let any: number[] = [0x10, 0x01]; // bool_value: true
    for (let i = 0; i < levels; i++) {
      const array = [0x0a, ...varint(any.length), ...any];
      any = [0x2a, ...varint(array.length), ...array];
    }
    const kv = [0x0a, 0x01, 0x6b, 0x12, ...varint(any.length), ...any];
    return [0x4a, ...varint(kv.length), ...kv];
  };
  // Request > ResourceSpans > ScopeSpans > Span > KeyValue > (AnyValue > ArrayValue) * levels > AnyValue
  const ok = inRequest(nest(100));
  assert.deepStrictEqual(decodeTraceRequest(ok), fromBinary(ExportTraceServiceRequestSchema, ok));
  assertDecodeError(() => decodeTraceRequest(inRequest(nest(200))), /nested deeper than 256/);
  // Far deeper than any stack: still a DecodeError, through codec.ts too.
  const deep = inRequest(nest(3000));
  assertDecodeError(() => decodeTraceRequest(deep), /nested deeper/);
  assert.throws(
    () => decodeProtobuf('traces', deep),
    (err) => err instanceof DecodeError && err.context.signal === 'traces',
  );
});

test('codec.ts reports the signal and the offset', () => {
  const err = assertDecodeError(() => decodeProtobuf('logs', Uint8Array.from([0x0a, 0x05, 0x01])));
  assert.deepStrictEqual(err.context, { signal: 'logs', offset: 1 });
});

test('fuzz: 200,000 mutated messages are rejected with DecodeError or decoded exactly like protobuf-es', { timeout: 300_000 }, () => {
  const rng = new Rng(0xf022);
  const bases: { schema: DescMessage; decode: Decode; bytes: Uint8Array }[] = [];
  for (const s of SIGNALS) {
    bases.push({ schema: s.schema, decode: s.decode, bytes: toBinary(s.schema, s.realistic()) });
    for (let i = 0; i < 60; i++) {
      const bytes = toBinary(s.schema, s.random(rng));
      if (bytes.length > 0 && bytes.length < 4000) bases.push({ schema: s.schema, decode: s.decode, bytes });
    }
  }
  const outcomes: Record<Outcome, number> = { 'both accept': 0, 'both reject': 0, 'only protobuf-es accepts': 0 };
  const RUNS = 200_000;
  for (let run = 0; run < RUNS; run++) {
    const base = rng.pick(bases);
    const mutated = mutate(rng, base.bytes);
    outcomes[compareOutcome(base.schema, base.decode, mutated, `run ${run}`)]++;
  }
  // Mutations must reach all outcomes, or the fuzz is not exploring.
  assert.ok(outcomes['both accept'] > 1000 && outcomes['both reject'] > 1000, JSON.stringify(outcomes));
  console.log(`fuzz outcomes: ${JSON.stringify(outcomes)}`);
});

/** `b` with `remove` bytes at `at` replaced by `insert`. */
function splice(b: Uint8Array, at: number, remove: number, insert: Uint8Array = new Uint8Array(0)): Uint8Array {
  const end = Math.min(b.length, at + remove);
  const out = new Uint8Array(b.length - (end - at) + insert.length);
  out.set(b.subarray(0, at));
  out.set(insert, at);
  out.set(b.subarray(end), at + insert.length);
  return out;
}

/** One to three random edits: bit flips, special bytes, insertions, deletions, truncation, copies. */
function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input);
  for (let edits = 1 + rng.int(3); edits > 0; edits--) {
    const at = rng.int(b.length + 1);
    switch (rng.int(7)) {
      case 0:
        if (at < b.length) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (at < b.length) b[at] = rng.pick([0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12, rng.int(256)]);
        break;
      case 2:
        if (at < b.length) b[at] = (b[at]! + (rng.chance(0.5) ? 1 : 255)) & 0xff; // a length or count off by one
        break;
      case 3:
        b = splice(b, at, 0, rng.bytes(1 + rng.int(4)));
        break;
      case 4:
        b = splice(b, at, 1 + rng.int(8));
        break;
      case 5:
        b = b.slice(0, at);
        break;
      default: {
        const from = rng.int(b.length + 1);
        b = splice(b, at, 0, b.slice(from, from + 1 + rng.int(16)));
      }
    }
  }
  return b;
}
