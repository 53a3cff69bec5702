/**
 * A bounds-checked XDR reader over one bounded region of a datagram. Offsets are absolute (into
 * the whole datagram), so a problem found deep in a record still says where parsing stopped.
 * Running past the region's end throws XdrShort; the sFlow parser catches it at the sample or
 * record boundary and turns it into a DecodeIssue (it never leaves the decoder).
 */
import { formatIPv4, formatIPv6 } from '../../../capture/decode/address.js';

/*
 * XdrShort and XdrBad are thrown and caught inside the decoder only. They are deliberately not
 * Error subclasses: a malformed datagram is routine input, and capturing a stack trace for each
 * made the decoder several times slower on garbage.
 */

/** The region ends before a field does. */
export class XdrShort {
  constructor(
    readonly offset: number,
    readonly need: number,
    readonly have: number,
  ) {}
  get message(): string {
    return `needs ${this.need} bytes at offset ${this.offset}, ${this.have} left`;
  }
}

/** A value that makes the rest of the region unreadable (unknown address type, impossible count). */
export class XdrBad {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export class XdrReader {
  constructor(
    readonly dv: DataView,
    readonly bytes: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  /** A reader over [pos, pos + length) of the same datagram (the caller checked it fits). */
  sub(pos: number, length: number): XdrReader {
    return new XdrReader(this.dv, this.bytes, pos, pos + length);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (this.pos + n > this.end) throw new XdrShort(this.pos, n, this.end - this.pos);
  }

  u32(): number {
    if (this.pos + 4 > this.end) throw new XdrShort(this.pos, 4, this.end - this.pos);
    const v = this.dv.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }

  /** unsigned hyper as bigint. */
  u64(): bigint {
    if (this.pos + 8 > this.end) throw new XdrShort(this.pos, 8, this.end - this.pos);
    const v = this.dv.getBigUint64(this.pos, false);
    this.pos += 8;
    return v;
  }

  /** unsigned hyper as a number (exact below 2^53: speeds, not octet counters). */
  u64n(): number {
    if (this.pos + 8 > this.end) throw new XdrShort(this.pos, 8, this.end - this.pos);
    const v = this.dv.getUint32(this.pos, false) * 4294967296 + this.dv.getUint32(this.pos + 4, false);
    this.pos += 8;
    return v;
  }

  /** `n` bytes (a subarray, no copy), then the XDR padding to 4 (which may be missing at the region's end). */
  fixed(n: number): Uint8Array {
    if (this.pos + n > this.end) throw new XdrShort(this.pos, n, this.end - this.pos);
    const b = this.bytes.subarray(this.pos, this.pos + n);
    this.pos = Math.min(this.end, this.pos + ((n + 3) & ~3));
    return b;
  }

  /** opaque<>: a length, then that many bytes. */
  opaque(): Uint8Array {
    const at = this.pos;
    const n = this.u32();
    if (n > this.end - this.pos) throw new XdrShort(at, 4 + n, this.end - at);
    return this.fixed(n);
  }

  string(): string {
    return utf8.decode(this.opaque());
  }

  /** sFlow `address`: type 0 unknown (""), 1 IPv4, 2 IPv6. */
  address(): string {
    const at = this.pos;
    const type = this.u32();
    if (type === 1) {
      this.need(4);
      const s = formatIPv4(this.bytes, this.pos);
      this.pos += 4;
      return s;
    }
    if (type === 2) {
      this.need(16);
      const s = formatIPv6(this.bytes, this.pos);
      this.pos += 16;
      return s;
    }
    if (type === 0) return '';
    throw new XdrBad(at, `unknown address type ${type}`);
  }

  /** An array count, refused when even `minItemBytes` per item cannot fit in what is left. */
  count(minItemBytes: number): number {
    const at = this.pos;
    const n = this.u32();
    if (n * minItemBytes > this.end - this.pos) {
      throw new XdrShort(at, 4 + n * minItemBytes, this.end - at);
    }
    return n;
  }
}
