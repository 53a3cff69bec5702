/**
 * Hand-written protobuf encoders for ExportTraceServiceRequest and ExportLogsServiceRequest,
 * producing the same bytes as protobuf-es toBinary: fields in field-number order, proto3
 * zero values (0, 0n, '', empty bytes, empty lists) omitted, message fields written whenever
 * present (even empty), oneof members always written, unknown fields ($unknown) last.
 *
 * Two passes and one allocation for the output: the first pass computes the size of every
 * nested message bottom-up and records it in `sizes` in the order the second pass meets
 * the length prefixes; the second pass writes into one Uint8Array of the exact size.
 *
 * The encoder keeps its state in this module: encoding is synchronous and never re-enters.
 */
import type { UnknownField } from '@bufbuild/protobuf';
import { NetspanError } from '../../../core/errors.js';
import type {
  AnyValue,
  ArrayValue,
  EntityRef,
  InstrumentationScope,
  KeyValue,
  KeyValueList,
} from '../gen/opentelemetry/proto/common/v1/common_pb.js';
import type { Resource } from '../gen/opentelemetry/proto/resource/v1/resource_pb.js';
import type { ResourceSpans, ScopeSpans, Span, Span_Event, Span_Link, Status } from '../gen/opentelemetry/proto/trace/v1/trace_pb.js';
import type { LogRecord, ResourceLogs, ScopeLogs } from '../gen/opentelemetry/proto/logs/v1/logs_pb.js';
import type { ExportTraceServiceRequest } from '../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import type { ExportLogsServiceRequest } from '../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';

export const ENCODE_ERROR_CODE = 'OTLP_PROTOBUF_ENCODE';

/**
 * Strings of at most this many UTF-16 units take at most 126 UTF-8 bytes, so their length
 * prefix is one byte: the writer encodes them in place without a recorded length.
 */
const SHORT_STRING_UNITS = 42;
/** Above this many UTF-16 units, native UTF-8 length and copy beat a JS loop. */
const NATIVE_STRING_UNITS = 24;
/** Above this many bytes, TypedArray.set beats a copy loop. */
const NATIVE_BYTES = 32;

/** Entries of the size table kept between calls (4 MiB). */
const MAX_KEPT_SIZES = 1 << 20;

const INT64_MAX = 0x7fffffffffffffffn;
const INT64_MIN = -0x8000000000000000n;
const UINT64_MAX = 0xffffffffffffffffn;

interface Utf8Writable {
  utf8Write(text: string, offset: number, length: number): number;
}

// ---- pass state ----

/** Lengths recorded by the size pass (nested messages, long strings), in writing order. */
let sizes = new Int32Array(4096);
let sizeCount = 0;
/** Next entry of `sizes` the writer takes. */
let cursor = 0;
let out = new Uint8Array(0);
let view = new DataView(out.buffer);
/** A Buffer over `out`, for Buffer's native UTF-8 writer. */
let text = Buffer.alloc(0) as unknown as Utf8Writable;
let pos = 0;

const scratch = new DataView(new ArrayBuffer(8));

function reserve(): number {
  if (sizeCount === sizes.length) {
    const grown = new Int32Array(sizes.length * 2);
    grown.set(sizes);
    sizes = grown;
  }
  return sizeCount++;
}

function invalid(field: string, what: string, value: unknown): never {
  throw new NetspanError(ENCODE_ERROR_CODE, `cannot encode ${field} to protobuf: invalid ${what}: ${String(value)}`, {
    context: { field },
  });
}

// ---- sizes of scalars ----

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** int32 and enums: negative values are sign-extended to 10 bytes, as protobuf requires. */
function int32Size(v: number, field: string): number {
  if ((v | 0) !== v) invalid(field, 'int32', v);
  return v < 0 ? 10 : varintSize(v);
}

function checkUint32(v: number, field: string): void {
  if (v >>> 0 !== v) invalid(field, 'uint32', v);
}

function checkFixed64(v: bigint | number | string, field: string): bigint {
  const b = typeof v === 'bigint' ? v : BigInt(v);
  if (b < 0n || b > UINT64_MAX) invalid(field, 'uint64', v);
  return b;
}

function int64Size(v: bigint): number {
  if (v < 0n) {
    if (v < INT64_MIN) invalid('AnyValue.intValue', 'int64', v);
    return 10;
  }
  if (v < 0x80000000n) return varintSize(Number(v));
  if (v > INT64_MAX) invalid('AnyValue.intValue', 'int64', v);
  scratch.setBigUint64(0, v, true);
  const hi = scratch.getUint32(4, true);
  // 2^31 <= v: 5 bytes cover 35 bits, then 7 bits more per byte.
  return hi < 0x8 ? 5 : hi < 0x400 ? 6 : hi < 0x20000 ? 7 : hi < 0x1000000 ? 8 : 9;
}

function utf8Length(s: string): number {
  const n = s.length;
  if (n > NATIVE_STRING_UNITS) return Buffer.byteLength(s, 'utf8');
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if ((c & 0xfc00) === 0xd800 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: 4 bytes for 2 units
      i++;
    } else bytes += 2; // 3 bytes, also for a lone surrogate (written as U+FFFD, like TextEncoder)
  }
  return bytes;
}

/** Size of a string after its tag: length prefix and UTF-8 bytes. Records long strings' lengths. */
function stringSize(s: string): number {
  const bytes = utf8Length(s);
  if (s.length <= SHORT_STRING_UNITS) return 1 + bytes;
  sizes[reserve()] = bytes;
  return varintSize(bytes) + bytes;
}

function bytesSize(b: Uint8Array): number {
  return varintSize(b.byteLength) + b.byteLength;
}

function unknownSize(unknown: readonly UnknownField[]): number {
  let n = 0;
  for (const u of unknown) n += varintSize(((u.no << 3) | u.wireType) >>> 0) + u.data.byteLength;
  return n;
}

// ---- writing scalars ----

function writeVarint(v: number): void {
  const o = out;
  let p = pos;
  while (v > 0x7f) {
    o[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  o[p++] = v;
  pos = p;
}

function writeInt32(v: number): void {
  if (v >= 0) {
    writeVarint(v);
    return;
  }
  const o = out;
  let p = pos;
  for (let i = 0; i < 9; i++) {
    o[p++] = (v & 0x7f) | 0x80;
    v >>= 7;
  }
  o[p++] = 1;
  pos = p;
}

function writeInt64(v: bigint): void {
  if (v >= 0n && v < 0x80000000n) {
    writeVarint(Number(v));
    return;
  }
  scratch.setBigInt64(0, v, true);
  let lo = scratch.getUint32(0, true);
  let hi = scratch.getUint32(4, true);
  const o = out;
  let p = pos;
  // Seven bits at a time from the 64-bit value hi:lo.
  while (hi !== 0 || lo > 0x7f) {
    o[p++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  o[p++] = lo;
  pos = p;
}

function writeFixed32(v: number): void {
  view.setUint32(pos, v, true);
  pos += 4;
}

function writeFixed64(v: bigint): void {
  view.setBigUint64(pos, v, true);
  pos += 8;
}

function writeDouble(v: number): void {
  view.setFloat64(pos, v, true);
  pos += 8;
}

/** UTF-8 like TextEncoder: surrogate pairs as 4 bytes, lone surrogates as U+FFFD. */
function writeUtf8(s: string): void {
  const o = out;
  let p = pos;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      o[p++] = c;
    } else if (c < 0x800) {
      o[p++] = 0xc0 | (c >> 6);
      o[p++] = 0x80 | (c & 0x3f);
    } else if ((c & 0xfc00) === 0xd800 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      const cp = 0x10000 + ((c & 0x3ff) << 10) + (s.charCodeAt(++i) & 0x3ff);
      o[p++] = 0xf0 | (cp >> 18);
      o[p++] = 0x80 | ((cp >> 12) & 0x3f);
      o[p++] = 0x80 | ((cp >> 6) & 0x3f);
      o[p++] = 0x80 | (cp & 0x3f);
    } else {
      if ((c & 0xf800) === 0xd800) c = 0xfffd;
      o[p++] = 0xe0 | (c >> 12);
      o[p++] = 0x80 | ((c >> 6) & 0x3f);
      o[p++] = 0x80 | (c & 0x3f);
    }
  }
  pos = p;
}

/** A string after its tag; must meet the same strings in the same order as stringSize. */
function writeString(s: string): void {
  const units = s.length;
  if (units <= SHORT_STRING_UNITS) {
    // The length prefix is one byte: write the text after it, then fill it in.
    const start = ++pos;
    if (units > NATIVE_STRING_UNITS) pos += text.utf8Write(s, start, out.length - start);
    else writeUtf8(s);
    out[start - 1] = pos - start;
    return;
  }
  const bytes = sizes[cursor++]!;
  writeVarint(bytes);
  if (units > NATIVE_STRING_UNITS) {
    text.utf8Write(s, pos, bytes);
    pos += bytes;
  } else writeUtf8(s);
}

function writeBytes(b: Uint8Array): void {
  const n = b.byteLength;
  writeVarint(n);
  if (n > NATIVE_BYTES) {
    out.set(b, pos);
    pos += n;
    return;
  }
  const o = out;
  let p = pos;
  for (let i = 0; i < n; i++) o[p++] = b[i]!;
  pos = p;
}

function writeUnknown(unknown: readonly UnknownField[]): void {
  for (const u of unknown) {
    writeVarint(((u.no << 3) | u.wireType) >>> 0);
    out.set(u.data, pos);
    pos += u.data.byteLength;
  }
}

/** Writes a tag of one byte followed by the next recorded message length. */
function beginMessage(tag: number): void {
  out[pos++] = tag;
  writeVarint(sizes[cursor++]!);
}

// ---- common.proto ----

function sizeAnyValue(m: AnyValue): number {
  let n = 0;
  const v = m.value;
  switch (v.case) {
    case 'stringValue':
      n = 1 + stringSize(v.value);
      break;
    case 'boolValue':
      n = 2;
      break;
    case 'intValue':
      n = 1 + int64Size(toI64(v.value));
      break;
    case 'doubleValue':
      n = 9;
      break;
    case 'arrayValue': {
      const slot = reserve();
      const s = sizeArrayValue(v.value);
      sizes[slot] = s;
      n = 1 + varintSize(s) + s;
      break;
    }
    case 'kvlistValue': {
      const slot = reserve();
      const s = sizeKeyValueList(v.value);
      sizes[slot] = s;
      n = 1 + varintSize(s) + s;
      break;
    }
    case 'bytesValue':
      n = 1 + bytesSize(v.value);
      break;
    case 'stringValueStrindex':
      n = 1 + int32Size(v.value, 'AnyValue.stringValueStrindex');
      break;
  }
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeAnyValue(m: AnyValue): void {
  const v = m.value;
  switch (v.case) {
    case 'stringValue':
      out[pos++] = 10;
      writeString(v.value);
      break;
    case 'boolValue':
      out[pos++] = 16;
      out[pos++] = v.value ? 1 : 0;
      break;
    case 'intValue':
      out[pos++] = 24;
      writeInt64(toI64(v.value));
      break;
    case 'doubleValue':
      out[pos++] = 33;
      writeDouble(v.value);
      break;
    case 'arrayValue':
      beginMessage(42);
      writeArrayValue(v.value);
      break;
    case 'kvlistValue':
      beginMessage(50);
      writeKeyValueList(v.value);
      break;
    case 'bytesValue':
      out[pos++] = 58;
      writeBytes(v.value);
      break;
    case 'stringValueStrindex':
      out[pos++] = 64;
      writeInt32(v.value);
      break;
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

function sizeArrayValue(m: ArrayValue): number {
  let n = 0;
  for (const item of m.values) {
    const slot = reserve();
    const s = sizeAnyValue(item);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeArrayValue(m: ArrayValue): void {
  for (const item of m.values) {
    beginMessage(10);
    writeAnyValue(item);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

function sizeKeyValueList(m: KeyValueList): number {
  return sizeKeyValues(m.values) + (m.$unknown !== undefined ? unknownSize(m.$unknown) : 0);
}

function writeKeyValueList(m: KeyValueList): void {
  writeKeyValues(10, m.values);
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

/** Size of a repeated KeyValue field with a one-byte tag (attributes, kvlist values). */
function sizeKeyValues(list: readonly KeyValue[]): number {
  let n = 0;
  for (const kv of list) {
    const slot = reserve();
    const s = sizeKeyValue(kv);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  return n;
}

function writeKeyValues(tag: number, list: readonly KeyValue[]): void {
  for (const kv of list) {
    beginMessage(tag);
    writeKeyValue(kv);
  }
}

function sizeKeyValue(m: KeyValue): number {
  let n = 0;
  if (m.key !== '') n += 1 + stringSize(m.key);
  if (m.value !== undefined) {
    const slot = reserve();
    const s = sizeAnyValue(m.value);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.keyStrindex !== 0) n += 1 + int32Size(m.keyStrindex, 'KeyValue.keyStrindex');
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeKeyValue(m: KeyValue): void {
  if (m.key !== '') {
    out[pos++] = 10;
    writeString(m.key);
  }
  if (m.value !== undefined) {
    beginMessage(18);
    writeAnyValue(m.value);
  }
  if (m.keyStrindex !== 0) {
    out[pos++] = 24;
    writeInt32(m.keyStrindex);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

function sizeScope(m: InstrumentationScope): number {
  let n = 0;
  if (m.name !== '') n += 1 + stringSize(m.name);
  if (m.version !== '') n += 1 + stringSize(m.version);
  n += sizeKeyValues(m.attributes);
  if (m.droppedAttributesCount !== 0) {
    checkUint32(m.droppedAttributesCount, 'InstrumentationScope.droppedAttributesCount');
    n += 1 + varintSize(m.droppedAttributesCount);
  }
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeScope(m: InstrumentationScope): void {
  if (m.name !== '') {
    out[pos++] = 10;
    writeString(m.name);
  }
  if (m.version !== '') {
    out[pos++] = 18;
    writeString(m.version);
  }
  writeKeyValues(26, m.attributes);
  if (m.droppedAttributesCount !== 0) {
    out[pos++] = 32;
    writeVarint(m.droppedAttributesCount);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

function sizeEntityRef(m: EntityRef): number {
  let n = 0;
  if (m.schemaUrl !== '') n += 1 + stringSize(m.schemaUrl);
  if (m.type !== '') n += 1 + stringSize(m.type);
  for (const k of m.idKeys) n += 1 + stringSize(k);
  for (const k of m.descriptionKeys) n += 1 + stringSize(k);
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeEntityRef(m: EntityRef): void {
  if (m.schemaUrl !== '') {
    out[pos++] = 10;
    writeString(m.schemaUrl);
  }
  if (m.type !== '') {
    out[pos++] = 18;
    writeString(m.type);
  }
  for (const k of m.idKeys) {
    out[pos++] = 26;
    writeString(k);
  }
  for (const k of m.descriptionKeys) {
    out[pos++] = 34;
    writeString(k);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

// ---- resource.proto ----

function sizeResource(m: Resource): number {
  let n = sizeKeyValues(m.attributes);
  if (m.droppedAttributesCount !== 0) {
    checkUint32(m.droppedAttributesCount, 'Resource.droppedAttributesCount');
    n += 1 + varintSize(m.droppedAttributesCount);
  }
  for (const ref of m.entityRefs) {
    const slot = reserve();
    const s = sizeEntityRef(ref);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeResource(m: Resource): void {
  writeKeyValues(10, m.attributes);
  if (m.droppedAttributesCount !== 0) {
    out[pos++] = 16;
    writeVarint(m.droppedAttributesCount);
  }
  for (const ref of m.entityRefs) {
    beginMessage(26);
    writeEntityRef(ref);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

// ---- trace.proto ----

function sizeResourceSpans(m: ResourceSpans): number {
  let n = 0;
  if (m.resource !== undefined) {
    const slot = reserve();
    const s = sizeResource(m.resource);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  for (const ss of m.scopeSpans) {
    const slot = reserve();
    const s = sizeScopeSpans(ss);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.schemaUrl !== '') n += 1 + stringSize(m.schemaUrl);
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeResourceSpans(m: ResourceSpans): void {
  if (m.resource !== undefined) {
    beginMessage(10);
    writeResource(m.resource);
  }
  for (const ss of m.scopeSpans) {
    beginMessage(18);
    writeScopeSpans(ss);
  }
  if (m.schemaUrl !== '') {
    out[pos++] = 26;
    writeString(m.schemaUrl);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

function sizeScopeSpans(m: ScopeSpans): number {
  let n = 0;
  if (m.scope !== undefined) {
    const slot = reserve();
    const s = sizeScope(m.scope);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  for (const span of m.spans) {
    const slot = reserve();
    const s = sizeSpan(span);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.schemaUrl !== '') n += 1 + stringSize(m.schemaUrl);
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeScopeSpans(m: ScopeSpans): void {
  if (m.scope !== undefined) {
    beginMessage(10);
    writeScope(m.scope);
  }
  for (const span of m.spans) {
    beginMessage(18);
    writeSpan(span);
  }
  if (m.schemaUrl !== '') {
    out[pos++] = 26;
    writeString(m.schemaUrl);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

function sizeSpan(m: Span): number {
  let n = 0;
  if (m.traceId.byteLength !== 0) n += 1 + bytesSize(m.traceId);
  if (m.spanId.byteLength !== 0) n += 1 + bytesSize(m.spanId);
  if (m.traceState !== '') n += 1 + stringSize(m.traceState);
  if (m.parentSpanId.byteLength !== 0) n += 1 + bytesSize(m.parentSpanId);
  if (m.name !== '') n += 1 + stringSize(m.name);
  if (m.kind !== 0) n += 1 + int32Size(m.kind, 'Span.kind');
  if (checkFixed64(m.startTimeUnixNano, 'Span.startTimeUnixNano') !== 0n) n += 9;
  if (checkFixed64(m.endTimeUnixNano, 'Span.endTimeUnixNano') !== 0n) n += 9;
  n += sizeKeyValues(m.attributes);
  if (m.droppedAttributesCount !== 0) {
    checkUint32(m.droppedAttributesCount, 'Span.droppedAttributesCount');
    n += 1 + varintSize(m.droppedAttributesCount);
  }
  for (const e of m.events) {
    const slot = reserve();
    const s = sizeEvent(e);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.droppedEventsCount !== 0) {
    checkUint32(m.droppedEventsCount, 'Span.droppedEventsCount');
    n += 1 + varintSize(m.droppedEventsCount);
  }
  for (const l of m.links) {
    const slot = reserve();
    const s = sizeLink(l);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.droppedLinksCount !== 0) {
    checkUint32(m.droppedLinksCount, 'Span.droppedLinksCount');
    n += 1 + varintSize(m.droppedLinksCount);
  }
  if (m.status !== undefined) {
    const slot = reserve();
    const s = sizeStatus(m.status);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.flags !== 0) {
    checkUint32(m.flags, 'Span.flags');
    n += 2 + 4; // field 16 needs a two-byte tag
  }
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeSpan(m: Span): void {
  if (m.traceId.byteLength !== 0) {
    out[pos++] = 10;
    writeBytes(m.traceId);
  }
  if (m.spanId.byteLength !== 0) {
    out[pos++] = 18;
    writeBytes(m.spanId);
  }
  if (m.traceState !== '') {
    out[pos++] = 26;
    writeString(m.traceState);
  }
  if (m.parentSpanId.byteLength !== 0) {
    out[pos++] = 34;
    writeBytes(m.parentSpanId);
  }
  if (m.name !== '') {
    out[pos++] = 42;
    writeString(m.name);
  }
  if (m.kind !== 0) {
    out[pos++] = 48;
    writeInt32(m.kind);
  }
  const start = toU64(m.startTimeUnixNano);
  if (start !== 0n) {
    out[pos++] = 57;
    writeFixed64(start);
  }
  const end = toU64(m.endTimeUnixNano);
  if (end !== 0n) {
    out[pos++] = 65;
    writeFixed64(end);
  }
  writeKeyValues(74, m.attributes);
  if (m.droppedAttributesCount !== 0) {
    out[pos++] = 80;
    writeVarint(m.droppedAttributesCount);
  }
  for (const e of m.events) {
    beginMessage(90);
    writeEvent(e);
  }
  if (m.droppedEventsCount !== 0) {
    out[pos++] = 96;
    writeVarint(m.droppedEventsCount);
  }
  for (const l of m.links) {
    beginMessage(106);
    writeLink(l);
  }
  if (m.droppedLinksCount !== 0) {
    out[pos++] = 112;
    writeVarint(m.droppedLinksCount);
  }
  if (m.status !== undefined) {
    beginMessage(122);
    writeStatus(m.status);
  }
  if (m.flags !== 0) {
    out[pos++] = 0x85; // field 16, fixed32
    out[pos++] = 0x01;
    writeFixed32(m.flags);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

/** 64-bit fields are bigint; a number or decimal string (accepted by protobuf-es) is converted. */
function toU64(v: bigint | number | string): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

const toI64 = toU64;

function sizeEvent(m: Span_Event): number {
  let n = 0;
  if (checkFixed64(m.timeUnixNano, 'Span.Event.timeUnixNano') !== 0n) n += 9;
  if (m.name !== '') n += 1 + stringSize(m.name);
  n += sizeKeyValues(m.attributes);
  if (m.droppedAttributesCount !== 0) {
    checkUint32(m.droppedAttributesCount, 'Span.Event.droppedAttributesCount');
    n += 1 + varintSize(m.droppedAttributesCount);
  }
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeEvent(m: Span_Event): void {
  const time = toU64(m.timeUnixNano);
  if (time !== 0n) {
    out[pos++] = 9;
    writeFixed64(time);
  }
  if (m.name !== '') {
    out[pos++] = 18;
    writeString(m.name);
  }
  writeKeyValues(26, m.attributes);
  if (m.droppedAttributesCount !== 0) {
    out[pos++] = 32;
    writeVarint(m.droppedAttributesCount);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

function sizeLink(m: Span_Link): number {
  let n = 0;
  if (m.traceId.byteLength !== 0) n += 1 + bytesSize(m.traceId);
  if (m.spanId.byteLength !== 0) n += 1 + bytesSize(m.spanId);
  if (m.traceState !== '') n += 1 + stringSize(m.traceState);
  n += sizeKeyValues(m.attributes);
  if (m.droppedAttributesCount !== 0) {
    checkUint32(m.droppedAttributesCount, 'Span.Link.droppedAttributesCount');
    n += 1 + varintSize(m.droppedAttributesCount);
  }
  if (m.flags !== 0) {
    checkUint32(m.flags, 'Span.Link.flags');
    n += 5;
  }
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeLink(m: Span_Link): void {
  if (m.traceId.byteLength !== 0) {
    out[pos++] = 10;
    writeBytes(m.traceId);
  }
  if (m.spanId.byteLength !== 0) {
    out[pos++] = 18;
    writeBytes(m.spanId);
  }
  if (m.traceState !== '') {
    out[pos++] = 26;
    writeString(m.traceState);
  }
  writeKeyValues(34, m.attributes);
  if (m.droppedAttributesCount !== 0) {
    out[pos++] = 40;
    writeVarint(m.droppedAttributesCount);
  }
  if (m.flags !== 0) {
    out[pos++] = 53;
    writeFixed32(m.flags);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

function sizeStatus(m: Status): number {
  let n = 0;
  if (m.message !== '') n += 1 + stringSize(m.message);
  if (m.code !== 0) n += 1 + int32Size(m.code, 'Status.code');
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeStatus(m: Status): void {
  if (m.message !== '') {
    out[pos++] = 18;
    writeString(m.message);
  }
  if (m.code !== 0) {
    out[pos++] = 24;
    writeInt32(m.code);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

// ---- logs.proto ----

function sizeResourceLogs(m: ResourceLogs): number {
  let n = 0;
  if (m.resource !== undefined) {
    const slot = reserve();
    const s = sizeResource(m.resource);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  for (const sl of m.scopeLogs) {
    const slot = reserve();
    const s = sizeScopeLogs(sl);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.schemaUrl !== '') n += 1 + stringSize(m.schemaUrl);
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeResourceLogs(m: ResourceLogs): void {
  if (m.resource !== undefined) {
    beginMessage(10);
    writeResource(m.resource);
  }
  for (const sl of m.scopeLogs) {
    beginMessage(18);
    writeScopeLogs(sl);
  }
  if (m.schemaUrl !== '') {
    out[pos++] = 26;
    writeString(m.schemaUrl);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

function sizeScopeLogs(m: ScopeLogs): number {
  let n = 0;
  if (m.scope !== undefined) {
    const slot = reserve();
    const s = sizeScope(m.scope);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  for (const rec of m.logRecords) {
    const slot = reserve();
    const s = sizeLogRecord(rec);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.schemaUrl !== '') n += 1 + stringSize(m.schemaUrl);
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeScopeLogs(m: ScopeLogs): void {
  if (m.scope !== undefined) {
    beginMessage(10);
    writeScope(m.scope);
  }
  for (const rec of m.logRecords) {
    beginMessage(18);
    writeLogRecord(rec);
  }
  if (m.schemaUrl !== '') {
    out[pos++] = 26;
    writeString(m.schemaUrl);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

function sizeLogRecord(m: LogRecord): number {
  let n = 0;
  if (checkFixed64(m.timeUnixNano, 'LogRecord.timeUnixNano') !== 0n) n += 9;
  if (m.severityNumber !== 0) n += 1 + int32Size(m.severityNumber, 'LogRecord.severityNumber');
  if (m.severityText !== '') n += 1 + stringSize(m.severityText);
  if (m.body !== undefined) {
    const slot = reserve();
    const s = sizeAnyValue(m.body);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  n += sizeKeyValues(m.attributes);
  if (m.droppedAttributesCount !== 0) {
    checkUint32(m.droppedAttributesCount, 'LogRecord.droppedAttributesCount');
    n += 1 + varintSize(m.droppedAttributesCount);
  }
  if (m.flags !== 0) {
    checkUint32(m.flags, 'LogRecord.flags');
    n += 5;
  }
  if (m.traceId.byteLength !== 0) n += 1 + bytesSize(m.traceId);
  if (m.spanId.byteLength !== 0) n += 1 + bytesSize(m.spanId);
  if (checkFixed64(m.observedTimeUnixNano, 'LogRecord.observedTimeUnixNano') !== 0n) n += 9;
  if (m.eventName !== '') n += 1 + stringSize(m.eventName);
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeLogRecord(m: LogRecord): void {
  const time = toU64(m.timeUnixNano);
  if (time !== 0n) {
    out[pos++] = 9;
    writeFixed64(time);
  }
  if (m.severityNumber !== 0) {
    out[pos++] = 16;
    writeInt32(m.severityNumber);
  }
  if (m.severityText !== '') {
    out[pos++] = 26;
    writeString(m.severityText);
  }
  if (m.body !== undefined) {
    beginMessage(42);
    writeAnyValue(m.body);
  }
  writeKeyValues(50, m.attributes);
  if (m.droppedAttributesCount !== 0) {
    out[pos++] = 56;
    writeVarint(m.droppedAttributesCount);
  }
  if (m.flags !== 0) {
    out[pos++] = 69;
    writeFixed32(m.flags);
  }
  if (m.traceId.byteLength !== 0) {
    out[pos++] = 74;
    writeBytes(m.traceId);
  }
  if (m.spanId.byteLength !== 0) {
    out[pos++] = 82;
    writeBytes(m.spanId);
  }
  const observed = toU64(m.observedTimeUnixNano);
  if (observed !== 0n) {
    out[pos++] = 89;
    writeFixed64(observed);
  }
  if (m.eventName !== '') {
    out[pos++] = 98;
    writeString(m.eventName);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

// ---- requests ----

/** Runs the write pass into a fresh buffer of the size the size pass found. */
function writeAll<M>(total: number, message: M, write: (m: M) => void): Uint8Array {
  const result = new Uint8Array(total);
  out = result;
  view = new DataView(result.buffer);
  text = Buffer.from(result.buffer, 0, total) as unknown as Utf8Writable;
  pos = 0;
  cursor = 0;
  try {
    write(message);
    if (pos !== total || cursor !== sizeCount)
      throw new NetspanError(ENCODE_ERROR_CODE, `protobuf encoder wrote ${pos} of ${total} bytes: the message changed while encoding`);
  } finally {
    // Do not keep the caller's output alive.
    out = new Uint8Array(0);
    view = new DataView(out.buffer);
    text = Buffer.alloc(0) as unknown as Utf8Writable;
    // Nor a size table grown for one huge message.
    if (sizes.length > MAX_KEPT_SIZES) sizes = new Int32Array(4096);
  }
  return result;
}

function sizeTraceRequest(m: ExportTraceServiceRequest): number {
  let n = 0;
  for (const rs of m.resourceSpans) {
    const slot = reserve();
    const s = sizeResourceSpans(rs);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeTraceRequest(m: ExportTraceServiceRequest): void {
  for (const rs of m.resourceSpans) {
    beginMessage(10);
    writeResourceSpans(rs);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

function sizeLogsRequest(m: ExportLogsServiceRequest): number {
  let n = 0;
  for (const rl of m.resourceLogs) {
    const slot = reserve();
    const s = sizeResourceLogs(rl);
    sizes[slot] = s;
    n += 1 + varintSize(s) + s;
  }
  if (m.$unknown !== undefined) n += unknownSize(m.$unknown);
  return n;
}

function writeLogsRequest(m: ExportLogsServiceRequest): void {
  for (const rl of m.resourceLogs) {
    beginMessage(10);
    writeResourceLogs(rl);
  }
  if (m.$unknown !== undefined) writeUnknown(m.$unknown);
}

/** Encodes an ExportTraceServiceRequest to the bytes protobuf-es toBinary would produce. */
export function encodeTraceRequest(m: ExportTraceServiceRequest): Uint8Array {
  sizeCount = 0;
  return writeAll(sizeTraceRequest(m), m, writeTraceRequest);
}

/** Encodes an ExportLogsServiceRequest to the bytes protobuf-es toBinary would produce. */
export function encodeLogsRequest(m: ExportLogsServiceRequest): Uint8Array {
  sizeCount = 0;
  return writeAll(sizeLogsRequest(m), m, writeLogsRequest);
}
