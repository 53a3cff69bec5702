/**
 * A bounds-checked protobuf wire reader over one Uint8Array. Every read is checked against
 * `limit`, the end of the message being decoded, so a field can never run past its parent
 * (protobuf-es only checks against the end of the whole buffer). Problems are thrown as
 * DecodeError 'OTLP_PROTOBUF_INVALID' saying what is wrong and at which byte offset.
 */
import type { UnknownField } from '@bufbuild/protobuf';
import type { WireType } from '@bufbuild/protobuf/wire';
import { DecodeError } from '../../../core/errors.js';

export const DECODE_ERROR_CODE = 'OTLP_PROTOBUF_INVALID';

/** Deepest nesting of messages accepted: bounds recursion (AnyValue can nest without end). */
export const MAX_MESSAGE_DEPTH = 256;

/**
 * Strings up to this many bytes are decoded by a JS loop when ASCII. Measured on OTLP
 * payloads: Buffer's utf8Slice beats the loop from about 8 bytes on, and is about 1.4x as
 * fast as TextDecoder, which would need the loop up to about 16 bytes.
 */
const SHORT_STRING_BYTES = 8;

const WIRE_TYPE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32', '6', '7'];

/** Buffer's native UTF-8 slice: same result as TextDecoder (checked by the tests) but cheaper per call. */
interface Utf8Sliceable {
  utf8Slice(start: number, end: number): string;
}

/** What a decoder needs to know about a message to report errors and tell unknown fields apart. */
export interface MessageInfo {
  /** Short name used in error messages, e.g. "Span". */
  readonly name: string;
  /** Expected wire type per known field number; undefined for numbers the message does not define. */
  readonly wireTypes: readonly (number | undefined)[];
}

export function messageInfo(name: string, fields: Record<number, number>): MessageInfo {
  const wireTypes: (number | undefined)[] = [];
  for (const [no, wt] of Object.entries(fields)) wireTypes[Number(no)] = wt;
  return { name, wireTypes };
}

/** Strings up to this many bytes go through the string cache. */
const CACHED_STRING_BYTES = 32;
const STRING_CACHE_SLOTS = 1024;
const cachedLengths = new Int32Array(STRING_CACHE_SLOTS).fill(-1);
const cachedBytes = new Uint8Array(STRING_CACHE_SLOTS * CACHED_STRING_BYTES);
const cachedStrings: string[] = new Array<string>(STRING_CACHE_SLOTS).fill('');

// TextDecoder like protobuf-es's (non-fatal, strips a leading BOM): used where utf8Slice would differ.
const textDecoder = new TextDecoder();

export class WireReader {
  /** The input as a plain Uint8Array (never a Buffer, whose slice() would not copy). */
  readonly buf: Uint8Array;
  private readonly text: Utf8Sliceable;
  private readonly view: DataView;
  pos = 0;
  /** End of the message being decoded: no read may pass it. */
  limit: number;
  /** Offset of the last tag read, for error messages. */
  tagStart = 0;
  private depth = 0;

  constructor(bytes: Uint8Array) {
    this.buf =
      Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as Utf8Sliceable;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.limit = bytes.byteLength;
  }

  fail(what: string, offset: number): never {
    throw new DecodeError(DECODE_ERROR_CODE, `cannot decode protobuf: ${what} at byte ${offset}`, { offset });
  }

  /**
   * Reads the length of a nested message, checks it against the bytes left in the enclosing
   * message, and makes its end the limit. Returns the enclosing limit, to give to leave().
   */
  enter(info: MessageInfo): number {
    const start = this.pos;
    const len = this.length();
    if (len > this.limit - this.pos)
      this.fail(`${info.name} of ${len} bytes exceeds the ${this.limit - this.pos} bytes left in its parent`, start);
    if (++this.depth > MAX_MESSAGE_DEPTH) this.fail(`messages nested deeper than ${MAX_MESSAGE_DEPTH}`, start);
    const outer = this.limit;
    this.limit = this.pos + len;
    return outer;
  }

  /** Ends a nested message entered with enter(); the read loop has consumed exactly its bytes. */
  leave(outer: number): void {
    this.limit = outer;
    this.depth--;
  }

  /** A field tag (field number << 3 | wire type). The caller's loop guarantees pos < limit. */
  tag(): number {
    const pos = this.pos;
    this.tagStart = pos;
    const b = this.buf[pos]!;
    if (b < 0x80) {
      this.pos = pos + 1;
      return b;
    }
    return this.strictVarint32('tag');
  }

  /** A length prefix: a varint that must fit in 31 bits (lengths beyond are impossible anyway). */
  private length(): number {
    const pos = this.pos;
    if (pos < this.limit) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    const start = pos;
    const value = this.strictVarint32('length');
    if (value > 0x7fffffff) this.fail(`length ${value} too large`, start);
    return value;
  }

  /**
   * A varint whose value must fit in 32 bits (tags, lengths): larger ones are rejected, not
   * truncated. Called once the one-byte case is ruled out (the first byte has bit 7 set).
   */
  private strictVarint32(what: string): number {
    const start = this.pos;
    const buf = this.buf;
    const limit = this.limit;
    // Two bytes (lengths 128..16383, field numbers 16..2047) are common enough for a shortcut.
    if (start + 1 < limit) {
      const b1 = buf[start + 1]!;
      if (b1 < 0x80) {
        this.pos = start + 2;
        return (buf[start]! & 0x7f) | (b1 << 7);
      }
    }
    let pos = start;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= limit) this.fail(`truncated ${what} varint`, start);
      const b = buf[pos++]!;
      // Multiplication instead of << keeps bits 31+ visible for the overflow check.
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        if (result > 0xffffffff) this.fail(`${what} varint exceeds 32 bits`, start);
        this.pos = pos;
        return result;
      }
    }
    return this.fail(`${what} varint longer than 5 bytes`, start);
  }

  /**
   * A varint as uint32: the low 32 bits of up to 10 bytes, like protobuf-es and Go (negative
   * int32 values arrive sign-extended to 10 bytes).
   */
  uint32(): number {
    const pos = this.pos;
    if (pos < this.limit) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    return this.varint32Slow();
  }

  private varint32Slow(): number {
    const start = this.pos;
    const buf = this.buf;
    const limit = this.limit;
    let pos = start;
    let result = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= limit) this.fail('truncated varint', start);
      const b = buf[pos++]!;
      if (i < 5) result |= (b & 0x7f) << (7 * i);
      if (b < 0x80) {
        this.pos = pos;
        return result >>> 0;
      }
    }
    return this.fail('varint longer than 10 bytes', start);
  }

  int32(): number {
    return this.uint32() | 0;
  }

  bool(): boolean {
    // A bool is any varint; protobuf-es reads all 64 bits, so must we.
    const pos = this.pos;
    if (pos < this.limit) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b !== 0;
      }
    }
    this.varint64();
    return this.lo !== 0 || this.hi !== 0;
  }

  /** Halves of the last varint64 read. */
  private lo = 0;
  private hi = 0;

  private varint64(): void {
    const start = this.pos;
    const buf = this.buf;
    const limit = this.limit;
    let pos = start;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= limit) this.fail('truncated varint', start);
      const b = buf[pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi = (b & 0x70) >> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if (b < 0x80) {
        this.pos = pos;
        this.lo = lo;
        this.hi = hi;
        return;
      }
    }
    this.fail('varint longer than 10 bytes', start);
  }

  /** A signed 64-bit varint (int64). */
  int64(): bigint {
    const pos = this.pos;
    if (pos < this.limit) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return BigInt(b);
      }
    }
    this.varint64();
    const lo = this.lo >>> 0;
    const hi = this.hi | 0;
    // Within ±2^53 the value is exact as a double, which is cheaper to make a bigint from.
    if (hi >= -0x200000 && hi < 0x200000) return BigInt(hi * 0x100000000 + lo);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  private need(n: number): number {
    const pos = this.pos;
    if (n > this.limit - pos) this.fail(`truncated ${n === 8 ? 'fixed64' : 'fixed32'} (${this.limit - pos} bytes left)`, pos);
    this.pos = pos + n;
    return pos;
  }

  fixed32(): number {
    return this.view.getUint32(this.need(4), true);
  }

  fixed64(): bigint {
    return this.view.getBigUint64(this.need(8), true);
  }

  double(): number {
    return this.view.getFloat64(this.need(8), true);
  }

  /** A length-delimited value's bounds, checked against the enclosing message. */
  private span(): number {
    const start = this.pos;
    const len = this.length();
    if (len > this.limit - this.pos) this.fail(`length ${len} exceeds the ${this.limit - this.pos} bytes left`, start);
    return len;
  }

  /** Bytes, copied so the input buffer can be released or reused. */
  bytes(): Uint8Array {
    const len = this.span();
    const start = this.pos;
    this.pos = start + len;
    return this.buf.slice(start, start + len);
  }

  string(): string {
    const len = this.span();
    const start = this.pos;
    const end = start + len;
    this.pos = end;
    if (len <= SHORT_STRING_BYTES) return this.shortString(start, end);
    return this.utf8(start, end);
  }

  /**
   * A string that is likely to repeat, like an attribute key: looked up by its bytes in a
   * small direct-mapped cache before a new string is made. Only for keys: caching values that
   * do not repeat costs more than it saves (measured).
   */
  cachedString(): string {
    const len = this.span();
    const start = this.pos;
    const end = start + len;
    this.pos = end;
    if (len > CACHED_STRING_BYTES) return this.utf8(start, end);
    if (len === 0) return '';
    const buf = this.buf;
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i]!, 0x01000193);
    const slot = (hash ^ (hash >>> 15)) & (STRING_CACHE_SLOTS - 1);
    const base = slot * CACHED_STRING_BYTES;
    if (cachedLengths[slot] === len) {
      let i = 0;
      while (i < len && cachedBytes[base + i] === buf[start + i]) i++;
      if (i === len) return cachedStrings[slot]!;
    }
    const s = len <= SHORT_STRING_BYTES ? this.shortString(start, end) : this.utf8(start, end);
    cachedLengths[slot] = len;
    for (let i = 0; i < len; i++) cachedBytes[base + i] = buf[start + i]!;
    cachedStrings[slot] = s;
    return s;
  }

  private shortString(start: number, end: number): string {
    const buf = this.buf;
    let s = '';
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return this.utf8(start, end);
      s += String.fromCharCode(c);
    }
    return s;
  }

  private utf8(start: number, end: number): string {
    const buf = this.buf;
    // TextDecoder drops a leading BOM (and protobuf-es uses it); Buffer's decoder keeps it.
    if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf)
      return textDecoder.decode(buf.subarray(start, end));
    return this.text.utf8Slice(start, end);
  }

  /**
   * Skips a field the message does not define and returns it as protobuf-es keeps unknown
   * fields (data: the raw value after the tag, copied). A known field number with the wrong
   * wire type is an error (protobuf-es would misread it), and so are groups.
   */
  skipField(tag: number, info: MessageInfo, unknown: UnknownField[] | undefined): UnknownField[] {
    const no = tag >>> 3;
    const wireType = tag & 7;
    const tagStart = this.tagStart;
    if (no === 0) this.fail('invalid field number 0', tagStart);
    if (wireType > 5) this.fail(`invalid wire type ${wireType} for ${info.name} field ${no}`, tagStart);
    const expected = info.wireTypes[no];
    if (expected !== undefined)
      this.fail(`${info.name} field ${no} has wire type ${WIRE_TYPE_NAMES[wireType]}, expected ${WIRE_TYPE_NAMES[expected]}`, tagStart);
    const start = this.pos;
    switch (wireType) {
      case 0:
        this.varint64();
        break;
      case 1:
        this.need(8);
        break;
      case 2: {
        const len = this.span();
        this.pos += len;
        break;
      }
      case 5:
        this.need(4);
        break;
      default: // 3 and 4: start and end of a group
        this.fail(`${info.name} field ${no} uses a group (wire type ${wireType}), which OTLP does not allow`, tagStart);
    }
    const field: UnknownField = { no, wireType: wireType as WireType, data: this.buf.slice(start, this.pos) };
    if (unknown === undefined) return [field];
    unknown.push(field);
    return unknown;
  }
}
