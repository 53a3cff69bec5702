/**
 * Seeded random OTLP traces and logs requests for the differential tests of the fast codec
 * (not a test file itself; the `.test.` in the name keeps it out of the published package).
 * Messages are built with protobuf-es create(), so they are exactly what protobuf-es holds,
 * and cover every field: empty and full, nested AnyValues, unicode, 64-bit limits, negative
 * int32/int64 and enums, and unknown fields.
 */
import { create, type UnknownField } from '@bufbuild/protobuf';
import type { WireType } from '@bufbuild/protobuf/wire';
import {
  AnyValueSchema,
  ArrayValueSchema,
  EntityRefSchema,
  InstrumentationScopeSchema,
  KeyValueListSchema,
  KeyValueSchema,
  type AnyValue,
  type EntityRef,
  type InstrumentationScope,
  type KeyValue,
} from '../gen/opentelemetry/proto/common/v1/common_pb.js';
import { ResourceSchema, type Resource } from '../gen/opentelemetry/proto/resource/v1/resource_pb.js';
import {
  ResourceSpansSchema,
  ScopeSpansSchema,
  Span_EventSchema,
  Span_LinkSchema,
  SpanSchema,
  StatusSchema,
  type Span,
  type Status,
} from '../gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { LogRecordSchema, ResourceLogsSchema, ScopeLogsSchema, type LogRecord } from '../gen/opentelemetry/proto/logs/v1/logs_pb.js';
import {
  ExportTraceServiceRequestSchema,
  type ExportTraceServiceRequest,
} from '../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import {
  ExportLogsServiceRequestSchema,
  type ExportLogsServiceRequest,
} from '../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { mulberry32 } from '../../../testutil/prng.js';

/** A small, fast, seeded PRNG (mulberry32). */
export class Rng {
  private readonly random: () => number;
  constructor(seed: number) {
    this.random = mulberry32(seed);
  }
  next(): number {
    return this.random();
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  uint32(): number {
    return (this.next() * 4294967296) >>> 0;
  }
  u64(): bigint {
    return (BigInt(this.uint32()) << 32n) | BigInt(this.uint32());
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

export interface GenOptions {
  /**
   * Also produce strings that UTF-8 cannot carry unchanged: lone surrogates (encoded as
   * U+FFFD) and a leading U+FEFF (dropped by the decoder, like protobuf-es). Such messages
   * encode to the same bytes as toBinary but do not decode back to themselves.
   */
  lossyStrings?: boolean;
  /** Maximum AnyValue nesting (arrays and kvlists). */
  maxDepth?: number;
}

const ASCII_WORDS = ['http.request.method', 'url.full', 'GET', 'server.address', 'db.system', 'k8s.pod.name', 'a', ' ', '0', '~'];
const UNICODE_PIECES = [
  'é',
  'ß',
  'Ω',
  'Ж',
  '中文',
  '日本語',
  '€',
  '\u07ff',
  '\u0800',
  '\uffff',
  '😀',
  '𝄞',
  '\u{10ffff}',
  '\u0000',
  '\u007f',
  '\u0080',
];
const LOSSY_PIECES = ['\ud800', '\udfff', '\ud83d', 'x\ude00y', '\ufeff'];

function randomString(rng: Rng, opts: GenOptions): string {
  switch (rng.int(8)) {
    case 0:
      return '';
    case 1:
    case 2:
      return rng.pick(ASCII_WORDS);
    case 3: {
      // ASCII of every length class: short, around the one-byte length prefix (127/128), long.
      const n = rng.pick([1, 15, 16, 17, 42, 43, 100, 127, 128, 129, 255, 256, 257, 300, 1000]);
      let s = '';
      for (let i = 0; i < n; i++) s += String.fromCharCode(32 + rng.int(95));
      return s;
    }
    default: {
      const parts = 1 + rng.int(rng.chance(0.2) ? 200 : 12);
      let s = rng.chance(0.1) && opts.lossyStrings ? '\ufeff' : '';
      for (let i = 0; i < parts; i++) {
        if (opts.lossyStrings && rng.chance(0.05)) s += rng.pick(LOSSY_PIECES);
        else if (rng.chance(0.5)) s += rng.pick(UNICODE_PIECES);
        else s += String.fromCharCode(32 + rng.int(95));
      }
      return s;
    }
  }
}

const INT64_EDGES = [0n, 1n, -1n, 127n, 128n, -128n, 2n ** 31n - 1n, -(2n ** 31n), 2n ** 31n, 2n ** 32n, 2n ** 35n - 1n, 2n ** 35n,
  2n ** 53n - 1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 56n, 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n) + 1n]; // prettier-ignore
const UINT64_EDGES = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 1_700_000_000_000_000_000n];
const UINT32_EDGES = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
const INT32_EDGES = [0, 1, -1, 127, 128, -128, 2 ** 31 - 1, -(2 ** 31)];
const DOUBLES = [0, -0, 1, -1, 0.1, 1e308, -1e-308, 5e-324, Number.MAX_SAFE_INTEGER, Infinity, -Infinity, NaN, Math.PI];

function int64(rng: Rng): bigint {
  return rng.chance(0.5) ? rng.pick(INT64_EDGES) : BigInt.asIntN(64, rng.u64());
}
function uint64(rng: Rng): bigint {
  return rng.chance(0.5) ? rng.pick(UINT64_EDGES) : rng.u64();
}
function uint32(rng: Rng): number {
  return rng.chance(0.5) ? rng.pick(UINT32_EDGES) : rng.chance(0.5) ? rng.int(300) : rng.uint32();
}
function int32(rng: Rng): number {
  return rng.chance(0.5) ? rng.pick(INT32_EDGES) : rng.uint32() | 0;
}
/** An enum value: mostly defined ones, sometimes any int32 (proto3 enums are open). */
function enumValue(rng: Rng, max: number): number {
  return rng.chance(0.85) ? rng.int(max + 1) : int32(rng);
}
function bytes(rng: Rng): Uint8Array {
  return rng.bytes(rng.pick([0, 0, 8, 16, 16, 1, 33, 200]));
}
/** One or two, rarely none: the outer levels of a request. */
function outerCount(rng: Rng): number {
  return rng.chance(0.05) ? 0 : 1 + rng.int(2);
}

/** Mostly small counts, sometimes none. */
function count(rng: Rng, max: number): number {
  return rng.chance(0.2) ? 0 : rng.int(max + 1);
}

/** Unknown fields with numbers no OTLP message here defines, valid for every wire type. */
function unknownFields(rng: Rng): UnknownField[] | undefined {
  if (!rng.chance(0.05)) return undefined;
  const fields: UnknownField[] = [];
  for (let i = 1 + rng.int(3); i > 0; i--) {
    const no = rng.pick([100, 999, 2047, 536870911]);
    switch (rng.pick([0, 1, 2, 5])) {
      case 0:
        fields.push({
          no,
          wireType: 0 as WireType,
          data: rng.pick([Uint8Array.of(0), Uint8Array.of(0x96, 0x01), new Uint8Array(10).fill(0xff).fill(1, 9)]),
        });
        break;
      case 1:
        fields.push({ no, wireType: 1 as WireType, data: rng.bytes(8) });
        break;
      case 2: {
        const len = rng.int(20);
        fields.push({ no, wireType: 2 as WireType, data: Uint8Array.of(len, ...rng.bytes(len)) });
        break;
      }
      default:
        fields.push({ no, wireType: 5 as WireType, data: rng.bytes(4) });
    }
  }
  return fields;
}

function withUnknown<T extends { $unknown?: UnknownField[] }>(rng: Rng, m: T): T {
  const unknown = unknownFields(rng);
  if (unknown) m.$unknown = unknown;
  return m;
}

export function randomAnyValue(rng: Rng, opts: GenOptions, depth = 0): AnyValue {
  const maxDepth = opts.maxDepth ?? 4;
  const nested = depth < maxDepth;
  const v = create(AnyValueSchema);
  switch (rng.int(nested ? 10 : 8)) {
    case 0:
      break; // no value set: an empty AnyValue
    case 1:
    case 2:
      v.value = { case: 'stringValue', value: randomString(rng, opts) };
      break;
    case 3:
      v.value = { case: 'boolValue', value: rng.chance(0.5) };
      break;
    case 4:
      v.value = { case: 'intValue', value: int64(rng) };
      break;
    case 5:
      v.value = { case: 'doubleValue', value: rng.chance(0.5) ? rng.pick(DOUBLES) : (rng.next() - 0.5) * 1e6 };
      break;
    case 6:
      v.value = { case: 'bytesValue', value: bytes(rng) };
      break;
    case 7:
      v.value = { case: 'stringValueStrindex', value: int32(rng) };
      break;
    case 8: {
      const values: AnyValue[] = [];
      for (let i = count(rng, 4); i > 0; i--) values.push(randomAnyValue(rng, opts, depth + 1));
      v.value = { case: 'arrayValue', value: withUnknown(rng, create(ArrayValueSchema, { values })) };
      break;
    }
    default: {
      const values: KeyValue[] = [];
      for (let i = count(rng, 4); i > 0; i--) values.push(randomKeyValue(rng, opts, depth + 1));
      v.value = { case: 'kvlistValue', value: withUnknown(rng, create(KeyValueListSchema, { values })) };
    }
  }
  return withUnknown(rng, v);
}

function randomKeyValue(rng: Rng, opts: GenOptions, depth = 0): KeyValue {
  const kv = create(KeyValueSchema, { key: randomString(rng, opts) });
  if (rng.chance(0.9)) kv.value = randomAnyValue(rng, opts, depth);
  if (rng.chance(0.1)) kv.keyStrindex = int32(rng);
  return withUnknown(rng, kv);
}

function attributes(rng: Rng, opts: GenOptions, max = 6): KeyValue[] {
  const list: KeyValue[] = [];
  for (let i = count(rng, max); i > 0; i--) list.push(randomKeyValue(rng, opts));
  return list;
}

function randomEntityRef(rng: Rng, opts: GenOptions): EntityRef {
  const strings = (): string[] => Array.from({ length: count(rng, 3) }, () => randomString(rng, opts));
  return withUnknown(
    rng,
    create(EntityRefSchema, {
      schemaUrl: randomString(rng, opts),
      type: randomString(rng, opts),
      idKeys: strings(),
      descriptionKeys: strings(),
    }),
  );
}

function randomResource(rng: Rng, opts: GenOptions): Resource | undefined {
  if (rng.chance(0.1)) return undefined;
  const r = create(ResourceSchema, { attributes: attributes(rng, opts, 8) });
  if (rng.chance(0.2)) r.droppedAttributesCount = uint32(rng);
  if (rng.chance(0.2)) r.entityRefs = Array.from({ length: 1 + rng.int(2) }, () => randomEntityRef(rng, opts));
  return withUnknown(rng, r);
}

function randomScope(rng: Rng, opts: GenOptions): InstrumentationScope | undefined {
  if (rng.chance(0.1)) return undefined;
  const s = create(InstrumentationScopeSchema, {
    name: randomString(rng, opts),
    version: randomString(rng, opts),
    attributes: attributes(rng, opts, 2),
  });
  if (rng.chance(0.2)) s.droppedAttributesCount = uint32(rng);
  return withUnknown(rng, s);
}

function randomStatus(rng: Rng, opts: GenOptions): Status | undefined {
  if (rng.chance(0.3)) return undefined;
  // Present but empty sometimes: it must still be written.
  if (rng.chance(0.2)) return create(StatusSchema);
  return withUnknown(rng, create(StatusSchema, { message: randomString(rng, opts), code: enumValue(rng, 2) }));
}

export function randomSpan(rng: Rng, opts: GenOptions): Span {
  const s = create(SpanSchema, {
    traceId: rng.chance(0.9) ? rng.bytes(16) : bytes(rng),
    spanId: rng.chance(0.9) ? rng.bytes(8) : bytes(rng),
    parentSpanId: rng.chance(0.5) ? rng.bytes(8) : new Uint8Array(0),
    name: randomString(rng, opts),
    kind: enumValue(rng, 5),
    startTimeUnixNano: uint64(rng),
    endTimeUnixNano: uint64(rng),
    attributes: attributes(rng, opts),
  });
  if (rng.chance(0.3)) s.traceState = randomString(rng, opts);
  if (rng.chance(0.5)) s.flags = rng.chance(0.5) ? rng.pick([0x100, 0x301, 1]) : rng.uint32();
  if (rng.chance(0.2)) s.droppedAttributesCount = uint32(rng);
  if (rng.chance(0.2)) s.droppedEventsCount = uint32(rng);
  if (rng.chance(0.2)) s.droppedLinksCount = uint32(rng);
  for (let i = rng.chance(0.5) ? 0 : rng.int(3); i > 0; i--) {
    const e = create(Span_EventSchema, { timeUnixNano: uint64(rng), name: randomString(rng, opts), attributes: attributes(rng, opts, 3) });
    if (rng.chance(0.2)) e.droppedAttributesCount = uint32(rng);
    s.events.push(withUnknown(rng, e));
  }
  for (let i = rng.chance(0.6) ? 0 : rng.int(3); i > 0; i--) {
    const l = create(Span_LinkSchema, {
      traceId: bytes(rng),
      spanId: bytes(rng),
      traceState: randomString(rng, opts),
      attributes: attributes(rng, opts, 2),
    });
    if (rng.chance(0.3)) l.flags = rng.uint32();
    if (rng.chance(0.2)) l.droppedAttributesCount = uint32(rng);
    s.links.push(withUnknown(rng, l));
  }
  const status = randomStatus(rng, opts);
  if (status) s.status = status;
  return withUnknown(rng, s);
}

export function randomTraces(rng: Rng, opts: GenOptions = {}): ExportTraceServiceRequest {
  const m = create(ExportTraceServiceRequestSchema);
  for (let i = outerCount(rng); i > 0; i--) {
    const rs = create(ResourceSpansSchema, { schemaUrl: rng.chance(0.3) ? randomString(rng, opts) : '' });
    const resource = randomResource(rng, opts);
    if (resource) rs.resource = resource;
    for (let j = outerCount(rng); j > 0; j--) {
      const ss = create(ScopeSpansSchema, { schemaUrl: rng.chance(0.3) ? randomString(rng, opts) : '' });
      const scope = randomScope(rng, opts);
      if (scope) ss.scope = scope;
      for (let k = count(rng, 4); k > 0; k--) ss.spans.push(randomSpan(rng, opts));
      rs.scopeSpans.push(withUnknown(rng, ss));
    }
    m.resourceSpans.push(withUnknown(rng, rs));
  }
  return withUnknown(rng, m);
}

function randomLogRecord(rng: Rng, opts: GenOptions): LogRecord {
  const r = create(LogRecordSchema, {
    timeUnixNano: rng.chance(0.8) ? uint64(rng) : 0n,
    observedTimeUnixNano: uint64(rng),
    severityNumber: enumValue(rng, 24),
    severityText: randomString(rng, opts),
    attributes: attributes(rng, opts),
  });
  if (rng.chance(0.8)) r.body = randomAnyValue(rng, opts);
  if (rng.chance(0.3)) r.flags = rng.uint32();
  if (rng.chance(0.5)) r.traceId = rng.bytes(16);
  if (rng.chance(0.5)) r.spanId = rng.bytes(8);
  if (rng.chance(0.2)) r.droppedAttributesCount = uint32(rng);
  if (rng.chance(0.3)) r.eventName = randomString(rng, opts);
  return withUnknown(rng, r);
}

export function randomLogs(rng: Rng, opts: GenOptions = {}): ExportLogsServiceRequest {
  const m = create(ExportLogsServiceRequestSchema);
  for (let i = outerCount(rng); i > 0; i--) {
    const rl = create(ResourceLogsSchema, { schemaUrl: rng.chance(0.3) ? randomString(rng, opts) : '' });
    const resource = randomResource(rng, opts);
    if (resource) rl.resource = resource;
    for (let j = outerCount(rng); j > 0; j--) {
      const sl = create(ScopeLogsSchema, { schemaUrl: rng.chance(0.3) ? randomString(rng, opts) : '' });
      const scope = randomScope(rng, opts);
      if (scope) sl.scope = scope;
      for (let k = count(rng, 4); k > 0; k--) sl.logRecords.push(randomLogRecord(rng, opts));
      rl.scopeLogs.push(withUnknown(rng, sl));
    }
    m.resourceLogs.push(withUnknown(rng, rl));
  }
  return withUnknown(rng, m);
}
